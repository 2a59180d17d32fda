import assert from "node:assert/strict";
import { startContainer } from "../../lib/docker/container.ts";
import {
  containerCommand,
  dockerRunArgs,
  type DockerRunRequest,
  parseDockerArgs,
  RUN_ID_LABEL,
} from "../../lib/docker/run_args.ts";
import { FileStore } from "../../lib/tracking/file_store.ts";
import type { RunInfo, TrackingStore } from "../../lib/tracking/tracking_store.ts";
import { openRestStore } from "../../lib/tracking/rest_store.ts";
import { startMlflowServer } from "../_helpers/mlflow_server.ts";
import { mlflowVenv, skipWithoutMlflow } from "../_helpers/mlflow_venvs.ts";
import { SqliteStore } from "../../lib/tracking/sqlite_store.ts";
import { sqliteRows, tempDir } from "../_helpers/cli.ts";
import {
  BUSYBOX,
  containersLabelled,
  DEBIAN_PY,
  dockerOut,
  MLFLOW_SITE,
  NO_ENGINE,
  NO_MLFLOW_IN_CONTAINER,
} from "./_engine.ts";

function request(cwd: string, extra: Partial<DockerRunRequest>): DockerRunRequest {
  return {
    image: BUSYBOX,
    command: containerCommand("true"),
    runId: crypto.randomUUID().replaceAll("-", ""),
    experimentId: "0",
    trackingUri: `file://${cwd}/mlruns`,
    hostEnv: Deno.env.toObject(),
    cwd,
    ...extra,
  };
}

/** Runs a container to its end and returns its exit code and stdout. */
async function run(req: DockerRunRequest): Promise<{ code: number; stdout: string }> {
  const c = startContainer(dockerRunArgs(req), { stdout: "piped" });
  const [status, out] = await Promise.all([c.status, c.output]);
  return { code: status.code, stdout: new TextDecoder().decode(out) };
}

/** A run in a new experiment "docker" of `store`. */
async function newRun(store: TrackingStore): Promise<{ exp: string; info: RunInfo }> {
  const exp = await store.createExperiment("docker");
  const info = await store.createRun({
    experimentId: exp,
    userId: "u",
    startTime: Date.now(),
    runName: "r",
    tags: [],
  });
  return { exp, info };
}

Deno.test({
  name:
    "a prebuilt image runs the command with the run's variables; the container is removed after",
  ignore: NO_ENGINE,
  fn: async () => {
    await using d = await tempDir();
    const req = request(d.path, {
      command: containerCommand('echo "$MLFLOW_RUN_ID $MLFLOW_EXPERIMENT_ID $MLFLOW_TRACKING_URI"'),
      experimentId: "12",
    });
    const { code, stdout } = await run(req);
    assert.equal(code, 0);
    assert.equal(stdout, `${req.runId} 12 file:///mlflow/tmp/mlruns\n`);
    assert.deepEqual(await containersLabelled(`${RUN_ID_LABEL}=${req.runId}`), []);
  },
});

Deno.test({
  name: "a failing command's exit status is the run's",
  ignore: NO_ENGINE,
  fn: async () => {
    await using d = await tempDir();
    const { code } = await run(
      request(d.path, { command: containerCommand("echo no >&2; exit 3") }),
    );
    assert.equal(code, 3);
  },
});

Deno.test({
  name: "-A flags reach docker run: a boolean flag (read-only), repeated keys, values with spaces",
  ignore: NO_ENGINE,
  fn: async () => {
    // (`-A privileged` needs capabilities this kind of VM lacks; the argv tests cover it.)
    await using d = await tempDir();
    const probe = containerCommand(
      'mount -t tmpfs none /tmp 2>/dev/null && echo mounted; touch /x 2>/dev/null && echo writable; echo "$A|$B"',
    );
    const flagged = await run(request(d.path, {
      command: probe,
      dockerArgs: parseDockerArgs([
        "read-only",
        "cap-add=SYS_ADMIN",
        "security-opt=apparmor=unconfined",
        "e=A=1",
        "e=B=two words",
      ]),
    }));
    assert.deepEqual(flagged, { code: 0, stdout: "mounted\n1|two words\n" });
    const plain = await run(request(d.path, { command: probe }));
    assert.deepEqual(plain, { code: 0, stdout: "writable\n|\n" });
  },
});

