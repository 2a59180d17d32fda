/**
 * The fake Kubernetes API server (tests/_helpers/fake_kube.ts) driven by independent real
 * clients: `kubectl` and the official Python `kubernetes` client create, read, watch, follow and
 * delete Jobs on it; with the docker kubelet the containers, their logs and exit codes are real,
 * and images come from a real registry (Debian's `docker-registry`).
 */
import assert from "node:assert/strict";
import { findExecutable, skipWithout } from "../_helpers/components.ts";
import { tempDir } from "../_helpers/cli.ts";
import { type FakeKube, type Job, startFakeKube } from "../_helpers/fake_kube.ts";
import { skipWithoutRegistry, startRegistry } from "../_helpers/registry.ts";
import { TOOLS_HINT, toolsPython } from "../_helpers/test_tools.ts";
import { BUSYBOX, NO_ENGINE } from "../docker/_engine.ts";

const KUBECTL = findExecutable("kubectl");
const NO_KUBECTL = skipWithout("kubectl tests", KUBECTL !== undefined, "no kubectl on PATH");
const PYTHON = toolsPython();
const NO_PYTHON_CLIENT = skipWithout("kubernetes client tests", PYTHON !== undefined, TOOLS_HINT);
const NO_REGISTRY = NO_ENGINE || await skipWithoutRegistry("registry-backed kubelet tests");

interface Out {
  code: number;
  stdout: string;
  stderr: string;
}

