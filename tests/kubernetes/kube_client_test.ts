/**
 * The Kubernetes REST client against real TLS servers on 127.0.0.1: the CA from the kubeconfig,
 * bearer tokens (static, token file, exec plugins v1 and v1beta1 with expiry and 401 renewal),
 * basic auth, client certificates, and API errors shown with code, reason and message.
 */
import assert from "node:assert/strict";
import { KubeApiError, KubeClient } from "../../lib/kubernetes/kube_client.ts";
import { loadKubeconfig } from "../../lib/kubernetes/kubeconfig.ts";
import { resolveClusterAccess } from "../../lib/kubernetes/cluster_access.ts";
import type { LogLevel } from "../../lib/system/output.ts";
import { tempDir } from "../_helpers/cli.ts";
import { makeTestCertificates, startMtlsProxy } from "../fakes/test_certificates.ts";

interface Seen {
  auth: string | null;
  path: string;
}

async function apiServer(
  certs: { serverCert: string; serverKey: string } | undefined,
  accept: (auth: string | null) => boolean,
) {
  const seen: Seen[] = [];
  const server = Deno.serve(
    {
      hostname: "127.0.0.1",
      port: 0,
      onListen: () => {},
      ...(certs ? { cert: certs.serverCert, key: certs.serverKey } : {}),
    },
    (req) => {
      const url = new URL(req.url);
      seen.push({ auth: req.headers.get("authorization"), path: url.pathname });
      if (!accept(req.headers.get("authorization"))) {
        return Response.json({
          kind: "Status",
          apiVersion: "v1",
          status: "Failure",
          message: "Unauthorized",
          reason: "Unauthorized",
          code: 401,
        }, { status: 401 });
      }
      if (url.pathname === "/version") return Response.json({ gitVersion: "v1.31.0" });
      return Response.json({
        kind: "Status",
        apiVersion: "v1",
        status: "Failure",
        message: 'jobs.batch "x" already exists',
        reason: "AlreadyExists",
        details: { name: "x", group: "batch", kind: "jobs" },
        code: 409,
      }, { status: 409 });
    },
  );
  await Promise.resolve();
  return {
    url: `${certs ? "https" : "http"}://127.0.0.1:${(server.addr as Deno.NetAddr).port}`,
    port: (server.addr as Deno.NetAddr).port,
    seen,
    async [Symbol.asyncDispose]() {
      await server.shutdown();
    },
  };
}

function kubeconfig(server: string, caPath: string, user: string): string {
  return `apiVersion: v1
kind: Config
current-context: test
clusters:
- name: c
  cluster:
    server: ${server}
    certificate-authority: ${caPath}
users:
- name: u
  user:
${user.split("\n").map((l) => `    ${l}`).join("\n")}
contexts:
- name: test
  context: {cluster: c, user: u}
`;
}

Deno.test("a token user reaches a TLS API server trusting the kubeconfig's CA; errors show code, reason and message", async () => {
  await using dir = await tempDir();
  const certs = await makeTestCertificates(dir.path);
  await using s = await apiServer(certs, (a) => a === "Bearer static-token");
  await Deno.writeTextFile(
    `${dir.path}/config`,
    kubeconfig(s.url, "ca.crt", "token: static-token"),
  );
  const access = loadKubeconfig({ env: { KUBECONFIG: `${dir.path}/config` } })!;
  const client = new KubeClient(access, { env: {} });
  try {
    assert.deepEqual(await client.json("GET", "/version"), { gitVersion: "v1.31.0" });
    await assert.rejects(
      client.json("POST", "/apis/batch/v1/namespaces/ns/jobs", {
        body: {},
        action: "create Job x",
      }),
      (e: Error) =>
        e instanceof KubeApiError && e.code === 409 && e.reason === "AlreadyExists" &&
        e.message ===
          `Kubernetes API: create Job x failed: 409 AlreadyExists: jobs.batch "x" already exists`,
    );
  } finally {
    client.close();
  }
  // Without the CA the certificate is refused.
  const untrusted = new KubeClient({ ...access, caPem: undefined } as typeof access, {
    env: {},
    maxRetries: 0,
  });
  try {
    await assert.rejects(untrusted.json("GET", "/version"), /certificate/i);
  } finally {
    untrusted.close();
  }
});

