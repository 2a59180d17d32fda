/**
 * FileStore against the `mlruns` tree real MLflow 2.17 wrote (tests/testdata/mlflow-2.17/file-store).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { parse } from "npm:yaml@2.9.1";
import { FileStore } from "../../lib/tracking/file_store.ts";
import type { CreateRunRequest, RunStatus } from "../../lib/tracking/tracking_store.ts";
import { FIXTURES, tempDir } from "../_helpers/cli.ts";

const FS_FIXTURE = join(FIXTURES, "file-store");
const FIXTURE_EXP_ID = "724985737643957907";

/** The fixture runs: id, experiment, status, run name, times (from file-store/run-index.md). */
const FIXTURE_RUNS = [
  {
    id: "4ae3846d1008459f8afedefa64c1dd46",
    exp: "0",
    status: "FINISHED",
    name: "honorable-smelt-411",
    start: 1795731867742,
    end: 1795731868718,
  },
  {
    id: "d7cdd90190684cc2bde16017b4bb3792",
    exp: "0",
    status: "FAILED",
    name: "mercurial-fish-807",
    start: 1795731871432,
    end: 1795731871472,
  },
  {
    id: "001d51e81e51434e95f736a377681473",
    exp: FIXTURE_EXP_ID,
    status: "FINISHED",
    name: "redolent-seal-305",
    start: 1795731872661,
    end: 1795731873624,
  },
  {
    id: "f37604ea94a94d4983bd991b62782464",
    exp: "0",
    status: "FINISHED",
    name: "rumbling-eel-448",
    start: 1795731881632,
    end: 1795731882593,
  },
  {
    id: "f8b8c081c4d8409eac287acad5ecdea5",
    exp: "0",
    status: "FINISHED",
    name: "enthused-finch-360",
    start: 1795731889726,
    end: 1795731890732,
  },
] as const;

// ---------------------------------------------------------------------------------------------
// helpers

/** Relative paths under `root`, sorted, directories with a trailing `/` (like mlruns-tree.txt). */
function listTree(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string, rel: string) => {
    for (const e of Deno.readDirSync(dir)) {
      const r = rel === "" ? e.name : `${rel}/${e.name}`;
      if (e.isDirectory) {
        out.push(`${r}/`);
        walk(join(dir, e.name), r);
      } else {
        out.push(r);
      }
    }
  };
  walk(root, "");
  return out.sort();
}

/** The fixture tree (mlruns-tree.txt) relative to `mlruns/`, without the root entry. */
function fixtureTree(): string[] {
  return Deno.readTextFileSync(join(FS_FIXTURE, "mlruns-tree.txt")).split("\n")
    .filter((l) => l.startsWith("mlruns/") && l !== "mlruns/")
    .map((l) => l.slice("mlruns/".length))
    .sort();
}

/** Fixture entries of one run dir, relative to the run dir. */
function fixtureRunTree(exp: string, runId: string): string[] {
  const prefix = `${exp}/${runId}/`;
  return fixtureTree().filter((p) => p.startsWith(prefix) && p !== prefix)
    .map((p) => p.slice(prefix.length));
}

/**
 * Copies the fixture mlruns into `dest` (writable), then recreates the empty directories
 * git dropped, from mlruns-tree.txt.
 */
function copyFixtureMlruns(dest: string): void {
  const copy = (src: string, dst: string) => {
    Deno.mkdirSync(dst, { recursive: true, mode: 0o755 });
    Deno.chmodSync(dst, 0o755);
    for (const e of Deno.readDirSync(src)) {
      if (e.isDirectory) copy(join(src, e.name), join(dst, e.name));
      else {
        Deno.copyFileSync(join(src, e.name), join(dst, e.name));
        Deno.chmodSync(join(dst, e.name), 0o644);
      }
    }
  };
  copy(join(FS_FIXTURE, "mlruns"), dest);
  for (const p of fixtureTree()) {
    if (p.endsWith("/")) Deno.mkdirSync(join(dest, p), { recursive: true });
  }
}

async function sha256(path: string): Promise<string> {
  const buf = await crypto.subtle.digest("SHA-256", await Deno.readFile(path));
  return Array.from(new Uint8Array(buf), (b) => b.toString(16).padStart(2, "0")).join("");
}

