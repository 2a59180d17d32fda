/**
 * Follows a Databricks job run until it ends: `runs/get` with backoff (1 s, 2 s, 4 s, … up to the
 * configured interval, MLflow's 30 s by default; back to 1 s after each state change and after a
 * cancel), one line per state change (`PENDING` → `RUNNING` → `TERMINATED`), and the job's
 * `state_message` when it did not succeed. A workspace that does not answer for a while is
 * retried (the job keeps running meanwhile).
 *
 * @module
 */
import type { Reporter } from "../system/output.ts";
import { sleep } from "../system/sleep.ts";
import { isTransientError } from "../tracking/rest_store.ts";
import { type JobRun, type JobsClient, runStatusOf } from "./jobs_client.ts";

/** Options of {@linkcode JobRunFollower}. */
export interface FollowOptions {
  /** Longest wait between two reads, ms. */
  readonly pollIntervalMs: number;
  /** First wait, ms (default `min(1000, pollIntervalMs)`). */
  readonly initialDelayMs?: number;
  /** Where state lines go. */
  readonly reporter: Reporter;
  /** The run's state as already read (after submit), if any. */
  readonly first?: JobRun;
}

/** Follows one job run; {@linkcode JobRunFollower.ended} resolves with its last state. */
export class JobRunFollower {
  /** The job run id. */
  readonly runId: number;
  /** Resolves with the final state of the run. */
  readonly ended: Promise<JobRun>;
  /** Reads of `runs/get` so far. */
  polls = 0;
  readonly #jobs: JobsClient;
  readonly #options: FollowOptions;
  #wake: AbortController = new AbortController();
  #stopped = new AbortController();
  #delay: number;
  #cancelled = false;

  /**
   * Starts following.
   *
   * @example
   * ```ts ignore
   * const follower = new JobRunFollower(jobs, 42, { pollIntervalMs: 30_000, reporter });
   * const last = await follower.ended;
   * ```
   */
  constructor(jobs: JobsClient, runId: number, options: FollowOptions) {
    this.#jobs = jobs;
    this.runId = runId;
    this.#options = options;
    this.#delay = this.#initialDelay();
    this.ended = this.#follow();
    this.ended.catch(() => {});
  }

  #initialDelay(): number {
    return this.#options.initialDelayMs ?? Math.min(1000, this.#options.pollIntervalMs);
  }

  /** Reads the state again soon, restarting the backoff: a cancel was requested. */
  cancelRequested(): void {
    this.#cancelled = true;
    this.#delay = this.#initialDelay();
    this.#wake.abort();
  }

  /** Stops following (the run goes on); `ended` rejects. */
  stop(): void {
    this.#stopped.abort(new Error("Stopped following the Databricks job run"));
    this.#wake.abort();
  }

  async #follow(): Promise<JobRun> {
    const { reporter } = this.#options;
    let last = this.#options.first;
    let shown: string | undefined;
    const show = (run: JobRun) => {
      const text = run.state.resultState !== undefined
        ? `${run.state.lifeCycleState} (${run.state.resultState})`
        : run.state.lifeCycleState;
      if (text === shown) return false;
      shown = text;
      reporter.log(
        "INFO",
        `=== Databricks job run ${this.runId}: ${text}${
          run.state.stateMessage ? ` - ${run.state.stateMessage}` : ""
        } ===`,
      );
      return true;
    };
    if (last !== undefined) show(last);
    while (last === undefined || runStatusOf(last.state) === "RUNNING") {
      try {
        await sleep(this.#delay, this.#wake.signal);
        this.#delay = Math.min(this.#options.pollIntervalMs, this.#delay * 2);
      } catch {
        this.#wake = new AbortController();
      }
      if (this.#stopped.signal.aborted) throw this.#stopped.signal.reason;
      try {
        this.polls++;
        last = await this.#jobs.get(this.runId, { signal: this.#stopped.signal });
      } catch (e) {
        if (this.#stopped.signal.aborted) throw this.#stopped.signal.reason;
        if (!isTransientError(e)) throw e;
        reporter.log(
          "WARNING",
          `=== Could not read the state of Databricks job run ${this.runId}: ${
            e instanceof Error ? e.message : e
          }; trying again ===`,
        );
        continue;
      }
      if (show(last)) this.#delay = this.#initialDelay();
    }
    if (runStatusOf(last.state) !== "FINISHED" && last.state.stateMessage && !this.#cancelled) {
      reporter.log(
        "ERROR",
        `=== Databricks job run ${this.runId} ended ${
          last.state.resultState ?? last.state.lifeCycleState
        }: ${last.state.stateMessage} ===`,
      );
    }
    return last;
  }
}
