/**
 * A fake Kubernetes API server for tests, answering as kube-apiserver 1.31 does for what a Job
 * runner needs (validated with the real `kubectl` and the official Python `kubernetes` client in
 * tests/fakes/fake_kube_test.ts):
 *
 * - HTTPS on 127.0.0.1 (random port) with a CA made by the test (openssl); bearer tokens, basic
 *   auth, and (option `clientCert`) client certificates through a Python `ssl` front;
 * - discovery: `/version`, `/api`, `/apis`, `/api/v1`, `/apis/batch`, `/apis/batch/v1`, and
 *   just enough `/openapi/v3` for kubectl to send `fieldValidation=Strict` instead of needing
 *   schemas (kubectl 1.31 refuses `create -f` without it);
 * - `batch/v1` Jobs: create (validation → 422 `Invalid`, 409 `AlreadyExists`), list, get,
 *   `/status`, watch (`?watch=true`, `resourceVersion`, `fieldSelector`, `labelSelector`),
 *   delete with `propagationPolicy` (query or `DeleteOptions` body; the REST default for Jobs
 *   is `Orphan`, as on a real server);
 * - the Job controller: pods `<job>-<5 chars>` with the `controller-uid`, `job-name`,
 *   `batch.kubernetes.io/*` labels and an owner reference, `startTime`, `active`/`ready`/
 *   `succeeded`/`failed`, `backoffLimit` (replacement pods), `SuccessCriteriaMet` then
 *   `Complete`, `FailureTarget` then `Failed` (`BackoffLimitExceeded`, `DeadlineExceeded` for
 *   `activeDeadlineSeconds`); a pod deleted before it ends counts as failed;
 *   `ttlSecondsAfterFinished` deletes the finished Job;
 * - v1 Pods: list/get/watch/delete, `/log` (`follow`, `timestamps`, `sinceTime`,
 *   `sinceSeconds`, `tailLines`, `container`; 400 "… is waiting to start" before the container
 *   runs); scheduling against a node capacity (`PodScheduled` False `Unschedulable`);
 * - a kubelet: `docker` pulls the image (from a real registry) and runs `containers[0]` with the
 *   real engine (`--network host`, command/args/env/workingDir, `secretKeyRef` env from the
 *   fake's secrets, `CreateContainerConfigError`, `ErrImagePull` → `ImagePullBackOff` retried
 *   slowly until deleted); `none` leaves containers in `ContainerCreating` until the test moves
 *   them with {@linkcode FakeKube.startPod} / {@linkcode FakeKube.appendLog} /
 *   {@linkcode FakeKube.finishPod};
 * - errors as `Status` objects (`kind: Status`, `status: Failure`, `message`, `reason`, `code`,
 *   `details`); 401 `Unauthorized` for missing or wrong credentials; 403 `Forbidden` in
 *   namespaces listed in `forbiddenNamespaces`; writes in unknown namespaces 404
 *   `namespaces "x" not found` (reads there find nothing);
 * - test hooks: the request log ({@linkcode FakeKube.requests}: auth kind, status, user agent,
 *   body, applied propagation policy), {@linkcode FakeKube.waitFor} (event-driven, no polling),
 *   the live token set, {@linkcode FakeKube.dropStreams}, `writeKubeconfig` (every auth kind),
 *   `writeServiceAccount` (in-cluster files).
 *
 * Not modelled: PATCH/PUT, server-side Table output (kubectl prints its own columns), strict
 * unknown-field rejection, init/sidecar containers (the kubelet runs `containers[0]` only),
 * `restartPolicy: OnFailure` restarts in place (a failed pod is replaced as with `Never`),
 * RBAC beyond `forbiddenNamespaces`, graceful termination periods (containers are removed at
 * once).
 *
 * @example
 * ```ts ignore
 * await using kube = await startFakeKube({ kubelet: "docker" });
 * await kube.writeKubeconfig(`${dir}/config`);
 * // … run the code under test with KUBECONFIG=${dir}/config …
 * const job = await kube.waitFor(() => kube.jobs("mlflow").find((j) => j.status.completionTime));
 * assert.equal(kube.requests.some((r) => r.auth === "none"), false);
 * ```
 */
import type { Condition, Job, Pod } from "./_kube_objects.ts";
import {
  discovery,
  jsonResponse,
  notFound,
  now,
  OPENAPI_V3,
  parseFieldSelector,
  parseLabelSelector,
  parseQuantity,
  statusBody,
  statusResponse,
  validateJob,
  VERSION_INFO,
} from "./_kube_objects.ts";
import type { Kubelet, LogOptions, PodRuntime } from "./_kube_kubelet.ts";
import {
  appendManualLog,
  dockerKubelet,
  manualKubelet,
  markExited,
  markRunning,
  markWaiting,
  wakeManualLog,
} from "./_kube_kubelet.ts";
import type { KubeconfigOptions } from "./_kubeconfig_writer.ts";
import { writeKubeconfigFile } from "./_kubeconfig_writer.ts";
import { makeTestCertificates, startMtlsProxy } from "../fakes/test_certificates.ts";
import type { MtlsProxy, TestCertificates } from "../fakes/test_certificates.ts";

export type { Condition, Container, ContainerStatus, Job, Pod } from "./_kube_objects.ts";
export type { KubeconfigAuth, KubeconfigContext, KubeconfigOptions } from "./_kubeconfig_writer.ts";

/** Options of {@linkcode startFakeKube}. */
export interface FakeKubeOptions {
  /** Accepted bearer tokens (default: one random token, {@linkcode FakeKube.token}). */
  tokens?: string[];
  /** Accepted basic-auth credentials (none by default). */
  basicAuth?: { username: string; password: string };
  /**
   * Serve through a TLS front that accepts client certificates signed by the fake's CA (the
   * fake's {@linkcode FakeKube.clientCertPath}); tokens and basic auth still work. Default
   * `false`: Deno.serve terminates TLS itself (HTTP/2 offered, as a real server).
   */
  clientCert?: boolean;
  /** `docker` runs pods with the real engine; `none` (default) leaves them to the test. */
  kubelet?: "docker" | "none";
  /** The node's allocatable resources (default `{ cpu: "2", memory: "4Gi" }`). */
  nodeCapacity?: { cpu?: string; memory?: string };
  /** Existing namespaces (default `default`, `kube-system`, `mlflow`). */
  namespaces?: string[];
  /** Secrets by `namespace/name`: their data (plain text, not base64). */
  secrets?: Record<string, Record<string, string>>;
  /** Namespaces where every request gets 403 `Forbidden`. */
  forbiddenNamespaces?: string[];
  /** Delay before a failed pod is replaced (default 100 ms; real: 10 s doubling). */
  podBackoffMs?: number;
  /** First delay between image pull attempts (default 1000 ms, doubling up to 8×). */
  pullBackoffMs?: number;
  /**
   * `always` (default): the docker kubelet pulls every image even when the engine has it, so a
   * Job runs only images that are really in the registry (`imagePullPolicy: Never` excepted);
   * `policy`: honour `imagePullPolicy` (`IfNotPresent` uses a local image).
   */
  pull?: "always" | "policy";
}

