import assert from "node:assert/strict";
import {
  buildJobManifest,
  dnsLabel,
  kubernetesJobName,
} from "../../lib/kubernetes/job_manifest.ts";

const TEMPLATE = {
  apiVersion: "batch/v1",
  kind: "Job",
  metadata: { name: "{replaced with MLflow Project name}", namespace: "mlflow" },
  spec: {
    ttlSecondsAfterFinished: 100,
    backoffLimit: 0,
    template: {
      spec: {
        containers: [{
          name: "{replaced with MLflow Project name}",
          image: "{replaced with URI of Docker image created during Project execution}",
          command: ["{replaced with MLflow Project entry point command}"],
          env: [{ name: "FROM_TEMPLATE", value: "1" }],
          resources: { limits: { memory: "512Mi" } },
        }],
        restartPolicy: "Never",
      },
    },
  },
};

Deno.test("the Job name is MLflow's <project>-<%Y-%m-%d-%H-%M-%S-%f>, as a DNS label of at most 63 characters", () => {
  const at = new Date(2025, 2, 4, 5, 6, 7, 123);
  assert.equal(kubernetesJobName("proj", at), "proj-2025-03-04-05-06-07-123000");
  assert.equal(kubernetesJobName("My_Project", at), "my-project-2025-03-04-05-06-07-123000");
  const long = kubernetesJobName("x".repeat(80), at);
  assert.equal(long.length, 63);
  assert.match(long, /^x+-2025-03-04-05-06-07-123000$/);
  assert.equal(dnsLabel("__"), "mlflow-project");
});

Deno.test("the Job keeps the template, sets name, container name, image, argv command and appends the run's variables", () => {
  const job = buildJobManifest(TEMPLATE, {
    projectName: "Proj",
    image: "reg:5000/p:abc@sha256:00",
    command: ["python", "train.py", "--comment", "foo bar"],
    env: [["MLFLOW_RUN_ID", "r1"], ["MLFLOW_TRACKING_URI", "http://t:5000"], [
      "MLFLOW_EXPERIMENT_ID",
      "0",
    ]],
    name: "proj-1",
  });
  const c = (job.spec as typeof TEMPLATE.spec).template.spec.containers[0]!;
  assert.equal((job.metadata as { name: string }).name, "proj-1");
  assert.equal((job.metadata as { namespace: string }).namespace, "mlflow");
  assert.equal(c.name, "proj");
  assert.equal(c.image, "reg:5000/p:abc@sha256:00");
  // A real argv: no literal quotes around "foo bar" (MLflow re-quotes it to "'foo bar'").
  assert.deepEqual(c.command, ["python", "train.py", "--comment", "foo bar"]);
  assert.deepEqual(c.env.map((e) => e.name), [
    "FROM_TEMPLATE",
    "MLFLOW_RUN_ID",
    "MLFLOW_TRACKING_URI",
    "MLFLOW_EXPERIMENT_ID",
  ]);
  assert.deepEqual(c.resources, { limits: { memory: "512Mi" } });
  // The template itself is unchanged.
  assert.equal(TEMPLATE.spec.template.spec.containers[0]!.env.length, 1);
});
