/**
 * Following a pod's log against a scripted API server: waiting while the container starts,
 * resuming a dropped or idle stream from the last line shown without repeating lines.
 */
import assert from "node:assert/strict";
import { KubeClient } from "../../lib/kubernetes/kube_client.ts";
import { streamPodLogs } from "../../lib/kubernetes/log_stream.ts";

const enc = new TextEncoder();

function scripted(
  handler: (req: Request, url: URL) => Response | Promise<Response>,
) {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    (req) => handler(req, new URL(req.url)),
  );
  const url = `http://127.0.0.1:${(server.addr as Deno.NetAddr).port}`;
  const client = new KubeClient({ source: "test", server: url, insecureSkipTlsVerify: false }, {
    env: {},
    backoffFactor: 0.001,
  });
  return {
    client,
    async [Symbol.asyncDispose]() {
      client.close();
      await server.shutdown();
    },
  };
}

const LINES = [
  "2026-11-30T10:00:01.100000000Z one",
  "2026-11-30T10:00:02.100000000Z two",
  "2026-11-30T10:00:02.200000000Z three",
  "2026-11-30T10:00:03.000000000Z four",
  "2026-11-30T10:00:04.000000000Z five",
];

Deno.test("the log is followed once the container starts, and a dropped stream resumes from sinceTime without repeats", async () => {
  const requests: URL[] = [];
  let terminated = false;
  await using s = scripted((_req, url) => {
    if (url.pathname.endsWith("/log")) {
      requests.push(url);
      const n = requests.length;
      if (n === 1) {
        return Response.json({
          kind: "Status",
          code: 400,
          reason: "BadRequest",
          message: 'container "c" in pod "p" is waiting to start: ContainerCreating',
        }, { status: 400 });
      }
      if (n === 2) {
        // Three lines, then the connection breaks.
        const body = new ReadableStream<Uint8Array>({
          start(c) {
            c.enqueue(enc.encode(LINES.slice(0, 3).join("\n") + "\n"));
          },
          pull(c) {
            c.error(new Error("connection reset"));
          },
        });
        return new Response(body, { headers: { "content-type": "text/plain" } });
      }
      // Resumed at whole seconds: "two" and "three" come again and must not be shown twice.
      terminated = true;
      const since = url.searchParams.get("sinceTime")!;
      const from = LINES.filter((l) => l.slice(0, 19) + "Z" >= since);
      return new Response(from.join("\n") + "\n");
    }
    // The pod: running until the last log request.
    return Response.json({
      status: {
        containerStatuses: [{
          name: "c",
          state: terminated ? { terminated: {} } : { running: {} },
        }],
      },
    });
  });
  const shown: string[] = [];
  const resumes: string[] = [];
  await streamPodLogs(s.client, {
    namespace: "ns",
    pod: "p",
    container: "c",
    onLine: (l) => shown.push(l),
    onResume: (why) => resumes.push(why),
  });
  assert.deepEqual(shown, ["one", "two", "three", "four", "five"]);
  // The fourth request is the final read after the container terminated (nothing new in it).
  assert.equal(requests.length, 4);
  assert.equal(requests[1]!.searchParams.get("follow"), "true");
  assert.equal(requests[1]!.searchParams.get("container"), "c");
  assert.equal(requests[2]!.searchParams.get("sinceTime"), "2026-11-30T10:00:02Z");
  assert.equal(resumes.length, 1);
});

Deno.test("lines written between the end of a stream and the container's end are not lost", async () => {
  let n = 0;
  let terminated = false;
  await using s = scripted((_req, url) => {
    if (url.pathname.endsWith("/log")) {
      n++;
      // The first stream ends cleanly with one line; the container writes one more and exits.
      if (n === 1) return new Response(LINES[0] + "\n");
      terminated = true;
      return new Response(LINES.slice(0, 2).join("\n") + "\n");
    }
    const done = terminated || n >= 1;
    return Response.json({
      status: {
        containerStatuses: [{ name: "c", state: done ? { terminated: {} } : { running: {} } }],
      },
    });
  });
  const shown: string[] = [];
  await streamPodLogs(s.client, {
    namespace: "ns",
    pod: "p",
    container: "c",
    onLine: (l) => shown.push(l),
  });
  assert.deepEqual(shown, ["one", "two"]);
});

Deno.test("a log stream idle longer than the idle timeout is resumed, not ended", async () => {
  let n = 0;
  let terminated = false;
  await using s = scripted((_req, url) => {
    if (url.pathname.endsWith("/log")) {
      n++;
      if (n === 1) {
        // One line, then silence (the connection stays open).
        const body = new ReadableStream<Uint8Array>({
          start(c) {
            c.enqueue(enc.encode(LINES[0] + "\n"));
          },
        });
        return new Response(body);
      }
      terminated = true;
      return new Response(LINES.slice(0, 2).join("\n") + "\n");
    }
    return Response.json({
      status: {
        containerStatuses: [{
          name: "c",
          state: terminated ? { terminated: {} } : { running: {} },
        }],
      },
    });
  });
  const shown: string[] = [];
  await streamPodLogs(s.client, {
    namespace: "ns",
    pod: "p",
    container: "c",
    idleTimeoutMs: 300,
    onLine: (l) => shown.push(l),
  });
  assert.deepEqual(shown, ["one", "two"]);
  assert.equal(n, 3);
});