async function hashTree(root: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const p of listTree(root)) {
    out.set(p, p.endsWith("/") ? "<dir>" : await sha256(join(root, p)));
  }
  return out;
}

/** Reads a flat dir of key files (params/ or tags/) as sorted [key, value] pairs. */
function readKeyDir(dir: string): [string, string][] {
  const out: [string, string][] = [];
  try {
    for (const e of Deno.readDirSync(dir)) {
      if (e.isFile) out.push([e.name, Deno.readTextFileSync(join(dir, e.name))]);
    }
  } catch { /* none */ }
  return out.sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0);
}

function yaml11(text: string): Record<string, unknown> {
  return parse(text, { version: "1.1" }) as Record<string, unknown>;
}

function readYaml(path: string): Record<string, unknown> {
  return yaml11(Deno.readTextFileSync(path));
}

/** Top-level keys of a flat YAML mapping in file order. */
function keyOrder(text: string): string[] {
  return text.split("\n").filter((l) => l !== "").map((l) => l.slice(0, l.indexOf(":")));
}

function typeOf(v: unknown): string {
  return v === null ? "null" : Array.isArray(v) ? "array" : typeof v;
}

function request(overrides: Partial<CreateRunRequest> = {}): CreateRunRequest {
  return {
    experimentId: "0",
    userId: "test-user",
    startTime: 1700000000000,
    runName: "bright-owl-42",
    tags: [["mlflow.user", "test-user"], ["mlflow.source.type", "PROJECT"]],
    ...overrides,
  };
}

function fixtureMetaText(exp: string, runId: string): string {
  return Deno.readTextFileSync(join(FS_FIXTURE, "mlruns", exp, runId, "meta.yaml"));
}

// ---------------------------------------------------------------------------------------------
// on-disk shape compared with MLflow 2.17

Deno.test("the fixture copy used by these tests reproduces mlruns-tree.txt exactly", async () => {
  await using tmp = await tempDir();
  const root = join(tmp.path, "mlruns");
  copyFixtureMlruns(root);
  assert.deepEqual(listTree(root), fixtureTree());
});

Deno.test("FileStore run dirs hold exactly the entries of MLflow 2.17 runs logged the same way", async () => {
  await using tmp = await tempDir();
  const store = new FileStore(join(tmp.path, "mlruns"));
  const fixtureExp = await store.createExperiment("fixture-exp");
  for (const fx of FIXTURE_RUNS) {
    const fxDir = join(FS_FIXTURE, "mlruns", fx.exp, fx.id);
    const tags = readKeyDir(join(fxDir, "tags"));
    const params = readKeyDir(join(fxDir, "params"));
    const exp = fx.exp === "0" ? "0" : fixtureExp;
    const info = await store.createRun(
      request({
        experimentId: exp,
        runName: fx.name,
        tags: tags.filter(([k]) => k !== "mlflow.runName"),
      }),
    );
    await store.logBatch(info.runId, { params });
    await store.updateRun(info.runId, { status: fx.status, endTime: fx.end });
    const ours = listTree(join(tmp.path, "mlruns", exp, info.runId));
    // metrics/<key> files come from the child's own MLflow, not from the runner.
    const expected = fixtureRunTree(fx.exp, fx.id).filter((p) => !/^metrics\/./.test(p));
    assert.deepEqual(ours, expected, `run like ${fx.id}`);
    assert.deepEqual(readKeyDir(join(tmp.path, "mlruns", exp, info.runId, "tags")), tags);
    assert.deepEqual(readKeyDir(join(tmp.path, "mlruns", exp, info.runId, "params")), params);
  }
});

Deno.test("FileStore creates artifacts/, metrics/, params/, tags/ and meta.yaml for a new run", async () => {
  await using tmp = await tempDir();
  const store = new FileStore(join(tmp.path, "mlruns"));
  const info = await store.createRun(request({ tags: [] }));
  assert.deepEqual(listTree(join(tmp.path, "mlruns", "0", info.runId)), [
    "artifacts/",
    "meta.yaml",
    "metrics/",
    "params/",
    "tags/",
    "tags/mlflow.runName",
  ]);
  assert.match(info.runId, /^[0-9a-f]{32}$/);
});

