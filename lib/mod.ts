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
export { run, type RunOptions, waitForRun } from "./run.ts";
export { plan, type RunPlan } from "./plan.ts";
export type { RunContext } from "./run_context.ts";
export type { ContainerSpec, Invocation, Mount } from "./invocation.ts";
export type {
  Backend,
  BackendCheckRequest,
  BackendCheckResult,
  Execution,
  LaunchJob,
} from "./backend.ts";
export type { RunEnvironment, RunStatus, SubmittedRun } from "./submitted_run.ts";
export { ExecutionException, InterruptedError, MlprojectError, UsageError } from "./errors.ts";
export type { LogLevel, Reporter } from "./output.ts";
export type { OutputMode } from "./run_command.ts";
export {
  type ComputeParametersOptions,
  EntryPoint,
  type ParameterInput,
  type ParameterSpec,
  type ParameterValues,
} from "./entry_point.ts";
export { type DockerEnvSpec, type EnvType, loadProject, type ProjectSpec } from "./project_spec.ts";
export { shellQuote } from "./shell_quote.ts";
