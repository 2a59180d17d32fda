/**
 * The Jobs API calls a project run makes: `runs/submit`, `runs/get`, `runs/cancel`, and the
 * mapping of a job run's state to an MLflow run status.
 *
 * @module
 */
import { ExecutionException } from "../system/errors.ts";
import type { RunStatus } from "../tracking/tracking_store.ts";
import type { WorkspaceClient } from "./workspace_client.ts";

/** A job run's state (`state` of `runs/get`). */
export interface JobRunState {
  /** `QUEUED`, `PENDING`, `RUNNING`, `TERMINATING`, `TERMINATED`, `SKIPPED`, `INTERNAL_ERROR`, … */
  readonly lifeCycleState: string;
  /** `SUCCESS`, `FAILED`, `TIMEDOUT`, `CANCELED`, … once the run ended. */
  readonly resultState?: string;
  /** Databricks' explanation (why it failed, what it waits for). */
  readonly stateMessage: string;
}

/** What `runs/get` says about a job run. */
export interface JobRun {
  /** The job run id. */
  readonly runId: number;
  /** The one-time job's id, when the workspace returns it. */
  readonly jobId?: number;
  /** The run's page in the workspace UI. */
  readonly runPageUrl: string;
  /** Its state. */
  readonly state: JobRunState;
}

/** Life cycle states after which a run never changes again. */
const FINAL_LIFE_CYCLE_STATES = ["TERMINATED", "SKIPPED", "INTERNAL_ERROR"];

/**
 * The MLflow status of a job run, as MLflow maps it (`result_state` only: none → `RUNNING`,
 * `SUCCESS` → `FINISHED`, anything else → `FAILED`), except that a final life cycle state
 * without a result (`SKIPPED`, `INTERNAL_ERROR`) is `FAILED` (MLflow would poll forever).
 *
 * @param state The job run's state.
 * @returns `RUNNING`, `FINISHED` or `FAILED`.
 *
 * @example
 * ```ts
 * import { runStatusOf } from "./jobs_client.ts";
 * console.assert(runStatusOf({ lifeCycleState: "TERMINATED", resultState: "SUCCESS", stateMessage: "" }) === "FINISHED");
 * console.assert(runStatusOf({ lifeCycleState: "INTERNAL_ERROR", stateMessage: "boom" }) === "FAILED");
 * ```
 */
export function runStatusOf(state: JobRunState): RunStatus {
  if (state.resultState === undefined) {
    return FINAL_LIFE_CYCLE_STATES.includes(state.lifeCycleState) ? "FAILED" : "RUNNING";
  }
  return state.resultState === "SUCCESS" ? "FINISHED" : "FAILED";
}

function toJobRun(runId: number, body: Record<string, unknown>): JobRun {
  const state = (typeof body.state === "object" && body.state !== null ? body.state : {}) as Record<
    string,
    unknown
  >;
  if (typeof state.life_cycle_state !== "string") {
    throw new ExecutionException(
      `Databricks answered runs/get for job run ${runId} without a state: ${
        JSON.stringify(body).slice(0, 300)
      }`,
    );
  }
  const jobId = body.job_id;
  return {
    runId,
    ...(typeof jobId === "number" ? { jobId } : {}),
    runPageUrl: String(body.run_page_url ?? ""),
    state: {
      lifeCycleState: state.life_cycle_state,
      ...(typeof state.result_state === "string" ? { resultState: state.result_state } : {}),
      stateMessage: String(state.state_message ?? ""),
    },
  };
}

/** Jobs of one workspace. */
export class JobsClient {
  readonly #ws: WorkspaceClient;

  /**
   * Uses a workspace's API.
   *
   * @example
   * ```ts ignore
   * const jobs = new JobsClient(openWorkspace("databricks"));
   * ```
   */
  constructor(workspace: WorkspaceClient) {
    this.#ws = workspace;
  }

  /**
   * Submits a one-time run (`POST /api/2.0/jobs/runs/submit`). Retried like every call: the
   * body's `idempotency_token` makes a resent submit return the job the first one started.
   *
   * @param body The request (see `submitRequest`).
   * @param options Abort signal.
   * @returns The job run id.
   */
  async submit(
    body: Record<string, unknown>,
    options: { signal?: AbortSignal } = {},
  ): Promise<number> {
    const answer = await this.#ws.post("/api/2.0/jobs/runs/submit", body, options);
    const id = Number(answer.run_id);
    if (!Number.isSafeInteger(id)) {
      throw new ExecutionException(
        `Databricks answered runs/submit without a run_id: ${JSON.stringify(answer).slice(0, 300)}`,
      );
    }
    return id;
  }

  /**
   * Reads a job run (`GET /api/2.0/jobs/runs/get?run_id=`).
   *
   * @param runId The job run id.
   * @param options Abort signal.
   * @returns The run.
   */
  async get(runId: number, options: { signal?: AbortSignal } = {}): Promise<JobRun> {
    return toJobRun(
      runId,
      await this.#ws.get("/api/2.0/jobs/runs/get", { run_id: runId }, options),
    );
  }

  /**
   * Asks Databricks to cancel a job run (`POST /api/2.0/jobs/runs/cancel`); it ends later.
   *
   * @param runId The job run id.
   * @param options Abort signal.
   */
  async cancel(runId: number, options: { signal?: AbortSignal } = {}): Promise<void> {
    await this.#ws.post("/api/2.0/jobs/runs/cancel", { run_id: runId }, options);
  }
}
