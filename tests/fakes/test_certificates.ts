/**
 * X.509 v3 test certificates made with openssl (a CA, a server certificate for 127.0.0.1, a
 * client certificate, and a combined client PEM as MLFLOW_TRACKING_CLIENT_CERT_PATH wants), and
 * a mutual-TLS front (Python `ssl` with CERT_REQUIRED, since Deno.serve cannot ask for client
 * certificates) that forwards to a plain local port.
 */

/** Paths and PEM texts of the generated certificates. */
export interface TestCertificates {
  dir: string;
  caCertPath: string;
  serverCert: string;
  serverKey: string;
  serverCertPath: string;
  serverKeyPath: string;
  /** Client certificate followed by its key, in one file. */
  clientPemPath: string;
  /** Client certificate alone (CN `test-user`, X.509 v3, signed by the CA). */
  clientCertPath: string;
  /** Its private key alone (PKCS#8 PEM). */
  clientKeyPath: string;
  /** A second CA that signed nothing we serve. */
  otherCaPath: string;
}

/** Runs `openssl` in `dir`; throws with its stderr when it fails. */
export async function openssl(dir: string, ...args: string[]): Promise<void> {
  const out = await new Deno.Command("openssl", { args, cwd: dir, stdout: "null", stderr: "piped" })
    .output();
  if (!out.success) {
    throw new Error(`openssl ${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr)}`);
  }
}

/** Generates the certificates into `dir`. */
export async function makeTestCertificates(dir: string): Promise<TestCertificates> {
  await openssl(
    dir,
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    "ca.key",
    "-out",
    "ca.crt",
    "-days",
    "2",
    "-subj",
    "/CN=test-ca",
  );
  await openssl(
    dir,
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    "other.key",
    "-out",
    "other.crt",
    "-days",
    "2",
    "-subj",
    "/CN=other-ca",
  );
  await openssl(
    dir,
    "req",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    "server.key",
    "-out",
    "server.csr",
    "-subj",
    "/CN=127.0.0.1",
  );
  await Deno.writeTextFile(`${dir}/san.ext`, "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
  await openssl(
    dir,
    "x509",
    "-req",
    "-in",
    "server.csr",
    "-CA",
    "ca.crt",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-out",
    "server.crt",
    "-days",
    "2",
    "-extfile",
    "san.ext",
  );
  await openssl(
    dir,
    "req",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    "client.key",
    "-out",
    "client.csr",
    "-subj",
    "/CN=test-user",
  );
  await Deno.writeTextFile(
    `${dir}/client.ext`,
    "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n",
  );
  await openssl(
    dir,
    "x509",
    "-req",
    "-in",
    "client.csr",
    "-CA",
    "ca.crt",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-out",
    "client.crt",
    "-days",
    "2",
    "-extfile",
    "client.ext",
  );
  const clientPem = (await Deno.readTextFile(`${dir}/client.crt`)) +
    (await Deno.readTextFile(`${dir}/client.key`));
  await Deno.writeTextFile(`${dir}/client.pem`, clientPem);
  return {
    dir,
    caCertPath: `${dir}/ca.crt`,
    serverCert: await Deno.readTextFile(`${dir}/server.crt`),
    serverKey: await Deno.readTextFile(`${dir}/server.key`),
    serverCertPath: `${dir}/server.crt`,
    serverKeyPath: `${dir}/server.key`,
    clientPemPath: `${dir}/client.pem`,
    clientCertPath: `${dir}/client.crt`,
    clientKeyPath: `${dir}/client.key`,
    otherCaPath: `${dir}/other.crt`,
  };
}

const PROXY_PY = `
import socket, ssl, sys, threading
cert, key, ca, backend = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
anonymous = int(sys.argv[5]) if len(sys.argv) > 5 else 0
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
ctx.load_verify_locations(ca)
ctx.verify_mode = ssl.CERT_OPTIONAL if anonymous else ssl.CERT_REQUIRED
srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen(64)
print(srv.getsockname()[1], flush=True)
def pump(a, b):
    try:
        while True:
            data = a.recv(65536)
            if not data:
                break
            b.sendall(data)
    except OSError:
        pass
    finally:
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
def serve(raw):
    try:
        conn = ctx.wrap_socket(raw, server_side=True)
    except (ssl.SSLError, OSError) as e:
        print("handshake-failed", e, file=sys.stderr, flush=True)
        raw.close()
        return
    peer = conn.getpeercert()
    cn = dict(x[0] for x in peer["subject"]).get("commonName") if peer else None
    print("client", cn, file=sys.stderr, flush=True)
    up = socket.create_connection(("127.0.0.1", backend if peer else anonymous))
    threading.Thread(target=pump, args=(conn, up), daemon=True).start()
    pump(up, conn)
while True:
    raw, _ = srv.accept()
    threading.Thread(target=serve, args=(raw,), daemon=True).start()
`;

/** A running mutual-TLS front. */
export interface MtlsProxy extends AsyncDisposable {
  url: string;
}

/** Options of {@linkcode startMtlsProxy}. */
export interface MtlsProxyOptions {
  /**
   * Make the client certificate optional: connections that present none go to this plain port
   * instead of `backendPort` (so the backend knows which connections a certificate
   * authenticated). A certificate that does not verify still fails the handshake.
   */
  withoutCertPort?: number;
}

/**
 * Starts an mTLS front on 127.0.0.1 that forwards to `backendPort` (plain HTTP).
 *
 * @example
 * ```ts ignore
 * await using proxy = await startMtlsProxy(certs, plain.port);
 * ```
 */
export async function startMtlsProxy(
  certs: TestCertificates,
  backendPort: number,
  options: MtlsProxyOptions = {},
): Promise<MtlsProxy> {
  const child = new Deno.Command("python3", {
    args: [
      "-c",
      PROXY_PY,
      certs.serverCertPath,
      certs.serverKeyPath,
      certs.caCertPath,
      String(backendPort),
      ...(options.withoutCertPort === undefined ? [] : [String(options.withoutCertPort)]),
    ],
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error("mTLS proxy did not start");
    text += value;
  }
  const drained = (async () => {
    while (!(await reader.read().catch(() => ({ done: true }))).done) { /* drain */ }
  })();
  return {
    url: `https://127.0.0.1:${text.trim()}`,
    async [Symbol.asyncDispose]() {
      try {
        child.kill("SIGKILL");
      } catch { /* gone */ }
      await child.status;
      await drained;
    },
  };
}
