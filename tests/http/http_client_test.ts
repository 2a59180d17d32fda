/**
 * The one HTTP helper: retries, Retry-After, timeouts, MLflow's env settings, TLS clients.
 */
import assert from "node:assert/strict";
import {
  basicAuthorization,
  createTlsClient,
  httpRequest,
  HttpRequestError,
  httpRetryOptionsFromEnv,
  HttpSettingError,
  splitPem,
} from "../../lib/http/http_client.ts";
import { tempDir } from "../_helpers/cli.ts";
import { makeTestCertificates } from "../fakes/test_certificates.ts";

function serve(
  handler: (n: number, req: Request) => Response | Promise<Response>,
  tls?: { cert: string; key: string },
) {
  let n = 0;
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {}, ...(tls ?? {}) },
    (req) => handler(++n, req),
  );
  const port = (server.addr as Deno.NetAddr).port;
  return Promise.resolve({
    url: `${tls ? "https" : "http"}://127.0.0.1:${port}/`,
    count: () => n,
    async [Symbol.asyncDispose]() {
      await server.shutdown();
    },
  });
}

const FAST = { backoffFactor: 0.001, backoffJitter: 0 };

Deno.test("httpRetryOptionsFromEnv() has MLflow's defaults and limits, fractions allowed", () => {
  assert.deepEqual(httpRetryOptionsFromEnv({}), {
    maxRetries: 7,
    backoffFactor: 2,
    backoffJitter: 1,
    timeoutMs: 120_000,
  });
  assert.deepEqual(
    httpRetryOptionsFromEnv({
      MLFLOW_HTTP_REQUEST_MAX_RETRIES: "0",
      MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR: "0.05",
      MLFLOW_HTTP_REQUEST_BACKOFF_JITTER: "0",
      MLFLOW_HTTP_REQUEST_TIMEOUT: "1.5",
    }),
    { maxRetries: 0, backoffFactor: 0.05, backoffJitter: 0, timeoutMs: 1500 },
  );
  assert.equal(
    httpRetryOptionsFromEnv({
      MLFLOW_HTTP_REQUEST_MAX_RETRIES: "12",
      _MLFLOW_HTTP_REQUEST_MAX_RETRIES_LIMIT: "20",
    }).maxRetries,
    12,
  );
  for (
    const [k, v] of [
      ["MLFLOW_HTTP_REQUEST_MAX_RETRIES", "10"],
      ["MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1.5"],
      ["MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "120"],
      ["MLFLOW_HTTP_REQUEST_TIMEOUT", "-1"],
      ["MLFLOW_HTTP_REQUEST_TIMEOUT", "abc"],
    ]
  ) {
    assert.throws(
      () => httpRetryOptionsFromEnv({ [k!]: v! }),
      (e: Error) =>
        e instanceof HttpSettingError && e.message.includes(`${k} must be`) &&
        e.message.includes(`'${v}'`),
    );
  }
});

Deno.test("httpRequest() retries 5xx and POSTs, then returns the last answer when retries run out", async () => {
  await using ok = await serve((n) =>
    new Response(n < 3 ? "busy" : "done", { status: n < 3 ? 503 : 200 })
  );
  const res = await httpRequest(ok.url, { ...FAST, method: "POST", body: "x", maxRetries: 3 });
  assert.equal(await res.text(), "done");
  assert.equal(ok.count(), 3);
  await using bad = await serve(() => new Response("no", { status: 500 }));
  const last = await httpRequest(bad.url, { ...FAST, maxRetries: 2 });
  assert.equal(last.status, 500);
  await last.body?.cancel();
  assert.equal(bad.count(), 3);
  await using notFound = await serve(() => new Response("?", { status: 404 }));
  const nf = await httpRequest(notFound.url, { ...FAST, maxRetries: 5 });
  assert.equal(nf.status, 404);
  await nf.body?.cancel();
  assert.equal(notFound.count(), 1);
});

Deno.test("httpRequest() lets Retry-After replace the backoff on 429", async () => {
  await using s = await serve((n) =>
    n === 1
      ? new Response("", { status: 429, headers: { "retry-after": "0.3" } })
      : new Response("ok")
  );
  const started = performance.now();
  const res = await httpRequest(s.url, { backoffFactor: 100, backoffJitter: 0, maxRetries: 2 });
  await res.body?.cancel();
  const took = performance.now() - started;
  assert.ok(took >= 290 && took < 5000, String(took));
});

Deno.test("httpRequest() times out per attempt and names the timeout, and fails on refused connections", async () => {
  await using slow = await serve(async () => {
    await new Promise((r) => setTimeout(r, 600));
    return new Response("late");
  });
  await assert.rejects(
    () => httpRequest(slow.url, { ...FAST, timeoutMs: 100, maxRetries: 1 }),
    (e: Error) => e instanceof HttpRequestError && e.message.includes("timed out after 0.1 s"),
  );
  const retries: string[] = [];
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const closedPort = (listener.addr as Deno.NetAddr).port;
  listener.close();
  await assert.rejects(
    () =>
      httpRequest(`http://127.0.0.1:${closedPort}/`, {
        ...FAST,
        maxRetries: 2,
        onRetry: (_n, why) => retries.push(why),
      }),
    (e: Error) => e instanceof HttpRequestError && e.message.includes("(after 3 attempts)"),
  );
  assert.equal(retries.length, 2);
});

Deno.test("createTlsClient() trusts a CA file and splitPem() separates certificate and key", async () => {
  await using dir = await tempDir();
  const certs = await makeTestCertificates(dir.path);
  await using s = await serve(() => new Response("secure"), {
    cert: certs.serverCert,
    key: certs.serverKey,
  });
  const client = createTlsClient({ caCertPath: certs.caCertPath })!;
  try {
    assert.equal(await (await httpRequest(s.url, { client, maxRetries: 0 })).text(), "secure");
  } finally {
    client.close();
  }
  await assert.rejects(() => httpRequest(s.url, { maxRetries: 0 }), HttpRequestError);
  const { certs: c, key } = splitPem(await Deno.readTextFile(certs.clientPemPath));
  assert.match(c, /^-----BEGIN CERTIFICATE-----/);
  assert.match(key, /^-----BEGIN PRIVATE KEY-----/);
  assert.equal(createTlsClient({}), undefined);
  assert.throws(
    () => createTlsClient({ caCertPath: `${dir.path}/missing.pem` }),
    /Cannot read CA certificate file/,
  );
  assert.equal(basicAuthorization("user", "pässword"), `Basic ${btoa("user:p\u00c3\u00a4ssword")}`);
});

Deno.test("httpRequest() does not retry a host name that does not resolve", async () => {
  const { httpRequest, HttpRequestError } = await import("../../lib/http/http_client.ts");
  let retries = 0;
  const started = performance.now();
  await assert.rejects(
    httpRequest("http://no-such-host.invalid/x", {
      maxRetries: 5,
      backoffFactor: 1,
      onRetry: () => retries++,
    }),
    HttpRequestError,
  );
  assert.equal(retries, 0);
  assert.ok(performance.now() - started < 5000);
});

/** A TCP server on 127.0.0.1 that accepts connections and closes them or never answers. */
function rawServer(mode: "close" | "silent") {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held: Deno.Conn[] = [];
  let connections = 0;
  const accepting = (async () => {
    try {
      for await (const conn of listener) {
        connections++;
        if (mode === "close") conn.close();
        else held.push(conn);
      }
    } catch { /* closed */ }
  })();
  return {
    url: `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}/p.zip`,
    connections: () => connections,
    async [Symbol.asyncDispose]() {
      listener.close();
      await accepting;
      for (const c of held) c.close();
    },
  };
}

Deno.test("httpRequest() reports each retry with the wait before it, then gives up", async () => {
  await using server = rawServer("close");
  const retries: [number, number][] = [];
  await assert.rejects(
    httpRequest(server.url, {
      maxRetries: 3,
      backoffFactor: 0.01,
      backoffJitter: 0,
      onRetry: (n, _why, wait) => retries.push([n, wait]),
    }),
    (e: Error) => e instanceof HttpRequestError && e.message.includes("(after 4 attempts)"),
  );
  assert.deepEqual(retries, [[1, 0], [2, 20], [3, 40]]);
  assert.equal(server.connections(), 4);
});

Deno.test("httpRequest() does not retry a blocked port, an invalid URL or an untrusted certificate", async () => {
  await using dir = await tempDir();
  const certs = await makeTestCertificates(dir.path);
  await using tls = await serve(() => new Response("secure"), {
    cert: certs.serverCert,
    key: certs.serverKey,
  });
  const cases: [string, RegExp][] = [
    ["http://127.0.0.1:1/p.zip", /Requests to port 1 are blocked/],
    ["http://[::1/p.zip", /Invalid URL/],
    ["ftp://127.0.0.1/p.zip", /not supported/],
    [tls.url, /certificate/],
  ];
  for (const [url, reason] of cases) {
    let retries = 0;
    await assert.rejects(
      httpRequest(url, { maxRetries: 5, backoffFactor: 10, onRetry: () => retries++ }),
      (e: Error) => e instanceof HttpRequestError && reason.test(e.message),
    );
    assert.equal(retries, 0, url);
  }
  assert.equal(tls.count(), 0);
});

Deno.test("httpRequest() times out waiting for headers and for a stalled body, never a flowing body", async () => {
  await using silent = rawServer("silent");
  await assert.rejects(
    httpRequest(silent.url, { maxRetries: 0, timeoutMs: 300 }),
    (e: Error) => e instanceof HttpRequestError && e.message.endsWith("timed out after 0.3 s"),
  );
  // 25 chunks 60 ms apart: the body takes ~1.5 s, longer than the 0.8 s timeout.
  const chunks = 25;
  await using flowing = await serve(() => {
    let sent = 0;
    return new Response(
      new ReadableStream({
        async pull(c) {
          await new Promise((r) => setTimeout(r, 60));
          if (sent++ < chunks) c.enqueue(new TextEncoder().encode("x"));
          else c.close();
        },
      }),
    );
  });
  const started = performance.now();
  const res = await httpRequest(flowing.url, { maxRetries: 0, timeoutMs: 800 });
  assert.equal(await res.text(), "x".repeat(chunks));
  assert.ok(performance.now() - started > 800, "the body outlasted the timeout");
  // The stalled body ends once the client gave up (or after 5 s, so a missing timeout fails the
  // assertion instead of hanging): the server's shutdown never depends on noticing the closed
  // connection.
  let release!: () => void;
  const released = new Promise<void>((r) => {
    const stall = setTimeout(r, 5000);
    release = () => {
      clearTimeout(stall);
      r();
    };
  });
  await using stalled = await serve(() =>
    new Response(
      new ReadableStream({
        start(c) {
          c.enqueue(new TextEncoder().encode("first"));
        },
        async pull(c) {
          await released;
          c.close();
        },
      }),
    )
  );
  const res2 = await httpRequest(stalled.url, { maxRetries: 0, timeoutMs: 300 });
  await assert.rejects(
    res2.text(),
    (e: Error) =>
      e instanceof HttpRequestError &&
      e.message.endsWith("no data received for 0.3 s while reading the body"),
  );
  release();
});
