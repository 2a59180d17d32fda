/**
 * kubeconfig loading as kubectl does: KUBECONFIG lists merged first-wins, ~/.kube/config,
 * contexts, relative paths, inline data, every kind of user credential.
 */
import assert from "node:assert/strict";
import {
  KubeconfigError,
  kubeconfigFiles,
  loadKubeconfig,
} from "../../lib/kubernetes/kubeconfig.ts";
import { tempDir } from "../_helpers/cli.ts";

const b64 = (s: string) => btoa(s);

Deno.test("KUBECONFIG files are merged first-wins per name and current-context comes from the first file setting it", async () => {
  await using dir = await tempDir();
  const a = `${dir.path}/a.yaml`;
  const b = `${dir.path}/sub/b.yaml`;
  await Deno.mkdir(`${dir.path}/sub`);
  await Deno.writeTextFile(
    a,
    `apiVersion: v1
kind: Config
clusters:
- name: c1
  cluster: {server: "https://first:6443/"}
users:
- name: u1
  user: {token: first-token}
contexts:
- name: dev
  context: {cluster: c1, user: u1, namespace: team}
`,
  );
  await Deno.writeTextFile(
    b,
    `current-context: prod
clusters:
- name: c1
  cluster: {server: "https://second:6443"}
- name: c2
  cluster:
    server: https://prod:6443
    certificate-authority: ca/ca.pem
users:
- name: u1
  user: {token: second-token}
- name: u2
  user:
    tokenFile: tok
contexts:
- name: dev
  context: {cluster: c2, user: u2}
- name: prod
  context: {cluster: c2, user: u2}
`,
  );
  await Deno.mkdir(`${dir.path}/sub/ca`);
  await Deno.writeTextFile(`${dir.path}/sub/ca/ca.pem`, "CA-PEM");
  const env = { KUBECONFIG: `${a}:${dir.path}/missing.yaml:${b}` };
  assert.deepEqual(kubeconfigFiles(env), [a, b]);

  const dev = loadKubeconfig({ env, context: "dev" })!;
  assert.equal(dev.server, "https://first:6443");
  assert.equal(dev.token, "first-token");
  assert.equal(dev.namespace, "team");
  assert.equal(dev.context, "dev");

  const prod = loadKubeconfig({ env })!;
  assert.equal(prod.context, "prod");
  assert.equal(prod.server, "https://prod:6443");
  // Relative paths belong to the file that holds the entry.
  assert.equal(prod.caPem, "CA-PEM");
  assert.equal(prod.tokenFile, `${dir.path}/sub/tok`);
  assert.equal(prod.token, undefined);
});

Deno.test("~/.kube/config is read when KUBECONFIG is unset; no file means no kubeconfig", async () => {
  await using dir = await tempDir();
  assert.equal(loadKubeconfig({ env: { HOME: dir.path } }), undefined);
  await Deno.mkdir(`${dir.path}/.kube`);
  await Deno.writeTextFile(
    `${dir.path}/.kube/config`,
    `current-context: x
clusters: [{name: c, cluster: {server: "https://h:1", certificate-authority-data: ${
      b64("CA-DATA")
    }, insecure-skip-tls-verify: true, proxy-url: "http://proxy:3128"}}]
users: [{name: u, user: {client-certificate-data: ${b64("CERT")}, client-key-data: ${
      b64("KEY")
    }, username: ada, password: pw}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
`,
  );
  const access = loadKubeconfig({ env: { HOME: dir.path } })!;
  assert.equal(access.caPem, "CA-DATA");
  assert.equal(access.clientCertPem, "CERT");
  assert.equal(access.clientKeyPem, "KEY");
  assert.equal(access.insecureSkipTlsVerify, true);
  assert.equal(access.proxyUrl, "http://proxy:3128");
  assert.equal(access.username, "ada");
  assert.equal(access.password, "pw");
});

Deno.test("an unknown context, cluster or user, or no current-context, is a one-line KubeconfigError", async () => {
  await using dir = await tempDir();
  const file = `${dir.path}/config`;
  const env = { KUBECONFIG: file };
  await Deno.writeTextFile(
    file,
    `clusters: [{name: c, cluster: {server: "https://h:1"}}]
contexts: [{name: x, context: {cluster: c, user: nobody}}, {name: y, context: {cluster: gone}}]
`,
  );
  assert.throws(
    () => loadKubeconfig({ env }),
    (e: Error) =>
      e instanceof KubeconfigError && /sets no current-context: set 'kube-context'/.test(e.message),
  );
  assert.throws(
    () => loadKubeconfig({ env, context: "nope" }),
    new RegExp(`context 'nope' does not exist in kubeconfig ${file}`),
  );
  assert.throws(() => loadKubeconfig({ env, context: "x" }), /user 'nobody' of context 'x'/);
  assert.throws(() => loadKubeconfig({ env, context: "y" }), /cluster 'gone' of context 'y'/);
  await Deno.writeTextFile(file, "clusters: [");
  assert.throws(() => loadKubeconfig({ env }), /is not valid YAML/);
});

Deno.test("exec plugin settings: v1 needs interactiveMode, v1beta1 defaults to IfAvailable, relative commands resolve", async () => {
  await using dir = await tempDir();
  const file = `${dir.path}/config`;
  const write = (exec: string) =>
    Deno.writeTextFile(
      file,
      `current-context: x
clusters: [{name: c, cluster: {server: "https://h:1"}}]
users: [{name: u, user: {exec: ${exec}}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
`,
    );
  const env = { KUBECONFIG: file };
  await write(
    `{apiVersion: client.authentication.k8s.io/v1beta1, command: ./bin/plugin, args: [a, 1], env: [{name: K, value: V}]}`,
  );
  const exec = loadKubeconfig({ env })!.exec!;
  assert.equal(exec.command, `${dir.path}/bin/plugin`);
  assert.deepEqual(exec.args, ["a", "1"]);
  assert.deepEqual(exec.env, [{ name: "K", value: "V" }]);
  assert.equal(exec.interactiveMode, "IfAvailable");
  await write(`{apiVersion: client.authentication.k8s.io/v1, command: aws}`);
  assert.throws(
    () => loadKubeconfig({ env }),
    /interactiveMode must be Never, IfAvailable or Always/,
  );
  await write(`{apiVersion: client.authentication.k8s.io/v1alpha1, command: aws}`);
  assert.throws(() => loadKubeconfig({ env }), /v1alpha1' is not supported/);
});
