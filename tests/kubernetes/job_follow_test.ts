/**
 * Following a Job against a scripted API server: MLflow's status mapping and log lines, live
 * logs of the pod, pods that cannot start ending the run with one line.
 */
import assert from "node:assert/strict";
import { KubeClient } from "../../lib/kubernetes/kube_client.ts";
import { followJob } from "../../lib/kubernetes/job_follow.ts";
import type { LogLevel } from "../../lib/system/output.ts";

type Pod = Record<string, unknown>;

function cluster(
  script: { job: (n: number) => Record<string, unknown>; pods: (n: number) => Pod[] },
) {
  let jobReads = 0;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
    const url = new URL(req.url);
    if (url.pathname === "/apis/batch/v1/namespaces/ns/jobs/j/status") {
      return Response.json({ kind: "Job", status: script.job(++jobReads) });
    }
    if (url.pathname === "/api/v1/namespaces/ns/pods") {
      assert.equal(url.searchParams.get("labelSelector"), "job-name=j");
      return Response.json({ kind: "PodList", items: script.pods(jobReads) });
    }
    if (url.pathname === "/api/v1/namespaces/ns/pods/j-abc/log") {
      return new Response(
        "2026-11-30T10:00:01.000000000Z hello\n2026-11-30T10:00:01.500000000Z metric logged\n",
      );
    }
    if (url.pathname === "/api/v1/namespaces/ns/pods/j-abc") {
      return Response.json({
        status: { containerStatuses: [{ name: "c", state: { terminated: {} } }] },
      });
    }
    return new Response("not found", { status: 404 });
  });
  const client = new KubeClient({
    source: "test",
    server: `http://127.0.0.1:${(server.addr as Deno.NetAddr).port}`,
    insecureSkipTlsVerify: false,
  }, { env: {} });
  return {
    client,
    async [Symbol.asyncDispose]() {
      client.close();
      await server.shutdown();
    },
  };
}

function recorder() {
  const lines: string[] = [];
  return { lines, reporter: { log: (l: LogLevel, m: string) => lines.push(`${l} ${m}`) } };
}

Deno.test("a Job is FINISHED on its Complete condition (not on SuccessCriteriaMet), with its pod's log streamed", async () => {
  await using c = cluster({
    job: (n) =>
      n === 1 ? {} : n < 4 ? { startTime: "2026-11-30T10:00:00Z", active: 1 } : {
        startTime: "2026-11-30T10:00:00Z",
        conditions: [
          {
            type: "SuccessCriteriaMet",
            status: "True",
            message: "Reached expected number of succeeded pods",
          },
          {
            type: "Complete",
            status: "True",
            message: "Reached expected number of succeeded pods",
          },
        ],
      },
    pods: (n) =>
      n < 2
        ? []
        : [{ metadata: { name: "j-abc" }, status: { phase: n < 4 ? "Running" : "Succeeded" } }],
  });
  const { lines, reporter } = recorder();
  const logs: string[] = [];
  const outcome = await followJob(c.client, {
    namespace: "ns",
    name: "j",
    container: "c",
    reporter,
    onLogLine: (l) => logs.push(l),
    maxPollMs: 50,
  });
  assert.deepEqual(outcome, { status: "FINISHED" });
  assert.deepEqual(logs, ["hello", "metric logged"]);
  assert.deepEqual(lines, [
    "INFO Waiting for Job to start",
    "INFO Job started.",
    "INFO Reached expected number of succeeded pods",
  ]);
});

Deno.test("a Failed condition is FAILED", async () => {
  await using c = cluster({
    job: () => ({
      startTime: "2026-11-30T10:00:00Z",
      conditions: [{
        type: "Failed",
        status: "True",
        reason: "BackoffLimitExceeded",
        message: "Job has reached the specified backoff limit",
      }],
    }),
    pods: () => [],
  });
  const { lines, reporter } = recorder();
  const outcome = await followJob(c.client, {
    namespace: "ns",
    name: "j",
    container: "c",
    reporter,
    onLogLine: () => {},
  });
  assert.equal(outcome.status, "FAILED");
  assert.ok(lines.includes("INFO Job has reached the specified backoff limit"));
});

for (
  const [what, pod, line] of [
    [
      "an image that cannot be pulled",
      {
        status: {
          phase: "Pending",
          containerStatuses: [{
            name: "c",
            state: {
              waiting: {
                reason: "ImagePullBackOff",
                message: 'Back-off pulling image "r/p@sha256:00"',
              },
            },
          }],
        },
      },
      'Pod j-abc cannot start: ImagePullBackOff: Back-off pulling image "r/p@sha256:00"',
    ],
    [
      "a missing secret",
      {
        status: {
          phase: "Pending",
          containerStatuses: [{
            name: "c",
            state: {
              waiting: { reason: "CreateContainerConfigError", message: 'secret "s" not found' },
            },
          }],
        },
      },
      'Pod j-abc cannot start: CreateContainerConfigError: secret "s" not found',
    ],
    [
      "an unschedulable pod",
      {
        status: {
          phase: "Pending",
          conditions: [{
            type: "PodScheduled",
            status: "False",
            reason: "Unschedulable",
            message: "0/3 nodes are available: 3 Insufficient memory.",
          }],
        },
      },
      "Pod j-abc cannot be scheduled: 0/3 nodes are available: 3 Insufficient memory.",
    ],
  ] as const
) {
  Deno.test(`${what} ends the run FAILED with one line instead of waiting forever`, async () => {
    await using c = cluster({
      job: () => ({ startTime: "2026-11-30T10:00:00Z", active: 1 }),
      pods: () => [{ metadata: { name: "j-abc" }, ...pod }],
    });
    const { reporter } = recorder();
    const outcome = await followJob(c.client, {
      namespace: "ns",
      name: "j",
      container: "c",
      reporter,
      onLogLine: () => {},
    });
    assert.deepEqual(outcome, { status: "FAILED", startFailure: line });
  });
}

Deno.test("aborting the signal stops following: KILLED", async () => {
  await using c = cluster({
    job: () => ({ startTime: "2026-11-30T10:00:00Z", active: 1 }),
    pods: () => [],
  });
  const { reporter } = recorder();
  const stop = new AbortController();
  const followed = followJob(c.client, {
    namespace: "ns",
    name: "j",
    container: "c",
    reporter,
    onLogLine: () => {},
    signal: stop.signal,
  });
  stop.abort();
  assert.deepEqual(await followed, { status: "KILLED" });
});
