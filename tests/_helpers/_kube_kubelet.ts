/**
 * The fake API server's node agents (fake_kube.ts): the docker kubelet, which pulls each pod's
 * image and runs its first container with the real engine (`docker` CLI), and the manual one,
 * whose pods move only when a test says so.
 */
import type { Container, ContainerStatus, EnvVar, Pod } from "./_kube_objects.ts";
import { now } from "./_kube_objects.ts";

/** The handle a kubelet gets for one pod. */
export interface PodRuntime {
  /** The current pod object (read only: change it through `update`). */
  readonly pod: Pod;
  /** Changes the pod (bumps its resourceVersion, sends watch events, syncs its Job). */
  update(change: (pod: Pod) => void): void;
  /** Aborted when the pod is deleted or the fake closes. */
  readonly signal: AbortSignal;
  /** A secret's data (decoded), or `undefined` when the secret does not exist. */
  secret(name: string): Record<string, string> | undefined;
  /** The engine's container id, once created. */
  containerId?: string;
  /** Output of a manual pod (the docker kubelet reads `docker logs` instead). */
  manualLog: ManualLog;
}

/** The output of a manual pod: lines with the time they were written. */
export interface ManualLog {
  entries: { time: string; text: string }[];
  waiters: Set<() => void>;
  ended: boolean;
}

/** Appends output to a manual log (one entry per line) and wakes its followers. */
export function appendManualLog(log: ManualLog, text: string): void {
  const time = new Date().toISOString().replace(/Z$/, "000000Z");
  for (const line of text.match(/[^\n]*\n|[^\n]+$/g) ?? []) log.entries.push({ time, text: line });
  wakeManualLog(log);
}

/** Wakes the followers of a manual log (new output, or the container ended). */
export function wakeManualLog(log: ManualLog): void {
  for (const w of [...log.waiters]) {
    log.waiters.delete(w);
    w();
  }
}

/** Options of a log read. */
export interface LogOptions {
  follow: boolean;
  timestamps: boolean;
  sinceTime?: string;
  sinceSeconds?: number;
  tailLines?: number;
}

/** A node agent. */
export interface Kubelet {
  /** Drives a new pod until it ends or is deleted. */
  run(rt: PodRuntime): Promise<void>;
  /** The container's output (the pod's container has started). */
  logs(rt: PodRuntime, options: LogOptions): ReadableStream<Uint8Array>;
  /** Kills and removes the pod's container. */
  kill(rt: PodRuntime): Promise<void>;
  /** Removes every container this kubelet started. */
  close(): Promise<void>;
}

/** Sets the first container's status (creating the entry). */
export function setContainerStatus(
  pod: Pod,
  change: Partial<ContainerStatus> & Pick<ContainerStatus, "state">,
): void {
  const container = pod.spec.containers[0]!;
  const previous = pod.status.containerStatuses?.[0];
  pod.status.containerStatuses = [{
    name: container.name,
    lastState: {},
    ready: false,
    restartCount: 0,
    image: container.image ?? "",
    imageID: "",
    started: false,
    ...previous,
    ...change,
  }];
}

function setCondition(pod: Pod, type: string, status: "True" | "False", reason?: string): void {
  const conditions = pod.status.conditions ?? [];
  const existing = conditions.find((c) => c.type === type);
  const fresh = {
    type,
    status,
    lastProbeTime: null,
    lastTransitionTime: now(),
    ...(reason === undefined ? {} : { reason }),
  };
  if (existing === undefined) conditions.push(fresh);
  else if (existing.status !== status) Object.assign(existing, fresh);
  pod.status.conditions = conditions;
}

/** Marks the pod's container as running. */
export function markRunning(pod: Pod, startedAt: string, containerId?: string): void {
  pod.status.phase = "Running";
  setContainerStatus(pod, {
    state: { running: { startedAt } },
    ready: true,
    started: true,
    ...(containerId === undefined ? {} : { containerID: containerId }),
  });
  for (const type of ["PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady"]) {
    setCondition(pod, type, "True");
  }
}