Deno.test("FileStore experiment dirs hold only meta.yaml and runs, like MLflow 2.17's", async () => {
  // mlruns-tree.txt: mlruns/0/ and mlruns/<id>/ contain meta.yaml and run dirs, no tags/ dir
  // (MLflow creates <exp>/tags/ only when an experiment tag is set).
  await using tmp = await tempDir();
  const root = join(tmp.path, "mlruns");
  const store = new FileStore(root);
  const id = await store.createExperiment("fixture-exp");
  const run = await store.createRun(request({ experimentId: id }));
  const run0 = await store.createRun(request());
  const top = (exp: string) =>
    listTree(join(root, exp)).filter((p) => !p.includes("/") || /^[^/]+\/$/.test(p));
  assert.deepEqual(top(id).sort(), ["meta.yaml", `${run.runId}/`].sort());
  assert.deepEqual(top("0").sort(), ["meta.yaml", `${run0.runId}/`].sort());
  assert.deepEqual(
    listTree(root).filter((p) => /^[^/]+\/$/.test(p)).sort(),
    [
      ".trash/",
      "0/",
      `${id}/`,
    ].sort(),
  );
});

Deno.test("FileStore.createRun() writes run_uuid for MLflow 2.x readers, with MLflow's keys and types", async () => {
  await using tmp = await tempDir();
  const store = new FileStore(join(tmp.path, "mlruns"));
  const info = await store.createRun(request());
  await store.updateRun(info.runId, { status: "FAILED", endTime: 1700000000500 });
  const text = Deno.readTextFileSync(join(tmp.path, "mlruns", "0", info.runId, "meta.yaml"));
  const fxText = fixtureMetaText("0", "d7cdd90190684cc2bde16017b4bb3792");
  const ours = yaml11(text);
  const theirs = yaml11(fxText);
  assert.deepEqual(keyOrder(text), keyOrder(fxText));
  assert.deepEqual(keyOrder(text), [...keyOrder(text)].sort());
  for (const k of Object.keys(theirs)) {
    assert.equal(typeOf(ours[k]), typeOf(theirs[k]), `type of ${k}`);
  }
  assert.equal(ours.run_uuid, info.runId);
  assert.equal(ours.run_id, info.runId);
  assert.equal(ours.experiment_id, "0");
  assert.equal(ours.source_type, 4);
  assert.equal(ours.status, 4);
  assert.equal(ours.run_name, "bright-owl-42");
  assert.equal(ours.user_id, "test-user");
  assert.equal(ours.start_time, 1700000000000);
  assert.equal(ours.end_time, 1700000000500);
  assert.equal(ours.lifecycle_stage, "active");
  assert.deepEqual(ours.tags, []);
  assert.equal(
    ours.artifact_uri,
    `file://${tmp.path}/mlruns/0/${info.runId}/artifacts`,
  );
  // The literal lines, as PyYAML writes them.
  for (
    const line of [
      "experiment_id: '0'",
      "entry_point_name: ''",
      "source_name: ''",
      "source_version: ''",
      "source_type: 4",
      "tags: []",
      "status: 4",
      `run_uuid: ${info.runId}`,
    ]
  ) {
    assert.ok(text.split("\n").includes(line), `missing line ${line}\n${text}`);
  }
});

Deno.test("FileStore writes status codes 1 RUNNING, 3 FINISHED, 4 FAILED, 5 KILLED", async () => {
  await using tmp = await tempDir();
  const store = new FileStore(join(tmp.path, "mlruns"));
  const cases: [RunStatus | null, number][] = [
    [null, 1],
    ["FINISHED", 3],
    ["FAILED", 4],
    ["KILLED", 5],
  ];
  for (const [status, code] of cases) {
    const info = await store.createRun(request());
    if (status !== null) {
      await store.updateRun(info.runId, { status: status, endTime: 1700000001000 });
    }
    const meta = readYaml(join(tmp.path, "mlruns", "0", info.runId, "meta.yaml"));
    assert.equal(meta.status, code);
    assert.equal(meta.end_time, status === null ? null : 1700000001000);
    assert.equal((await store.getRun(info.runId))?.status, status ?? "RUNNING");
  }
});