Deno.test("basic auth and a token file read again for each request", async () => {
  await using dir = await tempDir();
  const certs = await makeTestCertificates(dir.path);
  let valid = "Bearer one";
  await using s = await apiServer(
    certs,
    (a) => a === valid || a === `Basic ${btoa("ada:secret")}`,
  );
  await Deno.writeTextFile(`${dir.path}/tok`, "one\n");
  await Deno.writeTextFile(`${dir.path}/config`, kubeconfig(s.url, "ca.crt", "tokenFile: tok"));
  const env = { KUBECONFIG: `${dir.path}/config` };
  const client = new KubeClient(loadKubeconfig({ env })!, { env: {} });
  try {
    await client.json("GET", "/version");
    await Deno.writeTextFile(`${dir.path}/tok`, "two\n");
    valid = "Bearer two";
    await client.json("GET", "/version");
    assert.deepEqual(s.seen.map((x) => x.auth), ["Bearer one", "Bearer two"]);
  } finally {
    client.close();
  }
  await Deno.writeTextFile(
    `${dir.path}/config`,
    kubeconfig(s.url, "ca.crt", "username: ada\npassword: secret"),
  );
  const basic = new KubeClient(loadKubeconfig({ env })!, { env: {} });
  try {
    await basic.json("GET", "/version");
  } finally {
    basic.close();
  }
});

const PLUGIN = `#!/bin/sh
# A fake exec credential plugin: counts its runs, records its input, prints a token per run.
n=$(($(cat "$STATE/count" 2>/dev/null || echo 0) + 1))
echo "$n" > "$STATE/count"
printf '%s' "$KUBERNETES_EXEC_INFO" > "$STATE/info-$n"
echo "$@" > "$STATE/args"
expiry=""
if [ -n "$EXPIRES" ]; then expiry=", \\"expirationTimestamp\\": \\"$EXPIRES\\""; fi
printf '{"apiVersion": "%s", "kind": "ExecCredential", "status": {"token": "tok-%s"%s}}\\n' "$API" "$n" "$expiry"
`;

async function execSetup(dir: string, apiVersion: string, url: string, extra = "") {
  await Deno.writeTextFile(`${dir}/plugin.sh`, PLUGIN);
  await Deno.chmod(`${dir}/plugin.sh`, 0o755);
  await Deno.mkdir(`${dir}/state`, { recursive: true });
  await Deno.writeTextFile(
    `${dir}/config`,
    kubeconfig(
      url,
      "ca.crt",
      `exec:
  apiVersion: ${apiVersion}
  command: ./plugin.sh
  args: [get-token, --cluster, c]
  interactiveMode: Never
  provideClusterInfo: true
  env:
  - {name: STATE, value: ${dir}/state}
  - {name: API, value: ${apiVersion}}${extra}`,
    ),
  );
  return loadKubeconfig({ env: { KUBECONFIG: `${dir}/config` } })!;
}

for (
  const apiVersion of ["client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1"]
) {
  Deno.test(`exec plugin ${apiVersion}: runs once, gets KUBERNETES_EXEC_INFO, is re-run after expiry and after a 401`, async () => {
    await using dir = await tempDir();
    const certs = await makeTestCertificates(dir.path);
    let accepted = new Set(["Bearer tok-1"]);
    await using s = await apiServer(certs, (a) => a !== null && accepted.has(a));
    const access = await execSetup(dir.path, apiVersion, s.url);
    // No expiry: the token is kept until the server refuses it.
    const client = new KubeClient(access, { env: { PATH: Deno.env.get("PATH")!, EXPIRES: "" } });
    try {
      await client.json("GET", "/version");
      await client.json("GET", "/version");
      assert.equal((await Deno.readTextFile(`${dir.path}/state/count`)).trim(), "1");
      const info = JSON.parse(await Deno.readTextFile(`${dir.path}/state/info-1`));
      assert.equal(info.apiVersion, apiVersion);
      assert.equal(info.kind, "ExecCredential");
      assert.equal(info.spec.interactive, false);
      assert.equal(info.spec.cluster.server, s.url);
      assert.equal(
        (await Deno.readTextFile(`${dir.path}/state/args`)).trim(),
        "get-token --cluster c",
      );
      // The server stops accepting tok-1: the 401 makes the client run the plugin again.
      accepted = new Set(["Bearer tok-2"]);
      await client.json("GET", "/version");
      assert.equal((await Deno.readTextFile(`${dir.path}/state/count`)).trim(), "2");
    } finally {
      client.close();
    }
    // A credential that has expired is renewed before the request.
    accepted = new Set(["Bearer tok-3", "Bearer tok-4"]);
    const past = new Date(Date.now() - 1000).toISOString();
    const expiring = new KubeClient(access, {
      env: { PATH: Deno.env.get("PATH")!, EXPIRES: past },
    });
    try {
      await expiring.json("GET", "/version");
      await expiring.json("GET", "/version");
      assert.equal((await Deno.readTextFile(`${dir.path}/state/count`)).trim(), "4");
      assert.deepEqual(s.seen.slice(-2).map((x) => x.auth), ["Bearer tok-3", "Bearer tok-4"]);
    } finally {
      expiring.close();
    }
  });
}