Deno.test({
  name: "docker_env volumes and environment: pairs, copies from the host, values with spaces",
  ignore: NO_ENGINE,
  fn: async () => {
    await using d = await tempDir();
    await Deno.mkdir(`${d.path}/data`);
    const { code, stdout } = await run(request(d.path, {
      volumes: [`${d.path}/data:/data`],
      environment: [["GREETING", "hello  big 'world'"], "FROM_HOST"],
      hostEnv: { ...Deno.env.toObject(), FROM_HOST: "a;b $(c)" },
      command: containerCommand('echo "$GREETING|$FROM_HOST" > /data/out.txt'),
    }));
    assert.equal(code, 0, stdout);
    assert.equal(
      await Deno.readTextFile(`${d.path}/data/out.txt`),
      "hello  big 'world'|a;b $(c)\n",
    );
  },
});

Deno.test({
  name:
    "file store: the container's child writes a metric into the run and an artifact into its artifact dir",
  ignore: NO_ENGINE,
  fn: async () => {
    await using d = await tempDir();
    const store = new FileStore(`${d.path}/mlruns`);
    const { exp, info } = await newRun(store);
    const script = [
      "import os, time",
      "uri = os.environ['MLFLOW_TRACKING_URI']",
      "assert uri == 'file:///mlflow/tmp/mlruns', uri",
      "run_dir = os.path.join(uri[len('file://'):], os.environ['MLFLOW_EXPERIMENT_ID'], os.environ['MLFLOW_RUN_ID'])",
      "open(os.path.join(run_dir, 'metrics', 'loss'), 'a').write('%d 0.25 0\\n' % (time.time() * 1000))",
      `open(os.path.join('${
        info.artifactUri.replace("file://", "")
      }', 'model.txt'), 'w').write('m')`,
    ].join("\n");
    const { code } = await run(request(d.path, {
      image: DEBIAN_PY,
      runId: info.runId,
      experimentId: exp,
      trackingUri: store.uri,
      artifactUri: info.artifactUri,
      command: ["python3", "-c", script],
    }));
    assert.equal(code, 0);
    const runDir = `${d.path}/mlruns/${exp}/${info.runId}`;
    assert.match(await Deno.readTextFile(`${runDir}/metrics/loss`), /^\d+ 0\.25 0\n$/);
    assert.equal(await Deno.readTextFile(`${runDir}/artifacts/model.txt`), "m");
  },
});

Deno.test({
  name: "a child in the container logs a metric with MLflow 2.17.2 into the run of a file store",
  ignore: NO_MLFLOW_IN_CONTAINER,
  fn: async () => {
    await using d = await tempDir();
    const store = new FileStore(`${d.path}/mlruns`);
    const { exp, info } = await newRun(store);
    const script = [
      "import mlflow",
      "mlflow.log_metric('loss', 0.125)",
      "mlflow.log_text('hello', 'greeting.txt')",
      "mlflow.end_run()",
    ].join("\n");
    const { code } = await run(request(d.path, {
      image: DEBIAN_PY,
      runId: info.runId,
      experimentId: exp,
      trackingUri: store.uri,
      artifactUri: info.artifactUri,
      volumes: [`${MLFLOW_SITE}:/opt/mlflow-site:ro`],
      environment: [["PYTHONPATH", "/opt/mlflow-site"]],
      command: ["python3", "-c", script],
    }));
    assert.equal(code, 0);
    const runDir = `${d.path}/mlruns/${exp}/${info.runId}`;
    assert.match(await Deno.readTextFile(`${runDir}/metrics/loss`), /^\d+ 0\.125 0\n$/);
    assert.equal(await Deno.readTextFile(`${runDir}/artifacts/greeting.txt`), "hello");
    assert.equal((await store.getRun(info.runId))?.status, "FINISHED");
  },
});

Deno.test({
  name:
    "http tracking: a child in a container on the host network logs into a real mlflow server's run",
  ignore: NO_MLFLOW_IN_CONTAINER || skipWithoutMlflow("2.17.2"),
  fn: async () => {
    await using d = await tempDir();
    await using server = await startMlflowServer(mlflowVenv("2.17.2")!, d.path);
    const store = openRestStore(server.url, { env: {} });
    try {
      const { exp, info } = await newRun(store);
      const warnings: string[] = [];
      const { code } = await run(request(d.path, {
        image: DEBIAN_PY,
        runId: info.runId,
        experimentId: exp,
        trackingUri: server.url,
        artifactUri: info.artifactUri,
        dockerArgs: [["network", "host"]],
        volumes: [`${MLFLOW_SITE}:/opt/mlflow-site:ro`],
        environment: [["PYTHONPATH", "/opt/mlflow-site"]],
        command: ["python3", "-c", "import mlflow; mlflow.log_metric('acc', 0.75)"],
        reporter: { log: (_level, m) => void warnings.push(m) },
      }));
      assert.equal(code, 0);
      assert.deepEqual(warnings, []);
      const history = await fetch(
        `${server.url}/api/2.0/mlflow/metrics/get-history?run_id=${info.runId}&metric_key=acc`,
      ).then((r) => r.json());
      assert.deepEqual(history.metrics.map((m: { value: number }) => m.value), [0.75]);
    } finally {
      store.close();
    }
  },
});

