/**
 * The `jobs/runs/submit` request MLflow sends for a project run: a `shell_command_task` running
 * `bash -c <script>`, where the script copies the project tarball from DBFS (FUSE path), unpacks
 * it under `/databricks/mlflow/projects/<sha256>` and runs `mlflow run` there in the MLflow run
 * this runner created (`-c '{"_mlflow_local_backend_run_id": "<run id>"}'`), with
 * `MLFLOW_TRACKING_URI` and `MLFLOW_EXPERIMENT_ID` in its environment.
 *
 * Unlike MLflow, every word of the `mlflow run` command is shell-quoted exactly once (MLflow
 * quotes `mlflow run <dir> --entry-point <ep>` twice, which breaks an entry point with a space),
 * and `-P` values are quoted too; and the request carries the MLflow run id as its
 * `idempotency_token`, so resending it after a lost answer never starts a second job.
 *
 * @module
 */
import { shellQuote } from "../system/shell_quote.ts";
import type { DatabricksConfig } from "./backend_config.ts";

/** Base directory of MLflow's files on the driver. */
const CONTAINER_BASE = "/databricks/mlflow";
/** Where tarballs are copied on the driver. */
export const CLUSTER_TARFILE_BASE = `${CONTAINER_BASE}/project-tars`;
/** Where projects are unpacked on the driver. */
export const CLUSTER_PROJECTS_BASE = `${CONTAINER_BASE}/projects`;
/** The top folder inside the tarball. */
export const TARFILE_ARCHIVE_NAME = "mlflow-project";

/** What the cluster-side `mlflow run` runs. */
export interface ClusterRun {
  /** The tarball's FUSE path (`/dbfs/mlflow-experiments/<exp>/projects-code/<sha>.tar.gz`). */
  readonly dbfsFusePath: string;
  /** The MLflow run the job records into. */
  readonly runId: string;
  /** Entry point name. */
  readonly entryPoint: string;
  /** `--env-manager`, when given to this runner (else the cluster-side MLflow chooses). */
  readonly envManager?: string;
  /** The parameters as the user gave them (name, value as text), in order. */
  readonly parameters: readonly (readonly [string, string])[];
}

/**
 * The `mlflow run` argv executed on the cluster (unquoted words).
 *
 * @param run What to run; the project directory is derived from the tarball's name.
 * @returns The words.
 *
 * @example
 * ```ts
 * import { clusterMlflowRunArgs } from "./submit_request.ts";
 * const args = clusterMlflowRunArgs({
 *   dbfsFusePath: "/dbfs/mlflow-experiments/1/projects-code/ab12.tar.gz",
 *   runId: "r1", entryPoint: "main", parameters: [["alpha", "0.5"]],
 * });
 * console.assert(args.join(" ") ===
 *   'mlflow run /databricks/mlflow/projects/ab12 --entry-point main -c {"_mlflow_local_backend_run_id": "r1"} -P alpha=0.5');
 * ```
 */
export function clusterMlflowRunArgs(run: ClusterRun): string[] {
  const args = ["mlflow", "run", projectDirOf(run.dbfsFusePath), "--entry-point", run.entryPoint];
  if (run.envManager !== undefined) args.push("--env-manager", run.envManager);
  // Python's json.dumps spacing, as MLflow writes it.
  args.push("-c", `{"_mlflow_local_backend_run_id": ${JSON.stringify(run.runId)}}`);
  for (const [k, v] of run.parameters) args.push("-P", `${k}=${v}`);
  return args;
}

function projectDirOf(dbfsFusePath: string): string {
  const base = dbfsFusePath.slice(dbfsFusePath.lastIndexOf("/") + 1);
  return `${CLUSTER_PROJECTS_BASE}/${base.replace(/\.tar\.gz$/, "")}`;
}

/**
 * The shell script of the job (MLflow's steps, joined by `&&`).
 *
 * @param run What to run.
 * @returns The script for `bash -c`.
 *
 * @example
 * ```ts
 * import { clusterScript } from "./submit_request.ts";
 * const s = clusterScript({
 *   dbfsFusePath: "/dbfs/mlflow-experiments/1/projects-code/ab12.tar.gz",
 *   runId: "r1", entryPoint: "main", parameters: [],
 * });
 * console.assert(s.includes("tar --no-same-owner -xzvf /databricks/mlflow/project-tars/ab12.tar.gz"));
 * ```
 */
