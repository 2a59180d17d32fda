/**
 * SqliteStore and the MLflow the child imports: a new database at exactly that MLflow's schema,
 * refusal of a database that MLflow would refuse, `upgradeDb`, a missing directory. Checked
 * against real MLflow releases where their venvs exist (see `_mlflow_venvs.ts`).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { type MlflowInstallation, SqliteStore } from "../../lib/tracking/sqlite_store.ts";
import {
  describeRevision,
  headRevisionForVersion,
  NEWEST_KNOWN_RELEASE,
  schemaForVersion,
} from "../../lib/tracking/sqlite_schema.ts";
import { openTrackingStore } from "../../lib/tracking/tracking_uri.ts";
import type { LogLevel, Reporter } from "../../lib/output.ts";
import { cleanEnv, FIXTURES, runCli, tempDir, writeFiles } from "../_helpers/cli.ts";
import {
  alembicVersion,
  MLFLOW_CREATES_DB,
  mlflowTest,
  normalizedSchema,
  PINNED_MLFLOW,
  runPython,
} from "./_mlflow_venvs.ts";

/** An MLflow known only by its version: the data answers for it, no Python is started. */
function byVersion(version: string): MlflowInstallation {
  return { version, python: "/nonexistent/bin/python", sitePackages: "/nonexistent/site-packages" };
}

function recorder(): Reporter & { lines: string[] } {
  const lines: string[] = [];
  return { lines, log: (level: LogLevel, m: string) => void lines.push(`${level} ${m}`) };
}