/** Marks the pod's container as exited with `exitCode`. */
export function markExited(
  pod: Pod,
  exitCode: number,
  times: { startedAt?: string; finishedAt?: string; reason?: string; message?: string } = {},
): void {
  const cs = pod.status.containerStatuses?.[0];
  pod.status.phase = exitCode === 0 ? "Succeeded" : "Failed";
  setContainerStatus(pod, {
    state: {
      terminated: {
        exitCode,
        reason: times.reason ?? (exitCode === 0 ? "Completed" : "Error"),
        ...(times.message === undefined ? {} : { message: times.message }),
        startedAt: times.startedAt ?? cs?.state.running?.startedAt ?? now(),
        finishedAt: times.finishedAt ?? now(),
        ...(cs?.containerID === undefined ? {} : { containerID: cs.containerID }),
      },
    },
    ready: false,
    started: false,
  });
  for (const type of ["Ready", "ContainersReady"]) {
    setCondition(pod, type, "False", "PodCompleted");
  }
  setCondition(pod, "PodReadyToStartContainers", "False");
}

/** Marks the pod's container as waiting (`ContainerCreating`, `ErrImagePull`, …). */
export function markWaiting(pod: Pod, reason: string, message?: string): void {
  setContainerStatus(pod, {
    state: { waiting: { reason, ...(message === undefined ? {} : { message }) } },
  });
  setCondition(pod, "Ready", "False", "ContainersNotReady");
  setCondition(pod, "ContainersReady", "False", "ContainersNotReady");
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done);
  });
}

