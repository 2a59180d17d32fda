/**
 * The Databricks backend configuration (`-c/--backend-config`), in the forms MLflow accepts plus
 * an existing cluster:
 *
 * - the cluster spec itself: `{"spark_version": …, "node_type_id": …, "num_workers": …}`;
 * - `{"new_cluster": {…}, "libraries": [...]}`;
 * - `{"existing_cluster_id": "0923-164208-meows279", "libraries": [...]}` (MLflow refuses it).
 *
 * mlproject's own keys, removed before anything is sent: `mlflow_version` (the MLflow the
 * cluster installs, see {@linkcode DEFAULT_CLUSTER_MLFLOW_VERSION}) and `poll_interval_seconds`
 * (how often the job's state is read; default 30, MLflow's interval). In the wrapper forms,
 * `timeout_seconds` and `run_name` are passed on to `jobs/runs/submit`.
 *
 * @module
 */
import { ExecutionException } from "../system/errors.ts";

/**
 * The MLflow release a job cluster installs when the configuration names none: the newest
 * release mlproject is tested against. The cluster-side `mlflow run` records into the run this
 * runner created, so choose the release that matches your tracking server with `mlflow_version`
 * (or `"runtime"` to keep the MLflow of the Databricks runtime).
 */
export const DEFAULT_CLUSTER_MLFLOW_VERSION = "3.17.2";

/** MLflow's polling interval (`DatabricksSubmittedRun.POLL_STATUS_INTERVAL`), seconds. */
export const DEFAULT_POLL_INTERVAL_SECONDS = 30;

/** Where the job runs: a new job cluster, or an existing all-purpose cluster. */
export type ClusterChoice =
  | { readonly newCluster: Readonly<Record<string, unknown>> }
  | { readonly existingClusterId: string };

/** The parsed configuration. */
export interface DatabricksConfig {
  /** The cluster. */
  readonly cluster: ClusterChoice;
  /** Libraries to install, the MLflow library included (last) unless already there. */
  readonly libraries: readonly Readonly<Record<string, unknown>>[];
  /** The MLflow requirement the cluster installs (`mlflow==3.17.2`), or `undefined` (runtime's). */
  readonly mlflowRequirement: string | undefined;
  /** Seconds between two reads of the job's state. */
  readonly pollIntervalSeconds: number;
  /** `timeout_seconds` of the job run, if given. */
  readonly timeoutSeconds?: number;
  /** `run_name` of the job run, if given (default `MLflow Run for <project uri>`). */
  readonly runName?: string;
  /** Keys of a wrapper form that are not used (for a warning). */
  readonly ignoredKeys: readonly string[];
}

/** mlproject's own keys (never sent as part of a cluster spec). */
const OWN_KEYS = ["mlflow_version", "poll_interval_seconds"];
/** Keys of the wrapper forms. */
const WRAPPER_KEYS = [
  "new_cluster",
  "existing_cluster_id",
  "libraries",
  "timeout_seconds",
  "run_name",
];

