/**
 * SqliteStore against the SQLite database real MLflow 2.17 wrote (tests/testdata/mlflow-2.17/sqlite).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { SqliteStore } from "../../lib/tracking/sqlite_store.ts";
import { headRevisionForVersion, NEWEST_KNOWN_RELEASE } from "../../lib/tracking/sqlite_schema.ts";
import type { CreateRunRequest } from "../../lib/tracking/tracking_store.ts";
import { FIXTURES, tempDir } from "../_helpers/cli.ts";

const FIXTURE_DB = join(FIXTURES, "sqlite", "mlflow.db");
const FIXTURE_REVISION = "f5a4f2784254";
const FIXTURE_RUN_ID = "f9eef5a51c434e75b3b7da0af117482a";

type Row = Record<string, unknown>;

// ---------------------------------------------------------------------------------------------
// helpers

function rows(path: string, sql: string, ...params: (string | number)[]): Row[] {
  const db = new DatabaseSync(path, { readOnly: true, timeout: 30_000 });
  try {
    return db.prepare(sql).all(...params).map((r) => ({ ...(r as Row) }));
  } finally {
    db.close();
  }
}

function tableNames(path: string): string[] {
  return rows(path, "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
    .map((r) => String(r.name));
}

/** Every row of every table, as JSON lines per table. */
function dump(path: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const t of tableNames(path)) {
    out.set(t, rows(path, `SELECT * FROM "${t}"`).map((r) => JSON.stringify(r)));
  }
  return out;
}

/** Copies the read-only fixture DB to a writable file. */
function copyFixtureDb(dir: string): string {
  const path = join(dir, "mlflow.db");
  Deno.copyFileSync(FIXTURE_DB, path);
  Deno.chmodSync(path, 0o644);
  return path;
}

function request(overrides: Partial<CreateRunRequest> = {}): CreateRunRequest {
  return {
    experimentId: "0",
    userId: "test-user",
    startTime: 1700000000000,
    runName: "bright-owl-42",
    tags: [
      ["mlflow.user", "test-user"],
      ["mlflow.source.name", "/src/project"],
      ["mlflow.source.type", "PROJECT"],
      ["mlflow.project.entryPoint", "main"],
    ],
    ...overrides,
  };
}

function nonNullColumns(row: Row): string[] {
  return Object.keys(row).filter((k) => row[k] !== null).sort();
}

// ---------------------------------------------------------------------------------------------
// a new database

Deno.test("SqliteStore creates a new DB at the newest known MLflow's revision with experiment 0 'Default'", async () => {
  await using tmp = await tempDir();
  Deno.mkdirSync(join(tmp.path, "sub"));
  const path = join(tmp.path, "sub", "mlflow.db");
  const store = await SqliteStore.open(path);
  try {
    assert.deepEqual(rows(path, "SELECT version_num FROM alembic_version"), [
      { version_num: headRevisionForVersion(NEWEST_KNOWN_RELEASE) },
    ]);
    const exps = rows(path, "SELECT * FROM experiments");
    assert.equal(exps.length, 1);
    assert.equal(exps[0]!.experiment_id, 0);
    assert.equal(exps[0]!.name, "Default");
    assert.equal(exps[0]!.artifact_location, join(tmp.path, "sub", "mlruns", "0"));
    assert.equal(exps[0]!.lifecycle_stage, "active");
    assert.equal(typeof exps[0]!.creation_time, "number");
    assert.equal(exps[0]!.creation_time, exps[0]!.last_update_time);
    assert.deepEqual(await store.findExperiment({ name: "Default" }), {
      experimentId: "0",
      name: "Default",
      artifactLocation: join(tmp.path, "sub", "mlruns", "0"),
      lifecycleStage: "active",
    });
  } finally {
    store.close();
  }
  assert.deepEqual(rows(path, "PRAGMA journal_mode"), [{ journal_mode: "wal" }]);
});