async function docker(
  args: string[],
): Promise<{ ok: boolean; code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command("docker", {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return {
    ok: out.success,
    code: out.code,
    stdout: dec.decode(out.stdout).trim(),
    stderr: dec.decode(out.stderr).trim(),
  };
}

/** Resolves a container's env (secretKeyRef from secrets); a string is the config error. */
function resolveEnv(rt: PodRuntime, env: EnvVar[]): Record<string, string> | string {
  const out: Record<string, string> = {};
  for (const e of env) {
    const ref = e.valueFrom?.secretKeyRef;
    if (ref !== undefined) {
      const data = rt.secret(ref.name);
      if (data === undefined) {
        if (ref.optional) continue;
        return `secret "${ref.name}" not found`;
      }
      if (!(ref.key in data)) {
        if (ref.optional) continue;
        return `couldn't find key ${ref.key} in Secret ${rt.pod.metadata.namespace}/${ref.name}`;
      }
      out[e.name] = data[ref.key]!;
    } else {
      out[e.name] = (e.value ?? "").replace(
        /\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g,
        (all, name: string) => out[name] ?? all,
      );
    }
  }
  return out;
}

/** The pull policy the API server defaults to for an image. */
function pullPolicy(container: Container): string {
  if (container.imagePullPolicy) return container.imagePullPolicy;
  const image = container.image ?? "";
  if (image.includes("@")) return "IfNotPresent";
  const last = image.slice(image.lastIndexOf("/") + 1);
  return !last.includes(":") || last.endsWith(":latest") ? "Always" : "IfNotPresent";
}

/** The docker kubelet's options. */
export interface DockerKubeletOptions {
  /** Label value marking this fake's containers (`mlproject.fake-kube=<value>`). */
  instance: string;
  /** First back-off after a failed pull (doubles up to 8×). */
  pullBackoffMs: number;
  /** `always`: pull every image (proves it is in the registry); `policy`: honour imagePullPolicy. */
  pull: "always" | "policy";
}

const LABEL = "mlproject.fake-kube";

/** A kubelet that runs pods with the real engine through the `docker` CLI. */
export function dockerKubelet(options: DockerKubeletOptions): Kubelet {
  const started = new Set<string>();

  async function pull(rt: PodRuntime, image: string, policy: string): Promise<boolean> {
    let backoff = options.pullBackoffMs;
    while (!rt.signal.aborted) {
      if (policy === "Never" || (options.pull === "policy" && policy === "IfNotPresent")) {
        const present = (await docker(["image", "inspect", "--format", "{{.Id}}", image])).ok;
        if (present) return true;
        if (policy === "Never") {
          rt.update((p) =>
            markWaiting(
              p,
              "ErrImageNeverPull",
              `Container image "${image}" is not present with pull policy of Never`,
            )
          );
          await sleep(backoff, rt.signal);
          continue;
        }
      }
      const out = await docker(["pull", "--quiet", image]);
      if (out.ok) return true;
      if (rt.signal.aborted) return false;
      const why = out.stderr.split("\n").at(-1)?.replace(/^Error response from daemon: /, "");
      rt.update((p) =>
        markWaiting(
          p,
          "ErrImagePull",
          `failed to pull and unpack image "${image}": ${why ?? `exit ${out.code}`}`,
        )
      );
      await sleep(Math.min(backoff, options.pullBackoffMs * 8), rt.signal);
      if (rt.signal.aborted) return false;
      rt.update((p) => markWaiting(p, "ImagePullBackOff", `Back-off pulling image "${image}"`));
      await sleep(Math.min(backoff, options.pullBackoffMs * 8), rt.signal);
      backoff *= 2;
    }
    return false;
  }

  async function inspectTimes(id: string): Promise<{ startedAt?: string; finishedAt?: string }> {
    const out = await docker([
      "inspect",
      "--format",
      "{{.State.StartedAt}} {{.State.FinishedAt}}",
      id,
    ]);
    if (!out.ok) return {};
    const [s, f] = out.stdout.split(" ").map((t) => t.replace(/\.\d+Z$/, "Z"));
    return {
      ...(s && !s.startsWith("0001") ? { startedAt: s } : {}),
      ...(f && !f.startsWith("0001") ? { finishedAt: f } : {}),
    };
  }

  return {
    async run(rt) {
      const container = rt.pod.spec.containers[0]!;
      const image = container.image ?? "";
      let env = resolveEnv(rt, container.env ?? []);
      while (typeof env === "string" && !rt.signal.aborted) {
        const message = env;
        rt.update((p) => markWaiting(p, "CreateContainerConfigError", message));
        await sleep(options.pullBackoffMs, rt.signal);
        env = resolveEnv(rt, container.env ?? []);
      }
      if (rt.signal.aborted || typeof env === "string") return;
      if (!(await pull(rt, image, pullPolicy(container)))) return;
      const digest = await docker([
        "image",
        "inspect",
        "--format",
        "{{index .RepoDigests 0}}",
        image,
      ]);
      const args = [
        "run",
        "--detach",
        "--name",
        `k8s_${container.name}_${rt.pod.metadata.name}_${rt.pod.metadata.namespace}_${
          crypto.randomUUID().slice(0, 8)
        }`,
        "--label",
        `${LABEL}=${options.instance}`,
        "--label",
        `io.kubernetes.pod.name=${rt.pod.metadata.name}`,
        "--label",
        `io.kubernetes.pod.namespace=${rt.pod.metadata.namespace}`,
        "--network",
        "host",
      ];
      for (const [k, v] of Object.entries(env)) args.push("--env", `${k}=${v}`);
      if (container.workingDir) args.push("--workdir", container.workingDir);
      const command = container.command ?? [];
      if (command.length > 0) args.push("--entrypoint", command[0]!);
      args.push(image, ...command.slice(1), ...(container.args ?? []));
      if (rt.signal.aborted) return;
      const run = await docker(args);
      const id = run.stdout.split("\n").at(-1) ?? "";
      if (/^[0-9a-f]{64}$/.test(id)) {
        started.add(id);
        rt.containerId = id;
      }
      if (!run.ok) {
        // The engine created the container but could not start its process (exit 125–127).
        const message = run.stderr.replace(/^docker: Error response from daemon: /, "");
        rt.update((p) => markExited(p, 128, { reason: "StartError", message }));
        return;
      }
      if (rt.signal.aborted) {
        await this.kill(rt);
        return;
      }
      const times = await inspectTimes(id);
      rt.update((p) => {
        markRunning(p, times.startedAt ?? now(), `docker://${id}`);
        if (digest.ok && digest.stdout !== "") {
          setContainerStatus(p, {
            state: p.status.containerStatuses![0]!.state,
            imageID: `docker-pullable://${digest.stdout}`,
          });
        }
      });
      const waited = await docker(["wait", id]);
      if (rt.signal.aborted) return;
      const code = Number(waited.stdout);
      const end = await inspectTimes(id);
      rt.update((p) => markExited(p, Number.isFinite(code) && waited.ok ? code : 137, end));
    },

    logs(rt, o) {
      const id = rt.containerId ?? "";
      const args = ["logs"];
      if (o.follow) args.push("--follow");
      if (o.timestamps) args.push("--timestamps");
      if (o.sinceTime !== undefined) args.push("--since", o.sinceTime);
      else if (o.sinceSeconds !== undefined) args.push("--since", `${o.sinceSeconds}s`);
      if (o.tailLines !== undefined) args.push("--tail", String(o.tailLines));
      args.push(id);
      const child = new Deno.Command("docker", {
        args,
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      return mergeLines(child.stdout, child.stderr, () => {
        try {
          child.kill("SIGKILL");
        } catch { /* gone */ }
      }, child.status);
    },

    async kill(rt) {
      if (rt.containerId !== undefined) {
        await docker(["rm", "--force", rt.containerId]);
        started.delete(rt.containerId);
      }
    },

    async close() {
      const listed = await docker([
        "ps",
        "--all",
        "--quiet",
        "--filter",
        `label=${LABEL}=${options.instance}`,
      ]);
      const ids = new Set([...started, ...listed.stdout.split("\n").filter((x) => x !== "")]);
      if (ids.size > 0) await docker(["rm", "--force", ...ids]);
      started.clear();
    },
  };
}

/**
 * Merges two byte streams line by line in arrival order (the container's stdout and stderr, as
 * the kubelet's log file holds them). `cancel` runs when the reader gives up; `done` is awaited
 * before the stream closes.
 */
function mergeLines(
  a: ReadableStream<Uint8Array>,
  b: ReadableStream<Uint8Array>,
  cancel: () => void,
  done: Promise<unknown>,
): ReadableStream<Uint8Array> {
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  let closed = false;
  const pump = async (s: ReadableStream<Uint8Array>) => {
    let pending = new Uint8Array(0);
    for await (const chunk of s) {
      const joined = new Uint8Array(pending.length + chunk.length);
      joined.set(pending);
      joined.set(chunk, pending.length);
      const cut = joined.lastIndexOf(10) + 1;
      if (cut > 0 && !closed) controller.enqueue(joined.slice(0, cut));
      pending = joined.slice(cut);
    }
    if (pending.length > 0 && !closed) controller.enqueue(pending);
  };
  return new ReadableStream<Uint8Array>({
    start(c) {
      controller = c;
      Promise.all([pump(a), pump(b), done]).then(
        () => {
          if (!closed) {
            closed = true;
            controller.close();
          }
        },
        () => {},
      );
    },
    cancel() {
      closed = true;
      cancel();
    },
  });
}

/**
 * A kubelet that only schedules: containers wait in `ContainerCreating` until the test calls
 * the fake's `startPod`/`appendLog`/`finishPod`.
 */
export function manualKubelet(): Kubelet {
  return {
    run(rt) {
      rt.update((p) => markWaiting(p, "ContainerCreating"));
      return Promise.resolve();
    },
    logs(rt, o) {
      const log = rt.manualLog;
      const since = o.sinceTime !== undefined
        ? Date.parse(o.sinceTime)
        : o.sinceSeconds !== undefined
        ? Date.now() - o.sinceSeconds * 1000
        : -Infinity;
      let index = o.tailLines === undefined ? 0 : Math.max(0, log.entries.length - o.tailLines);
      const enc = new TextEncoder();
      let cancelled = false;
      let wake: (() => void) | undefined;
      return new ReadableStream<Uint8Array>({
        async pull(c) {
          while (!cancelled) {
            while (index < log.entries.length) {
              const e = log.entries[index++]!;
              if (Date.parse(e.time) < since) continue;
              c.enqueue(enc.encode(o.timestamps ? `${e.time} ${e.text}` : e.text));
              return;
            }
            if (!o.follow || log.ended || rt.signal.aborted) break;
            await new Promise<void>((resolve) => {
              wake = resolve;
              log.waiters.add(resolve);
            });
          }
          c.close();
        },
        cancel() {
          cancelled = true;
          if (wake) {
            log.waiters.delete(wake);
            wake();
          }
        },
      });
    },
    kill() {
      return Promise.resolve();
    },
    close() {
      return Promise.resolve();
    },
  };
}
