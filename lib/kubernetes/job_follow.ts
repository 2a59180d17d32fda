/**
 * Following a submitted Job to its end, with MLflow's status mapping (`SCHEDULED` until
 * `status.startTime`, then `RUNNING`; a true `Complete` condition is `FINISHED`, a true `Failed`
 * one `FAILED`; other conditions are ignored): the Job and its pods are polled (every 0.2–0.5 s
 * until a pod runs, then backing off to 2 s), each pod's log is streamed as it is written, and a pod that cannot start (image pull errors, bad
 * configuration, unschedulable) ends the run at once with one line saying why.
 *
 * @module
 */
import type { Reporter } from "../system/output.ts";
import { sleep } from "../system/sleep.ts";
import type { KubeClient } from "./kube_client.ts";
import { streamPodLogs } from "./log_stream.ts";

/** Waiting reasons of a container that will not start without a change. */
export const START_FAILURES = [
  "ErrImagePull",
  "ImagePullBackOff",
  "InvalidImageName",
  "ErrImageNeverPull",
  "CreateContainerConfigError",
  "CreateContainerError",
] as const;

/** How a followed Job ended. */
export interface JobOutcome {
  /** `FINISHED`, `FAILED`, or `KILLED` when following was aborted. */
  readonly status: "FINISHED" | "FAILED" | "KILLED";
  /** Why a pod could not start, if that ended it. */
  readonly startFailure?: string;
}

/** Options of {@linkcode followJob}. */
export interface FollowJobOptions {
  /** The Job's namespace. */
  namespace: string;
  /** The Job's name. */
  name: string;
  /** The container whose log is streamed. */
  container: string;
  /** MLflow's progress lines. */
  reporter: Reporter;
  /** Receives each log line. */
  onLogLine: (line: string) => void;
  /** Aborting stops following (the Job is being cancelled). */
  signal?: AbortSignal;
  /** Longest wait between two polls (ms, default 2000). */
  maxPollMs?: number;
}

interface Condition {
  type?: string;
  status?: string;
  reason?: string;
  message?: string;
}

interface Job {
  status?: { startTime?: string; conditions?: Condition[] };
}

interface Pod {
  metadata?: { name?: string };
  status?: {
    phase?: string;
    conditions?: Condition[];
    containerStatuses?: {
      name: string;
      state?: { waiting?: { reason?: string; message?: string } };
    }[];
  };
}

/**
 * Why a pod cannot start, or `undefined` while it may still start.
 *
 * @param pod A pod of the Job.
 * @returns One line naming the pod and the reason.
 *
 * @example
 * ```ts
 * import { podStartFailure } from "./job_follow.ts";
 * const line = podStartFailure({
 *   metadata: { name: "p-1" },
 *   status: { containerStatuses: [{ name: "p", state: { waiting: { reason: "ImagePullBackOff" } } }] },
 * });
 * console.assert(line === "Pod p-1 cannot start: ImagePullBackOff");
 * ```
 */
export function podStartFailure(pod: Pod): string | undefined {
  const name = pod.metadata?.name ?? "?";
  for (const c of pod.status?.containerStatuses ?? []) {
    const waiting = c.state?.waiting;
    if (waiting?.reason && (START_FAILURES as readonly string[]).includes(waiting.reason)) {
      return `Pod ${name} cannot start: ${waiting.reason}${
        waiting.message ? `: ${waiting.message.split("\n")[0]}` : ""
      }`;
    }
  }
  const scheduled = pod.status?.conditions?.find((c) => c.type === "PodScheduled");
  if (scheduled?.status === "False" && scheduled.reason === "Unschedulable") {
    return `Pod ${name} cannot be scheduled: ${scheduled.message ?? "Unschedulable"}`;
  }
  return undefined;
}

/**
 * Follows a Job until it completes or fails, streaming its pods' logs.
 *
 * @param client The API client.
 * @param options Job, container, reporter, log line callback, abort signal.
 * @returns How it ended.
 * @throws {KubeApiError} When the Job disappears (deleted by someone else) or the API fails.
 *
 * @example
 * ```ts ignore
 * const outcome = await followJob(client, {
 *   namespace: "ml", name: "p-2026-…", container: "p", reporter, onLogLine: (l) => console.log(l),
 * });
 * ```
 */