async function run(cmd: string, args: string[], env: Record<string, string> = {}): Promise<Out> {
  const out = await new Deno.Command(cmd, {
    args,
    env: { CLOUDSDK_CORE_DISABLE_PROMPTS: "1", ...env },
    stdin: "null",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** `kubectl` with a kubeconfig and a private discovery cache. */
function kubectl(config: string, dir: string) {
  return (...args: string[]) =>
    run(KUBECTL!, ["--kubeconfig", config, "--cache-dir", `${dir}/kube-cache`, ...args]);
}

function jobYaml(name: string, command: string, extra = ""): string {
  return `apiVersion: batch/v1
kind: Job
metadata:
  name: ${name}
  namespace: mlflow
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: main
        image: ${BUSYBOX}
        imagePullPolicy: Never
        command: ["sh", "-c", ${JSON.stringify(command)}]
${extra}`;
}

function condition(job: Job | undefined, type: string): boolean {
  return (job?.status.conditions ?? []).some((c) => c.type === type && c.status === "True");
}

Deno.test({
  name:
    "kubectl creates a Job that runs in docker, waits for it, follows its logs and deletes it with its pods",
  ignore: NO_KUBECTL || NO_ENGINE,
  async fn() {
    await using dir = await tempDir();
    await using kube = await startFakeKube({ kubelet: "docker" });
    await kube.writeKubeconfig(`${dir.path}/config`);
    const k = kubectl(`${dir.path}/config`, dir.path);
    await Deno.writeTextFile(
      `${dir.path}/job.yaml`,
      jobYaml(
        "hello",
        'echo "one $GREETING"; sleep 1; echo two >&2; echo three',
        `        env:
        - name: GREETING
          value: from-env
`,
      ),
    );
    const created = await k("create", "-f", `${dir.path}/job.yaml`);
    assert.equal(created.code, 0, created.stderr);
    assert.match(created.stdout, /job.batch\/hello created/);

    const got = await k("get", "jobs", "-n", "mlflow", "-o", "json");
    assert.equal(got.code, 0, got.stderr);
    const list = JSON.parse(got.stdout);
    assert.equal(list.kind, "List");
    const job = list.items[0];
    assert.equal(job.metadata.name, "hello");
    assert.match(job.metadata.uid, /^[0-9a-f-]{36}$/);
    assert.equal(job.metadata.labels["job-name"], "hello");
    assert.equal(
      job.spec.selector.matchLabels["batch.kubernetes.io/controller-uid"],
      job.metadata.uid,
    );

    const pod = await kube.waitFor(() =>
      kube.pods("mlflow", "job-name=hello").find((p) => p.status.phase === "Running")
    );
    const logs = await k("logs", "-f", "job/hello", "-n", "mlflow");
    assert.equal(logs.code, 0, logs.stderr);
    assert.deepEqual(logs.stdout.split("\n").sort(), ["", "one from-env", "three", "two"]);
    const logRequest = kube.requests.find((r) => r.path.includes(`/pods/${pod.metadata.name}/log`));
    assert.match(logRequest?.path ?? "", /follow=true/);

    const waited = await k(
      "wait",
      "--for=condition=complete",
      "job/hello",
      "-n",
      "mlflow",
      "--timeout=60s",
    );
    assert.equal(waited.code, 0, waited.stderr);
    const done = kube.job("mlflow", "hello")!;
    assert.equal(done.status.succeeded, 1);
    assert.ok(done.status.completionTime);
    assert.deepEqual(done.status.conditions?.map((c) => c.type), [
      "SuccessCriteriaMet",
      "Complete",
    ]);
    assert.equal(
      kube.pod("mlflow", pod.metadata.name!)?.status.containerStatuses?.[0]?.state.terminated
        ?.exitCode,
      0,
    );
    assert.equal((await kube.containers()).length, 1);

    const deleted = await k("delete", "job", "hello", "-n", "mlflow", "--cascade=background");
    assert.equal(deleted.code, 0, deleted.stderr);
    await kube.waitFor(() => kube.pods("mlflow").length === 0, { what: "pods gone" });
    assert.deepEqual(await kube.containers(), []);
    const del = kube.requests.find((r) => r.method === "DELETE");
    assert.equal((del?.body as { propagationPolicy?: string })?.propagationPolicy, "Background");
    assert.equal(del?.propagationPolicy, "Background");
    assert.ok(kube.requests.every((r) => r.auth === "token"));
  },
});

Deno.test({
  name:
    "kubectl delete --cascade=orphan removes the Job and leaves its pod and container running; close() removes the container",
  ignore: NO_KUBECTL || NO_ENGINE,
  async fn() {
    await using dir = await tempDir();
    const kube = await startFakeKube({ kubelet: "docker" });
    try {
      await kube.writeKubeconfig(`${dir.path}/config`);
      const k = kubectl(`${dir.path}/config`, dir.path);
      await Deno.writeTextFile(`${dir.path}/job.yaml`, jobYaml("stay", "sleep 60"));
      assert.equal((await k("create", "-f", `${dir.path}/job.yaml`)).code, 0);
      const pod = await kube.waitFor(() =>
        kube.pods("mlflow", "job-name=stay").find((p) => p.status.phase === "Running")
      );
      const deleted = await k("delete", "job", "stay", "-n", "mlflow", "--cascade=orphan");
      assert.equal(deleted.code, 0, deleted.stderr);
      assert.equal(kube.requests.find((r) => r.method === "DELETE")?.propagationPolicy, "Orphan");
      assert.equal(kube.job("mlflow", "stay"), undefined);
      const left = kube.pod("mlflow", pod.metadata.name!);
      assert.equal(left?.status.phase, "Running", "the orphaned pod runs on");
      assert.deepEqual(left.metadata.ownerReferences, []);
      assert.equal((await kube.containers()).length, 1);
      const gone = await k("get", "job", "stay", "-n", "mlflow");
      assert.equal(gone.code, 1);
      assert.match(gone.stderr, /jobs.batch "stay" not found/);
      const ids = await kube.containers();
      await kube.close();
      const still = await run("docker", ["ps", "--all", "--quiet", "--no-trunc"]);
      assert.ok(!still.stdout.includes(ids[0]!), "close() removed the container");
    } finally {
      await kube.close();
    }
  },
});

Deno.test({
  name:
    "kubectl authenticates with a client certificate (files and -data) and reports Unauthorized for a wrong token",
  ignore: NO_KUBECTL,
  async fn() {
    await using dir = await tempDir();
    await using kube = await startFakeKube({ clientCert: true });
    await kube.writeKubeconfig(`${dir.path}/config`, {
      contexts: [
        { name: "cert-files", auth: { kind: "clientCert" } },
        { name: "cert-data", auth: { kind: "clientCert", inline: true }, ca: "data" },
        { name: "bad-token", auth: { kind: "token", token: "wrong" } },
      ],
    });
    const k = kubectl(`${dir.path}/config`, dir.path);
    for (const context of ["cert-files", "cert-data"]) {
      const out = await k("--context", context, "get", "jobs", "-n", "mlflow");
      assert.equal(out.code, 0, out.stderr);
    }
    assert.ok(
      kube.requests.some((r) => r.auth === "client-cert" && r.path.startsWith("/apis/batch")),
    );
    const bad = await k("--context", "bad-token", "get", "jobs", "-n", "mlflow");
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /Unauthorized/);
    assert.ok(kube.requests.some((r) => r.auth === "rejected" && r.status === 401));
  },
});

Deno.test({
  name: "kubectl shows the API server's 422 Invalid and 409 AlreadyExists messages",
  ignore: NO_KUBECTL,
  async fn() {
    await using dir = await tempDir();
    await using kube = await startFakeKube();
    await kube.writeKubeconfig(`${dir.path}/config`);
    const k = kubectl(`${dir.path}/config`, dir.path);
    await Deno.writeTextFile(`${dir.path}/bad.yaml`, jobYaml("Bad_Name", "true"));
    const bad = await k("create", "-f", `${dir.path}/bad.yaml`);
    assert.equal(bad.code, 1);
    assert.match(
      bad.stderr,
      /The Job "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain/,
    );
    await Deno.writeTextFile(`${dir.path}/ok.yaml`, jobYaml("twice", "true"));
    assert.equal((await k("create", "-f", `${dir.path}/ok.yaml`)).code, 0);
    const again = await k("create", "-f", `${dir.path}/ok.yaml`);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /jobs.batch "twice" already exists/);
    assert.deepEqual(kube.jobs().map((j) => j.metadata.name), ["twice"]);
  },
});

const PY_CLIENT = new URL("./testdata/kube_python_client.py", import.meta.url).pathname;

Deno.test({
  name:
    "the Python kubernetes client creates, watches, follows, reads and deletes a Job running in docker",
  ignore: NO_PYTHON_CLIENT || NO_ENGINE,
  async fn() {
    await using dir = await tempDir();
    await using kube = await startFakeKube({ kubelet: "docker" });
    await kube.writeKubeconfig(`${dir.path}/config`, {
      contexts: [{ name: "other", server: "https://127.0.0.1:1" }, { name: "fake" }],
      currentContext: "other",
    });
    const out = await run(PYTHON!, [
      PY_CLIENT,
      `${dir.path}/config`,
      "fake",
      "mlflow",
      "py-job",
      BUSYBOX,
    ]);
    assert.equal(out.code, 0, out.stderr);
    const r = JSON.parse(out.stdout);
    assert.equal(r.created.labels["job-name"], "py-job");
    assert.equal(r.again.status, 409);
    assert.deepEqual(r.again.body, {
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: 'jobs.batch "py-job" already exists',
      reason: "AlreadyExists",
      details: { name: "py-job", group: "batch", kind: "jobs" },
      code: 409,
    });
    assert.equal(r.missing.status, 404);
    assert.equal(r.missing.body.reason, "NotFound");
    assert.equal(r.phase_at_log_request, "Running");
    assert.equal(r.log, "start python\nend\n");
    assert.deepEqual(r.job_events.at(-1), ["MODIFIED", ["SuccessCriteriaMet", "Complete"]]);
    assert.equal(r.status.succeeded, 1);
    assert.ok(r.status.start_time && r.status.completion_time);
    assert.equal(r.pods.length, 1);
    assert.equal(r.pods[0].phase, "Succeeded");
    assert.equal(r.pods[0].exit, 0);
    assert.equal(r.delete.kind, "Status");
    assert.equal(r.delete.status, "Success");
    assert.equal(r.delete.details.name, "py-job");
    assert.equal(r.after_delete, 404);
    await kube.waitFor(() => kube.pods().length === 0, { what: "pods deleted" });
    assert.deepEqual(await kube.containers(), []);
    const del = kube.requests.find((q) => q.method === "DELETE");
    assert.equal(del?.propagationPolicy, "Background");
  },
});

Deno.test({
  name:
    "in-cluster config: the log is refused until the manual kubelet starts the container, then follows what the test appends",
  ignore: NO_PYTHON_CLIENT,
  async fn() {
    await using dir = await tempDir();
    await using kube = await startFakeKube();
    const { env } = await kube.writeServiceAccount(`${dir.path}/sa`);
    const script = `
import json, sys
from kubernetes import client
from kubernetes.client.rest import ApiException
from kubernetes.config.incluster_config import InClusterConfigLoader
InClusterConfigLoader(sys.argv[1] + "/token", sys.argv[1] + "/ca.crt").load_and_set()
core = client.CoreV1Api()
try:
    core.read_namespaced_pod_log(sys.argv[2], "mlflow")
except ApiException as e:
    print(json.dumps({"status": e.status, "body": json.loads(e.body)}), flush=True)
sys.stdin.readline()
resp = core.read_namespaced_pod_log(sys.argv[2], "mlflow", follow=True, _preload_content=False)
for chunk in resp.stream():
    print(json.dumps({"chunk": chunk.decode()}), flush=True)
print(json.dumps({"end": True}), flush=True)
`;
    const job = await fetchJson(kube, "POST", "/apis/batch/v1/namespaces/mlflow/jobs", {
      metadata: { name: "manual" },
      spec: {
        template: {
          spec: { restartPolicy: "Never", containers: [{ name: "main", image: "x:1" }] },
        },
      },
    });
    assert.equal(job.status, 201);
    const pod = await kube.waitFor(() => kube.pods("mlflow", "job-name=manual")[0]);
    const podName = pod.metadata.name!;
    assert.match(podName, /^manual-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
    const child = new Deno.Command(PYTHON!, {
      args: ["-c", script, `${dir.path}/sa`, podName],
      env,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const lines = child.stdout.pipeThrough(new TextDecoderStream()).values();
    const next = async () => {
      let buf = "";
      while (!buf.endsWith("\n")) {
        const { value, done } = await lines.next();
        if (done) throw new Error("client exited early");
        buf += value;
      }
      return buf.trim().split("\n").map((l) => JSON.parse(l));
    };
    const [refused] = await next();
    assert.equal(refused.status, 400);
    assert.equal(
      refused.body.message,
      `container "main" in pod "${podName}" is waiting to start: ContainerCreating`,
    );
    assert.equal(refused.body.reason, "BadRequest");
    kube.startPod("mlflow", podName);
    kube.appendLog("mlflow", podName, "first\n");
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode("go\n"));
    await writer.close();
    assert.deepEqual(await next(), [{ chunk: "first\n" }]);
    kube.appendLog("mlflow", podName, "second\n");
    assert.deepEqual(await next(), [{ chunk: "second\n" }]);
    kube.finishPod("mlflow", podName, 0);
    assert.deepEqual(await next(), [{ end: true }]);
    await child.stderr.cancel();
    assert.equal((await child.status).code, 0);
    const done = await kube.waitFor(() => {
      const j = kube.job("mlflow", "manual");
      return condition(j, "Complete") && j;
    });
    assert.equal(done.status.succeeded, 1);
    const fromClient = kube.requests.filter((r) => r.userAgent.startsWith("OpenAPI-Generator"));
    assert.equal(fromClient.length, 2);
    assert.ok(fromClient.every((r) => r.auth === "token"), "the service-account token was used");
  },
});

/** Calls the fake's API with its token (for cases no client needs to prove). */
async function fetchJson(
  kube: FakeKube,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: Record<string, unknown> }> {
  using client = Deno.createHttpClient({ caCerts: [kube.caPem] });
  const res = await fetch(`${kube.url}${path}`, {
    method,
    client,
    headers: { authorization: `Bearer ${kube.token}`, "content-type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: await res.json() };
}

/** Builds a tiny image FROM busybox, pushes it, removes it locally; returns `host/repo:tag@digest`. */
async function pushedImage(host: string, dir: string): Promise<string> {
  await Deno.writeTextFile(
    `${dir}/Dockerfile`,
    `FROM ${BUSYBOX}\nRUN echo built-into-the-image > /marker\nENTRYPOINT ["sh", "-c", "cat /marker; echo \\"args: $*\\"; echo \\"env: $KFAKE\\"; echo \\"cwd: $(pwd)\\"; exit 3", "entry"]\n`,
  );
  const tag = `${host}/kfake/app:v1`;
  const built = await run("docker", ["build", "--quiet", "--tag", tag, dir], {
    DOCKER_BUILDKIT: "0",
  });
  assert.equal(built.code, 0, built.stderr);
  const pushed = await run("docker", ["push", tag]);
  assert.equal(pushed.code, 0, pushed.stderr);
  const digest = pushed.stdout.match(/digest: (sha256:[0-9a-f]{64})/)?.[1];
  assert.ok(digest, pushed.stdout);
  const removed = await run("docker", ["image", "rm", "--force", tag, built.stdout.trim()]);
  assert.equal(removed.code, 0, removed.stderr);
  return `${tag}@${digest}`;
}

Deno.test({
  name:
    "the docker kubelet pulls a pushed image by digest from the registry and the pod's logs and exit code are the container's",
  ignore: NO_REGISTRY || NO_KUBECTL,
  async fn() {
    await using dir = await tempDir();
    await using registry = await startRegistry();
    const image = await pushedImage(registry.host, dir.path);
    await using _pulled = {
      [Symbol.asyncDispose]: () => run("docker", ["image", "rm", "--force", image]).then(() => {}),
    };
    await using kube = await startFakeKube({ kubelet: "docker", podBackoffMs: 10 });
    await kube.writeKubeconfig(`${dir.path}/config`);
    const k = kubectl(`${dir.path}/config`, dir.path);
    await Deno.writeTextFile(
      `${dir.path}/job.yaml`,
      `apiVersion: batch/v1
kind: Job
metadata: {name: from-registry, namespace: mlflow}
spec:
  backoffLimit: 1
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: app
        image: ${image}
        args: ["a b", "c"]
        workingDir: /tmp
        env: [{name: KFAKE, value: "yes"}]
`,
    );
    const created = await k("create", "-f", `${dir.path}/job.yaml`);
    assert.equal(created.code, 0, created.stderr);
    const failed = await k(
      "wait",
      "--for=condition=failed",
      "job/from-registry",
      "-n",
      "mlflow",
      "--timeout=90s",
    );
    assert.equal(failed.code, 0, failed.stderr);
    const job = kube.job("mlflow", "from-registry")!;
    assert.equal(job.status.failed, 2, "backoffLimit 1: a second pod ran");
    const last = job.status.conditions!.at(-1)!;
    assert.deepEqual([last.type, last.reason], ["Failed", "BackoffLimitExceeded"]);
    const pods = kube.pods("mlflow", "job-name=from-registry");
    assert.equal(pods.length, 2);
    for (const pod of pods) {
      const state = pod.status.containerStatuses![0]!;
      assert.equal(pod.status.phase, "Failed");
      assert.equal(state.state.terminated?.exitCode, 3);
      assert.equal(state.state.terminated?.reason, "Error");
      assert.equal(state.imageID, `docker-pullable://${image.replace(/:v1@/, "@")}`);
      const logs = await k("logs", pod.metadata.name!, "-n", "mlflow");
      assert.equal(logs.code, 0, logs.stderr);
      assert.equal(logs.stdout, "built-into-the-image\nargs: a b c\nenv: yes\ncwd: /tmp\n");
    }
  },
});

Deno.test({
  name:
    "an image missing from the registry leaves the pod waiting with ErrImagePull, then ImagePullBackOff, until the Job is deleted",
  ignore: NO_REGISTRY,
  async fn() {
    await using registry = await startRegistry();
    await using kube = await startFakeKube({ kubelet: "docker", pullBackoffMs: 50 });
    const image = `${registry.host}/kfake/absent:v1`;
    const created = await fetchJson(kube, "POST", "/apis/batch/v1/namespaces/mlflow/jobs", {
      apiVersion: "batch/v1",
      kind: "Job",
      metadata: { name: "no-image" },
      spec: {
        backoffLimit: 0,
        template: { spec: { restartPolicy: "Never", containers: [{ name: "c", image }] } },
      },
    });
    assert.equal(created.status, 201);
    const reasons = new Set<string>();
    await kube.waitFor(() => {
      const reason = kube.pods("mlflow")[0]?.status.containerStatuses?.[0]?.state.waiting?.reason;
      if (reason) reasons.add(reason);
      return reasons.has("ErrImagePull") && reasons.has("ImagePullBackOff");
    }, { what: "ErrImagePull then ImagePullBackOff" });
    const pod = kube.pods("mlflow")[0]!;
    assert.equal(pod.status.phase, "Pending");
    const job = kube.job("mlflow", "no-image")!;
    assert.equal(job.status.active, 1);
    assert.equal(job.status.conditions, undefined);
    const log = await fetchJson(
      kube,
      "GET",
      `/api/v1/namespaces/mlflow/pods/${pod.metadata.name}/log`,
    );
    assert.equal(log.status, 400);
    assert.match(String(log.body.message), /is waiting to start: trying and failing to pull image/);
    const del = await fetchJson(
      kube,
      "DELETE",
      "/apis/batch/v1/namespaces/mlflow/jobs/no-image?propagationPolicy=Foreground",
    );
    assert.equal(del.status, 200);
    assert.ok((del.body.metadata as { deletionTimestamp?: string }).deletionTimestamp);
    await kube.waitFor(() => kube.pods().length === 0 && kube.jobs().length === 0, {
      what: "Foreground deletion",
    });
    assert.deepEqual(await kube.containers(), []);
  },
});

Deno.test({
  name:
    "kubectl authenticates with tokenFile, basic auth and exec plugins (v1 and v1beta1), and is Forbidden where the fake forbids",
  ignore: NO_KUBECTL,
  async fn() {
    await using dir = await tempDir();
    await using kube = await startFakeKube({
      basicAuth: { username: "admin", password: "s3cret" },
      forbiddenNamespaces: ["locked"],
    });
    const calls = `${dir.path}/exec-calls`;
    await kube.writeKubeconfig(`${dir.path}/config`, {
      contexts: [
        { name: "file", auth: { kind: "tokenFile" }, namespace: "mlflow" },
        { name: "basic", auth: { kind: "basic" }, ca: "absolute" },
        { name: "exec1", auth: { kind: "exec", callLog: calls, expiresInSeconds: 600 } },
        {
          name: "exec1beta1",
          auth: {
            kind: "exec",
            apiVersion: "client.authentication.k8s.io/v1beta1",
            callLog: calls,
          },
        },
      ],
      currentContext: null,
    });
    const k = kubectl(`${dir.path}/config`, dir.path);
    const seen: string[] = [];
    for (const context of ["file", "basic", "exec1", "exec1beta1"]) {
      const before = kube.requests.length;
      const out = await k("--context", context, "get", "jobs");
      assert.equal(out.code, 0, `${context}: ${out.stderr}`);
      seen.push(...kube.requests.slice(before).map((r) => `${context}:${r.auth}`));
    }
    assert.ok(seen.includes("file:token") && seen.includes("basic:basic"));
    assert.ok(seen.includes("exec1:token") && seen.includes("exec1beta1:token"));
    assert.ok(
      kube.requests.some((r) => r.path.startsWith("/apis/batch/v1/namespaces/mlflow/jobs")),
    );
    const infos = (await Deno.readTextFile(calls)).split("\n").filter((l) => l.trim() !== "")
      .map((l) => JSON.parse(l));
    assert.deepEqual(
      [...new Set(infos.map((i) => `${i.apiVersion} ${i.kind}`))],
      [
        "client.authentication.k8s.io/v1 ExecCredential",
        "client.authentication.k8s.io/v1beta1 ExecCredential",
      ],
    );
    const forbidden = await k("--context", "file", "get", "jobs", "-n", "locked");
    assert.equal(forbidden.code, 1);
    assert.match(
      forbidden.stderr,
      /Error from server \(Forbidden\): jobs.batch is forbidden: User "fake-user" cannot list resource "jobs" in API group "batch" in the namespace "locked"/,
    );
  },
});

Deno.test({
  name:
    "pods show Unschedulable when requests exceed the node, CreateContainerConfigError for a missing secret, and run once it exists",
  ignore: NO_ENGINE,
  async fn() {
    await using kube = await startFakeKube({ kubelet: "docker", pullBackoffMs: 50 });
    const create = (name: string, container: Record<string, unknown>) =>
      fetchJson(kube, "POST", "/apis/batch/v1/namespaces/default/jobs", {
        metadata: { name },
        spec: {
          backoffLimit: 0,
          template: {
            spec: {
              restartPolicy: "Never",
              containers: [{ name: "c", image: BUSYBOX, imagePullPolicy: "Never", ...container }],
            },
          },
        },
      });
    assert.equal(
      (await create("big", { resources: { requests: { cpu: "64", memory: "1Gi" } } })).status,
      201,
    );
    const big = await kube.waitFor(() => kube.pods("default", "job-name=big")[0]);
    const scheduled = big.status.conditions?.find((c) => c.type === "PodScheduled");
    assert.equal(scheduled?.status, "False");
    assert.equal(scheduled?.reason, "Unschedulable");
    assert.match(scheduled?.message ?? "", /^0\/1 nodes are available: 1 Insufficient cpu\./);

    const created = await create("needs-secret", {
      command: ["sh", "-c", "echo token=$TOKEN"],
      env: [{ name: "TOKEN", valueFrom: { secretKeyRef: { name: "creds", key: "token" } } }],
    });
    assert.equal(created.status, 201);
    const waiting = await kube.waitFor(() =>
      kube.pods("default", "job-name=needs-secret")[0]?.status.containerStatuses?.[0]?.state
          .waiting?.reason === "CreateContainerConfigError" &&
      kube.pods("default", "job-name=needs-secret")[0]
    );
    assert.equal(
      waiting.status.containerStatuses?.[0]?.state.waiting?.message,
      'secret "creds" not found',
    );
    kube.addSecret("default", "creds", { token: "abc" });
    await kube.waitFor(() => kube.job("default", "needs-secret")?.status.succeeded === 1);
    const log = await fetchText(
      kube,
      `/api/v1/namespaces/default/pods/${waiting.metadata.name}/log?timestamps=true`,
    );
    assert.match(log, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z token=abc\n$/);

    const invalid = await create("bad-env", { env: [{ name: "N", value: 3 }] });
    assert.equal(invalid.status, 400);
    assert.match(
      String(invalid.body.message),
      /cannot unmarshal number into Go struct field EnvVar/,
    );
    const noImage = await create("no-image", { image: "" });
    assert.equal(noImage.status, 422);
    assert.equal(
      noImage.body.message,
      'Job.batch "no-image" is invalid: spec.template.spec.containers[0].image: Required value',
    );
    const missingNs = await fetchJson(kube, "POST", "/apis/batch/v1/namespaces/nope/jobs", {
      metadata: { name: "x" },
    });
    assert.equal(missingNs.status, 404);
    assert.equal(missingNs.body.message, 'namespaces "nope" not found');
  },
});

async function fetchText(kube: FakeKube, path: string): Promise<string> {
  using client = Deno.createHttpClient({ caCerts: [kube.caPem] });
  const res = await fetch(`${kube.url}${path}`, {
    client,
    headers: { authorization: `Bearer ${kube.token}` },
  });
  assert.equal(res.status, 200);
  return await res.text();
}

Deno.test("dropStreams ends a followed log and a watch while the pod runs; a follow with sinceTime resumes", async () => {
  await using kube = await startFakeKube();
  const created = await fetchJson(kube, "POST", "/apis/batch/v1/namespaces/mlflow/jobs", {
    metadata: { name: "drop" },
    spec: {
      template: { spec: { restartPolicy: "Never", containers: [{ name: "c", image: "x:1" }] } },
    },
  });
  assert.equal(created.status, 201);
  const pod = (await kube.waitFor(() => kube.pods("mlflow")[0])).metadata.name!;
  kube.startPod("mlflow", pod);
  kube.appendLog("mlflow", pod, "one\ntwo\n");
  using client = Deno.createHttpClient({ caCerts: [kube.caPem] });
  const open = (path: string) =>
    fetch(`${kube.url}${path}`, { client, headers: { authorization: `Bearer ${kube.token}` } });
  const logPath = `/api/v1/namespaces/mlflow/pods/${pod}/log?follow=true&timestamps=true`;
  const follow = await open(logPath);
  const watch = await open("/apis/batch/v1/namespaces/mlflow/jobs?watch=true");
  const reader = follow.body!.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (text.split("\n").length < 3) text += (await reader.read()).value ?? "";
  const watchReader = watch.body!.getReader();
  assert.match(new TextDecoder().decode((await watchReader.read()).value), /"type":"ADDED"/);
  assert.equal(kube.dropStreams(), 2);
  assert.equal((await reader.read()).done, true);
  assert.equal((await watchReader.read()).done, true);
  assert.equal(kube.pod("mlflow", pod)?.status.phase, "Running");
  const lines = text.trim().split("\n");
  assert.match(lines[1]!, /^\S+Z two$/);
  kube.appendLog("mlflow", pod, "three\n");
  kube.finishPod("mlflow", pod, 0);
  const since = lines[1]!.split(" ")[0]!;
  const resumed = await (await open(`${logPath}&sinceTime=${encodeURIComponent(since)}`)).text();
  assert.deepEqual(resumed.trim().split("\n").map((l) => l.split(" ")[1]), ["one", "two", "three"]);
  const tail = await (await open(`/api/v1/namespaces/mlflow/pods/${pod}/log?tailLines=1`)).text();
  assert.equal(tail, "three\n");
});

Deno.test("activeDeadlineSeconds fails a Job with DeadlineExceeded and ttlSecondsAfterFinished then deletes it", async () => {
  await using kube = await startFakeKube();
  const created = await fetchJson(kube, "POST", "/apis/batch/v1/namespaces/mlflow/jobs", {
    metadata: { name: "late" },
    spec: {
      activeDeadlineSeconds: 1,
      ttlSecondsAfterFinished: 0,
      template: { spec: { restartPolicy: "Never", containers: [{ name: "c", image: "x:1" }] } },
    },
  });
  assert.equal(created.status, 201);
  const pod = (await kube.waitFor(() => kube.pods("mlflow")[0])).metadata.name!;
  kube.startPod("mlflow", pod);
  const seen: string[][] = [];
  await kube.waitFor(() => {
    const job = kube.job("mlflow", "late");
    if (job) seen.push((job.status.conditions ?? []).map((c) => `${c.type}:${c.reason}`));
    return job === undefined && kube.pods().length === 0;
  }, { what: "the Job failed and expired" });
  assert.deepEqual(seen.findLast((c) => c.length > 0), [
    "FailureTarget:DeadlineExceeded",
    "Failed:DeadlineExceeded",
  ]);
});
