/**
 * `mlproject run` on docker_env projects, end to end: the real CLI, a real engine, real stores.
 * (Engine tests skip with one line without an engine and the test images: scripts/ci_docker.sh.)
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { RUN_ID_LABEL } from "../../lib/docker/run_args.ts";
import { FileStore } from "../../lib/tracking/file_store.ts";
import { cleanEnv, runCli, sqliteRows, tempDir, writeFiles } from "../_helpers/cli.ts";
import { LiveCli } from "../_helpers/cli_process.ts";
import {
  BUSYBOX,
  containersLabelled,
  DEBIAN_PY,
  dockerOut,
  MLFLOW_SITE,
  NO_ENGINE,
  NO_MLFLOW_IN_CONTAINER,
  removeRepository,
} from "./_engine.ts";

function mlproject(name: string, image: string, command: string, extra = ""): string {
  return [
    `name: ${name}`,
    "docker_env:",
    `  image: ${image}`,
    extra,
    "entry_points:",
    "  main:",
    `    command: ${JSON.stringify(command)}`,
    "",
  ].filter((l) => l !== "").join("\n") + "\n";
}

function fileEnv(dir: string): Record<string, string> {
  return cleanEnv({ MLFLOW_TRACKING_URI: `file://${dir}/mlruns` });
}

async function runTags(mlruns: string, runId: string): Promise<Record<string, string>> {
  const dir = join(mlruns, "0", runId, "tags");
  const tags: Record<string, string> = {};
  for await (const e of Deno.readDir(dir)) {
    tags[e.name] = await Deno.readTextFile(join(dir, e.name));
  }
  return tags;
}

async function status(mlruns: string, runId: string): Promise<string | undefined> {
  const store = new FileStore(mlruns);
  try {
    return (await store.getRun(runId))?.status;
  } finally {
    store.close();
  }
}

Deno.test("a docker_env project without a name is refused with MLflow's message, exit 1", async () => {
  await using d = await tempDir();
  await writeFiles(d.path, {
    "proj/MLproject": "docker_env:\n  image: x\nentry_points:\n  main:\n    command: 'true'\n",
  });
  const r = await runCli(["run", "proj"], { cwd: d.path, env: fileEnv(d.path) });
  assert.equal(r.code, 1, r.stderr);
  assert.match(
    r.stderr,
    /Project name in MLProject must be specified when using docker for image tagging\./,
  );
});

Deno.test({
  name:
    "a docker_env project with a prebuilt image runs in a container and records FINISHED with the docker tags",
  ignore: NO_ENGINE,
  fn: async () => {
    await using d = await tempDir();
    await writeFiles(d.path, {
      "proj/MLproject": mlproject(
        "wire",
        BUSYBOX,
        'echo "in=$GREETING run=$MLFLOW_RUN_ID uri=$MLFLOW_TRACKING_URI a=$A b=$B"',
        '  environment: [["GREETING", "two words"]]',
      ),
    });
    const r = await runCli(
      ["run", "proj", "--json", "-A", "e=A=1", "-A", "e=B=x y"],
      { cwd: d.path, env: fileEnv(d.path) },
    );
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.status, "FINISHED");
    assert.equal(out.env_manager, "docker");
    // The child's stdout went to stderr (--json): it ran in the container, with the run's vars.
    assert.ok(
      r.stderr.includes(
        `in=two words run=${out.run_id} uri=file:///mlflow/tmp/mlruns a=1 b=x y\n`,
      ),
      r.stderr,
    );
    assert.match(r.stderr, /=== Running command 'docker run --rm --name mlproject-/);
    const mlruns = join(d.path, "mlruns");
    assert.equal(await status(mlruns, out.run_id), "FINISHED");
    const tags = await runTags(mlruns, out.run_id);
    assert.equal(tags["mlflow.project.env"], "docker");
    assert.equal(tags["mlflow.docker.image.uri"], BUSYBOX);
    assert.equal(
      tags["mlflow.docker.image.id"],
      await dockerOut(["image", "inspect", "--format", "{{.Id}}", BUSYBOX]),
    );
    assert.deepEqual(await containersLabelled(`${RUN_ID_LABEL}=${out.run_id}`), []);
  },
});

Deno.test({
  name:
    "--build-image: the dry run says the image must be built; the second run reuses it (0 builds) although the store in the project changed",
  ignore: NO_ENGINE,
  fn: async () => {
    await using d = await tempDir();
    const repo = `mlproject-wire-${crypto.randomUUID().slice(0, 8)}`;
    const proj = join(d.path, "proj");
    await writeFiles(proj, {
      MLproject: mlproject(repo, BUSYBOX, "cat data.txt; pwd"),
      "data.txt": "payload\n",
    });
    try {
      // The default store (sqlite:///mlflow.db) is created in the project directory itself.
      const env = cleanEnv();
      const dry = await runCli(["run", ".", "--build-image", "--dry-run", "--json"], {
        cwd: proj,
        env,
      });
      assert.equal(dry.code, 0, dry.stderr);
      const planned = JSON.parse(dry.stdout);
      assert.equal(planned.docker_image_must_build, true);
      assert.match(planned.docker_image, new RegExp(`^${repo}:[0-9a-f]{16}$`));

      const runs = [];
      for (let i = 0; i < 2; i++) {
        const r = await runCli(["run", ".", "--build-image", "--json"], { cwd: proj, env });
        assert.equal(r.code, 0, r.stderr);
        assert.ok(r.stderr.includes("payload\n/mlflow/projects/code\n"), r.stderr);
        runs.push({
          out: JSON.parse(r.stdout),
          builds: r.stderr.split("=== Building docker image").length - 1,
        });
      }
      assert.deepEqual(runs.map((r) => r.builds), [1, 0]);
      assert.deepEqual(runs.map((r) => r.out.env_cache_hit), [false, true]);
      const tags = await sqliteRows(
        join(proj, "mlflow.db"),
        "SELECT run_uuid, value FROM tags WHERE key = 'mlflow.docker.image.uri' ORDER BY run_uuid",
      );
      assert.equal(tags.length, 2);
      assert.equal(tags[0]!.value, planned.docker_image);
      assert.equal(tags[1]!.value, planned.docker_image);

      const again = await runCli(["run", ".", "--build-image", "--dry-run", "--json"], {
        cwd: proj,
        env,
      });
      assert.equal(JSON.parse(again.stdout).docker_image_must_build, false);
    } finally {
      await removeRepository(repo);
    }
  },
});

Deno.test({
  name: "a failing entry point in a container records FAILED and exits 1",
  ignore: NO_ENGINE,
  fn: async () => {
    await using d = await tempDir();
    await writeFiles(d.path, {
      "proj/MLproject": mlproject("wire", BUSYBOX, "echo no >&2; exit 3"),
    });
    const r = await runCli(["run", "proj", "--json"], { cwd: d.path, env: fileEnv(d.path) });
    assert.equal(r.code, 1, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.status, "FAILED");
    assert.match(r.stderr, /Run \(ID '[0-9a-f]+'\) failed/);
    assert.equal(await status(join(d.path, "mlruns"), out.run_id), "FAILED");
  },
});

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  Deno.test({
    name:
      `${signal} during a docker run stops and removes the container, records KILLED, exits 130`,
    ignore: NO_ENGINE,
    fn: async () => {
      await using d = await tempDir();
      await writeFiles(d.path, {
        "proj/MLproject": mlproject(
          "wire",
          BUSYBOX,
          "trap 'exit 143' TERM; echo started; sleep 300 & wait",
        ),
      });
      await using cli = new LiveCli(["run", "proj", "--json"], {
        cwd: d.path,
        env: fileEnv(d.path),
      });
      await cli.waitFor(/^started$/m);
      const runId = /in run with ID '([0-9a-f]+)'/.exec(cli.stderr)![1]!;
      assert.equal((await containersLabelled(`${RUN_ID_LABEL}=${runId}`)).length, 1);
      cli.kill(signal);
      const r = await cli.result();
      assert.equal(r.signal, null, r.stderr);
      assert.equal(r.code, 130, r.stderr);
      assert.equal(JSON.parse(r.stdout).status, "KILLED");
      assert.equal(await status(join(d.path, "mlruns"), runId), "KILLED");
      assert.deepEqual(await containersLabelled(`${RUN_ID_LABEL}=${runId}`), []);
    },
  });
}

Deno.test({
  name:
    "a child in the container writes a metric into the run of the file store (mounted at /mlflow/tmp/mlruns)",
  ignore: NO_ENGINE,
  fn: async () => {
    await using d = await tempDir();
    const script = [
      "import os, time",
      "uri = os.environ['MLFLOW_TRACKING_URI']",
      "run_dir = os.path.join(uri[len('file://'):], os.environ['MLFLOW_EXPERIMENT_ID'], os.environ['MLFLOW_RUN_ID'])",
      "open(os.path.join(run_dir, 'metrics', 'loss'), 'a').write('%d 0.25 0\\n' % (time.time() * 1000))",
    ].join("; ");
    await writeFiles(d.path, {
      "proj/MLproject": mlproject("wire", DEBIAN_PY, `python3 -c "${script}"`),
    });
    const r = await runCli(["run", "proj", "--json"], { cwd: d.path, env: fileEnv(d.path) });
    assert.equal(r.code, 0, r.stderr);
    const { run_id: runId } = JSON.parse(r.stdout);
    const runDir = join(d.path, "mlruns", "0", runId);
    assert.match(await Deno.readTextFile(join(runDir, "metrics", "loss")), /^\d+ 0\.25 0\n$/);
    assert.equal(await status(join(d.path, "mlruns"), runId), "FINISHED");
  },
});

Deno.test({
  name: "a child in the container logs a metric and an artifact with MLflow 2.17.2 into the run",
  ignore: NO_MLFLOW_IN_CONTAINER,
  fn: async () => {
    await using d = await tempDir();
    await writeFiles(d.path, {
      "proj/MLproject": mlproject(
        "wire",
        DEBIAN_PY,
        `python3 -c "import mlflow; mlflow.log_metric('loss', 0.125); mlflow.log_text('hello', 'greeting.txt')"`,
        `  volumes: ["${MLFLOW_SITE}:/opt/mlflow-site:ro"]\n  environment: [["PYTHONPATH", "/opt/mlflow-site"]]`,
      ),
    });
    const r = await runCli(["run", "proj", "--json"], { cwd: d.path, env: fileEnv(d.path) });
    assert.equal(r.code, 0, r.stderr);
    const { run_id: runId } = JSON.parse(r.stdout);
    const runDir = join(d.path, "mlruns", "0", runId);
    assert.match(await Deno.readTextFile(join(runDir, "metrics", "loss")), /^\d+ 0\.125 0\n$/);
    assert.equal(await Deno.readTextFile(join(runDir, "artifacts", "greeting.txt")), "hello");
    assert.equal(await status(join(d.path, "mlruns"), runId), "FINISHED");
  },
});
