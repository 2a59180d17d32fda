import assert from "node:assert/strict";
import { parseKubernetesConfig } from "../../lib/kubernetes/backend_config.ts";
import { tempDir } from "../_helpers/cli.ts";

const YAML_TEMPLATE = `apiVersion: batch/v1
kind: Job
metadata:
  name: "{replaced with MLflow Project name}"
  namespace: mlflow
spec:
  ttlSecondsAfterFinished: 100
  backoffLimit: 0
  template:
    spec:
      containers:
      - name: "{replaced}"
        image: "{replaced}"
        command: ["{replaced}"]
      restartPolicy: Never
`;

Deno.test("backend config checks give MLflow's message for each missing piece", async () => {
  await using dir = await tempDir();
  const cwd = dir.path;
  await assert.rejects(
    parseKubernetesConfig({}, { cwd }),
    /^ExecutionException: Backend_config file not found\.$/,
  );
  await assert.rejects(
    parseKubernetesConfig({ "repository-uri": "r/p" }, { cwd }),
    (e: Error) =>
      e.message === "'kube-job-template-path' attribute must be specified in backend_config.",
  );
  await assert.rejects(
    parseKubernetesConfig({ "kube-job-template-path": "nope.yaml" }, { cwd }),
    (e: Error) => e.message === "Could not find 'kube-job-template-path': nope.yaml",
  );
  await Deno.writeTextFile(`${cwd}/job.yaml`, YAML_TEMPLATE);
  await assert.rejects(
    parseKubernetesConfig({ "kube-job-template-path": "job.yaml" }, { cwd }),
    (e: Error) => e.message === "Could not find 'repository-uri' in backend_config.",
  );
  await assert.rejects(
    parseKubernetesConfig({ "kube-job-template-path": "job.yaml", "repository-uri": "r/p:tag" }, {
      cwd,
    }),
    /must be an image repository without tag/,
  );
});

Deno.test("YAML and JSON templates load; metadata.namespace and a container are required", async () => {
  await using dir = await tempDir();
  const cwd = dir.path;
  await Deno.writeTextFile(`${cwd}/job.yaml`, YAML_TEMPLATE);
  const kube = await parseKubernetesConfig({
    "kube-job-template-path": "job.yaml",
    "repository-uri": "127.0.0.1:5000/team/p",
    "kube-context": "dev",
  }, { cwd });
  assert.equal(kube.namespace, "mlflow");
  assert.equal(kube.context, "dev");
  assert.equal(kube.repositoryUri, "127.0.0.1:5000/team/p");
  // Integers are JSON numbers, not strings or bigints.
  assert.equal((kube.template.spec as { backoffLimit: unknown }).backoffLimit, 0);

  const json = JSON.stringify({
    metadata: { name: "x" },
    spec: { template: { spec: { containers: [{ name: "c" }] } } },
  });
  await Deno.writeTextFile(`${cwd}/job.json`, json);
  const config = { "kube-job-template-path": `${cwd}/job.json`, "repository-uri": "r/p" };
  await assert.rejects(parseKubernetesConfig(config, { cwd }), /must set 'metadata.namespace'/);
  await Deno.writeTextFile(
    `${cwd}/job.json`,
    JSON.stringify({ metadata: { namespace: "n" }, spec: { template: { spec: {} } } }),
  );
  await assert.rejects(parseKubernetesConfig(config, { cwd }), /must hold at least one container/);
});