Deno.test("SqliteStore makes a new DB from the schema's template when there is one: same schema, its own experiment 0", async () => {
  await using tmp = await tempDir();
  const templateDir = join(tmp.path, "templates");
  const open = async (dir: string, options: { templateDir?: string } = {}) => {
    Deno.mkdirSync(join(tmp.path, dir));
    const path = join(tmp.path, dir, "mlflow.db");
    (await SqliteStore.open(path, options)).close();
    return path;
  };
  const schemaOf = (path: string) =>
    rows(path, "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY name");
  const built = await open("built");
  const first = await open("first", { templateDir });
  const templates = [...Deno.readDirSync(templateDir)].map((e) => e.name);
  assert.equal(templates.length, 1, "the first new DB is kept as the template");
  assert.match(templates[0]!, new RegExp(`^${headRevisionForVersion(NEWEST_KNOWN_RELEASE)}-`));
  const copied = await open("copied", { templateDir });
  for (const path of [first, copied]) {
    assert.deepEqual(schemaOf(path), schemaOf(built));
    assert.deepEqual(
      rows(path, "SELECT version_num FROM alembic_version"),
      rows(built, "SELECT version_num FROM alembic_version"),
    );
    assert.deepEqual(rows(path, "PRAGMA journal_mode"), [{ journal_mode: "wal" }]);
  }
  const [exp] = rows(copied, "SELECT * FROM experiments");
  assert.equal(exp!.artifact_location, join(tmp.path, "copied", "mlruns", "0"));
  assert.equal(exp!.name, "Default");
  assert.equal(exp!.creation_time, exp!.last_update_time);
  assert.ok(
    Number(exp!.creation_time) >=
      Number(rows(first, "SELECT * FROM experiments")[0]!.creation_time),
  );
  assert.equal(rows(copied, "SELECT * FROM experiments").length, 1);

  // A damaged template is not used: the DB is built, and the template replaced.
  const template = join(templateDir, templates[0]!);
  Deno.writeTextFileSync(template, "not a database");
  const rebuilt = await open("rebuilt", { templateDir });
  assert.deepEqual(schemaOf(rebuilt), schemaOf(built));
  assert.equal(
    rows(rebuilt, "SELECT * FROM experiments")[0]!.artifact_location,
    join(tmp.path, "rebuilt", "mlruns", "0"),
  );
  assert.deepEqual(schemaOf(template), schemaOf(built));
  assert.deepEqual(
    [...Deno.readDirSync(templateDir)].map((e) => e.name),
    templates,
    "no partial files left",
  );
});

// The schema of a new DB against real MLflow's (the 2.17 fixture and every pinned release):
// tests/tracking/sqlite_store_schema_test.ts.

Deno.test("SqliteStore.uri is the absolute sqlite:/// URI and childEnv is empty", async () => {
  await using tmp = await tempDir();
  const path = join(tmp.path, "mlflow.db");
  const store = await SqliteStore.open(path);
  try {
    assert.equal(store.uri, `sqlite:///${path}`);
    assert.ok(store.uri.startsWith("sqlite:////"));
    assert.deepEqual({ ...store.childEnv }, {});
  } finally {
    store.close();
  }
});

// ---------------------------------------------------------------------------------------------
// row shapes compared with MLflow's

