/**
 * TLS settings Deno's fetch cannot express, sent by `httpRequest` through the private
 * `node:https` transport: skipping verification, checking another server name (SNI), with a
 * streaming body, abort and idle timeouts as on the fetch path, and through an http:// proxy.
 */
import assert from "node:assert/strict";
import {
  createTlsClient,
  httpRequest,
  HttpRequestError,
  HttpSettingError,
} from "../../lib/http/http_client.ts";
import { tempDir } from "../_helpers/cli.ts";
import { openssl } from "../fakes/test_certificates.ts";

/** A CA and a server certificate signed by it, valid for `san` only (EC keys: fast). */
async function certificates(
  dir: string,
  san: string,
): Promise<{ caPem: string; cert: string; key: string }> {
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  await openssl(
    dir,
    "req",
    "-x509",
    ...ec,
    "-keyout",
    "ca.key",
    "-out",
    "ca.crt",
    "-days",
    "2",
    "-subj",
    "/CN=test-ca",
  );
  await openssl(dir, "req", ...ec, "-keyout", "s.key", "-out", "s.csr", "-subj", "/CN=server");
  await Deno.writeTextFile(`${dir}/san.ext`, `subjectAltName=${san}\n`);
  await openssl(
    dir,
    "x509",
    "-req",
    "-in",
    "s.csr",
    "-CA",
    "ca.crt",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-out",
    "s.crt",
    "-days",
    "2",
    "-extfile",
    "san.ext",
  );
  return {
    caPem: await Deno.readTextFile(`${dir}/ca.crt`),
    cert: await Deno.readTextFile(`${dir}/s.crt`),
    key: await Deno.readTextFile(`${dir}/s.key`),
  };
}

function serveTls(
  tls: { cert: string; key: string },
  handler: (req: Request) => Response | Promise<Response>,
) {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {}, cert: tls.cert, key: tls.key },
    handler,
  );
  return {
    url: `https://127.0.0.1:${(server.addr as Deno.NetAddr).port}/`,
    async [Symbol.asyncDispose]() {
      await server.shutdown();
    },
  };
}

const NO_RETRY = { maxRetries: 0 };

Deno.test("a server certificate from an unknown CA is refused, and accepted with insecureSkipVerify", async () => {
  await using dir = await tempDir();
  const certs = await certificates(dir.path, "IP:127.0.0.1");
  await using server = serveTls(
    certs,
    async (req) =>
      new Response(`${req.method} ${req.headers.get("content-type")} ${await req.text()}`, {
        headers: { "x-seen": "yes" },
      }),
  );
  await assert.rejects(
    httpRequest(server.url, NO_RETRY),
    (e) => e instanceof HttpRequestError && /certificate/i.test(e.message),
  );
  using insecure = createTlsClient({}, { insecureSkipVerify: true })!;
  const res = await httpRequest(`${server.url}echo?q=1`, {
    ...NO_RETRY,
    client: insecure,
    method: "POST",
    body: JSON.stringify({ a: 1 }),
    headers: { "content-type": "application/json" },
  });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("x-seen"), "yes");
  assert.equal(await res.text(), 'POST application/json {"a":1}');
  const again = await httpRequest(server.url, { ...NO_RETRY, client: insecure });
  assert.equal(await again.text(), "GET null ");
});

Deno.test("a body through the node transport arrives chunk by chunk while the server still writes", async () => {
  await using dir = await tempDir();
  const certs = await certificates(dir.path, "IP:127.0.0.1");
  const { promise: firstSeen, resolve: sawFirst } = Promise.withResolvers<void>();
  const encoder = new TextEncoder();
  await using server = serveTls(certs, () =>
    new Response(
      new ReadableStream<Uint8Array>({
        async start(c) {
          c.enqueue(encoder.encode("line 1\n"));
          await firstSeen; // the server finishes only once the client has read line 1
          c.enqueue(encoder.encode("line 2\n"));
          c.close();
        },
      }),
    ));
  using insecure = createTlsClient({}, { insecureSkipVerify: true })!;
  const res = await httpRequest(server.url, { ...NO_RETRY, client: insecure });
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  assert.deepEqual(await reader.read(), { value: "line 1\n", done: false });
  sawFirst();
  assert.deepEqual(await reader.read(), { value: "line 2\n", done: false });
  assert.equal((await reader.read()).done, true);
});

