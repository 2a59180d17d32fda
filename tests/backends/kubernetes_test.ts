/**
 * `mlproject run -b kubernetes` end to end: the real CLI, a real Docker engine building the
 * image, a real registry (`docker-registry`) it is pushed to, the fake API server
 * (tests/_helpers/fake_kube.ts) whose kubelet pulls that image from the registry and runs it
 * with dockerd, and a real `mlflow server` the child logs a metric to from inside the container
 * (MLflow comes into the image from the project: mlflow-skinny's site directory, made by
 * scripts/ci_docker.sh, is copied into the project and put on PYTHONPATH).
 */
import assert from "node:assert/strict";
import { KubernetesBackend } from "../../lib/backends/kubernetes.ts";
import type { LaunchJob } from "../../lib/backends/backend.ts";
import { run } from "../../lib/run/run.ts";
import type { LogLevel } from "../../lib/system/output.ts";
import { cleanEnv, runCli, tempDir, writeFiles } from "../_helpers/cli.ts";
import { LiveCli } from "../_helpers/cli_process.ts";
import { startFakeKube } from "../_helpers/fake_kube.ts";
import { skipWithoutRegistry, startRegistry } from "../_helpers/registry.ts";
import { mlflowVenv } from "../_helpers/mlflow_venvs.ts";
import { startMlflowServer } from "../_helpers/mlflow_server.ts";
import { skipWithout } from "../_helpers/components.ts";
import { DEBIAN_PY, MLFLOW_SITE, NO_ENGINE, NO_MLFLOW_IN_CONTAINER } from "../docker/_engine.ts";

const NO_CLUSTER = NO_ENGINE || await skipWithoutRegistry("kubernetes backend tests");
const VENV = mlflowVenv("2.17.2");
const NO_METRIC = NO_CLUSTER || NO_MLFLOW_IN_CONTAINER ||
  skipWithout("kubernetes metric test", VENV !== undefined, "no MLflow 2.17.2 test venv");

const TEMPLATE = `apiVersion: batch/v1
kind: Job
metadata:
  name: "{replaced with MLflow Project name}"
  namespace: mlflow
spec:
  ttlSecondsAfterFinished: 100
  backoffLimit: 0
  template:
    spec:
      containers:
      - name: "{replaced with MLflow Project name}"
        image: "{replaced with URI of Docker image created during Project execution}"
        command: ["{replaced with MLflow Project entry point command}"]
        env:
        - {name: FROM_TEMPLATE, value: "yes"}
      restartPolicy: Never
`;

const TRAIN = `import os, sys
print("training with alpha", sys.argv[1], "comment", repr(sys.argv[2]), flush=True)
print("template env", os.environ.get("FROM_TEMPLATE"), "run", os.environ["MLFLOW_RUN_ID"], flush=True)
if os.environ["MLFLOW_TRACKING_URI"].startswith("http"):
    import mlflow
    with mlflow.start_run():
        mlflow.log_metric("alpha", float(sys.argv[1]))
    print("metric logged", flush=True)
`;

const MLPROJECT = `name: kube-proj
docker_env:
  image: ${DEBIAN_PY}
  environment: [["PYTHONPATH", "/mlflow/projects/code/site"], "FROM_HOST"]
entry_points:
  main:
    parameters:
      alpha: {type: float, default: 0.1}
      comment: {type: string, default: "a b"}
    command: "python3 train.py {alpha} {comment}"
  fail:
    command: "python3 -c 'import sys; print(\\"going down\\", flush=True); sys.exit(3)'"
  sleep:
    command: "python3 -c 'import time; print(\\"sleeping now\\", flush=True); time.sleep(600)'"
`;

interface Cluster extends AsyncDisposable {
  dir: string;
  proj: string;
  env: Record<string, string>;
  kube: Awaited<ReturnType<typeof startFakeKube>>;
  registry: string;
  config: string;
}

/** One registry, fake cluster and project per test (MLflow copied in only when `withMlflow`). */
async function cluster(withMlflow = false): Promise<Cluster> {
  const dir = await tempDir();
  const registry = await startRegistry();
  const kube = await startFakeKube({ kubelet: "docker" });
  await kube.writeKubeconfig(`${dir.path}/kube/config`);
  await writeFiles(dir.path, {
    "proj/MLproject": MLPROJECT,
    "proj/train.py": TRAIN,
    "job.yaml": TEMPLATE,
    "kube.json": JSON.stringify({
      "kube-job-template-path": "job.yaml",
      "repository-uri": `${registry.host}/team/kube-proj`,
    }),
  });
  if (withMlflow) {
    await new Deno.Command("cp", { args: ["-a", MLFLOW_SITE, `${dir.path}/proj/site`] }).output();
  }
  return {
    dir: dir.path,
    proj: `${dir.path}/proj`,
    env: cleanEnv({
      KUBECONFIG: `${dir.path}/kube/config`,
      MLFLOW_TRACKING_URI: `file://${dir.path}/mlruns`,
      FROM_HOST: "host-value",
    }),
    kube,
    registry: registry.host,
    config: `${dir.path}/kube.json`,
    async [Symbol.asyncDispose]() {
      await kube.close();
      await registry.close();
      await dir[Symbol.asyncDispose]();
    },
  };
}

