/**
 * The `Backend` interface: where a planned run executes (local processes and docker containers
 * today; Kubernetes and Databricks build on the same two calls).
 *
 * - `check` runs in the plan stage, before anything is written: it validates the backend's
 *   parsed configuration and the tracking URI, and returns the tags the run is created with.
 * - `launch` runs after the run is recorded: it starts the job and returns an
 *   {@linkcode Execution}; recording the end of the run is not the backend's business (see
 *   `tracked_run.ts`).
 *
 * @module
 */
import type { Invocation } from "./invocation.ts";
import type { Reporter } from "../system/output.ts";
import type { OutputMode } from "../system/run_command.ts";

/** What a backend sees in the plan stage. */
export interface BackendCheckRequest {
  /** The backend configuration (`-c`), parsed. */
  readonly config: Readonly<Record<string, unknown>>;
  /** The tracking URI the run will be recorded in. */
  readonly trackingUri: string;
  /** Project name from the MLproject file, if any. */
  readonly projectName: string | undefined;
  /** The environment kind (`local`, `virtualenv`, `uv`, `conda`, `docker`). */
  readonly environment: string;
  /** Directory relative paths of the configuration belong to. */
  readonly cwd?: string;
  /** The run's environment variables (kubeconfig, credentials such as `DATABRICKS_*`). */
  readonly env?: Readonly<Record<string, string>>;
  /** The project's MLproject file, if it has one. */
  readonly projectFile?: string;
}

/** What a backend's check adds to the plan. */
export interface BackendCheckResult {
  /** Tags the run is created with (besides `mlflow.project.backend`). */
  readonly tags?: readonly [string, string][];
}

/** Everything a backend needs to start a run that is already recorded. */
export interface LaunchJob {
  /** The run id. */
  readonly runId: string;
  /** The run's experiment id. */
  readonly experimentId: string;
  /** The tracking URI handed to the child (absolute for local stores). */
  readonly trackingUri: string;
  /** Variables the child needs to open the same store (credentials, …). */
  readonly trackingEnv: Readonly<Record<string, string>>;
  /** The run's artifact URI (containers mount or configure the artifact store from it). */
  readonly artifactUri?: string;
  /** What to run. */
  readonly invocation: Invocation;
  /** Base environment of the child (the invocation's and the run's variables go on top). */
  readonly env: Readonly<Record<string, string>>;
  /** The backend configuration, parsed. */
  readonly config: Readonly<Record<string, unknown>>;
  /** Progress output. */
  readonly reporter: Reporter;
  /** Where the child's stdout goes. */
  readonly stdout: OutputMode;
  /** Milliseconds between TERM and KILL on cancel. */
  readonly killGraceMs: number;
  /** The project as given (for backends with `remoteEnvironment`). */
  readonly remote?: RemoteLaunch;
  /** Records tags on the run (what a backend learns only once the job exists: its URL). */
  readonly recordTags?: (tags: readonly [string, string][]) => Promise<void>;
  /** Aborting stops a launch in progress (an upload); a started job is cancelled by the caller. */
  readonly signal?: AbortSignal;
}

/**
 * The project as given, for backends that run `mlflow run` where the job runs (Databricks):
 * they ship the project and the user's choices instead of a local invocation.
 */
export interface RemoteLaunch {
  /** The project URI as given (in job names). */
  readonly uri: string;
  /** The fetched project directory. */
  readonly dir: string;
  /** Entry point name. */
  readonly entryPoint: string;
  /** The parameters as the user gave them (values as Python's `str()`), in order. */
  readonly parameters: readonly (readonly [string, string])[];
  /** `--env-manager`, if given. */
  readonly envManager?: string;
  /** The tracking URI as resolved for the run (`databricks://<profile>` kept). */
  readonly trackingUri: string;
}

/** A started job, as its backend sees it. */
export interface Execution {
  /** Process id of a local child (the leader of its process group), if any. */
  readonly pid?: number;
  /** Resolves when the job ended: `true` when it succeeded. */
  wait(): Promise<boolean>;
  /** Stops the job and resolves once it is gone. */
  terminate(): Promise<void>;
}

/** A place runs execute. */
export interface Backend {
  /** Backend name as recorded in `mlflow.project.backend`. */
  readonly name: string;
  /**
   * `true` when the job builds its environment where it runs (`mlflow run` on a cluster): the
   * plan chooses the environment but nothing is built, probed or downloaded here.
   */
  readonly remoteEnvironment?: boolean;
  /** Plan stage: validates configuration and tracking URI; writes and starts nothing. */
  check?(request: BackendCheckRequest): BackendCheckResult | Promise<BackendCheckResult>;
  /** Starts the recorded run and returns at once. */
  launch(job: LaunchJob): Promise<Execution>;
}

/**
 * The variables every backend hands its child: the store's, then `MLFLOW_RUN_ID`,
 * `MLFLOW_TRACKING_URI`, `MLFLOW_EXPERIMENT_ID`.
 *
 * @param job The job.
 * @returns The run's variables.
 *
 * @example
 * ```ts ignore
 * import { runVariables } from "./backend.ts";
 * runVariables(job).MLFLOW_RUN_ID;
 * ```
 */
export function runVariables(job: LaunchJob): Record<string, string> {
  return {
    ...job.trackingEnv,
    MLFLOW_RUN_ID: job.runId,
    MLFLOW_TRACKING_URI: job.trackingUri,
    MLFLOW_EXPERIMENT_ID: job.experimentId,
  };
}