Deno.test("SqliteStore writes run rows with the same non-null columns as MLflow's run row", async () => {
  await using tmp = await tempDir();
  const path = join(tmp.path, "mlflow.db");
  const store = await SqliteStore.open(path);
  let runId: string;
  try {
    const info = await store.createRun(request());
    runId = info.runId;
    assert.match(runId, /^[0-9a-f]{32}$/);
    const running = rows(path, "SELECT * FROM runs WHERE run_uuid = ?", runId)[0]!;
    assert.equal(running.status, "RUNNING");
    assert.equal(running.end_time, null);
    assert.equal(running.deleted_time, null);
    await store.updateRun(runId, { status: "FINISHED", endTime: 1700000009000 });
  } finally {
    store.close();
  }
  const fx = rows(FIXTURE_DB, "SELECT * FROM runs WHERE run_uuid = ?", FIXTURE_RUN_ID)[0]!;
  const ours = rows(path, "SELECT * FROM runs WHERE run_uuid = ?", runId)[0]!;
  assert.deepEqual(nonNullColumns(ours), nonNullColumns(fx));
  for (const k of Object.keys(fx)) {
    assert.equal(typeof ours[k], typeof fx[k], `type of runs.${k}`);
  }
  const artifactLocation = join(tmp.path, "mlruns", "0");
  assert.deepEqual(ours, {
    ...Object.fromEntries(Object.keys(ours).map((k) => [k, ours[k]])),
    run_uuid: runId,
    name: "bright-owl-42",
    source_type: "UNKNOWN",
    source_name: "",
    entry_point_name: "",
    user_id: "test-user",
    status: "FINISHED",
    start_time: 1700000000000,
    end_time: 1700000009000,
    source_version: "",
    lifecycle_stage: "active",
    artifact_uri: `${artifactLocation}/${runId}/artifacts`,
    experiment_id: 0,
    deleted_time: null,
  });
  // The fixture's own row follows the same rule.
  assert.equal(fx.artifact_uri, `/FIXTURE_ROOT/sqlite/mlruns/0/${FIXTURE_RUN_ID}/artifacts`);
});

Deno.test("SqliteStore writes tag rows including mlflow.runName, and param rows, like MLflow's", async () => {
  await using tmp = await tempDir();
  const path = join(tmp.path, "mlflow.db");
  const store = await SqliteStore.open(path);
  let runId: string;
  try {
    runId = (await store.createRun(request())).runId;
    await store.logBatch(runId, {
      params: [["alpha", "0.5"], ["name", "'it'\"'\"'s a b'"], ["empty", ""]],
      tags: [["mlflow.project.backend", "local"]],
    });
  } finally {
    store.close();
  }
  const sort = (r: Row[]) => r.sort((a, b) => String(a.key) < String(b.key) ? -1 : 1);
  assert.deepEqual(sort(rows(path, "SELECT * FROM tags WHERE run_uuid = ?", runId)), [
    { key: "mlflow.project.backend", value: "local", run_uuid: runId },
    { key: "mlflow.project.entryPoint", value: "main", run_uuid: runId },
    { key: "mlflow.runName", value: "bright-owl-42", run_uuid: runId },
    { key: "mlflow.source.name", value: "/src/project", run_uuid: runId },
    { key: "mlflow.source.type", value: "PROJECT", run_uuid: runId },
    { key: "mlflow.user", value: "test-user", run_uuid: runId },
  ]);
  assert.deepEqual(sort(rows(path, "SELECT * FROM params WHERE run_uuid = ?", runId)), [
    { key: "alpha", value: "0.5", run_uuid: runId },
    { key: "empty", value: "", run_uuid: runId },
    { key: "name", value: "'it'\"'\"'s a b'", run_uuid: runId },
  ]);
  // The same column sets as the fixture's tag and param rows.
  const fxTag = rows(FIXTURE_DB, "SELECT * FROM tags LIMIT 1")[0]!;
  const fxParam = rows(FIXTURE_DB, "SELECT * FROM params LIMIT 1")[0]!;
  assert.deepEqual(
    Object.keys(rows(path, "SELECT * FROM tags LIMIT 1")[0]!).sort(),
    Object.keys(fxTag).sort(),
  );
  assert.deepEqual(
    Object.keys(rows(path, "SELECT * FROM params LIMIT 1")[0]!).sort(),
    Object.keys(fxParam).sort(),
  );
});

