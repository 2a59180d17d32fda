// deno-lint-ignore-file camelcase -- Databricks configs are snake_case
import assert from "node:assert/strict";
import {
  DEFAULT_CLUSTER_MLFLOW_VERSION,
  parseDatabricksConfig,
} from "../../lib/databricks/backend_config.ts";
import { checkDatabricksRun } from "../../lib/backends/databricks.ts";
import { ExecutionException } from "../../lib/system/errors.ts";

const SPEC = { spark_version: "15.4.x-scala2.12", node_type_id: "i3.xlarge", num_workers: 1 };

Deno.test("a bare cluster spec becomes new_cluster without mlproject's own keys", () => {
  const config = { ...SPEC, mlflow_version: "2.22.5", poll_interval_seconds: 5 };
  const parsed = parseDatabricksConfig(config);
  assert.deepEqual(parsed.cluster, { newCluster: SPEC });
  assert.deepEqual(parsed.libraries, [{ pypi: { package: "mlflow==2.22.5" } }]);
  assert.equal(parsed.pollIntervalSeconds, 5);
  // The caller's object is left as it was.
  assert.equal(config.mlflow_version, "2.22.5");
});

Deno.test("the new_cluster form keeps user libraries and appends the MLflow library last", () => {
  const parsed = parseDatabricksConfig({
    new_cluster: SPEC,
    libraries: [{ pypi: { package: "scikit-learn" } }, { jar: "dbfs:/x.jar" }],
    timeout_seconds: 600,
  });
  assert.deepEqual(parsed.cluster, { newCluster: SPEC });
  assert.deepEqual(parsed.libraries, [
    { pypi: { package: "scikit-learn" } },
    { jar: "dbfs:/x.jar" },
    { pypi: { package: `mlflow==${DEFAULT_CLUSTER_MLFLOW_VERSION}` } },
  ]);
  assert.equal(parsed.timeoutSeconds, 600);
});

Deno.test("existing_cluster_id is supported and names the cluster", () => {
  const parsed = parseDatabricksConfig({ existing_cluster_id: " 0923-164208-meows279 " });
  assert.deepEqual(parsed.cluster, { existingClusterId: "0923-164208-meows279" });
});

Deno.test("an MLflow library the user lists (pinned or git) is not added twice", () => {
  for (const pkg of ["mlflow==2.17.2", "mlflow-skinny>=2", "git+https://github.com/me/mlflow@x"]) {
    const parsed = parseDatabricksConfig({
      new_cluster: SPEC,
      libraries: [{ pypi: { package: pkg } }],
    });
    assert.deepEqual(parsed.libraries, [{ pypi: { package: pkg } }], pkg);
  }
  // mlflow-xyz is another package.
  const other = parseDatabricksConfig({
    new_cluster: SPEC,
    libraries: [{ pypi: { package: "mlflowx" } }],
  });
  assert.equal(other.libraries.length, 2);
});

Deno.test("mlflow_version accepts a release, a requirement and 'runtime'", () => {
  assert.equal(
    parseDatabricksConfig({ ...SPEC, mlflow_version: "3.7.0" }).mlflowRequirement,
    "mlflow==3.7.0",
  );
  assert.equal(
    parseDatabricksConfig({ ...SPEC, mlflow_version: "mlflow>=2.17,<3" }).mlflowRequirement,
    "mlflow>=2.17,<3",
  );
  const runtime = parseDatabricksConfig({ ...SPEC, mlflow_version: "runtime" });
  assert.equal(runtime.mlflowRequirement, undefined);
  assert.deepEqual(runtime.libraries, []);
  assert.throws(
    () => parseDatabricksConfig({ ...SPEC, mlflow_version: "latest!" }),
    /'mlflow_version' must be a release/,
  );
});

Deno.test("invalid configurations are refused with the key named", () => {
  const cases: [Record<string, unknown>, RegExp][] = [
    [
      { new_cluster: SPEC, existing_cluster_id: "x" },
      /either 'new_cluster' or 'existing_cluster_id'/,
    ],
    [{ new_cluster: "big" }, /'new_cluster' must be a JSON object/],
    [{ existing_cluster_id: 12 }, /'existing_cluster_id' must be a cluster id/],
    [{ new_cluster: SPEC, libraries: "numpy" }, /'libraries' must be a list/],
    [{ new_cluster: SPEC, timeout_seconds: -1 }, /'timeout_seconds'/],
    [{ ...SPEC, poll_interval_seconds: 0 }, /'poll_interval_seconds'/],
    [{ mlflow_version: "2.17.2" }, /no cluster/],
  ];
  for (const [config, message] of cases) {
    assert.throws(() => parseDatabricksConfig(config), message, JSON.stringify(config));
  }
});

Deno.test("unknown keys next to new_cluster are reported, not sent", () => {
  const parsed = parseDatabricksConfig({ new_cluster: SPEC, spark_conf: {} });
  assert.deepEqual(parsed.ignoredKeys, ["spark_conf"]);
});

Deno.test("the pre-run checks give MLflow's messages", () => {
  assert.throws(
    () => checkDatabricksRun({}, "databricks"),
    (e: unknown) =>
      e instanceof ExecutionException &&
      e.message ===
        "Backend spec must be provided when launching MLflow project runs on Databricks.",
  );
  assert.throws(
    () => checkDatabricksRun(SPEC, "sqlite:///mlflow.db"),
    (e: unknown) =>
      e instanceof ExecutionException &&
      e.message ===
        "When running on Databricks, the MLflow tracking URI must be of the form 'databricks' or 'databricks://profile', or a remote HTTP URI accessible to both the current client and code running on Databricks. Got local tracking URI sqlite:///mlflow.db. Please specify a valid tracking URI via mlflow.set_tracking_uri or by setting the MLFLOW_TRACKING_URI environment variable.",
  );
  assert.throws(
    () => checkDatabricksRun(SPEC, "file:///tmp/mlruns"),
    /Got local tracking URI file:\/\/\/tmp\/mlruns\./,
  );
  assert.throws(
    () => checkDatabricksRun(SPEC, "databricks", { environment: "docker" }),
    (e: unknown) =>
      e instanceof ExecutionException &&
      e.message === "Running docker-based projects on Databricks is not yet supported.",
  );
  for (const uri of ["databricks", "databricks://staging", "http://127.0.0.1:5000", "HTTPS://x"]) {
    checkDatabricksRun(SPEC, uri);
  }
  checkDatabricksRun({ existing_cluster_id: "c1" }, "databricks");
});