async function tags(mlruns: string, runId: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for await (const e of Deno.readDir(`${mlruns}/0/${runId}/tags`)) {
    out[e.name] = await Deno.readTextFile(`${mlruns}/0/${runId}/tags/${e.name}`);
  }
  return out;
}

async function runStatus(mlruns: string, runId: string): Promise<string> {
  const meta = await Deno.readTextFile(`${mlruns}/0/${runId}/meta.yaml`);
  return /status: (\d+)/.exec(meta)![1]!;
}

function runIdOf(stderr: string): string {
  const m =
    /Run \(ID '([0-9a-f]+)'\)|run with ID '([0-9a-f]+)'|MLFLOW_RUN_ID[^0-9a-f]*([0-9a-f]{32})/
      .exec(stderr);
  assert.ok(m, stderr);
  return (m[1] ?? m[2] ?? m[3])!;
}

Deno.test({
  name:
    "configuration problems are refused in the plan stage with MLflow's messages: nothing built, pushed or recorded",
  ignore: NO_ENGINE,
  fn: async () => {
    await using d = await tempDir();
    await writeFiles(d.path, {
      "proj/MLproject": MLPROJECT,
      "proj/train.py": TRAIN,
      "plain/MLproject": "name: plain\nentry_points:\n  main:\n    command: 'true'\n",
      "job.yaml": TEMPLATE,
      "nons.yaml": TEMPLATE.replace("  namespace: mlflow\n", ""),
      "kube/config":
        "current-context: a\nclusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]\n" +
        "contexts: [{name: a, context: {cluster: c}}]\n",
    });
    const env = cleanEnv({
      KUBECONFIG: `${d.path}/kube/config`,
      MLFLOW_TRACKING_URI: `file://${d.path}/mlruns`,
    });
    const cases: [string, string[], RegExp][] = [
      ["empty config", ["-c", "{}"], /Backend_config file not found\./],
      [
        "no template path",
        ["-c", '{"repository-uri": "r/p"}'],
        /'kube-job-template-path' attribute must be specified in backend_config\./,
      ],
      [
        "missing template",
        ["-c", '{"kube-job-template-path": "nope.yaml", "repository-uri": "r/p"}'],
        /Could not find 'kube-job-template-path': nope\.yaml/,
      ],
      [
        "no repository",
        ["-c", '{"kube-job-template-path": "job.yaml"}'],
        /Could not find 'repository-uri' in backend_config\./,
      ],
      [
        "no namespace",
        ["-c", '{"kube-job-template-path": "nons.yaml", "repository-uri": "r/p"}'],
        /Kubernetes Job template nons\.yaml must set 'metadata\.namespace'/,
      ],
      [
        "unknown context",
        [
          "-c",
          '{"kube-job-template-path": "job.yaml", "repository-uri": "r/p", "kube-context": "b"}',
        ],
        /context 'b' does not exist in kubeconfig/,
      ],
    ];
    for (const [what, args, message] of cases) {
      const r = await runCli(["run", "proj", "-b", "kubernetes", ...args], { cwd: d.path, env });
      assert.equal(r.code, 1, `${what}: ${r.stderr}`);
      assert.match(r.stderr, message, what);
      assert.doesNotMatch(r.stderr, /Building docker image|Pushing/, what);
    }
    const plain = await runCli(
      [
        "run",
        "plain",
        "-b",
        "kubernetes",
        "--env-manager",
        "local",
        "-c",
        '{"kube-job-template-path": "job.yaml", "repository-uri": "r/p"}',
      ],
      { cwd: d.path, env },
    );
    assert.equal(plain.code, 1, plain.stderr);
    assert.match(plain.stderr, /must have a 'docker_env' section/);
    const noConfig = await runCli(["run", "proj", "-b", "kubernetes"], { cwd: d.path, env });
    assert.equal(noConfig.code, 2, noConfig.stderr);
    assert.match(noConfig.stderr, /Specify 'backend_config' when using kubernetes mode\./);
    // Nothing was recorded.
    assert.equal(await Deno.stat(`${d.path}/mlruns`).catch(() => undefined), undefined);
  },
});

