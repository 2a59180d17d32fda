/**
 * TLS settings Deno's fetch cannot express, sent by `httpRequest` through the private
 * `node:https` transport: skipping verification, checking another server name (SNI), with a
 * streaming body, abort and idle timeouts as on the fetch path.
 */
import assert from "node:assert/strict";
import {
  createTlsClient,
  httpRequest,
  HttpRequestError,
  HttpSettingError,
} from "../../lib/http/http_client.ts";
import { tempDir } from "../_helpers/cli.ts";

async function openssl(dir: string, ...args: string[]): Promise<void> {
  const out = await new Deno.Command("openssl", { args, cwd: dir, stdout: "null", stderr: "piped" })
    .output();
  if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
}

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

Deno.test("a proxy cannot be combined with skipping verification: one clear error", () => {
  assert.throws(
    () => createTlsClient({ proxyUrl: "http://127.0.0.1:3128" }, { insecureSkipVerify: true }),
    (e) =>
      e instanceof HttpSettingError &&
      e.message ===
        "A proxy (http://127.0.0.1:3128) cannot be combined with skipping TLS verification in mlproject",
  );
});