Deno.test("SqliteStore overwrites tags, and the mlflow.runName tag renames the run row", async () => {
  await using tmp = await tempDir();
  const path = join(tmp.path, "mlflow.db");
  const store = await SqliteStore.open(path);
  try {
    const { runId } = await store.createRun(request());
    await store.logBatch(runId, { tags: [["mlflow.project.backend", "local"]] });
    await store.logBatch(runId, { tags: [["mlflow.project.backend", "kubernetes"]] });
    await store.logBatch(runId, { tags: [["mlflow.runName", "renamed"]] });
    assert.deepEqual(
      rows(
        path,
        "SELECT value FROM tags WHERE run_uuid = ? AND key = ?",
        runId,
        "mlflow.project.backend",
      ),
      [{ value: "kubernetes" }],
    );
    assert.deepEqual(
      rows(path, "SELECT value FROM tags WHERE run_uuid = ? AND key = 'mlflow.runName'", runId),
      [{ value: "renamed" }],
    );
    assert.equal(rows(path, "SELECT name FROM runs WHERE run_uuid = ?", runId)[0]!.name, "renamed");
    assert.equal((await store.getRun(runId))?.runName, "renamed");
  } finally {
    store.close();
  }
});

Deno.test("SqliteStore.getRun() reads back what createRun() and updateRun() wrote", async () => {
  await using tmp = await tempDir();
  const path = join(tmp.path, "mlflow.db");
  const store = await SqliteStore.open(path);
  try {
    const info = await store.createRun(request());
    assert.deepEqual(await store.getRun(info.runId), info);
    await store.updateRun(info.runId, { status: "KILLED", endTime: 1700000000777 });
    assert.deepEqual(await store.getRun(info.runId), {
      ...info,
      status: "KILLED",
      endTime: 1700000000777,
    });
    assert.equal(await store.getRun("0123456789abcdef0123456789abcdef"), undefined);
  } finally {
    store.close();
  }
});

// ---------------------------------------------------------------------------------------------
// the fixture database

Deno.test("SqliteStore reads the fixture DB's experiment and run as MLflow wrote them", async () => {
  await using tmp = await tempDir();
  const path = copyFixtureDb(tmp.path);
  const store = await SqliteStore.open(path);
  try {
    assert.deepEqual(await store.findExperiment({ id: "0" }), {
      experimentId: "0",
      name: "Default",
      artifactLocation: "/FIXTURE_ROOT/sqlite/mlruns/0",
      lifecycleStage: "active",
    });
    assert.deepEqual(await store.getRun(FIXTURE_RUN_ID), {
      runId: FIXTURE_RUN_ID,
      experimentId: "0",
      runName: "amazing-shad-715",
      status: "FINISHED",
      startTime: 1795731905915,
      endTime: 1795731907888,
      artifactUri: `/FIXTURE_ROOT/sqlite/mlruns/0/${FIXTURE_RUN_ID}/artifacts`,
      userId: "fixture-user",
      lifecycleStage: "active",
    });
  } finally {
    store.close();
  }
});

Deno.test("SqliteStore uses the fixture DB as it is and only appends rows to it", async () => {
  await using tmp = await tempDir();
  const path = copyFixtureDb(tmp.path);
  const schemaBefore = rows(
    path,
    "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY name",
  );
  const before = dump(path);
  const store = await SqliteStore.open(path);
  const runs: string[] = [];
  let expId: string;
  try {
    expId = await store.createExperiment("appended-exp");
    assert.equal(expId, "1");
    assert.deepEqual(await store.findExperiment({ name: "appended-exp" }), {
      experimentId: "1",
      name: "appended-exp",
      artifactLocation: "/FIXTURE_ROOT/sqlite/mlruns/1",
      lifecycleStage: "active",
    });
    for (const experimentId of ["0", expId]) {
      const info = await store.createRun(request({ experimentId }));
      assert.equal(
        info.artifactUri,
        `/FIXTURE_ROOT/sqlite/mlruns/${experimentId}/${info.runId}/artifacts`,
      );
      await store.logBatch(info.runId, { params: [["alpha", "0.5"]] });
      await store.updateRun(info.runId, { status: "FINISHED", endTime: 1800000000000 });
      runs.push(info.runId);
    }
  } finally {
    store.close();
  }
  assert.deepEqual(
    rows(path, "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY name"),
    schemaBefore,
  );
  assert.deepEqual(rows(path, "SELECT version_num FROM alembic_version"), [
    { version_num: FIXTURE_REVISION },
  ]);
  const after = dump(path);
  for (const [table, oldRows] of before) {
    const now = after.get(table) ?? [];
    for (const r of oldRows) assert.ok(now.includes(r), `${table} lost or changed ${r}`);
  }
  assert.equal(after.get("runs")!.length, before.get("runs")!.length + 2);
  assert.equal(after.get("experiments")!.length, before.get("experiments")!.length + 1);
  assert.deepEqual(
    rows(path, "SELECT run_uuid FROM runs").map((r) => r.run_uuid).sort(),
    [FIXTURE_RUN_ID, ...runs].sort(),
  );
});