Deno.test({
  name:
    "a Kubernetes run builds, pushes and runs the image as a Job, streams its log, records FINISHED; an unchanged rerun builds and pushes nothing",
  ignore: NO_CLUSTER,
  fn: async () => {
    await using c = await cluster();
    const r = await runCli(
      ["run", "proj", "-b", "kubernetes", "-c", "kube.json", "-P", "alpha=0.5", "--json"],
      { cwd: c.dir, env: c.env },
    );
    assert.equal(r.code, 0, r.stderr);
    // The pod's log reached our stdout, live from the container: a real argv (no quotes kept).
    // With --json the child's output goes to stderr (stdout holds the JSON only).
    assert.match(r.stderr, /training with alpha 0\.5 comment 'a b'/);
    assert.match(r.stderr, /template env yes run [0-9a-f]{32}/);
    assert.match(
      r.stderr,
      /=== Pushing docker image 127\.0\.0\.1:\d+\/team\/kube-proj:[0-9a-f]{16} ===/,
    );
    assert.match(r.stderr, /=== Creating Job kube-proj-\d{4}-\d\d-\d\d-\d\d-\d\d-\d\d-\d{6} ===/);
    assert.match(r.stderr, /Job started\./);
    const runId = JSON.parse(r.stdout.trim().split("\n").at(-1)!).run_id as string;
    const t = await tags(`${c.dir}/mlruns`, runId);
    assert.equal(t["mlflow.project.backend"], "kubernetes");
    assert.equal(t["mlflow.project.env"], "docker");
    assert.match(
      t["mlflow.docker.image.uri"]!,
      new RegExp(`^${c.registry}/team/kube-proj:[0-9a-f]{16}$`),
    );
    assert.match(t["mlflow.docker.image.id"]!, /^sha256:[0-9a-f]{64}$/);
    assert.equal(await runStatus(`${c.dir}/mlruns`, runId), "3"); // FINISHED
    const [job] = c.kube.jobs("mlflow");
    const container = job!.spec.template.spec.containers[0]!;
    assert.equal(container.name, "kube-proj");
    assert.equal(container.image, `${t["mlflow.docker.image.uri"]}@${t["mlflow.docker.image.id"]}`);
    assert.deepEqual(container.command, ["python3", "train.py", "0.5", "a b"]);
    const env = Object.fromEntries((container.env ?? []).map((e) => [e.name, e.value]));
    assert.equal(env.MLFLOW_RUN_ID, runId);
    assert.equal(env.MLFLOW_EXPERIMENT_ID, "0");
    assert.equal(env.FROM_HOST, "host-value");
    assert.deepEqual((container.env ?? []).slice(0, 4).map((e) => e.name), [
      "FROM_TEMPLATE",
      "MLFLOW_RUN_ID",
      "MLFLOW_TRACKING_URI",
      "MLFLOW_EXPERIMENT_ID",
    ]);
    assert.ok(c.kube.requests.every((q) => q.auth === "token"));

    // Second run of the unchanged project: no build, no push, same image.
    const again = await runCli(["run", "proj", "-b", "kubernetes", "-c", "kube.json", "--json"], {
      cwd: c.dir,
      env: c.env,
    });
    assert.equal(again.code, 0, again.stderr);
    assert.doesNotMatch(again.stderr, /Building docker image|Pushing docker image/);
    assert.match(again.stderr, /is in the registry already/);
    const runId2 = JSON.parse(again.stdout.trim().split("\n").at(-1)!).run_id as string;
    assert.equal(
      (await tags(`${c.dir}/mlruns`, runId2))["mlflow.docker.image.id"],
      t["mlflow.docker.image.id"],
    );
  },
});

Deno.test({
  name: "a child in the pod logs a metric to a real mlflow server (KUBE_MLFLOW_TRACKING_URI)",
  ignore: NO_METRIC,
  fn: async () => {
    await using c = await cluster(true);
    await using server = await startMlflowServer(VENV!, c.dir);
    const r = await runCli(
      ["run", "proj", "-b", "kubernetes", "-c", "kube.json", "-P", "alpha=0.25"],
      {
        cwd: c.dir,
        env: { ...c.env, MLFLOW_TRACKING_URI: server.url, KUBE_MLFLOW_TRACKING_URI: server.url },
      },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /metric logged/);
    const [found] = await server.runs();
    assert.equal(found!.info.status, "FINISHED");
    const metrics = await server.api(
      `metrics/get-history?run_id=${found!.info.run_id}&metric_key=alpha`,
    );
    assert.deepEqual(
      (metrics.metrics as { value: number }[]).map((m) => m.value),
      [0.25],
    );
  },
});