export function clusterScript(run: ClusterRun): string {
  const base = run.dbfsFusePath.slice(run.dbfsFusePath.lastIndexOf("/") + 1);
  const q = shellQuote;
  return [
    "export PATH=$PATH:$DB_HOME/python/bin",
    "mlflow --version",
    `mkdir -p ${CLUSTER_TARFILE_BASE} ${CLUSTER_PROJECTS_BASE}`,
    `rsync -a -v --ignore-existing ${q(run.dbfsFusePath)} ${CLUSTER_TARFILE_BASE}`,
    "cd $(mktemp -d)",
    `tar --no-same-owner -xzvf ${q(`${CLUSTER_TARFILE_BASE}/${base}`)}`,
    // A second run of the same project finds the directory already there.
    `{ mv -T ${TARFILE_ARCHIVE_NAME} ${q(projectDirOf(run.dbfsFusePath))} || test -d ${
      q(projectDirOf(run.dbfsFusePath))
    }; }`,
    clusterMlflowRunArgs(run).map(q).join(" "),
  ].join(" &&\n");
}

/** Everything the request needs. */
export interface SubmitRequestInput extends ClusterRun {
  /** The project URI as given (in the default run name). */
  readonly projectUri: string;
  /** The parsed backend configuration. */
  readonly config: DatabricksConfig;
  /** The tracking URI the cluster records into: `databricks` for any `databricks…` URI. */
  readonly trackingUri: string;
  /** The run's experiment. */
  readonly experimentId: string;
}

/**
 * The tracking URI the job gets: `databricks` for every `databricks…` URI (the cluster has its own
 * credentials for its workspace), an http(s) URI as is.
 *
 * @param uri The run's tracking URI.
 * @returns The job's `MLFLOW_TRACKING_URI`.
 *
 * @example
 * ```ts
 * import { clusterTrackingUri } from "./submit_request.ts";
 * console.assert(clusterTrackingUri("databricks://staging") === "databricks");
 * ```
 */
export function clusterTrackingUri(uri: string): string {
  return /^databricks/i.test(uri) ? "databricks" : uri;
}

/**
 * The `jobs/runs/submit` body.
 *
 * @param input Project, run, configuration, tracking.
 * @returns The JSON body.
 *
 * @example
 * ```ts
 * import { submitRequest } from "./submit_request.ts";
 * import { parseDatabricksConfig } from "./backend_config.ts";
 * const body = submitRequest({
 *   projectUri: "https://github.com/mlflow/mlflow-example",
 *   config: parseDatabricksConfig({ spark_version: "15.4.x-scala2.12", num_workers: 1 }),
 *   dbfsFusePath: "/dbfs/mlflow-experiments/1/projects-code/ab12.tar.gz",
 *   runId: "r1", entryPoint: "main", parameters: [],
 *   trackingUri: "databricks", experimentId: "1",
 * });
 * console.assert(body.run_name === "MLflow Run for https://github.com/mlflow/mlflow-example");
 * ```
 */
export function submitRequest(input: SubmitRequestInput): Record<string, unknown> {
  const { config } = input;
  return {
    run_name: config.runName ?? `MLflow Run for ${input.projectUri}`,
    ...("newCluster" in config.cluster
      ? { new_cluster: config.cluster.newCluster }
      : { existing_cluster_id: config.cluster.existingClusterId }),
    shell_command_task: {
      command: ["bash", "-c", clusterScript(input)],
      env_vars: {
        MLFLOW_TRACKING_URI: clusterTrackingUri(input.trackingUri),
        MLFLOW_EXPERIMENT_ID: input.experimentId,
      },
    },
    ...(config.libraries.length > 0 ? { libraries: config.libraries } : {}),
    ...(config.timeoutSeconds !== undefined ? { timeout_seconds: config.timeoutSeconds } : {}),
    // One job per MLflow run: a submit resent after a lost answer gets the same job back.
    idempotency_token: input.runId,
  };
}