function invalid(detail: string): ExecutionException {
  return new ExecutionException(`Invalid Databricks backend config: ${detail}`);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Whether a library entry already installs MLflow (a pinned release or a git URL). */
function installsMlflow(library: Record<string, unknown>): boolean {
  const pypi = library.pypi;
  if (!isObject(pypi) || typeof pypi.package !== "string") return false;
  const pkg = pypi.package.trim().replace(/^['"]|['"]$/g, "");
  return /^git\+https:\/\/github\.com\/[\w-]+\/mlflow/.test(pkg) ||
    /^mlflow(-skinny)?\s*(\[[^\]]*\])?\s*([<>=!~]|$)/i.test(pkg);
}

function mlflowRequirementOf(value: unknown): string | undefined {
  if (value === undefined || value === null) return `mlflow==${DEFAULT_CLUSTER_MLFLOW_VERSION}`;
  if (typeof value !== "string" || value.trim() === "") {
    throw invalid(
      `'mlflow_version' must be a release such as "${DEFAULT_CLUSTER_MLFLOW_VERSION}", a requirement such as "mlflow>=2.17,<3", or "runtime", got ${
        JSON.stringify(value)
      }`,
    );
  }
  const v = value.trim();
  if (v === "runtime") return undefined;
  if (/^\d+(\.\d+)*([a-z]+\d*)?$/i.test(v)) return `mlflow==${v}`;
  if (/^mlflow(-skinny)?\b/i.test(v)) return v;
  throw invalid(
    `'mlflow_version' must be a release such as "${DEFAULT_CLUSTER_MLFLOW_VERSION}", a requirement such as "mlflow>=2.17,<3", or "runtime", got "${v}"`,
  );
}

/**
 * Parses the Databricks backend configuration. The caller's object is never changed, and
 * mlproject's keys never reach the cluster spec (MLflow sends its injected `ENV_MANAGER`,
 * `SYNCHRONOUS`, … keys inside `new_cluster` when the config is the spec itself).
 *
 * @param config The parsed `-c` value.
 * @returns The configuration.
 * @throws {ExecutionException} For a value Databricks would refuse (named in the message).
 *
 * @example
 * ```ts
 * import { parseDatabricksConfig } from "./backend_config.ts";
 * const c = parseDatabricksConfig({ existing_cluster_id: "0923-164208-meows279" });
 * console.assert("existingClusterId" in c.cluster);
 * console.assert(c.libraries.length === 1); // the MLflow library
 * ```
 */
export function parseDatabricksConfig(config: Readonly<Record<string, unknown>>): DatabricksConfig {
  const mlflowRequirement = mlflowRequirementOf(config.mlflow_version);
  const poll = config.poll_interval_seconds ?? DEFAULT_POLL_INTERVAL_SECONDS;
  if (typeof poll !== "number" || !Number.isFinite(poll) || poll <= 0 || poll > 3600) {
    throw invalid(
      `'poll_interval_seconds' must be a number of seconds above 0 and at most 3600, got ${
        JSON.stringify(poll)
      }`,
    );
  }
  const wrapped = "new_cluster" in config || "existing_cluster_id" in config;
  let cluster: ClusterChoice;
  let userLibraries: unknown = [];
  const ignoredKeys: string[] = [];
  let timeoutSeconds: number | undefined;
  let runName: string | undefined;
  if (wrapped) {
    if ("new_cluster" in config && "existing_cluster_id" in config) {
      throw invalid("give either 'new_cluster' or 'existing_cluster_id', not both");
    }
    if ("new_cluster" in config) {
      if (!isObject(config.new_cluster)) {
        throw invalid(`'new_cluster' must be a JSON object (a cluster spec)`);
      }
      cluster = { newCluster: { ...config.new_cluster } };
    } else {
      const id = config.existing_cluster_id;
      if (typeof id !== "string" || id.trim() === "") {
        throw invalid(
          `'existing_cluster_id' must be a cluster id such as "0923-164208-meows279", got ${
            JSON.stringify(id)
          }`,
        );
      }
      cluster = { existingClusterId: id.trim() };
    }
    userLibraries = config.libraries ?? [];
    if (config.timeout_seconds !== undefined) {
      const t = config.timeout_seconds;
      if (typeof t !== "number" || !Number.isInteger(t) || t < 0) {
        throw invalid(
          `'timeout_seconds' must be a whole number of seconds, got ${JSON.stringify(t)}`,
        );
      }
      timeoutSeconds = t;
    }
    if (config.run_name !== undefined) {
      if (typeof config.run_name !== "string" || config.run_name === "") {
        throw invalid(`'run_name' must be a non-empty string`);
      }
      runName = config.run_name;
    }
    for (const key of Object.keys(config)) {
      if (!WRAPPER_KEYS.includes(key) && !OWN_KEYS.includes(key)) ignoredKeys.push(key);
    }
  } else {
    const spec: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(config)) if (!OWN_KEYS.includes(k)) spec[k] = v;
    if (Object.keys(spec).length === 0) {
      throw invalid(
        `no cluster: give a cluster spec (spark_version, node_type_id, num_workers, …), {"new_cluster": {…}} or {"existing_cluster_id": "…"}`,
      );
    }
    cluster = { newCluster: spec };
  }
  if (!Array.isArray(userLibraries) || !userLibraries.every(isObject)) {
    throw invalid(
      `'libraries' must be a list of library objects such as {"pypi": {"package": "scikit-learn"}}`,
    );
  }
  const libraries: Record<string, unknown>[] = userLibraries.map((l) => ({ ...l }));
  if (mlflowRequirement !== undefined && !libraries.some(installsMlflow)) {
    libraries.push({ pypi: { package: mlflowRequirement } });
  }
  return {
    cluster,
    libraries,
    mlflowRequirement,
    pollIntervalSeconds: poll,
    ...(timeoutSeconds !== undefined ? { timeoutSeconds } : {}),
    ...(runName !== undefined ? { runName } : {}),
    ignoredKeys,
  };
}