Deno.test("FileStore drops deleted_time from meta.yaml once the run is rewritten, as MLflow does", async () => {
  // MLflow's create_run writes `deleted_time: null`, then set_tag(mlflow.runName) calls
  // update_run_info → _overwrite_run_info, which writes deleted_time only when not None. So a run
  // that create_run() returned already has no deleted_time key, and none after later updates.
  await using tmp = await tempDir();
  const store = new FileStore(join(tmp.path, "mlruns"));
  const info = await store.createRun(request());
  const path = join(tmp.path, "mlruns", "0", info.runId, "meta.yaml");
  const afterCreate = readYaml(path);
  assert.ok(!("deleted_time" in afterCreate), JSON.stringify(afterCreate));
  await store.updateRun(info.runId, { status: "FINISHED", endTime: 1700000002000 });
  const afterUpdate = Deno.readTextFileSync(path);
  assert.ok(!afterUpdate.includes("deleted_time"), afterUpdate);
  // Same key set as the fixture's finished runs (which have no deleted_time).
  assert.deepEqual(
    keyOrder(afterUpdate),
    keyOrder(fixtureMetaText("0", "4ae3846d1008459f8afedefa64c1dd46")),
  );
});

Deno.test("FileStore experiment meta.yaml has the fixture's keys, quoted id and file:// location", async () => {
  await using tmp = await tempDir();
  const root = join(tmp.path, "mlruns");
  const store = new FileStore(root);
  const id = await store.createExperiment("fixture-exp");
  assert.ok(await store.findExperiment({ id: "0" }));
  const fx = Deno.readTextFileSync(join(FS_FIXTURE, "mlruns", FIXTURE_EXP_ID, "meta.yaml"));
  const fx0 = Deno.readTextFileSync(join(FS_FIXTURE, "mlruns", "0", "meta.yaml"));
  for (const [expId, fixtureText] of [[id, fx], ["0", fx0]] as const) {
    const text = Deno.readTextFileSync(join(root, expId, "meta.yaml"));
    assert.deepEqual(keyOrder(text), keyOrder(fixtureText));
    const ours = yaml11(text);
    const theirs = yaml11(fixtureText);
    for (const k of Object.keys(theirs)) {
      assert.equal(typeOf(ours[k]), typeOf(theirs[k]), `type of ${k}`);
    }
    assert.ok(text.split("\n").includes(`experiment_id: '${expId}'`), text);
    assert.equal(ours.experiment_id, expId);
    assert.equal(ours.artifact_location, `file://${root}/${expId}`);
    assert.equal(ours.lifecycle_stage, "active");
    assert.equal(ours.creation_time, ours.last_update_time);
  }
  assert.equal(yaml11(Deno.readTextFileSync(join(root, "0", "meta.yaml"))).name, "Default");
  assert.equal(yaml11(Deno.readTextFileSync(join(root, id, "meta.yaml"))).name, "fixture-exp");
});

// ---------------------------------------------------------------------------------------------
// reading and appending to the fixture tree

Deno.test("FileStore finds the fixture's experiments by name and by id", async () => {
  await using tmp = await tempDir();
  const root = join(tmp.path, "mlruns");
  copyFixtureMlruns(root);
  const store = new FileStore(root);
  assert.deepEqual(await store.findExperiment({ name: "fixture-exp" }), {
    experimentId: FIXTURE_EXP_ID,
    name: "fixture-exp",
    artifactLocation: `file:///FIXTURE_ROOT/mlruns/${FIXTURE_EXP_ID}`,
    lifecycleStage: "active",
  });
  assert.deepEqual(await store.findExperiment({ name: "Default" }), {
    experimentId: "0",
    name: "Default",
    artifactLocation: "file:///FIXTURE_ROOT/mlruns/0",
    lifecycleStage: "active",
  });
  assert.equal((await store.findExperiment({ id: FIXTURE_EXP_ID }))?.name, "fixture-exp");
  assert.equal(await store.findExperiment({ name: "no-such-exp" }), undefined);
  assert.equal(await store.findExperiment({ id: "123" }), undefined);
});

