/**
 * The client's authentication against the fake API server (validated with kubectl and the
 * official Python client): each kind of kubeconfig user, reached through a context that is not
 * the current one (the current one points at a dead server).
 */
import assert from "node:assert/strict";
import { resolveClusterAccess } from "../../lib/kubernetes/cluster_access.ts";
import { KubeClient } from "../../lib/kubernetes/kube_client.ts";
import { startFakeKube } from "../_helpers/fake_kube.ts";
import type { KubeconfigAuth } from "../_helpers/fake_kube.ts";
import { tempDir } from "../_helpers/cli.ts";

const CASES: [string, KubeconfigAuth, "token" | "basic" | "client-cert", boolean][] = [
  ["token", { kind: "token" }, "token", false],
  ["token file", { kind: "tokenFile" }, "token", false],
  ["basic auth", { kind: "basic", username: "ada", password: "pw" }, "basic", false],
  ["client certificate files", { kind: "clientCert" }, "client-cert", true],
  ["client certificate data", { kind: "clientCert", inline: true }, "client-cert", true],
  ["exec plugin v1 token", { kind: "exec" }, "token", false],
  [
    "exec plugin v1beta1 token",
    { kind: "exec", apiVersion: "client.authentication.k8s.io/v1beta1", expiresInSeconds: 600 },
    "token",
    false,
  ],
  ["exec plugin client certificate", { kind: "exec", clientCert: true }, "client-cert", true],
];

for (const [what, auth, seen, clientCert] of CASES) {
  Deno.test(`kube-context with ${what} reaches the fake API server, not the current context`, async () => {
    await using dir = await tempDir();
    await using kube = await startFakeKube({
      clientCert,
      basicAuth: { username: "ada", password: "pw" },
    });
    const config = `${dir.path}/kube/config`;
    await kube.writeKubeconfig(config, {
      contexts: [
        { name: "dead", server: "https://127.0.0.1:1" },
        { name: "good", auth, namespace: "mlflow" },
      ],
      currentContext: "dead",
    });
    const access = resolveClusterAccess({ env: { KUBECONFIG: config }, context: "good" });
    const client = new KubeClient(access, { env: { PATH: Deno.env.get("PATH") ?? "" } });
    try {
      const list = await client.json<{ kind: string }>(
        "GET",
        "/apis/batch/v1/namespaces/mlflow/jobs",
      );
      assert.equal(list?.kind, "JobList");
    } finally {
      client.close();
    }
    assert.equal(kube.requests.at(-1)?.auth, seen);
  });
}