/** One request the fake received. */
export interface KubeRequest {
  method: string;
  /** Path with the query string. */
  path: string;
  /** How the request authenticated (`rejected`: credentials given but wrong). */
  auth: "token" | "basic" | "client-cert" | "none" | "rejected";
  /** Response status. */
  status: number;
  /** `User-Agent` header (kubectl, the Python client and `fetch` differ). */
  userAgent: string;
  /** The JSON body of a POST/DELETE, when any. */
  body?: unknown;
  /** DELETE of a Job: the propagation policy applied (query, body, or the `Orphan` default). */
  propagationPolicy?: "Orphan" | "Background" | "Foreground";
}

/** A running fake API server. */
export interface FakeKube extends AsyncDisposable {
  /** `https://127.0.0.1:<port>`. */
  url: string;
  /** The CA certificate that signed the server (and client) certificates. */
  caCertPath: string;
  /** Its PEM text. */
  caPem: string;
  /** A token the server accepts. */
  token: string;
  /** A client certificate signed by the CA (accepted with option `clientCert`). */
  clientCertPath: string;
  /** Its key (PKCS#8 PEM). */
  clientKeyPath: string;
  /** A CA that signed nothing the server trusts or serves (for negative tests). */
  otherCaPath: string;
  /** Directory of the certificates (shared by the fakes of one process; do not write there). */
  dir: string;
  /** Every request, in order. */
  requests: KubeRequest[];
  /** Jobs (deep copies), all namespaces unless given. */
  jobs(namespace?: string): Job[];
  /** One Job (copy), or `undefined`. */
  job(namespace: string, name: string): Job | undefined;
  /** Pods (copies), all namespaces unless given; optional label selector (`job-name=x`). */
  pods(namespace?: string, labelSelector?: string): Pod[];
  /** One pod (copy), or `undefined`. */
  pod(namespace: string, name: string): Pod | undefined;
  /** Engine ids of the containers the docker kubelet started that still exist. */
  containers(): Promise<string[]>;
  /**
   * Resolves with `probe()`'s first truthy value, probing after every change of any object
   * (no polling); rejects after `timeoutMs` (default 60 s) with `what` in the message.
   */
  waitFor<T>(probe: () => T | undefined | null | false, options?: {
    timeoutMs?: number;
    what?: string;
  }): Promise<T>;
  /** Adds (or replaces) a secret. */
  addSecret(namespace: string, name: string, data: Record<string, string>): void;
  /** `none` kubelet: the pod's container starts running. */
  startPod(namespace: string, name: string): void;
  /** `none` kubelet: the running container prints `text`. */
  appendLog(namespace: string, name: string, text: string): void;
  /** `none` kubelet: the container exits with `exitCode`. */
  finishPod(namespace: string, name: string, exitCode: number): void;
  /** `none` kubelet: the container waits with `reason` (`ErrImagePull`, …). */
  holdPod(namespace: string, name: string, reason: string, message?: string): void;
  /**
   * Writes a kubeconfig for this server (and the CA/cert/token/exec-plugin files it names, next
   * to it). Default: one context `fake`, token auth, CA as a relative file.
   */
  writeKubeconfig(path: string, options?: KubeconfigOptions): Promise<void>;
  /**
   * The accepted bearer tokens (live: delete one to make a cached exec-plugin token expire on
   * the server side, add one to accept it).
   */
  tokens: Set<string>;
  /**
   * Ends the open `follow` log responses and/or watch responses now, while the container runs
   * on (as an API server does at a watch timeout, or a proxy at its idle timeout): the client
   * sees a normal end of body. With `abrupt`, the body fails mid-stream instead (the client sees
   * a broken connection; Deno.serve then prints the error on stderr). Returns how many.
   */
  dropStreams(which?: "logs" | "watches" | "all", options?: { abrupt?: boolean }): number;
  /**
   * Writes the in-cluster files a pod would see under
   * `/var/run/secrets/kubernetes.io/serviceaccount` (`token`, `ca.crt`, `namespace`) into `dir`
   * and returns the env of an in-cluster process (`KUBERNETES_SERVICE_HOST`/`_PORT`).
   */
  writeServiceAccount(
    dir: string,
    options?: { namespace?: string; token?: string },
  ): Promise<{ env: Record<string, string> }>;
  /** Stops the server, ends watches and streams, removes the containers it started. */
  close(): Promise<void>;
}

interface Event {
  rv: number;
  type: "ADDED" | "MODIFIED" | "DELETED";
  object: Job | Pod;
}

interface Watcher {
  kind: "Job" | "Pod";
  namespace?: string;
  matches: (o: Job | Pod) => boolean;
  send: (event: Event) => void;
  close: (abrupt?: boolean) => void;
}

interface JobRecord {
  job: Job;
  pods: Set<string>;
  succeeded: number;
  failed: number;
  deleted: boolean;
  replacing: boolean;
}

interface PodRecord {
  rt: PodRuntime;
  abort: AbortController;
  jobKey?: string;
  counted: boolean;
}

const POD_SUFFIX_CHARS = "bcdfghjklmnpqrstvwxz2456789";

function suffix(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(5));
  return [...bytes].map((b) => POD_SUFFIX_CHARS[b % POD_SUFFIX_CHARS.length]).join("");
}

function copy<T>(value: T): T {
  return structuredClone(value);
}

let shared: Promise<TestCertificates> | undefined;

/**
 * The certificates all fakes of this process share (RSA key generation takes seconds on a loaded
 * machine); their directory is removed when the process ends.
 */
function sharedCertificates(): Promise<TestCertificates> {
  shared ??= (async () => {
    const dir = await Deno.makeTempDir({ prefix: "fake-kube-certs-" });
    globalThis.addEventListener("unload", () => {
      try {
        Deno.removeSync(dir, { recursive: true });
      } catch { /* gone */ }
    });
    return await makeTestCertificates(dir);
  })();
  return shared;
}