Deno.test("FileStore.getRun() reads the fixture runs' status, name, times and user", async () => {
  await using tmp = await tempDir();
  const root = join(tmp.path, "mlruns");
  copyFixtureMlruns(root);
  const store = new FileStore(root);
  for (const fx of FIXTURE_RUNS) {
    assert.deepEqual(await store.getRun(fx.id), {
      runId: fx.id,
      experimentId: fx.exp,
      runName: fx.name,
      status: fx.status,
      startTime: fx.start,
      endTime: fx.end,
      artifactUri: `file:///FIXTURE_ROOT/mlruns/${fx.exp}/${fx.id}/artifacts`,
      userId: "fixture-user",
      lifecycleStage: "active",
    });
  }
  assert.equal(await store.getRun("0123456789abcdef0123456789abcdef"), undefined);
  assert.equal(await store.getRun("../0"), undefined);
});

Deno.test("FileStore appends runs to the fixture tree without changing any existing file", async () => {
  await using tmp = await tempDir();
  const root = join(tmp.path, "mlruns");
  copyFixtureMlruns(root);
  const before = await hashTree(root);
  const store = new FileStore(root);
  const exp = await store.findExperiment({ name: "fixture-exp" });
  assert.ok(exp);
  const newRuns: string[] = [];
  for (const experimentId of ["0", exp.experimentId]) {
    const info = await store.createRun(
      request({ experimentId, runName: `new-in-${experimentId}` }),
    );
    await store.logBatch(info.runId, {
      params: [["alpha", "0.5"]],
      tags: [["mlflow.project.backend", "local"]],
    });
    await store.updateRun(info.runId, { status: "FINISHED", endTime: 1800000000000 });
    assert.equal(
      info.artifactUri,
      `file:///FIXTURE_ROOT/mlruns/${experimentId}/${info.runId}/artifacts`,
    );
    const read = await store.getRun(info.runId);
    assert.equal(read?.status, "FINISHED");
    assert.equal(read?.experimentId, experimentId);
    newRuns.push(`${experimentId}/${info.runId}/`);
  }
  const after = await hashTree(root);
  for (const [path, hash] of before) {
    assert.equal(after.get(path), hash, `changed or removed: ${path}`);
  }
  const added = [...after.keys()].filter((p) => !before.has(p));
  assert.ok(added.length > 0);
  for (const p of added) {
    assert.ok(newRuns.some((r) => p.startsWith(r)), `unexpected new entry ${p}`);
  }
  // The fixture experiments are still found, and the runs read back.
  assert.equal((await store.findExperiment({ name: "Default" }))?.experimentId, "0");
  assert.equal((await store.getRun(FIXTURE_RUNS[0].id))?.status, "FINISHED");
});

// ---------------------------------------------------------------------------------------------
// experiments

Deno.test("FileStore.createExperiment() gives 18-digit ids without a leading zero", async () => {
  await using tmp = await tempDir();
  const store = new FileStore(join(tmp.path, "mlruns"));
  const ids = new Set<string>();
  for (let i = 0; i < 25; i++) {
    const id = await store.createExperiment(`exp-${i}`);
    assert.match(id, /^[1-9][0-9]{17}$/);
    ids.add(id);
    assert.equal((await store.findExperiment({ id }))?.name, `exp-${i}`);
  }
  assert.equal(ids.size, 25);
});

Deno.test("FileStore.createExperiment() refuses a duplicate name with MLflow's message", async () => {
  await using tmp = await tempDir();
  const store = new FileStore(join(tmp.path, "mlruns"));
  await store.createExperiment("x");
  await assert.rejects(
    async () => await store.createExperiment("x"),
    (e: Error) => e.message === "Experiment 'x' already exists.",
  );
  // The Default experiment counts too.
  await store.findExperiment({ id: "0" });
  await assert.rejects(
    async () => await store.createExperiment("Default"),
    (e: Error) => e.message === "Experiment 'Default' already exists.",
  );
});

