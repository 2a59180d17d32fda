/**
 * Following a pod's log as it is written (`follow=true`, `timestamps=true`): a dropped or idle
 * connection is resumed from the last line seen (`sinceTime`, lines already shown skipped), and
 * the stream ends once the container has terminated and its log is read to the end.
 *
 * @module
 */
import { sleep } from "../system/sleep.ts";
import type { KubeClient } from "./kube_client.ts";

/** Options of {@linkcode streamPodLogs}. */
export interface StreamPodLogsOptions {
  /** The pod's namespace. */
  namespace: string;
  /** The pod. */
  pod: string;
  /** The container. */
  container: string;
  /** Receives each line (without its timestamp and line break). */
  onLine: (line: string) => void;
  /** Aborting stops following. */
  signal?: AbortSignal;
  /** A connection with no byte for this long is dropped and resumed (ms, default 300 000). */
  idleTimeoutMs?: number;
  /** Called when the connection is resumed (for a progress line). */
  onResume?: (reason: string) => void;
}

const TIMESTAMP_RE = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z) ?/;

/** The container's state: `gone` (no pod), `terminated`, or `running` (or not started yet). */
async function containerState(
  client: KubeClient,
  options: StreamPodLogsOptions,
): Promise<"gone" | "terminated" | "running"> {
  const pod = await client.json<{
    status?: { containerStatuses?: { name: string; state?: { terminated?: unknown } }[] };
  }>("GET", `/api/v1/namespaces/${options.namespace}/pods/${options.pod}`, {
    allow: [404],
    ...(options.signal !== undefined ? { signal: options.signal } : {}),
  });
  if (pod === undefined) return "gone";
  const status = pod.status?.containerStatuses?.find((c) => c.name === options.container);
  return status?.state?.terminated !== undefined ? "terminated" : "running";
}

/**
 * Streams a container's log to `onLine` until the container has terminated and everything it
 * wrote was shown (or the pod is gone, or `signal` aborts). While the container is still
 * starting (the server answers 400) it waits and asks again.
 *
 * @param client The API client.
 * @param options Pod, container, line callback, abort signal, idle timeout.
 * @returns When the log is complete.
 * @throws {KubeApiError} For an API error other than "not started yet" or "gone".
 *
 * @example
 * ```ts ignore
 * await streamPodLogs(client, { namespace: "ml", pod: "p-abc", container: "p", onLine: console.log });
 * ```
 */
export async function streamPodLogs(
  client: KubeClient,
  options: StreamPodLogsOptions,
): Promise<void> {
  const { signal } = options;
  let lastStamp: string | undefined;
  let seenAtLast = 0;
  let waitMs = 200;
  let failures = 0;
  // Once the container has terminated, one more read takes what it wrote after the last stream
  // ended (lines already shown are skipped); that read ends the stream.
  let finalRead = false;
  let waitingAfterEnd = 0;
  const path = `/api/v1/namespaces/${options.namespace}/pods/${options.pod}/log`;
  while (!signal?.aborted) {
    let skipAtLast = lastStamp === undefined ? 0 : seenAtLast;
    let dropped: string | undefined;
    try {
      const res = await client.request("GET", path, {
        query: {
          follow: "true",
          timestamps: "true",
          container: options.container,
          // The API takes whole seconds: lines up to the last one shown are skipped below.
          ...(lastStamp !== undefined ? { sinceTime: lastStamp.replace(/\.\d+Z$/, "Z") } : {}),
        },
        accept: "*/*",
        allow: [400, 404],
        timeoutMs: options.idleTimeoutMs ?? 300_000,
        action: `follow the log of pod ${options.pod}`,
        ...(signal !== undefined ? { signal } : {}),
      });
      if (res.status === 404) {
        await res.body?.cancel();
        return;
      }
      if (res.status === 400) {
        // "container … is waiting to start": ask again shortly.
        await res.body?.cancel();
        const state = await containerState(client, options);
        // Gone, or terminated without ever running (nothing to read).
        if (state === "gone" || (state === "terminated" && ++waitingAfterEnd > 3)) return;
        await sleep(waitMs, signal).catch(() => {});
        waitMs = Math.min(waitMs * 1.5, 2000);
        continue;
      }
      const decoder = new TextDecoder();
      let pending = "";
      const emit = (raw: string) => {
        const m = TIMESTAMP_RE.exec(raw);
        if (m === null) {
          options.onLine(raw);
          return;
        }
        const stamp = m[1]!;
        if (lastStamp !== undefined) {
          if (stamp < lastStamp) return;
          if (stamp === lastStamp && skipAtLast > 0) {
            skipAtLast--;
            return;
          }
        }
        if (stamp === lastStamp) seenAtLast++;
        else {
          lastStamp = stamp;
          seenAtLast = 1;
          skipAtLast = 0;
        }
        options.onLine(raw.slice(m[0].length));
      };
      for await (const chunk of res.body ?? []) {
        const parts = (pending + decoder.decode(chunk, { stream: true })).split("\n");
        pending = parts.pop()!;
        for (const line of parts) emit(line);
      }
      pending += decoder.decode();
      if (pending !== "") emit(pending);
    } catch (e) {
      if (signal?.aborted) return;
      dropped = e instanceof Error ? e.message : String(e);
      failures++;
    }
    if (finalRead && dropped === undefined) return;
    // The stream ended: the container exited, or the connection dropped while it runs.
    const state = await containerState(client, options).catch(() => "running" as const);
    if (state === "gone" || failures > 5) return;
    if (state === "terminated") {
      finalRead = true;
      continue;
    }
    // A clean end while the container runs (a server or proxy timeout) is resumed quietly.
    if (dropped !== undefined) options.onResume?.(dropped);
    await sleep(dropped === undefined ? 200 : 1000, signal).catch(() => {});
  }
}