/**
 * Starts a fake API server. See the module doc for what it answers.
 *
 * @example
 * ```ts ignore
 * await using kube = await startFakeKube({ kubelet: "docker", clientCert: true });
 * await kube.writeKubeconfig(`${dir}/config`, {
 *   contexts: [{ name: "ci", auth: { kind: "exec" } }, { name: "old", auth: { kind: "basic" } }],
 * });
 * ```
 */
export async function startFakeKube(options: FakeKubeOptions = {}): Promise<FakeKube> {
  const certs: TestCertificates = await sharedCertificates();
  const dir = certs.dir;
  const caPem = await Deno.readTextFile(certs.caCertPath);
  const token = options.tokens?.[0] ?? `fake-${crypto.randomUUID()}`;
  const tokens = new Set(options.tokens ?? [token]);
  const instance = crypto.randomUUID().slice(0, 12);
  const namespaces = new Set(options.namespaces ?? ["default", "kube-system", "mlflow"]);
  const secrets = new Map(Object.entries(options.secrets ?? {}));
  const forbidden = new Set(options.forbiddenNamespaces ?? []);
  const capacity = {
    cpu: parseQuantity(options.nodeCapacity?.cpu ?? "2"),
    memory: parseQuantity(options.nodeCapacity?.memory ?? "4Gi"),
  };
  const podBackoffMs = options.podBackoffMs ?? 100;
  const kubelet: Kubelet = options.kubelet === "docker"
    ? dockerKubelet({
      instance,
      pullBackoffMs: options.pullBackoffMs ?? 1000,
      pull: options.pull ?? "always",
    })
    : manualKubelet();

  let rv = 1000;
  const history: Event[] = [];
  const watchers = new Set<Watcher>();
  const changeListeners = new Set<() => void>();
  const jobs = new Map<string, JobRecord>();
  const pods = new Map<string, PodRecord>();
  const requests: KubeRequest[] = [];
  const timers = new Set<() => void>();
  /** Open log and watch responses: `end(true)` cuts one mid-body, `end(false)` ends it. */
  const logStreams = new Set<(abrupt: boolean) => void>();
  const watchStreams = new Set<(abrupt: boolean) => void>();
  const pending = new Set<Promise<unknown>>();
  let closed = false;

  const track = (p: Promise<unknown>) => {
    const q = p.catch(() => {}).finally(() => pending.delete(q));
    pending.add(q);
  };

  function emit(type: Event["type"], object: Job | Pod): void {
    const event: Event = { rv, type, object: copy(object) };
    history.push(event);
    if (history.length > 5000) history.shift();
    for (const w of watchers) {
      if (w.kind !== object.kind) continue;
      if (w.namespace !== undefined && w.namespace !== object.metadata.namespace) continue;
      if (w.matches(object)) w.send(event);
    }
    for (const listener of [...changeListeners]) listener();
  }

  function bump(object: Job | Pod): void {
    rv += 1;
    object.metadata.resourceVersion = String(rv);
  }

  // ---------------------------------------------------------------- Job controller

  function jobLabels(job: Job): Record<string, string> {
    const uid = job.metadata.uid!;
    const name = job.metadata.name!;
    return {
      "batch.kubernetes.io/controller-uid": uid,
      "batch.kubernetes.io/job-name": name,
      "controller-uid": uid,
      "job-name": name,
    };
  }

  function updateJob(rec: JobRecord, change: (job: Job) => void): void {
    if (rec.deleted) return;
    change(rec.job);
    bump(rec.job);
    emit("MODIFIED", rec.job);
  }

  function createPod(rec: JobRecord): void {
    const job = rec.job;
    const ns = job.metadata.namespace!;
    const name = `${job.metadata.name}-${suffix()}`;
    const template = copy(job.spec.template);
    const spec = template.spec;
    for (const c of spec.containers) {
      c.imagePullPolicy ??= c.image?.includes("@")
        ? "IfNotPresent"
        : /:[^/]+$/.test(c.image ?? "") && !(c.image ?? "").endsWith(":latest")
        ? "IfNotPresent"
        : "Always";
      c.terminationMessagePath ??= "/dev/termination-log";
      c.terminationMessagePolicy ??= "File";
      c.resources ??= {};
    }
    const pod: Pod = {
      apiVersion: "v1",
      kind: "Pod",
      metadata: {
        name,
        generateName: `${job.metadata.name}-`,
        namespace: ns,
        uid: crypto.randomUUID(),
        creationTimestamp: now(),
        labels: { ...(template.metadata?.labels ?? {}), ...jobLabels(job) },
        ownerReferences: [{
          apiVersion: "batch/v1",
          kind: "Job",
          name: job.metadata.name,
          uid: job.metadata.uid,
          controller: true,
          blockOwnerDeletion: true,
        }],
        finalizers: ["batch.kubernetes.io/job-tracking"],
      },
      spec: {
        ...spec,
        dnsPolicy: spec.dnsPolicy ?? "ClusterFirst",
        schedulerName: spec.schedulerName ?? "default-scheduler",
        securityContext: spec.securityContext ?? {},
        terminationGracePeriodSeconds: spec.terminationGracePeriodSeconds ?? 30,
        serviceAccountName: spec.serviceAccountName ?? "default",
      },
      status: { phase: "Pending", qosClass: "BestEffort" },
    };
    let cpu = 0;
    let memory = 0;
    for (const c of spec.containers) {
      cpu += parseQuantity(c.resources?.requests?.cpu ?? "0");
      memory += parseQuantity(c.resources?.requests?.memory ?? "0");
    }
    const short = [
      ...(cpu > capacity.cpu ? ["cpu"] : []),
      ...(memory > capacity.memory ? ["memory"] : []),
    ];
    const abort = new AbortController();
    const record: PodRecord = {
      abort,
      jobKey: `${ns}/${job.metadata.name}`,
      counted: false,
      rt: {
        pod,
        signal: abort.signal,
        update(change) {
          const current = pods.get(`${ns}/${name}`);
          if (current === undefined || current.abort.signal.aborted) return;
          change(pod);
          bump(pod);
          emit("MODIFIED", pod);
          syncPodOwner(current);
        },
        secret(secretName) {
          return secrets.get(`${ns}/${secretName}`);
        },
        manualLog: { entries: [], waiters: new Set(), ended: false },
      },
    };
    pods.set(`${ns}/${name}`, record);
    rec.pods.add(name);
    if (short.length > 0) {
      pod.status.conditions = [{
        type: "PodScheduled",
        status: "False",
        lastProbeTime: null,
        lastTransitionTime: now(),
        reason: "Unschedulable",
        message: `0/1 nodes are available: ${
          short.map((r) => `1 Insufficient ${r}`).join(", ")
        }. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.`,
      }];
      bump(pod);
      emit("ADDED", pod);
      return;
    }
    pod.spec.nodeName = "fake-node";
    pod.status = {
      ...pod.status,
      conditions: [
        { type: "PodReadyToStartContainers", status: "False" },
        { type: "Initialized", status: "True" },
        { type: "Ready", status: "False", reason: "ContainersNotReady" },
        { type: "ContainersReady", status: "False", reason: "ContainersNotReady" },
        { type: "PodScheduled", status: "True" },
      ].map((c) => ({ lastProbeTime: null, lastTransitionTime: now(), ...c }) as Condition),
      hostIP: "127.0.0.1",
      podIP: "127.0.0.1",
      startTime: now(),
    };
    markWaiting(pod, "ContainerCreating");
    bump(pod);
    emit("ADDED", pod);
    track(kubelet.run(record.rt));
  }

  function syncPodOwner(record: PodRecord): void {
    const phase = record.rt.pod.status.phase;
    const rec = record.jobKey === undefined ? undefined : jobs.get(record.jobKey);
    if (rec === undefined || rec.deleted) return;
    if (!record.counted && (phase === "Succeeded" || phase === "Failed")) {
      record.counted = true;
      if (phase === "Succeeded") rec.succeeded += 1;
      else rec.failed += 1;
    }
    syncJob(rec);
  }

  function finished(job: Job): boolean {
    return (job.status.conditions ?? []).some((c) =>
      (c.type === "Complete" || c.type === "Failed") && c.status === "True"
    );
  }

  function condition(type: string, reason: string, message: string): Condition {
    return {
      type,
      status: "True",
      lastProbeTime: now(),
      lastTransitionTime: now(),
      reason,
      message,
    };
  }

  /** `FailureTarget`, then the active pods deleted, then `Failed` (as the 1.31 controller). */
  function failJob(rec: JobRecord, reason: string, message: string): void {
    if (rec.deleted || finished(rec.job)) return;
    updateJob(rec, (job) => {
      job.status.conditions = [
        ...(job.status.conditions ?? []),
        condition("FailureTarget", reason, message),
      ];
    });
    const ns = rec.job.metadata.namespace!;
    for (const n of rec.pods) {
      const p = pods.get(`${ns}/${n}`);
      if (p !== undefined && !p.counted) {
        p.counted = true;
        rec.failed += 1;
        track(deletePod(p));
      }
    }
    updateJob(rec, (job) => {
      job.status.conditions = [
        ...(job.status.conditions ?? []),
        condition("Failed", reason, message),
      ];
      delete job.status.active;
      if (rec.failed > 0) job.status.failed = rec.failed;
      job.status.ready = 0;
    });
    expireAfterTtl(rec);
  }

  /** `ttlSecondsAfterFinished`: the TTL controller deletes the finished Job (Background). */
  function expireAfterTtl(rec: JobRecord): void {
    const ttl = rec.job.spec.ttlSecondsAfterFinished;
    if (typeof ttl !== "number") return;
    const timer = setTimeout(() => {
      if (!closed && !rec.deleted) deleteInBackground(rec);
    }, ttl * 1000);
    timers.add(() => clearTimeout(timer));
  }

  function deleteInBackground(rec: JobRecord): void {
    const job = rec.job;
    const ns = job.metadata.namespace!;
    const owned = [...rec.pods].map((n) => pods.get(`${ns}/${n}`)).filter((p) =>
      p !== undefined
    ) as PodRecord[];
    rec.deleted = true;
    jobs.delete(`${ns}/${job.metadata.name}`);
    bump(job);
    emit("DELETED", job);
    for (const p of owned) track(deletePod(p));
  }

  function syncJob(rec: JobRecord): void {
    if (rec.deleted || finished(rec.job)) return;
    const ns = rec.job.metadata.namespace!;
    const live = [...rec.pods].map((n) => pods.get(`${ns}/${n}`)).filter((p) =>
      p !== undefined && !p.counted
    ) as PodRecord[];
    const active = live.length;
    const ready = live.filter((p) => p.rt.pod.status.phase === "Running").length;
    const completions = rec.job.spec.completions ?? 1;
    const backoffLimit = rec.job.spec.backoffLimit ?? 6;
    const status = rec.job.status;
    const same = (status.active ?? 0) === active && (status.ready ?? 0) === ready &&
      (status.succeeded ?? 0) === rec.succeeded && (status.failed ?? 0) === rec.failed;
    const setCounts = (job: Job) => {
      const s = job.status;
      delete s.active;
      delete s.succeeded;
      delete s.failed;
      if (active > 0) s.active = active;
      if (rec.succeeded > 0) s.succeeded = rec.succeeded;
      if (rec.failed > 0) s.failed = rec.failed;
      s.ready = ready;
      s.terminating = 0;
      s.uncountedTerminatedPods = {};
    };
    if (rec.succeeded >= completions) {
      updateJob(rec, (job) => {
        setCounts(job);
        job.status.conditions = [
          ...(job.status.conditions ?? []),
          condition(
            "SuccessCriteriaMet",
            "CompletionsReached",
            "Reached expected number of succeeded pods",
          ),
        ];
      });
      updateJob(rec, (job) => {
        job.status.conditions = [
          ...(job.status.conditions ?? []),
          condition("Complete", "CompletionsReached", "Reached expected number of succeeded pods"),
        ];
        job.status.completionTime = now();
      });
      for (const p of live) track(deletePod(p));
      expireAfterTtl(rec);
      return;
    }
    if (rec.failed > backoffLimit) {
      updateJob(rec, setCounts);
      failJob(rec, "BackoffLimitExceeded", "Job has reached the specified backoff limit");
      return;
    }
    if (!same) updateJob(rec, setCounts);
    const parallelism = rec.job.spec.parallelism ?? 1;
    const wanted = Math.min(parallelism, completions - rec.succeeded);
    if (active < wanted && !rec.replacing) {
      rec.replacing = true;
      const delay = rec.failed > 0 ? podBackoffMs : 0;
      const timer = setTimeout(() => {
        rec.replacing = false;
        if (closed || rec.deleted || finished(rec.job)) return;
        const liveNow = [...rec.pods].filter((n) => {
          const p = pods.get(`${ns}/${n}`);
          return p !== undefined && !p.counted;
        }).length;
        for (let i = liveNow; i < wanted; i++) createPod(rec);
        syncJob(rec);
      }, delay);
      timers.add(() => clearTimeout(timer));
    }
  }

  async function deletePod(record: PodRecord): Promise<void> {
    const pod = record.rt.pod;
    const key = `${pod.metadata.namespace}/${pod.metadata.name}`;
    if (pods.get(key) !== record || record.abort.signal.aborted) return;
    pod.metadata.deletionTimestamp = now();
    pod.metadata.deletionGracePeriodSeconds = pod.spec.terminationGracePeriodSeconds as number ??
      30;
    bump(pod);
    emit("MODIFIED", pod);
    const wasLive = !record.counted;
    record.abort.abort();
    record.rt.manualLog.ended = true;
    wakeManualLog(record.rt.manualLog);
    await kubelet.kill(record.rt);
    pods.delete(key);
    bump(pod);
    emit("DELETED", pod);
    // A pod deleted before it finished counts as failed for its Job.
    const rec = record.jobKey === undefined ? undefined : jobs.get(record.jobKey);
    if (rec !== undefined && wasLive && !record.counted) {
      record.counted = true;
      rec.failed += 1;
      rec.pods.delete(pod.metadata.name!);
      syncJob(rec);
    } else rec?.pods.delete(pod.metadata.name!);
  }

  // ---------------------------------------------------------------- HTTP

  function authenticate(req: Request, viaCert: boolean): KubeRequest["auth"] {
    if (viaCert) return "client-cert";
    const header = req.headers.get("authorization") ?? "";
    const bearer = header.match(/^Bearer\s+(.+)$/i);
    if (bearer) return tokens.has(bearer[1]!.trim()) ? "token" : "rejected";
    const basic = header.match(/^Basic\s+(.+)$/i);
    if (basic) {
      let decoded = "";
      try {
        decoded = atob(basic[1]!.trim());
      } catch { /* malformed */ }
      const b = options.basicAuth;
      return b !== undefined && decoded === `${b.username}:${b.password}` ? "basic" : "rejected";
    }
    return header === "" ? "none" : "rejected";
  }

  function watchResponse(
    kind: "Job" | "Pod",
    namespace: string | undefined,
    matches: (o: Job | Pod) => boolean,
    url: URL,
  ): Response {
    const enc = new TextEncoder();
    const since = url.searchParams.get("resourceVersion");
    const timeout = Number(url.searchParams.get("timeoutSeconds") ?? "0");
    let watcher!: Watcher;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        let open = true;
        const line = (type: string, object: unknown) => {
          if (open) controller.enqueue(enc.encode(JSON.stringify({ type, object }) + "\n"));
        };
        const close = (abrupt = false) => {
          if (!open) return;
          open = false;
          watchers.delete(watcher);
          watchStreams.delete(close);
          if (timer !== undefined) clearTimeout(timer);
          try {
            if (abrupt) controller.error(new Error("fake kube: watch dropped"));
            else controller.close();
          } catch { /* cancelled */ }
        };
        watcher = {
          kind,
          namespace,
          matches,
          send: (e) => line(e.type, e.object),
          close,
        };
        if (since === null || since === "" || since === "0") {
          for (const o of listObjects(kind, namespace)) if (matches(o)) line("ADDED", o);
        } else {
          const n = Number(since);
          const oldest = history[0]?.rv ?? rv;
          if (n < oldest - 1) {
            line("ERROR", statusBody(410, "Expired", `too old resource version: ${n} (${oldest})`));
          }
          for (const e of history) {
            if (
              e.rv > n && e.object.kind === kind &&
              (namespace === undefined || e.object.metadata.namespace === namespace) &&
              matches(e.object)
            ) line(e.type, e.object);
          }
        }
        watchers.add(watcher);
        watchStreams.add(close);
        if (timeout > 0) timer = setTimeout(() => close(), timeout * 1000);
      },
      cancel() {
        watcher.close();
      },
    });
    return new Response(body, {
      status: 200,
      headers: { "content-type": "application/json", "cache-control": "no-cache, private" },
    });
  }

  function listObjects(kind: "Job" | "Pod", namespace?: string): (Job | Pod)[] {
    const all: (Job | Pod)[] = kind === "Job"
      ? [...jobs.values()].map((r) => r.job)
      : [...pods.values()].map((r) => r.rt.pod);
    return all.filter((o) => namespace === undefined || o.metadata.namespace === namespace);
  }

  function selectors(url: URL): ((o: Job | Pod) => boolean) | Response {
    try {
      const label = parseLabelSelector(url.searchParams.get("labelSelector") ?? "");
      const field = parseFieldSelector(url.searchParams.get("fieldSelector") ?? "");
      return (o) => label(o.metadata.labels ?? {}) && field(o);
    } catch (e) {
      return statusResponse(400, "BadRequest", (e as Error).message);
    }
  }

  function list(url: URL, kind: "Job" | "Pod", namespace?: string): Response {
    const matches = selectors(url);
    if (matches instanceof Response) return matches;
    const watch = url.searchParams.get("watch");
    if (watch === "true" || watch === "1") {
      return watchResponse(kind, namespace, matches, url);
    }
    const items = listObjects(kind, namespace).filter(matches).map((o) => {
      const { apiVersion: _a, kind: _k, ...rest } = copy(o);
      return rest;
    });
    return jsonResponse(200, {
      kind: `${kind}List`,
      apiVersion: kind === "Job" ? "batch/v1" : "v1",
      metadata: { resourceVersion: String(rv) },
      items,
    });
  }

  async function readBody(req: Request): Promise<unknown> {
    const text = await req.text();
    if (text.trim() === "") return undefined;
    try {
      return JSON.parse(text);
    } catch {
      return Symbol.for("invalid");
    }
  }

  async function createJob(req: Request, ns: string, entry: KubeRequest): Promise<Response> {
    const body = await readBody(req);
    entry.body = body;
    if (typeof body === "symbol" || body === undefined) {
      return statusResponse(
        400,
        "BadRequest",
        "the object provided is unrecognized (must be of type Job): couldn't get version/kind; json parse error",
      );
    }
    const invalid = validateJob(body, ns);
    if (invalid) return invalid;
    const job = copy(body) as Job;
    job.apiVersion = "batch/v1";
    job.kind = "Job";
    job.metadata ??= {};
    if (!job.metadata.name) job.metadata.name = `${job.metadata.generateName}${suffix()}`;
    const name = job.metadata.name;
    if (jobs.has(`${ns}/${name}`)) {
      return statusResponse(409, "AlreadyExists", `jobs.batch "${name}" already exists`, {
        name,
        group: "batch",
        kind: "jobs",
      });
    }
    if (url(req).searchParams.get("dryRun") === "All") {
      job.metadata.namespace = ns;
      return jsonResponse(201, job);
    }
    const uid = crypto.randomUUID();
    job.metadata = {
      ...job.metadata,
      namespace: ns,
      uid,
      generation: 1,
      creationTimestamp: now(),
    };
    delete job.metadata.resourceVersion;
    const labels = jobLabels(job);
    if (job.metadata.labels === undefined || Object.keys(job.metadata.labels).length === 0) {
      job.metadata.labels = { ...labels };
    }
    job.spec.parallelism ??= 1;
    job.spec.completions ??= 1;
    job.spec.backoffLimit ??= 6;
    job.spec.completionMode ??= "NonIndexed";
    job.spec.suspend ??= false;
    job.spec.manualSelector ??= false;
    job.spec.podReplacementPolicy ??= "TerminatingOrFailed";
    job.spec.selector ??= {
      matchLabels: { "batch.kubernetes.io/controller-uid": uid },
    };
    job.spec.template.metadata = {
      ...(job.spec.template.metadata ?? {}),
      labels: { ...(job.spec.template.metadata?.labels ?? {}), ...labels },
    };
    job.status = {};
    const rec: JobRecord = {
      job,
      pods: new Set(),
      succeeded: 0,
      failed: 0,
      deleted: false,
      replacing: false,
    };
    jobs.set(`${ns}/${name}`, rec);
    bump(job);
    emit("ADDED", job);
    const created = copy(job);
    // The Job controller picks it up right after the create returns.
    setTimeout(() => {
      if (closed || rec.deleted) return;
      updateJob(rec, (j) => {
        j.status.startTime = now();
      });
      syncJob(rec);
      const deadline = rec.job.spec.activeDeadlineSeconds;
      if (typeof deadline === "number") {
        const timer = setTimeout(() => {
          if (!closed) {
            failJob(rec, "DeadlineExceeded", "Job was active longer than specified deadline");
          }
        }, deadline * 1000);
        timers.add(() => clearTimeout(timer));
      }
    }, 0);
    return jsonResponse(201, created);
  }

  function url(req: Request): URL {
    return new URL(req.url);
  }

  async function deleteJob(req: Request, ns: string, name: string, entry: KubeRequest) {
    const rec = jobs.get(`${ns}/${name}`);
    const body = await readBody(req);
    entry.body = body;
    if (rec === undefined) return notFound("jobs", name);
    const opts = (typeof body === "object" && body !== null ? body : {}) as Record<string, unknown>;
    let policy = url(req).searchParams.get("propagationPolicy") ??
      (typeof opts.propagationPolicy === "string" ? opts.propagationPolicy : undefined);
    if (policy === undefined && opts.orphanDependents === false) policy = "Background";
    policy ??= "Orphan";
    if (!["Orphan", "Background", "Foreground"].includes(policy)) {
      return statusResponse(
        422,
        "Invalid",
        `DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: Unsupported value: "${policy}": supported values: "Foreground", "Background", "Orphan", "nil"`,
      );
    }
    entry.propagationPolicy = policy as KubeRequest["propagationPolicy"];
    const job = rec.job;
    const owned = [...rec.pods].map((n) => pods.get(`${ns}/${n}`)).filter((p) =>
      p !== undefined
    ) as PodRecord[];
    const remove = () => {
      rec.deleted = true;
      jobs.delete(`${ns}/${name}`);
      bump(job);
      emit("DELETED", job);
    };
    if (policy === "Background") {
      deleteInBackground(rec);
      return jsonResponse(
        200,
        statusBody(200, "", "", { name, group: "batch", kind: "jobs", uid: job.metadata.uid }),
      );
    }
    const finalizer = policy === "Foreground" ? "foregroundDeletion" : "orphan";
    job.metadata.deletionTimestamp = now();
    job.metadata.deletionGracePeriodSeconds = 0;
    job.metadata.finalizers = [...(job.metadata.finalizers ?? []), finalizer];
    bump(job);
    emit("MODIFIED", job);
    const answer = copy(job);
    if (policy === "Foreground") {
      rec.deleted = true;
      track((async () => {
        await Promise.all(owned.map((p) => deletePod(p)));
        jobs.delete(`${ns}/${name}`);
        job.metadata.finalizers = (job.metadata.finalizers ?? []).filter((f) => f !== finalizer);
        bump(job);
        emit("DELETED", job);
      })());
    } else {
      for (const p of owned) {
        p.jobKey = undefined;
        p.rt.update((pod) => {
          pod.metadata.ownerReferences = [];
        });
      }
      job.metadata.finalizers = (job.metadata.finalizers ?? []).filter((f) => f !== finalizer);
      remove();
    }
    return jsonResponse(200, answer);
  }

  function podLog(req: Request, ns: string, name: string): Response {
    const record = pods.get(`${ns}/${name}`);
    if (record === undefined) return notFound("pods", name);
    const q = url(req).searchParams;
    const pod = record.rt.pod;
    const names = pod.spec.containers.map((c) => c.name);
    const container = q.get("container") ?? (names.length === 1 ? names[0]! : undefined);
    if (container === undefined) {
      return statusResponse(
        400,
        "BadRequest",
        `a container name must be specified for pod ${name}, choose one of: [${names.join(" ")}]`,
      );
    }
    if (!names.includes(container)) {
      return statusResponse(
        400,
        "BadRequest",
        `container ${container} is not valid for pod ${name}`,
      );
    }
    const state = pod.status.containerStatuses?.find((c) => c.name === container)?.state;
    const waiting = state === undefined ? { reason: "ContainerCreating" } : state.waiting;
    if (waiting !== undefined || (options.kubelet === "docker" && !record.rt.containerId)) {
      const reason = waiting?.reason ?? "ContainerCreating";
      const why = reason === "ErrImagePull" || reason === "ImagePullBackOff"
        ? "trying and failing to pull image"
        : reason;
      return statusResponse(
        400,
        "BadRequest",
        `container "${container}" in pod "${name}" is waiting to start: ${why}`,
      );
    }
    const logOptions: LogOptions = {
      follow: q.get("follow") === "true" || q.get("follow") === "1",
      timestamps: q.get("timestamps") === "true" || q.get("timestamps") === "1",
      ...(q.has("sinceTime") ? { sinceTime: q.get("sinceTime")! } : {}),
      ...(q.has("sinceSeconds") ? { sinceSeconds: Number(q.get("sinceSeconds")) } : {}),
      ...(q.has("tailLines") ? { tailLines: Number(q.get("tailLines")) } : {}),
    };
    const source = kubelet.logs(record.rt, logOptions);
    const reader = source.getReader();
    let ended = false;
    let ctrl!: ReadableStreamDefaultController<Uint8Array>;
    const end = (abrupt: boolean) => {
      if (ended) return;
      ended = true;
      logStreams.delete(end);
      reader.cancel().catch(() => {});
      try {
        if (abrupt) ctrl.error(new Error("fake kube: log stream dropped"));
        else ctrl.close();
      } catch { /* closed */ }
    };
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        ctrl = controller;
        logStreams.add(end);
      },
      async pull(controller) {
        const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
        if (ended) return;
        if (done) end(false);
        else controller.enqueue(value!);
      },
      cancel() {
        end(false);
      },
    });
    return new Response(body, {
      status: 200,
      headers: { "content-type": "text/plain", "cache-control": "no-cache, private" },
    });
  }

  async function route(req: Request, entry: KubeRequest): Promise<Response> {
    const u = url(req);
    const path = u.pathname.replace(/\/+$/, "") || "/";
    const method = req.method;
    if (method === "GET") {
      if (path === "/version") return jsonResponse(200, VERSION_INFO);
      if (["/healthz", "/livez", "/readyz"].includes(path)) {
        return new Response("ok", { headers: { "content-type": "text/plain" } });
      }
      const doc = discovery(u.host)[path] ?? OPENAPI_V3[path];
      if (doc !== undefined) return jsonResponse(200, doc);
      if (path === "/apis/batch/v1/jobs") return list(u, "Job");
      if (path === "/api/v1/pods") return list(u, "Pod");
      if (path === "/api/v1/namespaces") {
        return jsonResponse(200, {
          kind: "NamespaceList",
          apiVersion: "v1",
          metadata: { resourceVersion: String(rv) },
          items: [...namespaces].map((n) => namespaceObject(n)),
        });
      }
    }
    const m = path.match(
      /^\/api\/v1\/namespaces\/([^/]+)(?:\/(pods|secrets)(?:\/([^/]+)(?:\/(log|status))?)?)?$/,
    );
    const jm = path.match(
      /^\/apis\/batch\/v1\/namespaces\/([^/]+)\/jobs(?:\/([^/]+)(?:\/(status))?)?$/,
    );
    const ns = (m ?? jm)?.[1];
    if (ns !== undefined) {
      if (forbidden.has(ns)) {
        const resource = jm ? "jobs" : m?.[2] ?? "namespaces";
        const verb = method === "POST"
          ? "create"
          : method === "DELETE"
          ? "delete"
          : (jm?.[2] ?? m?.[3])
          ? "get"
          : u.searchParams.get("watch") === "true"
          ? "watch"
          : "list";
        return statusResponse(
          403,
          "Forbidden",
          `${resource}${jm ? ".batch" : ""}${
            jm?.[2] ? ` "${jm[2]}"` : ""
          } is forbidden: User "fake-user" cannot ${verb} resource "${resource}" in API group "${
            jm ? "batch" : ""
          }" in the namespace "${ns}"`,
          {
            ...(jm?.[2] ? { name: jm[2] } : {}),
            ...(jm ? { group: "batch" } : {}),
            kind: resource,
          },
        );
      }
      // As a real server: reads in a missing namespace find nothing, writes there are 404
      // `namespaces "x" not found`.
      if (!namespaces.has(ns) && (method !== "GET" || (m && m[2] === undefined))) {
        return notFound("namespaces", ns);
      }
    }
    if (jm) {
      const [, , name, sub] = jm;
      if (name === undefined) {
        if (method === "GET") return list(u, "Job", ns);
        if (method === "POST") return await createJob(req, ns!, entry);
      } else {
        const rec = jobs.get(`${ns}/${name}`);
        if (method === "GET") return rec ? jsonResponse(200, rec.job) : notFound("jobs", name);
        if (method === "DELETE" && sub === undefined) return await deleteJob(req, ns!, name, entry);
      }
      return methodNotAllowed(method);
    }
    if (m) {
      const [, , resource, name, sub] = m;
      if (resource === undefined) {
        if (method === "GET") return jsonResponse(200, namespaceObject(ns!));
        return methodNotAllowed(method);
      }
      if (resource === "secrets") {
        if (method === "GET" && name !== undefined) {
          const data = secrets.get(`${ns}/${name}`);
          if (data === undefined) {
            return statusResponse(404, "NotFound", `secrets "${name}" not found`, {
              name,
              kind: "secrets",
            });
          }
          return jsonResponse(200, {
            kind: "Secret",
            apiVersion: "v1",
            metadata: { name, namespace: ns },
            type: "Opaque",
            data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, btoa(v)])),
          });
        }
        return methodNotAllowed(method);
      }
      if (name === undefined) {
        if (method === "GET") return list(u, "Pod", ns);
        return methodNotAllowed(method);
      }
      const record = pods.get(`${ns}/${name}`);
      if (sub === "log" && method === "GET") return podLog(req, ns!, name);
      if (method === "GET") {
        return record ? jsonResponse(200, record.rt.pod) : notFound("pods", name);
      }
      if (method === "DELETE" && sub === undefined) {
        entry.body = await readBody(req);
        if (record === undefined) return notFound("pods", name);
        const answer = copy(record.rt.pod);
        answer.metadata.deletionTimestamp = now();
        track(deletePod(record));
        return jsonResponse(200, answer);
      }
      return methodNotAllowed(method);
    }
    if (path.startsWith("/api") || path.startsWith("/openapi")) {
      return statusResponse(404, "NotFound", "the server could not find the requested resource", {
        causes: [{ reason: "UnexpectedServerResponse", message: "404 page not found" }],
      });
    }
    return new Response("404 page not found\n", {
      status: 404,
      headers: { "content-type": "text/plain; charset=utf-8" },
    });
  }

  function methodNotAllowed(method: string): Response {
    return statusResponse(
      405,
      "MethodNotAllowed",
      `the server does not allow this method on the requested resource (${method})`,
    );
  }

  function namespaceObject(name: string): Record<string, unknown> {
    return {
      kind: "Namespace",
      apiVersion: "v1",
      metadata: {
        name,
        uid: `00000000-0000-4000-8000-${
          name.padEnd(12, "0").slice(0, 12).replace(/[^0-9a-f]/g, "0")
        }`,
        resourceVersion: "1",
        creationTimestamp: "2026-01-01T00:00:00Z",
        labels: { "kubernetes.io/metadata.name": name },
      },
      spec: { finalizers: ["kubernetes"] },
      status: { phase: "Active" },
    };
  }

  async function handle(req: Request, viaCert: boolean): Promise<Response> {
    const u = url(req);
    const auth = authenticate(req, viaCert);
    const entry: KubeRequest = {
      method: req.method,
      path: u.pathname + u.search,
      auth,
      status: 0,
      userAgent: req.headers.get("user-agent") ?? "",
    };
    requests.push(entry);
    let response: Response;
    if (auth === "none" || auth === "rejected") {
      response = statusResponse(401, "Unauthorized", "Unauthorized");
    } else {
      try {
        response = await route(req, entry);
      } catch (e) {
        response = statusResponse(500, "InternalError", `fake kube: ${(e as Error).message}`);
      }
    }
    entry.status = response.status;
    return response;
  }

  // ---------------------------------------------------------------- listeners

  const controller = new AbortController();
  const servers: Deno.HttpServer[] = [];
  let front: MtlsProxy | undefined;
  let serverUrl: string;
  if (options.clientCert) {
    const plain = (viaCert: boolean) =>
      Deno.serve(
        { hostname: "127.0.0.1", port: 0, signal: controller.signal, onListen: () => {} },
        (req) => handle(req, viaCert),
      );
    const withCert = plain(true);
    const withoutCert = plain(false);
    servers.push(withCert, withoutCert);
    front = await startMtlsProxy(certs, withCert.addr.port, {
      withoutCertPort: withoutCert.addr.port,
    });
    serverUrl = front.url;
  } else {
    const tls = Deno.serve(
      {
        hostname: "127.0.0.1",
        port: 0,
        signal: controller.signal,
        onListen: () => {},
        cert: certs.serverCert,
        key: certs.serverKey,
      },
      (req) => handle(req, false),
    );
    servers.push(tls);
    serverUrl = `https://127.0.0.1:${tls.addr.port}`;
  }

  function podRecord(ns: string, name: string): PodRecord {
    const record = pods.get(`${ns}/${name}`);
    if (record === undefined) throw new Error(`fake kube: no pod ${ns}/${name}`);
    return record;
  }

  const clientCertPem = await Deno.readTextFile(certs.clientCertPath);
  const clientKeyPem = await Deno.readTextFile(certs.clientKeyPath);

  const close = async () => {
    if (closed) return;
    closed = true;
    for (const r of pods.values()) {
      r.abort.abort();
      r.rt.manualLog.ended = true;
      wakeManualLog(r.rt.manualLog);
    }
    for (const stop of [...timers]) stop();
    for (const end of [...logStreams, ...watchStreams]) end(false);
    for (const w of [...watchers]) w.close();
    controller.abort();
    await Promise.all(servers.map((s) => s.finished));
    await front?.[Symbol.asyncDispose]();
    // Remove the containers first (a pod's `docker wait` returns only then), then once more for
    // any a pod's in-flight `docker run` created meanwhile.
    await kubelet.close();
    await Promise.all([...pending]);
    await kubelet.close();
  };

  return {
    url: serverUrl,
    caCertPath: certs.caCertPath,
    caPem,
    token,
    clientCertPath: certs.clientCertPath,
    clientKeyPath: certs.clientKeyPath,
    otherCaPath: certs.otherCaPath,
    dir,
    requests,
    tokens,
    dropStreams(which = "all", o = {}) {
      const targets = [
        ...(which === "watches" ? [] : logStreams),
        ...(which === "logs" ? [] : watchStreams),
      ];
      for (const end of targets) end(o.abrupt === true);
      return targets.length;
    },
    jobs: (namespace) => listObjects("Job", namespace).map((o) => copy(o) as Job),
    job: (namespace, name) => {
      const rec = jobs.get(`${namespace}/${name}`);
      return rec === undefined ? undefined : copy(rec.job);
    },
    pods: (namespace, labelSelector) => {
      const sel = parseLabelSelector(labelSelector ?? "");
      return listObjects("Pod", namespace).filter((o) => sel(o.metadata.labels ?? {})).map((o) =>
        copy(o) as Pod
      );
    },
    pod: (namespace, name) => {
      const r = pods.get(`${namespace}/${name}`);
      return r === undefined ? undefined : copy(r.rt.pod);
    },
    async containers() {
      const out = await new Deno.Command("docker", {
        args: [
          "ps",
          "--all",
          "--quiet",
          "--no-trunc",
          "--filter",
          `label=mlproject.fake-kube=${instance}`,
        ],
        stdin: "null",
        stdout: "piped",
        stderr: "null",
      }).output().catch(() => undefined);
      const text = new TextDecoder().decode(out?.stdout).trim();
      return text === "" ? [] : text.split("\n");
    },
    waitFor(probe, o = {}) {
      return new Promise((resolve, reject) => {
        const first = probe();
        if (first) return resolve(first);
        const timer = setTimeout(() => {
          changeListeners.delete(listener);
          reject(new Error(`fake kube: timed out waiting for ${o.what ?? "a condition"}`));
        }, o.timeoutMs ?? 60_000);
        function listener() {
          let value;
          try {
            value = probe();
          } catch (e) {
            changeListeners.delete(listener);
            clearTimeout(timer);
            return reject(e);
          }
          if (value) {
            changeListeners.delete(listener);
            clearTimeout(timer);
            resolve(value);
          }
        }
        changeListeners.add(listener);
      });
    },
    addSecret(namespace, name, data) {
      secrets.set(`${namespace}/${name}`, data);
    },
    startPod(namespace, name) {
      podRecord(namespace, name).rt.update((p) => markRunning(p, now()));
    },
    appendLog(namespace, name, text) {
      appendManualLog(podRecord(namespace, name).rt.manualLog, text);
    },
    finishPod(namespace, name, exitCode) {
      const r = podRecord(namespace, name);
      r.rt.manualLog.ended = true;
      wakeManualLog(r.rt.manualLog);
      r.rt.update((p) => markExited(p, exitCode));
    },
    holdPod(namespace, name, reason, message) {
      podRecord(namespace, name).rt.update((p) => markWaiting(p, reason, message));
    },
    writeKubeconfig(path, o) {
      return writeKubeconfigFile(path, {
        url: serverUrl,
        caPem,
        caCertPath: certs.caCertPath,
        token,
        clientCertPem,
        clientKeyPem,
        ...(options.basicAuth === undefined ? {} : { basic: options.basicAuth }),
      }, o);
    },
    async writeServiceAccount(saDir, o = {}) {
      await Deno.mkdir(saDir, { recursive: true });
      await Deno.writeTextFile(`${saDir}/token`, o.token ?? token);
      await Deno.writeTextFile(`${saDir}/ca.crt`, caPem);
      await Deno.writeTextFile(`${saDir}/namespace`, o.namespace ?? "default");
      const address = new URL(serverUrl);
      return {
        env: { KUBERNETES_SERVICE_HOST: address.hostname, KUBERNETES_SERVICE_PORT: address.port },
      };
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