Deno.test("FileStore.createExperiment() refuses the name of a deleted experiment in .trash", async () => {
  await using tmp = await tempDir();
  const root = join(tmp.path, "mlruns");
  const store = new FileStore(root);
  Deno.mkdirSync(join(root, ".trash", "111111111111111111"), { recursive: true });
  Deno.writeTextFileSync(
    join(root, ".trash", "111111111111111111", "meta.yaml"),
    "artifact_location: file:///x/111111111111111111\ncreation_time: 1\n" +
      "experiment_id: '111111111111111111'\nlast_update_time: 2\nlifecycle_stage: deleted\n" +
      "name: gone\n",
  );
  await assert.rejects(
    async () => await store.createExperiment("gone"),
    (e: Error) => /^Experiment 'gone' already exists in deleted state\./.test(e.message),
  );
  assert.equal(await store.findExperiment({ name: "gone" }), undefined);
});

Deno.test("FileStore.createExperiment() refuses empty and over-long names", async () => {
  await using tmp = await tempDir();
  const store = new FileStore(join(tmp.path, "mlruns"));
  await assert.rejects(async () => await store.createExperiment(""), /Invalid experiment name/);
  await assert.rejects(
    async () => await store.createExperiment("x".repeat(501)),
    /Invalid experiment name/,
  );
  assert.match(await store.createExperiment("x".repeat(500)), /^[1-9]\d{17}$/);
});

Deno.test("FileStore creates experiment 0 'Default' lazily, not in the constructor", async () => {
  await using tmp = await tempDir();
  const root = join(tmp.path, "mlruns");
  const store = new FileStore(root);
  assert.deepEqual(listTree(root), [".trash/"]);
  const info = await store.createRun(request());
  assert.equal(info.experimentId, "0");
  const meta = readYaml(join(root, "0", "meta.yaml"));
  assert.equal(meta.name, "Default");
  assert.equal(meta.experiment_id, "0");
  assert.equal(meta.artifact_location, `file://${root}/0`);
  // Asking again does not rewrite it.
  const text = Deno.readTextFileSync(join(root, "0", "meta.yaml"));
  await store.findExperiment({ name: "Default" });
  await store.findExperiment({ id: "0" });
  assert.equal(Deno.readTextFileSync(join(root, "0", "meta.yaml")), text);
});

Deno.test("FileStore.findExperiment({ name: 'Default' }) creates experiment 0 in a new store", async () => {
  await using tmp = await tempDir();
  const root = join(tmp.path, "mlruns");
  const store = new FileStore(root);
  assert.equal((await store.findExperiment({ name: "Default" }))?.experimentId, "0");
});

Deno.test("FileStore.createRun() fails for a missing experiment", async () => {
  await using tmp = await tempDir();
  const store = new FileStore(join(tmp.path, "mlruns"));
  await assert.rejects(
    async () => await store.createRun(request({ experimentId: "424242" })),
    (e: Error) => e.message === "Could not find experiment with ID 424242",
  );
});

Deno.test("FileStore.childEnv sets MLFLOW_ALLOW_FILE_STORE=true and uri is the root's file:// URI", async () => {
  await using tmp = await tempDir();
  const root = join(tmp.path, "mlruns");
  const store = new FileStore(root);
  assert.deepEqual({ ...store.childEnv }, { MLFLOW_ALLOW_FILE_STORE: "true" });
  assert.equal(store.uri, `file://${root}`);
  store.close();
});

// ---------------------------------------------------------------------------------------------
// params and tags

Deno.test("FileStore.logBatch() refuses to change a param with MLflow's message", async () => {
  await using tmp = await tempDir();
  const store = new FileStore(join(tmp.path, "mlruns"));
  const info = await store.createRun(request());
  await store.logBatch(info.runId, { params: [["alpha", "0.5"]] });
  await assert.rejects(
    async () => await store.logBatch(info.runId, { params: [["alpha", "0.7"]] }),
    (e: Error) =>
      e.message ===
        `Changing param values is not allowed. Param with key='alpha' was already logged with value='0.5' for run ID='${info.runId}'. Attempted logging new value '0.7'.`,
  );
  const path = join(tmp.path, "mlruns", "0", info.runId, "params", "alpha");
  assert.equal(Deno.readTextFileSync(path), "0.5");
});

