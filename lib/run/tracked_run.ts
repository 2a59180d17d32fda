/**
 * `TrackedRun`: the `SubmittedRun` of every backend. It waits for the backend's
 * {@linkcode Execution} and records the end of the run, the same way for all: a terminal status
 * set by the child's own MLflow is kept, remote stores retry, a cancelled run ends `KILLED`.
 *
 * @module
 */
import type { Execution } from "../backends/backend.ts";
import { ExecutionException, InterruptedError, type MlprojectError } from "../system/errors.ts";
import type { RunEnvironment, SubmittedRun } from "./submitted_run.ts";
import type { RunStatus, TrackingStore } from "../tracking/tracking_store.ts";
import { mark } from "../system/timing.ts";

/** What a {@linkcode TrackedRun} records into. */
export interface TrackedRunOptions {
  /** The run id. */
  runId: string;
  /** The run's experiment id. */
  experimentId: string;
  /** The store the run lives in (owned, and closed, by the tracked run from now on). */
  store: TrackingStore;
  /** The environment the run executes in. */
  environment?: RunEnvironment;
}

/** A launched run whose end is recorded in its tracking store. */
export class TrackedRun implements SubmittedRun {
  readonly runId: string;
  readonly experimentId: string;
  readonly trackingUri: string;
  readonly environment?: RunEnvironment;
  /** Process id of a local child (the leader of its process group), if any. */
  readonly pid?: number;
  readonly #execution: Execution;
  readonly #store: TrackingStore;
  readonly #done: Promise<{ status: RunStatus; success: boolean; error?: MlprojectError }>;
  #final: RunStatus | undefined;
  #cancelled = false;
  #exited = false;
  #terminating: Promise<unknown> | undefined;
  /** Aborted when told to stop while the end of the run is still being recorded. */
  readonly #stopRecording = new AbortController();

  /**
   * Starts watching a launched job; its end is recorded in the store.
   *
   * @example
   * ```ts ignore
   * const tracked = new TrackedRun(await backend.launch(job), { runId, experimentId, store });
   * await tracked.wait();
   * ```
   */
  constructor(execution: Execution, options: TrackedRunOptions) {
    this.runId = options.runId;
    this.experimentId = options.experimentId;
    this.trackingUri = options.store.uri;
    if (options.environment !== undefined) this.environment = options.environment;
    if (execution.pid !== undefined) this.pid = execution.pid;
    this.#execution = execution;
    this.#store = options.store;
    this.#done = this.#finish();
  }

  async #finish(): Promise<{ status: RunStatus; success: boolean; error?: MlprojectError }> {
    const succeeded = await this.#execution.wait();
    mark("child exited");
    // On cancel, wait until the job is gone (a whole process group, a container), not just
    // the process the backend watches.
    if (this.#terminating !== undefined) await this.#terminating;
    this.#exited = true;
    const store = this.#store;
    const runId = this.runId;
    let status: RunStatus = this.#cancelled ? "KILLED" : succeeded ? "FINISHED" : "FAILED";
    const end = { status, endTime: Date.now(), signal: this.#stopRecording.signal };
    let error: MlprojectError | undefined;
    try {
      if (this.#cancelled) await store.updateRun(runId, end);
      else status = await store.endRun(runId, end);
    } catch (e) {
      // The run ended but the store does not say so: not a success, whatever the exit code.
      error = this.#stopRecording.signal.aborted || this.#cancelled
        ? new InterruptedError(
          `Interrupted: status ${status} of run '${runId}' was not recorded; the tracking store may still show it RUNNING`,
        )
        : new ExecutionException(
          `Could not record status ${status} of run '${runId}': ${
            e instanceof Error ? e.message : e
          }`,
        );
    } finally {
      store.close();
      mark("run end recorded");
    }
    this.#final = status;
    return {
      status,
      success: succeeded && status === "FINISHED" && error === undefined,
      ...(error !== undefined ? { error } : {}),
    };
  }

  /** Resolves when the run ended; rejects when its end could not be recorded. */
  async wait(): Promise<boolean> {
    const done = await this.#done;
    if (done.error !== undefined) throw done.error;
    return done.success;
  }

  getStatus(): Promise<RunStatus> {
    return Promise.resolve(this.#final ?? "RUNNING");
  }

  async cancel(): Promise<void> {
    if (this.#final !== undefined) return;
    if (this.#exited || this.#cancelled) {
      // Only the recording of the end is left (a remote store retrying): stop it.
      this.#stopRecording.abort();
    } else {
      this.#cancelled = true;
      this.#terminating = this.#execution.terminate();
    }
    await this.#done;
  }
}