Deno.test("SqliteStore keeps the fixture DB's journal working: MLflow's own rows stay readable in WAL", async () => {
  await using tmp = await tempDir();
  const path = copyFixtureDb(tmp.path);
  const store = await SqliteStore.open(path);
  try {
    const metrics = rows(path, "SELECT * FROM metrics");
    assert.deepEqual(metrics, [{
      key: "echo_argc",
      value: 17,
      timestamp: 1795731907305,
      run_uuid: FIXTURE_RUN_ID,
      step: 0,
      is_nan: 0,
    }]);
  } finally {
    store.close();
  }
});

// ---------------------------------------------------------------------------------------------
// concurrency with a second process

const PY_WRITER = `
import os, sqlite3, sys, time
path, run_id, stop, started = sys.argv[1:5]
con = sqlite3.connect(path, timeout=30, isolation_level=None)
n = 0
deadline = time.time() + 30
while not os.path.exists(stop) and time.time() < deadline:
    con.execute("BEGIN IMMEDIATE")
    for _ in range(5):
        ts = int(time.time() * 1000)
        con.execute(
            "INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan) VALUES (?, ?, ?, ?, ?, 0)",
            ("loss", float(n), ts, run_id, n),
        )
        con.execute(
            "INSERT INTO latest_metrics (key, value, timestamp, step, is_nan, run_uuid) VALUES (?, ?, ?, ?, 0, ?) "
            "ON CONFLICT (key, run_uuid) DO UPDATE SET value = excluded.value, timestamp = excluded.timestamp, step = excluded.step",
            ("loss", float(n), ts, n, run_id),
        )
        n += 1
    time.sleep(0.002)  # hold the write lock a little, like a slow writer
    con.execute("COMMIT")
    if n == 5:
        open(started, "w").close()
    time.sleep(0.003)  # then work a little outside the transaction
con.close()
print(n)
`;

