/**
 * The Kubernetes backend against the fake API server with a manual kubelet (no Docker): the
 * test starts the pod, writes its log, drops the log stream, rotates the exec plugin's token and
 * ends the container, and checks what the run sees.
 */
import assert from "node:assert/strict";
import { KubernetesBackend } from "../../lib/backends/kubernetes.ts";
import type { LaunchJob } from "../../lib/backends/backend.ts";
import type { LogLevel } from "../../lib/system/output.ts";
import { startFakeKube } from "../_helpers/fake_kube.ts";
import type { KubeconfigAuth } from "../_helpers/fake_kube.ts";
import { tempDir, writeFiles } from "../_helpers/cli.ts";

const TEMPLATE = `apiVersion: batch/v1
kind: Job
metadata: {namespace: mlflow}
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers: [{name: x}]
`;

/** Waits until `probe()` holds (the run's log lines change without any API object changing). */
async function until(probe: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function launch(auth: KubeconfigAuth = { kind: "token" }) {
  const dir = await tempDir();
  const kube = await startFakeKube();
  await kube.writeKubeconfig(`${dir.path}/kube/config`, { contexts: [{ name: "k", auth }] });
  await writeFiles(dir.path, { "job.yaml": TEMPLATE });
  const env = { KUBECONFIG: `${dir.path}/kube/config`, PATH: Deno.env.get("PATH") ?? "" };
  const lines: string[] = [];
  const logs: string[] = [];
  const backend = new KubernetesBackend({ maxPollMs: 100, onLogLine: (l) => logs.push(l) });
  await backend.check({
    config: { "kube-job-template-path": "job.yaml", "repository-uri": "127.0.0.1:9/p" },
    trackingUri: "http://tracking.example:5000",
    projectName: "streamer",
    environment: "docker",
    cwd: dir.path,
    env,
  });
  const job: LaunchJob = {
    runId: "0123456789abcdef0123456789abcdef",
    experimentId: "7",
    trackingUri: "http://tracking.example:5000",
    trackingEnv: {},
    invocation: {
      command: "python3 train.py --x 'a b'",
      argv: ["sh", "-c", "python3 train.py --x 'a b'"],
      env: {},
      cwd: dir.path,
      container: { image: `127.0.0.1:9/p:1@sha256:${"a".repeat(64)}`, mounts: [], workdir: "" },
    },
    env,
    config: {},
    reporter: { log: (l: LogLevel, m: string) => lines.push(`${l} ${m}`) },
    stdout: "null",
    killGraceMs: 1000,
  };
  const execution = await backend.launch(job);
  const pod = await kube.waitFor(() => kube.pods("mlflow")[0]?.metadata.name, { what: "a pod" });
  return {
    dir: dir.path,
    kube,
    execution,
    pod,
    lines,
    logs,
    async [Symbol.asyncDispose]() {
      await execution.terminate().catch(() => {});
      await kube.close();
      await dir[Symbol.asyncDispose]();
    },
  };
}

Deno.test("a log stream that drops while the container runs is resumed: every line once, in order", async () => {
  await using r = await launch();
  const { kube, pod } = r;
  kube.startPod("mlflow", pod);
  kube.appendLog("mlflow", pod, "one\ntwo\n");
  await until(() => r.logs.length === 2, "two lines streamed");
  assert.equal(kube.dropStreams("logs", { abrupt: true }), 1);
  kube.appendLog("mlflow", pod, "three\n");
  await until(() => r.logs.length === 3, "the third line after the drop");
  kube.dropStreams("logs"); // a clean end while the container runs
  kube.appendLog("mlflow", pod, "four\n");
  kube.finishPod("mlflow", pod, 0);
  assert.equal(await r.execution.wait(), true);
  assert.deepEqual(r.logs, ["one", "two", "three", "four"]);
  assert.ok(r.lines.some((l) => /^INFO Resuming the log of pod /.test(l)), r.lines.join("\n"));
  const [job] = kube.jobs("mlflow");
  const c = job!.spec.template.spec.containers[0]!;
  assert.deepEqual(c.command, ["python3", "train.py", "--x", "a b"]);
  assert.deepEqual(
    (c.env ?? []).map((e) => [e.name, e.value]),
    [
      ["MLFLOW_RUN_ID", "0123456789abcdef0123456789abcdef"],
      ["MLFLOW_TRACKING_URI", "http://tracking.example:5000"],
      ["MLFLOW_EXPERIMENT_ID", "7"],
    ],
  );
});

Deno.test("an exec plugin token revoked mid-run is renewed by running the plugin again", async () => {
  await using dir = await tempDir();
  const callLog = `${dir.path}/calls.log`;
  await using r = await launch({ kind: "exec", callLog });
  const { kube, pod } = r;
  kube.startPod("mlflow", pod);
  kube.appendLog("mlflow", pod, "before\n");
  await until(() => r.logs.length === 1, "a line");
  const calls = () => Deno.readTextFileSync(callLog).trim().split("\n").length;
  const before = calls();
  // Rotate: the server stops accepting the token, the plugin now prints a new one.
  const exec = `${r.dir}/kube/k-exec.json`;
  const fresh = `rotated-${crypto.randomUUID()}`;
  const old = [...kube.tokens][0]!;
  await Deno.writeTextFile(exec, (await Deno.readTextFile(exec)).replace(old, fresh));
  kube.tokens.add(fresh);
  kube.tokens.delete(old);
  kube.appendLog("mlflow", pod, "after\n");
  kube.finishPod("mlflow", pod, 0);
  assert.equal(await r.execution.wait(), true);
  assert.deepEqual(r.logs, ["before", "after"]);
  assert.ok(calls() > before);
  assert.ok(kube.requests.some((q) => q.status === 401));
});

Deno.test("a container that exits non-zero fails the run; its log is complete", async () => {
  await using r = await launch();
  const { kube, pod } = r;
  kube.startPod("mlflow", pod);
  kube.appendLog("mlflow", pod, "Traceback: boom\n");
  kube.finishPod("mlflow", pod, 2);
  assert.equal(await r.execution.wait(), false);
  assert.deepEqual(r.logs, ["Traceback: boom"]);
});

Deno.test("a pod stuck in CreateContainerConfigError fails the run with one line and its Job is deleted", async () => {
  await using r = await launch();
  const { kube, pod } = r;
  kube.holdPod("mlflow", pod, "CreateContainerConfigError", 'secret "creds" not found');
  assert.equal(await r.execution.wait(), false);
  assert.deepEqual(r.lines.filter((l) => l.startsWith("ERROR")), [
    `ERROR Pod ${pod} cannot start: CreateContainerConfigError: secret "creds" not found`,
  ]);
  await kube.waitFor(() => kube.jobs("mlflow").length === 0, { what: "the Job deleted" });
});

Deno.test("without a kubeconfig the in-cluster service account is used, with MLflow's log line", async () => {
  await using dir = await tempDir();
  await using kube = await startFakeKube();
  const sa = await kube.writeServiceAccount(`${dir.path}/sa`);
  await writeFiles(dir.path, { "job.yaml": TEMPLATE });
  const env = { HOME: dir.path, PATH: Deno.env.get("PATH") ?? "", ...sa.env };
  const lines: string[] = [];
  const backend = new KubernetesBackend({ maxPollMs: 100, serviceAccountDir: `${dir.path}/sa` });
  await backend.check({
    config: { "kube-job-template-path": "job.yaml", "repository-uri": "127.0.0.1:9/p" },
    trackingUri: "http://tracking.example:5000",
    projectName: "incluster",
    environment: "docker",
    cwd: dir.path,
    env,
  });
  const execution = await backend.launch({
    runId: "0123456789abcdef0123456789abcdef",
    experimentId: "0",
    trackingUri: "http://tracking.example:5000",
    trackingEnv: {},
    invocation: {
      command: "true",
      argv: ["sh", "-c", "true"],
      env: {},
      cwd: dir.path,
      container: { image: `127.0.0.1:9/p:1@sha256:${"b".repeat(64)}`, mounts: [], workdir: "" },
    },
    env,
    config: {},
    reporter: { log: (l: LogLevel, m: string) => lines.push(`${l} ${m}`) },
    stdout: "null",
    killGraceMs: 1000,
  });
  const pod = await kube.waitFor(() => kube.pods("mlflow")[0]?.metadata.name, { what: "a pod" });
  kube.startPod("mlflow", pod);
  kube.finishPod("mlflow", pod, 0);
  assert.equal(await execution.wait(), true);
  assert.ok(lines.includes("INFO No valid kube config found, using in-cluster configuration"));
  assert.ok(kube.requests.every((q) => q.auth === "token"));
});
