/**
 * kubeconfig's `insecure-skip-tls-verify` and `tls-server-name` against the fake API server, as
 * kubectl honours them: a Job runs end to end (create, follow, live log) with verification off,
 * a client certificate is still presented, and a server name replaces the URL's host in the check
 * (tests/http/node_transport_test.ts reaches an IP with a certificate naming only the server name).
 */
import assert from "node:assert/strict";
import { resolveClusterAccess } from "../../lib/kubernetes/cluster_access.ts";
import { followJob } from "../../lib/kubernetes/job_follow.ts";
import { KubeClient } from "../../lib/kubernetes/kube_client.ts";
import type { ClusterAccess } from "../../lib/kubernetes/kubeconfig.ts";
import type { LogLevel } from "../../lib/system/output.ts";
import { startFakeKube } from "../_helpers/fake_kube.ts";
import { tempDir } from "../_helpers/cli.ts";

function recorder() {
  const lines: string[] = [];
  return { lines, reporter: { log: (l: LogLevel, m: string) => lines.push(`${l} ${m}`) } };
}

Deno.test("an insecure-skip-tls-verify context runs a Job end to end with one warning line", async () => {
  await using dir = await tempDir();
  await using kube = await startFakeKube({ kubelet: "none" });
  const config = `${dir.path}/config`;
  await kube.writeKubeconfig(config, {
    contexts: [{ name: "insecure", ca: "insecure" }, { name: "unverified", ca: "none" }],
  });
  // Without the switch and without a CA, the fake's certificate is refused.
  const strict = new KubeClient(
    resolveClusterAccess({ env: { KUBECONFIG: config }, context: "unverified" }),
    { env: {}, maxRetries: 0 },
  );
  try {
    await assert.rejects(strict.json("GET", "/version"), /certificate/i);
  } finally {
    strict.close();
  }

  const access = resolveClusterAccess({ env: { KUBECONFIG: config }, context: "insecure" });
  const { lines, reporter } = recorder();
  const client = new KubeClient(access, { env: {}, reporter });
  try {
    const created = await client.json<{ metadata: { name: string } }>(
      "POST",
      "/apis/batch/v1/namespaces/mlflow/jobs",
      {
        body: {
          apiVersion: "batch/v1",
          kind: "Job",
          metadata: { name: "insecure-run" },
          spec: {
            backoffLimit: 0,
            template: {
              spec: { restartPolicy: "Never", containers: [{ name: "main", image: "x:1" }] },
            },
          },
        },
      },
    );
    assert.equal(created?.metadata.name, "insecure-run");
    const logs: string[] = [];
    const { promise: firstLine, resolve: sawFirstLine } = Promise.withResolvers<void>();
    const following = followJob(client, {
      namespace: "mlflow",
      name: "insecure-run",
      container: "main",
      reporter,
      onLogLine: (line) => {
        logs.push(line);
        sawFirstLine();
      },
      maxPollMs: 100,
    });
    const pod = await kube.waitFor(() => kube.pods("mlflow", "job-name=insecure-run")[0]);
    const podName = pod.metadata.name!;
    kube.startPod("mlflow", podName);
    kube.appendLog("mlflow", podName, "hello over unverified TLS\n");
    await firstLine; // streamed live: the container is still running
    kube.appendLog("mlflow", podName, "done\n");
    kube.finishPod("mlflow", podName, 0);
    assert.deepEqual(await following, { status: "FINISHED" });
    assert.deepEqual(logs, ["hello over unverified TLS", "done"]);
  } finally {
    client.close();
  }
  const warnings = lines.filter((l) => l.startsWith("WARNING"));
  assert.deepEqual(warnings, [
    `WARNING ${access.source} sets insecure-skip-tls-verify: the API server's TLS certificate is not verified (${kube.url})`,
  ]);
  const ours = kube.requests.filter((r) => r.auth === "token");
  assert.ok(ours.some((r) => r.method === "POST"), "the Job was created with the token");
  assert.ok(ours.some((r) => /\/log(\?|$)/.test(r.path)), "the log was streamed");
});

Deno.test("an insecure-skip-tls-verify context still presents its client certificate", async () => {
  await using dir = await tempDir();
  await using kube = await startFakeKube({ clientCert: true });
  const config = `${dir.path}/config`;
  await kube.writeKubeconfig(config, {
    contexts: [{ name: "mtls", ca: "insecure", auth: { kind: "clientCert", inline: true } }],
  });
  const access = resolveClusterAccess({ env: { KUBECONFIG: config } });
  const client = new KubeClient(access, { env: {} });
  try {
    const list = await client.json<{ kind: string }>(
      "GET",
      "/apis/batch/v1/namespaces/mlflow/jobs",
    );
    assert.equal(list?.kind, "JobList");
  } finally {
    client.close();
  }
  assert.equal(kube.requests.at(-1)?.auth, "client-cert");
});

Deno.test("tls-server-name replaces the URL's host in the check of the API server's certificate", async () => {
  await using kube = await startFakeKube();
  // The fake's certificate names 127.0.0.1 (the URL's host) and localhost.
  const base: ClusterAccess = {
    source: "test",
    server: kube.url,
    insecureSkipTlsVerify: false,
    caPem: kube.caPem,
    token: kube.token,
  };
  const cases = [[undefined, true], ["localhost", true], ["other.example", false]] as const;
  for (const [name, ok] of cases) {
    const { lines, reporter } = recorder();
    const client = new KubeClient(
      name === undefined ? base : { ...base, tlsServerName: name },
      { env: {}, reporter, maxRetries: 0 },
    );
    try {
      const request = client.json<{ gitVersion: string }>("GET", "/version");
      if (ok) assert.match((await request)!.gitVersion, /^v1\./);
      else {await assert.rejects(
          request,
          /other\.example.*certificate|certificate.*other\.example/i,
        );}
    } finally {
      client.close();
    }
    assert.deepEqual(lines, [], "no warning for a server name");
  }
});