Deno.test("aborting stops the node transport before the headers and in the middle of the body", async () => {
  await using dir = await tempDir();
  const certs = await certificates(dir.path, "IP:127.0.0.1");
  const { promise: release, resolve: releaseAll } = Promise.withResolvers<void>();
  await using server = serveTls(certs, async (req) => {
    if (new URL(req.url).pathname === "/hang") {
      await release;
      return new Response("late");
    }
    return new Response(
      new ReadableStream<Uint8Array>({
        async start(c) {
          c.enqueue(new TextEncoder().encode("first"));
          await release;
          c.close();
        },
      }),
    );
  });
  using insecure = createTlsClient({}, { insecureSkipVerify: true })!;
  try {
    const before = new AbortController();
    const pending = httpRequest(`${server.url}hang`, {
      ...NO_RETRY,
      client: insecure,
      signal: before.signal,
    });
    before.abort(new Error("stop waiting"));
    await assert.rejects(pending, /stop waiting/);

    const during = new AbortController();
    const res = await httpRequest(server.url, {
      ...NO_RETRY,
      client: insecure,
      signal: during.signal,
    });
    const reader = res.body!.getReader();
    assert.equal(new TextDecoder().decode((await reader.read()).value), "first");
    during.abort(new Error("stop reading"));
    await assert.rejects(reader.read(), /stop reading/);

    const idle = await httpRequest(server.url, { ...NO_RETRY, client: insecure, timeoutMs: 300 });
    const idleReader = idle.body!.getReader();
    assert.equal(new TextDecoder().decode((await idleReader.read()).value), "first");
    await assert.rejects(idleReader.read(), /no data received for 0.3 s while reading the body/);
  } finally {
    releaseAll();
  }
});

Deno.test("serverName verifies a certificate made for that name when the URL names an IP", async () => {
  await using dir = await tempDir();
  const certs = await certificates(dir.path, "DNS:kube.example");
  await using server = serveTls(
    certs,
    (req) => new Response(`sni ok ${new URL(req.url).pathname}`),
  );
  const withName = createTlsClient({ caCertPem: certs.caPem }, { serverName: "kube.example" })!;
  const withoutName = createTlsClient({ caCertPem: certs.caPem })!;
  const otherName = createTlsClient({ caCertPem: certs.caPem }, { serverName: "other.example" })!;
  try {
    const res = await httpRequest(`${server.url}version`, { ...NO_RETRY, client: withName });
    assert.equal(await res.text(), "sni ok /version");
    for (const client of [withoutName, otherName]) {
      await assert.rejects(
        httpRequest(server.url, { maxRetries: 3, client }),
        (e) =>
          e instanceof HttpRequestError && /certificate/i.test(e.message) &&
          !/attempts/.test(e.message),
      );
    }
    // A name does not replace trust: without the CA the same server is refused.
    using untrusted = createTlsClient({}, { serverName: "kube.example" })!;
    await assert.rejects(
      httpRequest(server.url, { ...NO_RETRY, client: untrusted }),
      /certificate/i,
    );
  } finally {
    withName.close();
    withoutName.close();
    otherName.close();
  }
});

/** A forward proxy: `CONNECT` tunnels and absolute-URI requests, recording each request line. */
function startProxy(expectedAuth?: string) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const seen: string[] = [];
  const conns = new Set<Deno.Conn>();
  const encoder = new TextEncoder();
  const serveOne = async (conn: Deno.Conn) => {
    const buf = new Uint8Array(65536);
    let head = "";
    let n: number | null = 0;
    while (!head.includes("\r\n\r\n") && (n = await conn.read(buf)) !== null) {
      head += new TextDecoder().decode(buf.subarray(0, n));
    }
    const [line = ""] = head.split("\r\n");
    const auth = /\r\nproxy-authorization: ([^\r]*)/i.exec(head)?.[1];
    seen.push(`${line}${auth === undefined ? "" : ` (${auth})`}`);
    if (expectedAuth !== undefined && auth !== expectedAuth) {
      await conn.write(encoder.encode("HTTP/1.1 407 Proxy Authentication Required\r\n\r\n"));
      return conn.close();
    }
    const connect = /^CONNECT ([^ ]+):(\d+) /.exec(line);
    const absolute = /^[A-Z]+ (http:\/\/[^ ]+) /.exec(line);
    const target = connect
      ? { hostname: connect[1]!, port: Number(connect[2]) }
      : { hostname: new URL(absolute![1]!).hostname, port: Number(new URL(absolute![1]!).port) };
    const upstream = await Deno.connect(target);
    conns.add(upstream);
    if (connect) {
      await conn.write(encoder.encode("HTTP/1.1 200 Connection established\r\n\r\n"));
    } else {
      const url = new URL(absolute![1]!);
      await upstream.write(encoder.encode(head.replace(url.href, url.pathname + url.search)));
    }
    await Promise.all([
      conn.readable.pipeTo(upstream.writable).catch(() => {}),
      upstream.readable.pipeTo(conn.writable).catch(() => {}),
    ]);
  };
  (async () => {
    for await (const conn of listener) {
      conns.add(conn);
      serveOne(conn).catch(() => {});
    }
  })().catch(() => {});
  return {
    url: `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`,
    seen,
    [Symbol.dispose]() {
      listener.close();
      for (const c of conns) {
        try {
          c.close();
        } catch {
          // already closed
        }
      }
    },
  };
}