Deno.test("FileStore.logBatch() accepts the same param value twice and writes it without a newline", async () => {
  await using tmp = await tempDir();
  const store = new FileStore(join(tmp.path, "mlruns"));
  const info = await store.createRun(request());
  await store.logBatch(info.runId, { params: [["name", "'it'\"'\"'s a b'"], ["empty", ""]] });
  await store.logBatch(info.runId, { params: [["name", "'it'\"'\"'s a b'"], ["empty", ""]] });
  const dir = join(tmp.path, "mlruns", "0", info.runId, "params");
  assert.equal(Deno.readTextFileSync(join(dir, "name")), "'it'\"'\"'s a b'");
  assert.equal(Deno.readTextFileSync(join(dir, "empty")), "");
});

Deno.test("FileStore.logBatch() overwrites tags", async () => {
  await using tmp = await tempDir();
  const store = new FileStore(join(tmp.path, "mlruns"));
  const info = await store.createRun(request());
  await store.logBatch(info.runId, { tags: [["mlflow.project.backend", "local"]] });
  await store.logBatch(info.runId, { tags: [["mlflow.project.backend", "kubernetes"]] });
  const path = join(tmp.path, "mlruns", "0", info.runId, "tags", "mlflow.project.backend");
  assert.equal(Deno.readTextFileSync(path), "kubernetes");
});

Deno.test("FileStore.createRun() writes the run name to tags/mlflow.runName and meta.yaml", async () => {
  await using tmp = await tempDir();
  const store = new FileStore(join(tmp.path, "mlruns"));
  const info = await store.createRun(
    request({ runName: "given-name", tags: [["mlflow.user", "u"]] }),
  );
  const dir = join(tmp.path, "mlruns", "0", info.runId);
  assert.equal(Deno.readTextFileSync(join(dir, "tags", "mlflow.runName")), "given-name");
  assert.equal(Deno.readTextFileSync(join(dir, "tags", "mlflow.user")), "u");
  assert.equal(readYaml(join(dir, "meta.yaml")).run_name, "given-name");
  assert.equal(info.runName, "given-name");
});

Deno.test("setting the mlflow.runName tag rewrites meta.yaml run_name", async () => {
  await using tmp = await tempDir();
  const store = new FileStore(join(tmp.path, "mlruns"));
  const info = await store.createRun(request());
  await store.updateRun(info.runId, { status: "FINISHED", endTime: 1700000003000 });
  await store.logBatch(info.runId, { tags: [["mlflow.runName", "renamed"]] });
  const dir = join(tmp.path, "mlruns", "0", info.runId);
  const meta = readYaml(join(dir, "meta.yaml"));
  assert.equal(meta.run_name, "renamed");
  assert.equal(meta.status, 3);
  assert.equal(meta.end_time, 1700000003000);
  assert.equal(Deno.readTextFileSync(join(dir, "tags", "mlflow.runName")), "renamed");
  assert.equal((await store.getRun(info.runId))?.runName, "renamed");
});

Deno.test("FileStore refuses param and tag keys that escape their folder or have bad characters", async () => {
  await using tmp = await tempDir();
  const root = join(tmp.path, "mlruns");
  const store = new FileStore(root);
  const info = await store.createRun(request());
  const before = listTree(root);
  for (const key of ["../x", "/abs", "a\nb", "", ".", "a/../b", "a//b", "x".repeat(251)]) {
    await assert.rejects(
      async () => await store.logBatch(info.runId, { params: [[key, "v"]] }),
      /Invalid param name/,
      JSON.stringify(key),
    );
    await assert.rejects(
      async () => await store.logBatch(info.runId, { tags: [[key, "v"]] }),
      /Invalid tag name/,
      JSON.stringify(key),
    );
  }
  assert.deepEqual(listTree(root), before);
  // Allowed: slashes (subdirectories), spaces, colons, dots, unicode letters.
  await store.logBatch(info.runId, {
    params: [["a/b", "1"], ["with space:colon.dot-dash", "2"], ["größe", "3"]],
  });
  const dir = join(root, "0", info.runId, "params");
  assert.equal(Deno.readTextFileSync(join(dir, "a", "b")), "1");
  assert.equal(Deno.readTextFileSync(join(dir, "with space:colon.dot-dash")), "2");
  assert.equal(Deno.readTextFileSync(join(dir, "größe")), "3");
});