Deno.test("SqliteStore and a second process writing the same DB never see 'database is locked'", async () => {
  await using tmp = await tempDir();
  const path = join(tmp.path, "mlflow.db");
  const stop = join(tmp.path, "stop");
  const started = join(tmp.path, "started");
  const store = await SqliteStore.open(path);
  let child: Deno.ChildProcess | undefined;
  try {
    const { runId } = await store.createRun(request());
    child = new Deno.Command("python3", {
      args: ["-c", PY_WRITER, path, runId, stop, started],
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const t0 = Date.now();
    while (true) {
      try {
        Deno.statSync(started);
        break;
      } catch {
        if (Date.now() - t0 > 20_000) throw new Error("the python writer did not start");
        await new Promise((r) => setTimeout(r, 10));
      }
    }
    for (let i = 0; i < 150; i++) {
      await store.logBatch(runId, {
        params: [[`p${i}`, String(i)]],
        tags: [[`t${i % 7}`, String(i)], ["mlflow.project.backend", "local"]],
      });
      await store.updateRun(runId, { status: "RUNNING", endTime: null });
      assert.equal((await store.getRun(runId))?.status, "RUNNING");
      if (i % 10 === 0) await new Promise((r) => setTimeout(r, 1));
    }
    const experimentId = await store.createExperiment("concurrent-exp");
    await store.createRun(request({ experimentId }));
    await store.updateRun(runId, { status: "FINISHED", endTime: Date.now() });
    Deno.writeTextFileSync(stop, "");
    const out = await child.output();
    child = undefined;
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, stderr);
    assert.doesNotMatch(stderr, /locked|busy/i);
    const inserted = Number(new TextDecoder().decode(out.stdout).trim());
    assert.ok(inserted >= 5);
    assert.equal(
      rows(path, "SELECT COUNT(*) AS n FROM metrics WHERE run_uuid = ?", runId)[0]!.n,
      inserted,
    );
    assert.equal(
      rows(path, "SELECT COUNT(*) AS n FROM params WHERE run_uuid = ?", runId)[0]!.n,
      150,
    );
    assert.equal(
      rows(path, "SELECT status FROM runs WHERE run_uuid = ?", runId)[0]!.status,
      "FINISHED",
    );
  } finally {
    if (child !== undefined) {
      Deno.writeTextFileSync(stop, "");
      await child.output();
    }
    store.close();
  }
});

const PY_HOLDS_WRITE_LOCK = `
import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("BEGIN IMMEDIATE")
c.execute("UPDATE experiments SET name = name WHERE experiment_id = 0")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
c.execute("COMMIT")
`;

Deno.test("SqliteStore switches a rollback-journal DB to WAL even while another process holds its write lock", async () => {
  // Switching needs an exclusive lock; while another process holds the write lock SQLite answers
  // "database is locked" at once instead of waiting (it could be a deadlock), so the store
  // retries within the busy timeout (issue 9 item 7).
  await using tmp = await tempDir();
  const path = join(tmp.path, "mlflow.db");
  (await SqliteStore.open(path)).close();
  const db = new DatabaseSync(path);
  db.exec("PRAGMA journal_mode = DELETE");
  db.close();
  const child = new Deno.Command("python3", {
    args: ["-c", PY_HOLDS_WRITE_LOCK, path, "1.0"],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const reader = child.stdout.getReader();
  const first = await reader.read();
  assert.equal(new TextDecoder().decode(first.value).trim(), "locked");
  reader.releaseLock();
  try {
    const store = await SqliteStore.open(path);
    store.close();
  } finally {
    const out = await child.output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  }
  assert.deepEqual(rows(path, "PRAGMA journal_mode"), [{ journal_mode: "wal" }]);
});

Deno.test("SqliteStore leaves a DB already in WAL mode as it is, without switching again", async () => {
  await using tmp = await tempDir();
  const path = join(tmp.path, "mlflow.db");
  (await SqliteStore.open(path)).close();
  // A process holding the write lock would make a second switch fail; none is attempted.
  const child = new Deno.Command("python3", {
    args: ["-c", PY_HOLDS_WRITE_LOCK, path, "0.5"],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const reader = child.stdout.getReader();
  await reader.read();
  reader.releaseLock();
  try {
    const store = await SqliteStore.open(path);
    assert.equal((await store.findExperiment({ id: "0" }))?.name, "Default");
    store.close();
  } finally {
    await child.output();
  }
});

// ---------------------------------------------------------------------------------------------
// errors

Deno.test("SqliteStore.createRun() fails for a missing experiment with MLflow's message", async () => {
  await using tmp = await tempDir();
  const store = await SqliteStore.open(join(tmp.path, "mlflow.db"));
  try {
    await assert.rejects(
      async () => await store.createRun(request({ experimentId: "424242" })),
      (e: Error) => e.message === "Could not find experiment with ID 424242",
    );
    assert.equal(await store.findExperiment({ id: "abc" }), undefined);
  } finally {
    store.close();
  }
});

Deno.test("SqliteStore refuses a SQLite file that is not an MLflow database, naming the file", async () => {
  await using tmp = await tempDir();
  const path = join(tmp.path, "other.db");
  const db = new DatabaseSync(path);
  db.exec("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)");
  db.exec("INSERT INTO notes (body) VALUES ('keep me')");
  db.close();
  await assert.rejects(
    () => SqliteStore.open(path),
    (e: Error) => e.message.includes(path) && /not an MLflow database/.test(e.message),
  );
  // The file is left alone.
  assert.deepEqual(tableNames(path), ["notes"]);
  assert.deepEqual(rows(path, "SELECT body FROM notes"), [{ body: "keep me" }]);
});

Deno.test("SqliteStore refuses a file that is not SQLite at all, naming the file", async () => {
  await using tmp = await tempDir();
  const path = join(tmp.path, "garbage.db");
  Deno.writeTextFileSync(
    path,
    "this is not a database, just some text that is long enough".repeat(20),
  );
  await assert.rejects(() => SqliteStore.open(path), (e: Error) => e.message.includes(path));
});

Deno.test("SqliteStore.logBatch() refuses to change a param with MLflow's message", async () => {
  await using tmp = await tempDir();
  const path = join(tmp.path, "mlflow.db");
  const store = await SqliteStore.open(path);
  try {
    const { runId } = await store.createRun(request());
    await store.logBatch(runId, { params: [["alpha", "0.5"]] });
    await store.logBatch(runId, { params: [["alpha", "0.5"]] });
    await assert.rejects(
      async () => await store.logBatch(runId, { params: [["beta", "1"], ["alpha", "0.7"]] }),
      (e: Error) =>
        e.message ===
          `Changing param values is not allowed. Param with key='alpha' was already logged with value='0.5' for run ID='${runId}'. Attempted logging new value '0.7'.`,
    );
    // The failed batch is rolled back as a whole.
    assert.deepEqual(rows(path, "SELECT key, value FROM params WHERE run_uuid = ?", runId), [
      { key: "alpha", value: "0.5" },
    ]);
  } finally {
    store.close();
  }
});

Deno.test("SqliteStore refuses invalid param and tag keys and writes to a missing run", async () => {
  await using tmp = await tempDir();
  const store = await SqliteStore.open(join(tmp.path, "mlflow.db"));
  try {
    const { runId } = await store.createRun(request());
    for (const key of ["../x", "/abs", "a\nb"]) {
      await assert.rejects(
        async () => await store.logBatch(runId, { params: [[key, "v"]] }),
        /Invalid param name/,
      );
      await assert.rejects(
        async () => await store.logBatch(runId, { tags: [[key, "v"]] }),
        /Invalid tag name/,
      );
    }
    await assert.rejects(
      async () =>
        await store.updateRun("0123456789abcdef0123456789abcdef", {
          status: "FINISHED",
          endTime: 1,
        }),
      /not found/,
    );
  } finally {
    store.close();
  }
});

Deno.test("SqliteStore.createExperiment() refuses a duplicate name and numbers new ones 1, 2, …", async () => {
  await using tmp = await tempDir();
  const path = join(tmp.path, "mlflow.db");
  const store = await SqliteStore.open(path);
  try {
    assert.equal(await store.createExperiment("a"), "1");
    assert.equal(await store.createExperiment("b"), "2");
    assert.equal(
      (await store.findExperiment({ id: "2" }))?.artifactLocation,
      join(tmp.path, "mlruns", "2"),
    );
    await assert.rejects(
      async () => await store.createExperiment("a"),
      (e: Error) => e.message === "Experiment 'a' already exists.",
    );
    await assert.rejects(
      async () => await store.createExperiment("Default"),
      (e: Error) => e.message === "Experiment 'Default' already exists.",
    );
  } finally {
    store.close();
  }
});
