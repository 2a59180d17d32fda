/**
 * `SubmittedRun`, the handle `run()` returns, as in `mlflow.projects.SubmittedRun`.
 *
 * @module
 */
import type { RunStatus } from "./tracking/tracking_store.ts";

export type { RunStatus };

/** The environment a run executes in. */
export interface RunEnvironment {
  /** `local`, `virtualenv`, `uv`, `conda` or `docker`. */
  kind: string;
  /** Cache key of the built environment, if it was built. */
  key?: string;
  /** Whether a cached environment was reused. */
  cacheHit?: boolean;
  /** Version of the MLflow the entry point imports (`null`: none found; unset: not looked for). */
  mlflowVersion?: string | null;
}

/** A run that was launched: wait for it, ask its status, or cancel it. */
export interface SubmittedRun {
  /** The MLflow run id. */
  readonly runId: string;
  /** The experiment the run belongs to. */
  readonly experimentId: string;
  /** The tracking URI the run was recorded in (as handed to the child). */
  readonly trackingUri: string;
  /** The environment the run executes in. */
  readonly environment?: RunEnvironment;
  /**
   * Waits until the run ends; `true` when it succeeded. Rejects (`ExecutionException`, or
   * `InterruptedError` when stopped) when the end of the run could not be recorded.
   */
  wait(): Promise<boolean>;
  /** Current status: `RUNNING` until the run ends, then `FINISHED`, `FAILED` or `KILLED`. */
  getStatus(): Promise<RunStatus>;
  /** Stops the run (its whole process group) and waits until it has ended. */
  cancel(): Promise<void>;
}
