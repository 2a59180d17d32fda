/**
 * mlproject: run MLflow Projects without Python MLflow.
 *
 * ```ts ignore
 * import { run } from "@mlproject/mlproject";
 * const submitted = await run("./my-project", {
 *   entryPoint: "main",
 *   parameters: { alpha: 0.5 },
 *   envManager: "local",
 * });
 * console.log(submitted.runId, await submitted.getStatus()); // "FINISHED"
 * ```
 *
 * @module
 */
export { run, type RunOptions, waitForRun } from "./run/run.ts";
export { plan, type RunPlan } from "./run/plan.ts";
export type { ProjectSource } from "./fetch/fetch_project.ts";
export type { RunContext } from "./system/run_context.ts";
export type { ContainerSpec, Invocation, Mount } from "./backends/invocation.ts";
export type {
  Backend,
  BackendCheckRequest,
  BackendCheckResult,
  Execution,
  LaunchJob,
  RemoteLaunch,
} from "./backends/backend.ts";
export {
  type ClusterChoice,
  type DatabricksConfig,
  DEFAULT_CLUSTER_MLFLOW_VERSION,
  parseDatabricksConfig,
} from "./databricks/backend_config.ts";
export type { RunEnvironment, RunStatus, SubmittedRun } from "./run/submitted_run.ts";
export {
  ExecutionException,
  InterruptedError,
  MlprojectError,
  UsageError,
} from "./system/errors.ts";
export type { LogLevel, Reporter } from "./system/output.ts";
export type { OutputMode } from "./system/run_command.ts";
export {
  type ComputeParametersOptions,
  EntryPoint,
  type ParameterInput,
  type ParameterSpec,
  type ParameterValues,
} from "./project/entry_point.ts";
export { type DockerEnvSpec, type EnvType, type ProjectSpec } from "./project/project_spec.ts";
export { loadProject } from "./project/load_project.ts";
export { shellQuote } from "./system/shell_quote.ts";
