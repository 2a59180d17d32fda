/**
 * The `TrackingStore` interface every tracking backend implements, and the run/experiment
 * records it deals in.
 *
 * @module
 */

/** MLflow run statuses. */
export type RunStatus = "RUNNING" | "SCHEDULED" | "FINISHED" | "FAILED" | "KILLED";

/** Integer codes of {@linkcode RunStatus} as MLflow stores them in files. */
export const RUN_STATUS_CODES: Readonly<Record<RunStatus, number>> = {
  RUNNING: 1,
  SCHEDULED: 2,
  FINISHED: 3,
  FAILED: 4,
  KILLED: 5,
};

/**
 * Whether a status is terminal (FINISHED, FAILED or KILLED).
 *
 * @param status The status.
 * @returns `true` for a terminal status.
 *
 * @example
 * ```ts
 * import { isTerminal } from "./tracking_store.ts";
 * console.assert(isTerminal("KILLED"));
 * ```
 */
export function isTerminal(status: RunStatus): boolean {
  return status === "FINISHED" || status === "FAILED" || status === "KILLED";
}

/** An experiment. */
export interface Experiment {
  /** Experiment id as text. */
  experimentId: string;
  /** Experiment name. */
  name: string;
  /** Where its artifacts go. */
  artifactLocation: string;
  /** `active` or `deleted`. */
  lifecycleStage: string;
}

/** The stored facts of a run. */
export interface RunInfo {
  /** Run id (32 hex chars for runs we create). */
  runId: string;
  /** Experiment id. */
  experimentId: string;
  /** Run name. */
  runName: string;
  /** Status. */
  status: RunStatus;
  /** Start time, epoch ms. */
  startTime: number;
  /** End time, epoch ms, or `null` while running. */
  endTime: number | null;
  /** Artifact URI. */
  artifactUri: string;
  /** User id. */
  userId: string;
  /** `active` or `deleted`. */
  lifecycleStage: string;
}

/** What {@linkcode TrackingStore.createRun} needs. */
export interface CreateRunRequest {
  /** Experiment to create the run in. */
  experimentId: string;
  /** User id (`mlflow.user`). */
  userId: string;
  /** Start time, epoch ms. */
  startTime: number;
  /** Run name (also recorded as the `mlflow.runName` tag). */
  runName: string;
  /** Tags, in order. */
  tags: [string, string][];
  /** Params logged with the run (in the same write where the store allows it). */
  params?: [string, string][];
}

/** Options of the calls that record a run's status. */
export interface RecordOptions {
  /** Aborting stops retrying (the caller is told to stop). */
  signal?: AbortSignal;
}

/** A status change of a run ({@linkcode TrackingStore.updateRun}). */
export interface RunUpdate extends RecordOptions {
  /** The new status. */
  status: RunStatus;
  /** End time in ms since the epoch, or `null` to leave it unset. */
  endTime: number | null;
}

/** The end of a run ({@linkcode TrackingStore.endRun}). */
export interface RunEnd extends RecordOptions {
  /** The status the run ends with unless it already has a terminal one. */
  status: RunStatus;
  /** End time in ms since the epoch. */
  endTime: number;
}

/** A tracking backend: `mlruns` files, MLflow's SQLite schema, or an MLflow/Databricks server. */
export interface TrackingStore {
  /** The tracking URI handed to the child process (absolute for local stores). */
  readonly uri: string;
  /** Extra environment the child needs to open the same store. */
  readonly childEnv: Readonly<Record<string, string>>;
  /** Looks an experiment up by id or by name. */
  findExperiment(query: { id: string } | { name: string }): Promise<Experiment | undefined>;
  /** Creates an experiment and returns its id. */
  createExperiment(name: string): Promise<string>;
  /** Creates a run with status RUNNING. */
  createRun(request: CreateRunRequest): Promise<RunInfo>;
  /** Reads a run, or `undefined` when it does not exist. */
  getRun(runId: string): Promise<RunInfo | undefined>;
  /** Logs params (immutable) and tags (overwritable) in one call. */
  logBatch(
    runId: string,
    batch: { params?: [string, string][]; tags?: [string, string][] },
  ): Promise<void>;
  /**
   * Sets the status and end time of a run. Remote stores retry a terminal status until it is
   * recorded, the error is permanent, or `options.signal` aborts.
   */
  updateRun(runId: string, update: RunUpdate): Promise<void>;
  /**
   * Ends a run with `status` unless it already has a terminal status (set by the child's own
   * MLflow), and returns the status the run ends with. Remote stores retry until it is recorded,
   * the error is permanent, or `options.signal` aborts.
   */
  endRun(runId: string, end: RunEnd): Promise<RunStatus>;
  /** Releases the store. */
  close(): void;
}