Deno.test("exec plugin with interactiveMode Always and no terminal, or bad output, fails with one line", async () => {
  await using dir = await tempDir();
  const certs = await makeTestCertificates(dir.path);
  await using s = await apiServer(certs, () => true);
  const access = await execSetup(dir.path, "client.authentication.k8s.io/v1", s.url);
  const always = { ...access, exec: { ...access.exec!, interactiveMode: "Always" as const } };
  const client = new KubeClient(always, { env: {}, stdinIsTerminal: false });
  try {
    await assert.rejects(client.json("GET", "/version"), /needs an interactive terminal/);
  } finally {
    client.close();
  }
  const wrong = {
    ...access,
    exec: { ...access.exec!, env: [...access.exec!.env, { name: "API", value: "v9" }] },
  };
  const bad = new KubeClient(wrong, { env: { PATH: Deno.env.get("PATH")! } });
  try {
    await assert.rejects(
      bad.json("GET", "/version"),
      /expected an ExecCredential of client\.authentication\.k8s\.io\/v1/,
    );
  } finally {
    bad.close();
  }
  const missing = {
    ...access,
    exec: { ...access.exec!, command: `${dir.path}/nope`, installHint: "install nope" },
  };
  const none = new KubeClient(missing, { env: {} });
  try {
    await assert.rejects(none.json("GET", "/version"), /Cannot run exec plugin .*install nope/);
  } finally {
    none.close();
  }
});

Deno.test("client certificate data from the kubeconfig authenticates to a mutual-TLS server", async () => {
  await using dir = await tempDir();
  const certs = await makeTestCertificates(dir.path);
  await using s = await apiServer(undefined, (a) => a === null);
  await using proxy = await startMtlsProxy(certs, s.port);
  await Deno.writeTextFile(
    `${dir.path}/config`,
    kubeconfig(proxy.url, "ca.crt", `client-certificate: client.crt\nclient-key: client.key`),
  );
  const access = loadKubeconfig({ env: { KUBECONFIG: `${dir.path}/config` } })!;
  const client = new KubeClient(access, { env: {} });
  try {
    assert.deepEqual(await client.json("GET", "/version"), { gitVersion: "v1.31.0" });
  } finally {
    client.close();
  }
});

Deno.test("no kubeconfig: in-cluster configuration with MLflow's log line, token re-read from the service account", async () => {
  await using dir = await tempDir();
  const certs = await makeTestCertificates(dir.path);
  await using s = await apiServer(certs, (a) => a === "Bearer sa-token");
  const sa = `${dir.path}/sa`;
  await Deno.mkdir(sa);
  await Deno.writeTextFile(`${sa}/token`, "sa-token");
  await Deno.copyFile(certs.caCertPath, `${sa}/ca.crt`);
  const lines: string[] = [];
  const reporter = { log: (_l: LogLevel, m: string) => lines.push(m) };
  const env = {
    HOME: dir.path,
    KUBERNETES_SERVICE_HOST: "127.0.0.1",
    KUBERNETES_SERVICE_PORT: String(s.port),
  };
  const access = resolveClusterAccess({ env, reporter, serviceAccountDir: sa });
  assert.deepEqual(lines, ["No valid kube config found, using in-cluster configuration"]);
  assert.equal(access.server, `https://127.0.0.1:${s.port}`);
  const client = new KubeClient(access, { env: {} });
  try {
    assert.deepEqual(await client.json("GET", "/version"), { gitVersion: "v1.31.0" });
  } finally {
    client.close();
  }
  assert.throws(
    () => resolveClusterAccess({ env: { HOME: dir.path }, serviceAccountDir: sa }),
    /No kubeconfig found .* no in-cluster configuration/,
  );
  // A kubeconfig with a bad context falls back to in-cluster too (MLflow), else says why.
  await Deno.writeTextFile(`${dir.path}/config`, "current-context: nope\n");
  const bad = { KUBECONFIG: `${dir.path}/config` };
  assert.equal(
    resolveClusterAccess({ env: { ...env, ...bad }, serviceAccountDir: sa }).source,
    "in-cluster configuration",
  );
  assert.throws(() => resolveClusterAccess({ env: bad }), /context 'nope' does not exist/);
  const ipv6 = resolveClusterAccess({
    env: { HOME: dir.path, KUBERNETES_SERVICE_HOST: "fd00::1", KUBERNETES_SERVICE_PORT: "443" },
    serviceAccountDir: sa,
  });
  assert.equal(ipv6.server, "https://[fd00::1]:443");
});