async function sha256(path: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", await Deno.readFile(path));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

async function createFor(path: string, version: string): Promise<void> {
  (await SqliteStore.open(path, { mlflow: byVersion(version) })).close();
}

// ---------------------------------------------------------------------------------------------
// new databases (no Python needed)

Deno.test("SqliteStore creates a new DB at the revision of the given MLflow version", async () => {
  await using tmp = await tempDir();
  for (const version of ["2.0.1", "2.17.2", "3.7.0", NEWEST_KNOWN_RELEASE]) {
    const path = join(tmp.path, `${version}.db`);
    await createFor(path, version);
    assert.deepEqual(alembicVersion(path), [headRevisionForVersion(version)], version);
  }
});

Deno.test("SqliteStore's DB for MLflow 2.17.2 has the schema of the DB real MLflow 2.17 wrote", async () => {
  await using tmp = await tempDir();
  const path = join(tmp.path, "mlflow.db");
  await createFor(path, "2.17.2");
  const fixture = join(tmp.path, "fixture.db");
  Deno.copyFileSync(join(FIXTURES, "sqlite", "mlflow.db"), fixture);
  Deno.chmodSync(fixture, 0o644);
  assert.deepEqual(normalizedSchema(path), normalizedSchema(fixture));
  assert.deepEqual(alembicVersion(path), alembicVersion(fixture));
});

Deno.test("SqliteStore puts the default experiment's artifacts in mlruns/0 beside the DB", async () => {
  await using tmp = await tempDir();
  const path = join(tmp.path, "mlflow.db");
  const store = await SqliteStore.open(path, { mlflow: byVersion("2.17.2") });
  try {
    const exp = await store.findExperiment({ id: "0" });
    const template = schemaForVersion("2.17.2")!.defaultArtifactLocation;
    assert.equal(exp?.artifactLocation, template.replaceAll("{cwd}", tmp.path));
    assert.ok(exp?.artifactLocation.endsWith(`${tmp.path}/mlruns/0`));
  } finally {
    store.close();
  }
});

// ---------------------------------------------------------------------------------------------
// a database the child's MLflow would refuse

Deno.test("SqliteStore refuses a DB older than the child's MLflow, naming file, revisions, versions and the fix, and writes nothing", async () => {
  await using tmp = await tempDir();
  const path = join(tmp.path, "mlflow.db");
  await createFor(path, "2.17.2");
  const before = await sha256(path);
  const old = headRevisionForVersion("2.17.2")!;
  const head = headRevisionForVersion("3.7.0")!;
  await assert.rejects(
    () => SqliteStore.open(path, { mlflow: byVersion("3.7.0") }),
    (e: Error & { exitCode?: number }) => {
      assert.equal(e.exitCode, 1);
      assert.ok(!e.message.includes("\n"), e.message);
      assert.ok(e.message.includes(`'${path}'`), e.message);
      assert.ok(e.message.includes(`${old} (${describeRevision(old)})`), e.message);
      assert.ok(e.message.includes(`MLflow 3.7.0 expects ${head}`), e.message);
      assert.ok(e.message.includes("older"), e.message);
      assert.ok(e.message.includes(`mlflow db upgrade sqlite:///${path}`), e.message);
      assert.ok(e.message.includes("--upgrade-db"), e.message);
      return true;
    },
  );
  assert.equal(await sha256(path), before);
  assert.deepEqual([...Deno.readDirSync(tmp.path)].map((e) => e.name), ["mlflow.db"]);
});

Deno.test("SqliteStore refuses a DB newer than the child's MLflow, also with upgradeDb, and writes nothing", async () => {
  await using tmp = await tempDir();
  const path = join(tmp.path, "mlflow.db");
  await createFor(path, "3.7.0");
  const before = await sha256(path);
  for (const upgradeDb of [false, true]) {
    await assert.rejects(
      () => SqliteStore.open(path, { mlflow: byVersion("2.17.2"), upgradeDb }),
      (e: Error) => {
        assert.ok(e.message.includes(`'${path}'`), e.message);
        assert.ok(e.message.includes(describeRevision("bf29a5ff90ea")), e.message);
        assert.ok(e.message.includes("MLflow 2.17.2 expects f5a4f2784254"), e.message);
        assert.ok(e.message.includes("newer") && e.message.includes("cannot be downgraded"));
        assert.equal(e.message.includes("--upgrade-db cannot help"), upgradeDb, e.message);
        return true;
      },
    );
  }
  assert.equal(await sha256(path), before);
  assert.deepEqual([...Deno.readDirSync(tmp.path)].map((e) => e.name), ["mlflow.db"]);
});

Deno.test("SqliteStore refuses a DB of a revision no known release has, as newer", async () => {
  await using tmp = await tempDir();
  const path = join(tmp.path, "mlflow.db");
  await createFor(path, "3.7.0");
  const db = new DatabaseSync(path);
  db.exec("UPDATE alembic_version SET version_num = '0123456789ab'");
  db.close();
  await assert.rejects(
    () => SqliteStore.open(path, { mlflow: byVersion("3.7.0") }),
    /revision 0123456789ab \(an unknown MLflow version\).*newer/,
  );
});

Deno.test("SqliteStore without an MLflow does not check the revision (any MLflow DB is used)", async () => {
  await using tmp = await tempDir();
  const path = join(tmp.path, "mlflow.db");
  await createFor(path, "2.17.2");
  const store = await SqliteStore.open(path);
  store.close();
  assert.deepEqual(alembicVersion(path), [headRevisionForVersion("2.17.2")]);
});

Deno.test("openTrackingStore() passes mlflow and upgradeDb on to the SQLite store", async () => {
  await using tmp = await tempDir();
  await createFor(join(tmp.path, "mlflow.db"), "2.17.2");
  await assert.rejects(
    () => openTrackingStore("sqlite:///mlflow.db", { cwd: tmp.path, mlflow: byVersion("3.7.0") }),
    /MLflow 3\.7\.0 expects/,
  );
  const fresh = await openTrackingStore("sqlite:///new.db", {
    cwd: tmp.path,
    mlflow: byVersion("2.22.5"),
  });
  fresh.close();
  assert.deepEqual(alembicVersion(join(tmp.path, "new.db")), [headRevisionForVersion("2.22.5")]);
});

// ---------------------------------------------------------------------------------------------
// a missing directory

Deno.test("a sqlite URI in a missing directory fails with one line naming the directory, creating nothing", async () => {
  await using tmp = await tempDir();
  const dir = join(tmp.path, "missing", "dir");
  await assert.rejects(
    () => openTrackingStore(`sqlite:///${dir}/x.db`, { cwd: tmp.path }),
    (e: Error & { exitCode?: number }) => {
      assert.equal(e.exitCode, 1);
      assert.ok(!e.message.includes("\n"));
      assert.ok(e.message.includes(`directory '${dir}' does not exist`), e.message);
      return true;
    },
  );
  assert.deepEqual([...Deno.readDirSync(tmp.path)], []);
});

Deno.test("mlproject run with a sqlite URI in a missing directory exits 1 with one line and creates nothing", async () => {
  await using tmp = await tempDir();
  await writeFiles(tmp.path, {
    "project/MLproject": 'name: p\nentry_points:\n  main:\n    command: "true"\n',
  });
  const dir = join(tmp.path, "missing", "dir");
  const out = await runCli(["run", join(tmp.path, "project"), "--env-manager", "local"], {
    cwd: tmp.path,
    env: cleanEnv({ MLFLOW_TRACKING_URI: `sqlite:///${dir}/x.db` }),
  });
  assert.equal(out.code, 1, out.stderr);
  const errors = out.stderr.split("\n").filter((l) => l.includes(dir));
  assert.equal(errors.length, 1, out.stderr);
  assert.match(errors[0]!, /directory '.*\/missing\/dir' does not exist/);
  assert.doesNotMatch(out.stderr, /^\s+at /m);
  assert.deepEqual([...Deno.readDirSync(tmp.path)].map((e) => e.name), ["project"]);
});

// ---------------------------------------------------------------------------------------------
// real MLflow

for (const version of PINNED_MLFLOW) {
  mlflowTest(
    `real MLflow ${version} creates exactly the schema SqliteStore creates for it`,
    [version],
    async (venv) => {
      await using tmp = await tempDir();
      const theirs = join(tmp.path, "theirs.db");
      const out = await runPython(venv, MLFLOW_CREATES_DB, [`sqlite:///${theirs}`]);
      assert.equal(out.code, 0, out.stderr);
      const ours = join(tmp.path, "ours.db");
      await createFor(ours, version);
      assert.deepEqual(normalizedSchema(ours), normalizedSchema(theirs));
      assert.deepEqual(alembicVersion(ours), alembicVersion(theirs));
    },
  );
}

const LOGS_INTO_RUN = `
import sys
from mlflow.tracking import MlflowClient
c = MlflowClient(tracking_uri=sys.argv[1])
assert [e.name for e in c.search_experiments()] == ["Default"], c.search_experiments()
c.log_metric(sys.argv[2], "m", 1.5)
c.log_param(sys.argv[2], "p", "v")
c.set_terminated(sys.argv[2], "FINISHED")
r = c.get_run(sys.argv[2])
print(r.info.status, r.data.metrics["m"], r.data.params["p"], r.data.tags["mlflow.runName"])
`;

for (const version of PINNED_MLFLOW) {
  mlflowTest(
    `real MLflow ${version} logs into the DB SqliteStore created for it, without a schema error`,
    [version],
    async (venv) => {
      await using tmp = await tempDir();
      const path = join(tmp.path, "mlflow.db");
      const store = await SqliteStore.open(path, { mlflow: venv });
      const run = await store.createRun({
        experimentId: "0",
        userId: "u",
        startTime: Date.now(),
        runName: "calm-fox-1",
        tags: [],
      });
      const out = await runPython(venv, LOGS_INTO_RUN, [store.uri, run.runId]);
      store.close();
      assert.equal(out.code, 0, out.stderr);
      assert.equal(out.stdout.trim(), "FINISHED 1.5 v calm-fox-1");
    },
  );
}

async function upgradeCase(
  from: string,
  to: string,
  old: MlflowInstallation,
  current: MlflowInstallation,
): Promise<void> {
  await using tmp = await tempDir();
  const path = join(tmp.path, "mlflow.db");
  const made = await runPython(old, MLFLOW_CREATES_DB, [`sqlite:///${path}`]);
  assert.equal(made.code, 0, made.stderr);
  const keep = await SqliteStore.open(path, { mlflow: old });
  const run = await keep.createRun({
    experimentId: "0",
    userId: "u",
    startTime: 1,
    runName: "old-run",
    tags: [],
  });
  keep.close();
  const reporter = recorder();
  const store = await SqliteStore.open(path, { mlflow: current, upgradeDb: true, reporter });
  try {
    assert.equal((await store.getRun(run.runId))?.runName, "old-run");
  } finally {
    store.close();
  }
  assert.deepEqual(alembicVersion(path), [headRevisionForVersion(to)]);
  const backups = [...Deno.readDirSync(tmp.path)].map((e) => e.name)
    .filter((n) => /^mlflow\.db\.\d{8}T\d{6}Z\.bak$/.test(n));
  assert.equal(backups.length, 1);
  const backup = join(tmp.path, backups[0]!);
  assert.deepEqual(alembicVersion(backup), [headRevisionForVersion(from)]);
  assert.ok(reporter.lines.some((l) => l.includes(`'${backup}'`)), reporter.lines.join("\n"));
  assert.ok(reporter.lines.some((l) => l.includes("mlflow db upgrade")), reporter.lines.join("\n"));
  // The child's MLflow now accepts the database.
  const out = await runPython(current, LOGS_INTO_RUN, [`sqlite:///${path}`, run.runId]);
  assert.equal(out.code, 0, out.stderr);
}

for (const [from, to] of [["3.7.0", "3.18.0"], ["2.17.2", "3.7.0"]] as const) {
  mlflowTest(
    `upgradeDb backs up a ${from} DB and upgrades it with real MLflow ${to}'s CLI`,
    [from, to],
    (old, current) => upgradeCase(from, to, old!, current!),
  );
}

mlflowTest(
  "an MLflow newer than the schema data creates the new DB itself, with a progress line",
  ["3.7.0"],
  async (real) => {
    await using tmp = await tempDir();
    const path = join(tmp.path, "mlflow.db");
    // A version past the data, whose migration files cannot be read: only MLflow itself knows.
    const future = { ...real, version: "99.0.0", sitePackages: join(tmp.path, "none") };
    const reporter = recorder();
    const store = await SqliteStore.open(path, { mlflow: future, reporter });
    try {
      assert.equal((await store.findExperiment({ id: "0" }))?.name, "Default");
    } finally {
      store.close();
    }
    assert.deepEqual(alembicVersion(path), [headRevisionForVersion("3.7.0")]);
    assert.equal(reporter.lines.length, 1);
    assert.match(
      reporter.lines[0]!,
      /^INFO Creating tracking database '.*' with MLflow 99\.0\.0 itself/,
    );
  },
);