Deno.test({
  name: "a failing container ends the run FAILED with exit 1 and its log shown",
  ignore: NO_CLUSTER,
  fn: async () => {
    await using c = await cluster();
    const r = await runCli(["run", "proj", "-e", "fail", "-b", "kubernetes", "-c", "kube.json"], {
      cwd: c.dir,
      env: c.env,
    });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stdout, /going down/);
    assert.match(r.stderr, /Run \(ID '[0-9a-f]+'\) failed/);
    assert.equal(await runStatus(`${c.dir}/mlruns`, runIdOf(r.stderr)), "4"); // FAILED
  },
});

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  Deno.test({
    name:
      `${signal} deletes the Job with propagationPolicy Background: Job, pod and container gone, run KILLED, exit 130`,
    ignore: NO_CLUSTER,
    fn: async () => {
      await using c = await cluster();
      await using cli = new LiveCli(
        // --json: the pod's log goes to stderr, where the test can wait for it.
        ["run", "proj", "-e", "sleep", "-b", "kubernetes", "-c", "kube.json", "--json"],
        { cwd: c.dir, env: c.env },
      );
      await cli.waitFor(/sleeping now/);
      cli.kill(signal);
      const r = await cli.result();
      assert.equal(r.code, 130, r.stderr);
      assert.match(r.stderr, /Cancelling job\.[\s\S]*Job cancelled\./);
      assert.deepEqual(c.kube.jobs("mlflow"), []);
      assert.deepEqual(c.kube.pods("mlflow"), []);
      assert.deepEqual(await c.kube.containers(), []);
      const del = c.kube.requests.find((q) => q.method === "DELETE" && q.path.includes("/jobs/"));
      assert.match(del!.path, /propagationPolicy=Background/);
      assert.equal(await runStatus(`${c.dir}/mlruns`, runIdOf(r.stderr)), "5"); // KILLED
    },
  });
}

Deno.test({
  name: "an async library run can be cancelled: KILLED, Job gone",
  ignore: NO_CLUSTER,
  fn: async () => {
    await using c = await cluster();
    const submitted = await run(c.proj, {
      entryPoint: "sleep",
      backend: "kubernetes",
      backendConfig: c.config,
      synchronous: false,
      cwd: c.dir,
      env: c.env,
      stdout: "null",
    });
    await c.kube.waitFor(() => c.kube.pods("mlflow").find((p) => p.status.phase === "Running"), {
      what: "a running pod",
      timeoutMs: 300_000,
    });
    await submitted.cancel();
    assert.equal(await submitted.getStatus(), "KILLED");
    assert.deepEqual(c.kube.jobs("mlflow"), []);
    assert.deepEqual(await c.kube.containers(), []);
  },
});

Deno.test({
  name:
    "an image the registry does not have fails the run with one ImagePull line and deletes the Job",
  ignore: NO_CLUSTER,
  fn: async () => {
    await using c = await cluster();
    const lines: string[] = [];
    const reporter = { log: (l: LogLevel, m: string) => lines.push(`${l} ${m}`) };
    const backend = new KubernetesBackend({ maxPollMs: 200 });
    await backend.check({
      config: { "kube-job-template-path": "job.yaml", "repository-uri": `${c.registry}/nope` },
      trackingUri: "http://127.0.0.1:1",
      projectName: "kube-proj",
      environment: "docker",
      cwd: c.dir,
      env: c.env,
    });
    const job: LaunchJob = {
      runId: "0123456789abcdef0123456789abcdef",
      experimentId: "0",
      trackingUri: "http://127.0.0.1:1",
      trackingEnv: {},
      invocation: {
        command: "true",
        argv: ["sh", "-c", "true"],
        env: {},
        cwd: c.proj,
        container: {
          image: `${c.registry}/nope:1@sha256:${"0".repeat(64)}`,
          mounts: [],
          workdir: "",
        },
      },
      env: c.env,
      config: {},
      reporter,
      stdout: "null",
      killGraceMs: 1000,
    };
    const execution = await backend.launch(job);
    assert.equal(await execution.wait(), false);
    const failure = lines.filter((l) => l.startsWith("ERROR"));
    assert.equal(failure.length, 1, lines.join("\n"));
    assert.match(
      failure[0]!,
      /^ERROR Pod kube-proj-[\w-]+ cannot start: (ErrImagePull|ImagePullBackOff)/,
    );
    await c.kube.waitFor(() => c.kube.jobs("mlflow").length === 0, { what: "the Job deleted" });
  },
});