Deno.test({
  name:
    "SQLite store in WAL mode: the container writes through the shared -wal while the host holds it open",
  ignore: NO_ENGINE,
  fn: async () => {
    await using d = await tempDir();
    const db = `${d.path}/mlflow.db`;
    const store = await SqliteStore.open(db);
    try {
      const { exp, info } = await newRun(store);
      const script = [
        "import os, sqlite3, time",
        "uri = os.environ['MLFLOW_TRACKING_URI']",
        "con = sqlite3.connect(uri[len('sqlite:///'):], timeout=30)",
        "print(con.execute('PRAGMA journal_mode').fetchone()[0])",
        "con.execute('INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan) VALUES (?, ?, ?, ?, 0, 0)', ('loss', 0.5, int(time.time() * 1000), os.environ['MLFLOW_RUN_ID']))",
        "con.commit()",
      ].join("\n");
      const { code, stdout } = await run(request(d.path, {
        image: DEBIAN_PY,
        runId: info.runId,
        experimentId: exp,
        trackingUri: `sqlite:///${db}`,
        command: ["python3", "-c", script],
      }));
      assert.equal(code, 0, stdout);
      assert.equal(stdout.trim(), "wal");
      const rows = await sqliteRows(
        db,
        "SELECT key, value FROM metrics WHERE run_uuid = ?",
        info.runId,
      );
      assert.deepEqual(rows.map((r) => ({ ...r })), [{ key: "loss", value: 0.5 }]);
      // The store still works for the host after the container's writes.
      await store.updateRun(info.runId, { status: "FINISHED", endTime: Date.now() });
      assert.equal((await store.getRun(info.runId))?.status, "FINISHED");
    } finally {
      store.close();
    }
  },
});

async function waitRunning(label: string, name: string): Promise<void> {
  for (let i = 0; i < 600; i++) {
    const running = await dockerOut(["ps", "--filter", `label=${label}`, "--format", "{{.Names}}"]);
    if (running === name) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`container ${name} did not start`);
}

Deno.test({
  name: "a container removed by someone else ends the run with its kill status",
  ignore: NO_ENGINE,
  fn: async () => {
    await using d = await tempDir();
    const req = request(d.path, { command: containerCommand("sleep 300") });
    const inv = dockerRunArgs(req);
    const c = startContainer(inv, { stdout: "piped" });
    await waitRunning(`${RUN_ID_LABEL}=${req.runId}`, inv.containerName);
    await dockerOut(["rm", "--force", inv.containerName]);
    const status = await c.status;
    assert.equal(status.code, 137);
    assert.equal(c.cancelled, false);
  },
});

Deno.test({
  name: "cancel() stops and removes the container: nothing is left in docker ps -a",
  ignore: NO_ENGINE,
  fn: async () => {
    await using d = await tempDir();
    const req = request(d.path, { command: containerCommand("echo started; sleep 300") });
    const inv = dockerRunArgs(req);
    const c = startContainer(inv, { stdout: "piped", killGraceMs: 1000 });
    // Wait until the container runs (docker ps lists it by its run label).
    const label = `${RUN_ID_LABEL}=${req.runId}`;
    for (let i = 0; i < 300; i++) {
      const running = await dockerOut([
        "ps",
        "--filter",
        `label=${label}`,
        "--format",
        "{{.Names}}",
      ]);
      if (running === inv.containerName) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const status = await c.cancel();
    assert.notEqual(status.code, 0);
    assert.equal(c.cancelled, true);
    assert.deepEqual(await containersLabelled(label), []);
  },
});

Deno.test({
  name: "cancel() right after start, while docker is still creating the container, leaves nothing",
  ignore: NO_ENGINE,
  fn: async () => {
    await using d = await tempDir();
    const req = request(d.path, { command: containerCommand("sleep 300") });
    const c = startContainer(dockerRunArgs(req), { stdout: "piped", killGraceMs: 1000 });
    await c.cancel();
    assert.deepEqual(await containersLabelled(`${RUN_ID_LABEL}=${req.runId}`), []);
  },
});