Deno.test("FileStore refuses writes to a missing or deleted run", async () => {
  await using tmp = await tempDir();
  const root = join(tmp.path, "mlruns");
  const store = new FileStore(root);
  await assert.rejects(
    async () => await store.logBatch("0123456789abcdef0123456789abcdef", { tags: [["a", "b"]] }),
    /not found/,
  );
  const info = await store.createRun(request());
  const path = join(root, "0", info.runId, "meta.yaml");
  Deno.writeTextFileSync(
    path,
    Deno.readTextFileSync(path).replace("lifecycle_stage: active", "lifecycle_stage: deleted"),
  );
  await assert.rejects(
    async () => await store.updateRun(info.runId, { status: "FINISHED", endTime: 1 }),
    (e: Error) => e.message === `The run ${info.runId} must be in 'active' lifecycle_stage.`,
  );
});

// ---------------------------------------------------------------------------------------------
// YAML quoting

const TRICKY_NAMES = [
  "yes",
  "No",
  "on",
  "OFF",
  "y",
  "n",
  "true",
  "False",
  "123",
  "0",
  "007",
  "1.5",
  "-1.5",
  "1e3",
  "1_000",
  "0x1F",
  "0o17",
  "0b101",
  "1:20",
  ".inf",
  "-.inf",
  ".NaN",
  "null",
  "Null",
  "~",
  "2024-01-01",
  "2024-01-01 12:00:00",
  "a: b",
  "a:",
  "a:b",
  "#x",
  "x #y",
  "x#y",
  "'quoted'",
  '"double"',
  "it's",
  "-",
  "- x",
  "? x",
  "!tag",
  "&anchor",
  "*alias",
  "|",
  ">",
  "%pct",
  "@at",
  "`tick",
  "[a, b]",
  "{a: b}",
  ",comma",
  "<<",
  "=",
  " leading",
  "trailing ",
  "tab\there",
  "naïve 実験 🚀",
  "Ünïcödé-名前",
  "x".repeat(30) + " " + "y".repeat(60),
];

Deno.test("FileStore run names survive PyYAML-style quoting: npm:yaml 1.1 reads the same string", async () => {
  await using tmp = await tempDir();
  const store = new FileStore(join(tmp.path, "mlruns"));
  const wrong: string[] = [];
  for (const name of TRICKY_NAMES) {
    const info = await store.createRun(request({ runName: name }));
    const text = Deno.readTextFileSync(join(tmp.path, "mlruns", "0", info.runId, "meta.yaml"));
    const line = text.split("\n").find((l) => l.startsWith("run_name:"));
    const v11 = yaml11(text).run_name;
    if (v11 !== name) {
      wrong.push(`${JSON.stringify(name)} written as ${JSON.stringify(line)} reads as ${v11}`);
    }
    assert.equal((await store.getRun(info.runId))?.runName, name);
  }
  assert.deepEqual(wrong, []);
});

Deno.test("FileStore experiment names survive PyYAML-style quoting: npm:yaml 1.1 reads the same string", async () => {
  await using tmp = await tempDir();
  const root = join(tmp.path, "mlruns");
  const store = new FileStore(root);
  const wrong: string[] = [];
  for (const name of TRICKY_NAMES) {
    const id = await store.createExperiment(name);
    const text = Deno.readTextFileSync(join(root, id, "meta.yaml"));
    const line = text.split("\n").find((l) => l.startsWith("name:"));
    const v11 = yaml11(text).name;
    if (v11 !== name) {
      wrong.push(`${JSON.stringify(name)} written as ${JSON.stringify(line)} reads as ${v11}`);
    }
    assert.equal((await store.findExperiment({ name }))?.experimentId, id);
    assert.equal((await store.findExperiment({ id }))?.name, name);
  }
  assert.deepEqual(wrong, []);
});
