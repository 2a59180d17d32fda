/**
 * The `Backend` interface: something that launches a prepared run (local processes today;
 * Databricks and Kubernetes later).
 *
 * @module
 */
import type { Reporter } from "./output.ts";
import type { OutputMode } from "./run_command.ts";
import type { RunEnvironment, SubmittedRun } from "./submitted_run.ts";
import type { TrackingStore } from "./tracking/tracking_store.ts";

/** Everything a backend needs to launch a run that is already recorded in the store. */
export interface LaunchRequest {
  /** The run id. */
  runId: string;
  /** The run's experiment id. */
  experimentId: string;
  /** The rendered shell command. */
  command: string;
  /** Directory the command runs in. */
  workDir: string;
  /** Base environment of the child (the run's variables are added by the backend). */
  env: Record<string, string>;
  /** The store the run lives in (owned by the submitted run from now on). */
  store: TrackingStore;
  /** Progress output. */
  reporter: Reporter;
  /** Where the child's stdout goes. */
  stdout: OutputMode;
  /** Milliseconds between TERM and KILL on cancel. */
  killGraceMs: number;
  /** The environment the command runs in. */
  environment: RunEnvironment;
}

/** A place runs execute. */
export interface Backend {
  /** Backend name as recorded in `mlflow.project.backend`. */
  readonly name: string;
  /** Launches the run and returns at once. */
  launch(request: LaunchRequest): Promise<SubmittedRun>;
}
