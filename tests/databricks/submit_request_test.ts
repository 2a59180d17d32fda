// deno-lint-ignore-file camelcase -- Databricks configs are snake_case
import assert from "node:assert/strict";
import { parseDatabricksConfig } from "../../lib/databricks/backend_config.ts";
import {
  clusterMlflowRunArgs,
  clusterScript,
  submitRequest,
} from "../../lib/databricks/submit_request.ts";

const FUSE = "/dbfs/mlflow-experiments/7/projects-code/0123abcd.tar.gz";
const SPEC = { spark_version: "15.4.x-scala2.12", num_workers: 1 };

/** The words bash sees in a command line (so quoting is checked by a real shell). */
async function bashWords(line: string): Promise<string[]> {
  const out = await new Deno.Command("bash", {
    args: ["-c", `set -- ${line}; printf '%s\\0' "$@"`],
    stdout: "piped",
  }).output();
  assert.equal(out.code, 0);
  return new TextDecoder().decode(out.stdout).split("\0").slice(0, -1);
}

Deno.test("every word of the cluster's mlflow run command reaches bash exactly as given", async () => {
  const run = {
    dbfsFusePath: FUSE,
    runId: "3f2a",
    entryPoint: "my entry",
    envManager: "virtualenv",
    parameters: [["alpha", "0.5"], ["text", 'it\'s a $HOME `x` "q"']] as [string, string][],
  };
  const script = clusterScript(run);
  const lastLine = script.split("\n").at(-1)!;
  assert.deepEqual(await bashWords(lastLine), clusterMlflowRunArgs(run));
  assert.deepEqual(clusterMlflowRunArgs(run), [
    "mlflow",
    "run",
    "/databricks/mlflow/projects/0123abcd",
    "--entry-point",
    "my entry",
    "--env-manager",
    "virtualenv",
    "-c",
    '{"_mlflow_local_backend_run_id": "3f2a"}',
    "-P",
    "alpha=0.5",
    "-P",
    'text=it\'s a $HOME `x` "q"',
  ]);
});

Deno.test("the script unpacks the tarball as MLflow's does", () => {
  const script = clusterScript({
    dbfsFusePath: FUSE,
    runId: "r",
    entryPoint: "main",
    parameters: [],
  });
  const steps = script.split(" &&\n");
  assert.deepEqual(steps.slice(0, 6), [
    "export PATH=$PATH:$DB_HOME/python/bin",
    "mlflow --version",
    "mkdir -p /databricks/mlflow/project-tars /databricks/mlflow/projects",
    `rsync -a -v --ignore-existing ${FUSE} /databricks/mlflow/project-tars`,
    "cd $(mktemp -d)",
    "tar --no-same-owner -xzvf /databricks/mlflow/project-tars/0123abcd.tar.gz",
  ]);
  assert.match(steps[6]!, /^\{ mv -T mlflow-project \/databricks\/mlflow\/projects\/0123abcd /);
  // No --env-manager when none was given: the cluster's MLflow chooses.
  assert.doesNotMatch(steps[7]!, /--env-manager/);
});

Deno.test("the submit body: run name, cluster, libraries, task and env vars", () => {
  const body = submitRequest({
    projectUri: "https://github.com/mlflow/mlflow-example",
    config: parseDatabricksConfig({ ...SPEC, mlflow_version: "2.22.5" }),
    dbfsFusePath: FUSE,
    runId: "r1",
    entryPoint: "main",
    parameters: [],
    trackingUri: "databricks://staging",
    experimentId: "7",
  });
  assert.equal(body.run_name, "MLflow Run for https://github.com/mlflow/mlflow-example");
  assert.deepEqual(body.new_cluster, SPEC);
  assert.equal("existing_cluster_id" in body, false);
  assert.deepEqual(body.libraries, [{ pypi: { package: "mlflow==2.22.5" } }]);
  const task = body.shell_command_task as { command: string[]; env_vars: Record<string, string> };
  assert.deepEqual(task.command.slice(0, 2), ["bash", "-c"]);
  assert.deepEqual(task.env_vars, { MLFLOW_TRACKING_URI: "databricks", MLFLOW_EXPERIMENT_ID: "7" });
});

Deno.test("an existing cluster is submitted as existing_cluster_id; an http tracking URI is kept", () => {
  const body = submitRequest({
    projectUri: "proj",
    config: parseDatabricksConfig({
      existing_cluster_id: "0923-164208-meows279",
      run_name: "nightly",
    }),
    dbfsFusePath: FUSE,
    runId: "r1",
    entryPoint: "main",
    parameters: [],
    trackingUri: "https://mlflow.example.com",
    experimentId: "7",
  });
  assert.equal(body.existing_cluster_id, "0923-164208-meows279");
  assert.equal("new_cluster" in body, false);
  assert.equal(body.run_name, "nightly");
  const task = body.shell_command_task as { env_vars: Record<string, string> };
  assert.equal(task.env_vars.MLFLOW_TRACKING_URI, "https://mlflow.example.com");
});
