/**
 * The local backend: the entry point runs under `bash -c` in the project directory, as the
 * leader of its own process group, and its end is recorded in the tracking store.
 *
 * @module
 */
import type { Backend, LaunchRequest } from "../lib/backend.ts";
import { ExecutionException, InterruptedError, type MlprojectError } from "../lib/errors.ts";
import { type ChildHandle, spawnProcess } from "../lib/run_command.ts";
import type { RunEnvironment, SubmittedRun } from "../lib/submitted_run.ts";
import type { RunStatus } from "../lib/tracking/tracking_store.ts";

/** A run executing as a local child process. */
export class LocalSubmittedRun implements SubmittedRun {
  readonly runId: string;
  readonly experimentId: string;
  readonly trackingUri: string;
  readonly environment: RunEnvironment;
  /** Process id of the child (the leader of its process group). */
  readonly pid: number;
  readonly #child: ChildHandle;
  readonly #request: LaunchRequest;
  readonly #done: Promise<{ status: RunStatus; success: boolean; error?: MlprojectError }>;
  #final: RunStatus | undefined;
  #cancelled = false;
  #exited = false;
  #terminating: Promise<unknown> | undefined;
  /** Aborted when told to stop while the end of the run is still being recorded. */
  readonly #stopRecording = new AbortController();

  /**
   * Starts watching a launched child; its end is recorded in the store.
   *
   * @example
   * ```ts ignore
   * const run = new LocalSubmittedRun(request, child);
   * await run.wait();
   * ```
   */
  constructor(request: LaunchRequest, child: ChildHandle) {
    this.runId = request.runId;
    this.experimentId = request.experimentId;
    this.trackingUri = request.store.uri;
    this.environment = request.environment;
    this.pid = child.pid;
    this.#child = child;
    this.#request = request;
    this.#done = this.#finish();
  }

  async #finish(): Promise<{ status: RunStatus; success: boolean; error?: MlprojectError }> {
    const result = await this.#child.status;
    // On cancel, wait until the whole process group is gone, not just its leader.
    if (this.#terminating !== undefined) await this.#terminating;
    this.#exited = true;
    const { store, runId } = this.#request;
    let status: RunStatus = this.#cancelled ? "KILLED" : result.success ? "FINISHED" : "FAILED";
    const record = { signal: this.#stopRecording.signal };
    let error: MlprojectError | undefined;
    try {
      if (this.#cancelled) await store.updateRun(runId, status, Date.now(), record);
      else status = await store.endRun(runId, status, Date.now(), record);
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
    }
    this.#final = status;
    return {
      status,
      success: result.success && status === "FINISHED" && error === undefined,
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
      this.#terminating = this.#child.terminate();
    }
    await this.#done;
  }
}

/** Runs projects as local processes. */
export class LocalBackend implements Backend {
  readonly name = "local";

  launch(request: LaunchRequest): Promise<SubmittedRun> {
    const env = {
      ...request.env,
      ...request.store.childEnv,
      MLFLOW_RUN_ID: request.runId,
      MLFLOW_TRACKING_URI: request.store.uri,
      MLFLOW_EXPERIMENT_ID: request.experimentId,
    };
    request.reporter.log(
      "INFO",
      `=== Running command '${request.command}' in run with ID '${request.runId}' === `,
    );
    let child: ChildHandle;
    try {
      child = spawnProcess("bash", ["-c", request.command], {
        cwd: request.workDir,
        env,
        stdout: request.stdout,
        newProcessGroup: true,
        killGraceMs: request.killGraceMs,
      });
    } catch (e) {
      throw new ExecutionException(
        `Cannot start 'bash' to run the entry point: ${e instanceof Error ? e.message : e}`,
      );
    }
    return Promise.resolve(new LocalSubmittedRun(request, child));
  }
}