export async function followJob(
  client: KubeClient,
  options: FollowJobOptions,
): Promise<JobOutcome> {
  const { namespace, name, reporter, signal } = options;
  const jobPath = `/apis/batch/v1/namespaces/${namespace}/jobs/${name}/status`;
  const podsPath = `/api/v1/namespaces/${namespace}/pods`;
  const streams = new Map<string, Promise<void>>();
  const logsSignal = new AbortController();
  const stopLogs = () => logsSignal.abort();
  signal?.addEventListener("abort", stopLogs, { once: true });
  const follow = (pod: string) => {
    if (streams.has(pod)) return;
    streams.set(
      pod,
      streamPodLogs(client, {
        namespace,
        pod,
        container: options.container,
        onLine: options.onLogLine,
        signal: logsSignal.signal,
        onResume: (why) => reporter.log("INFO", `Resuming the log of pod ${pod} (${why})`),
      }).catch((e) => {
        if (!logsSignal.signal.aborted) {
          reporter.log("WARNING", `Log of pod ${pod}: ${e instanceof Error ? e.message : e}`);
        }
      }),
    );
  };
  const pollPods = async (): Promise<string | undefined> => {
    const list = await client.json<{ items?: Pod[] }>("GET", podsPath, {
      query: { labelSelector: `job-name=${name}` },
      action: `list the pods of Job ${name}`,
      ...(signal !== undefined ? { signal } : {}),
    });
    for (const pod of list?.items ?? []) {
      const podName = pod.metadata?.name;
      if (podName === undefined) continue;
      const failure = podStartFailure(pod);
      if (failure !== undefined) return failure;
      if (["Running", "Succeeded", "Failed"].includes(pod.status?.phase ?? "")) follow(podName);
    }
    return undefined;
  };

  let started = false;
  let waitingShown = false;
  const shown = new Set<string>();
  let pollMs = 200;
  const maxPollMs = options.maxPollMs ?? 2000;
  try {
    while (!signal?.aborted) {
      const job = await client.json<Job>("GET", jobPath, {
        allow: [404],
        action: `read Job ${name}`,
        ...(signal !== undefined ? { signal } : {}),
      }).catch((e) => {
        if (signal?.aborted) return null;
        throw e;
      });
      if (signal?.aborted) break;
      if (job === undefined) {
        throw new Error(
          `Kubernetes Job ${namespace}/${name} was deleted while the run followed it`,
        );
      }
      const status = job?.status ?? {};
      if (!started) {
        if (status.startTime) {
          reporter.log("INFO", "Job started.");
          started = true;
        } else if (!waitingShown) {
          reporter.log("INFO", "Waiting for Job to start");
          waitingShown = true;
        }
      }
      let terminal: "FINISHED" | "FAILED" | undefined;
      for (const c of status.conditions ?? []) {
        if (c.status !== "True") continue;
        const key = c.message ?? "";
        if (c.message && !shown.has(key)) {
          shown.add(key);
          reporter.log("INFO", c.message);
        }
        if (c.type === "Failed") terminal = "FAILED";
        else if (c.type === "Complete") terminal = "FINISHED";
      }
      const failure = await pollPods().catch((e) => {
        if (signal?.aborted) return undefined;
        throw e;
      });
      if (terminal !== undefined) {
        // Pods that ran between two polls are streamed too; then the logs are read to the end.
        await Promise.all(streams.values());
        return { status: terminal };
      }
      if (failure !== undefined) return { status: "FAILED", startFailure: failure };
      await sleep(pollMs, signal).catch(() => {});
      // Quick polls until a pod's log is followed (the first line shows soon), then back off.
      pollMs = streams.size === 0
        ? Math.min(pollMs + 50, 500, maxPollMs)
        : Math.min(Math.round(pollMs * 1.5), maxPollMs);
    }
    return { status: "KILLED" };
  } finally {
    signal?.removeEventListener("abort", stopLogs);
    if (signal?.aborted) stopLogs();
    await Promise.all(streams.values());
  }
}