Deno.test("through an http:// proxy: a CONNECT tunnel for HTTPS (verification settings kept), absolute URIs for HTTP", async () => {
  await using dir = await tempDir();
  const certs = await certificates(dir.path, "DNS:kube.example");
  await using server = serveTls(
    certs,
    (req) => new Response(`tunnelled ${new URL(req.url).pathname}`),
  );
  const plain = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    (req) => new Response(`plain ${new URL(req.url).pathname}`),
  );
  using proxy = startProxy("Basic dTpwIHc=");
  const proxyUrl = proxy.url.replace("http://", "http://u:p%20w@");
  const authority = new URL(server.url).host;
  const insecure = createTlsClient({ proxyUrl }, { insecureSkipVerify: true })!;
  const named = createTlsClient({ proxyUrl, caCertPem: certs.caPem }, {
    serverName: "kube.example",
  })!;
  const unnamed = createTlsClient({ proxyUrl }, { serverName: "kube.example" })!;
  try {
    assert.equal(
      await (await httpRequest(`${server.url}a`, { ...NO_RETRY, client: insecure })).text(),
      "tunnelled /a",
    );
    assert.equal(
      await (await httpRequest(`${server.url}b`, { ...NO_RETRY, client: named })).text(),
      "tunnelled /b",
    );
    await assert.rejects(
      httpRequest(`${server.url}c`, { ...NO_RETRY, client: unnamed }),
      /certificate/i,
    );
    const plainUrl = `http://127.0.0.1:${(plain.addr as Deno.NetAddr).port}/d?x=1`;
    assert.equal(
      await (await httpRequest(plainUrl, { ...NO_RETRY, client: insecure })).text(),
      "plain /d",
    );
    assert.deepEqual(proxy.seen, [
      `CONNECT ${authority} HTTP/1.1 (Basic dTpwIHc=)`,
      `CONNECT ${authority} HTTP/1.1 (Basic dTpwIHc=)`,
      `CONNECT ${authority} HTTP/1.1 (Basic dTpwIHc=)`,
      `GET ${plainUrl} HTTP/1.1 (Basic dTpwIHc=)`,
    ]);
  } finally {
    insecure.close();
    named.close();
    unnamed.close();
    await plain.shutdown();
  }
});

Deno.test("a proxy refusing the tunnel is one clear error; only http:// proxies go with these settings", async () => {
  using proxy = startProxy("Basic right");
  using client = createTlsClient({ proxyUrl: proxy.url }, { insecureSkipVerify: true })!;
  await assert.rejects(
    httpRequest("https://127.0.0.1:9/", { ...NO_RETRY, client }),
    (e) =>
      e instanceof HttpRequestError &&
      e.message.includes("refused CONNECT 127.0.0.1:9: HTTP/1.1 407 Proxy Authentication Required"),
  );
  assert.throws(
    () => createTlsClient({ proxyUrl: "socks5://127.0.0.1:1080" }, { insecureSkipVerify: true }),
    (e) =>
      e instanceof HttpSettingError &&
      e.message ===
        "The proxy 'socks5://127.0.0.1:1080' cannot be combined with skipping TLS verification: only an http:// proxy can",
  );
});
