/**
 * The record stage of a run: resolve the experiment (creating a named one that is missing) and
 * create the run with the plan's tags and params, as `mlflow run` does.
 *
 * @module
 */
import { ExecutionException, InterruptedError, UsageError } from "../system/errors.ts";
import type { Reporter } from "../system/output.ts";
import type { RunPlan } from "./plan.ts";
import type { RunContext } from "../system/run_context.ts";
import { generateRunName } from "../tracking/run_name.ts";
import { nextTurn } from "../system/sleep.ts";
import type { RunOptions } from "./run_options.ts";
import type { RunInfo, TrackingStore } from "../tracking/tracking_store.ts";

async function resolveExperiment(
  store: TrackingStore,
  options: RunOptions,
  env: Record<string, string>,
  reporter: Reporter,
): Promise<string> {
  const name = options.experimentName || env.MLFLOW_EXPERIMENT_NAME || undefined;
  const id = options.experimentId || env.MLFLOW_EXPERIMENT_ID || undefined;
  if (options.experimentName && options.experimentId) {
    throw new UsageError("Specify only one of 'experiment_name' or 'experiment_id'.");
  }
  if (options.experimentId || (!options.experimentName && id !== undefined && name === undefined)) {
    const exp = await store.findExperiment({ id: id! });
    if (exp === undefined) throw new ExecutionException(`Could not find experiment with ID ${id}`);
    if (exp.lifecycleStage !== "active") {
      throw new ExecutionException(`Experiment with ID ${id} is deleted`);
    }
    return exp.experimentId;
  }
  if (name !== undefined) {
    const exp = await store.findExperiment({ name });
    if (exp !== undefined) return exp.experimentId;
    reporter.log("INFO", `'${name}' does not exist. Creating a new experiment`);
    return await store.createExperiment(name);
  }
  const def = await store.findExperiment({ id: "0" });
  if (def === undefined) throw new ExecutionException("Could not find experiment with ID 0");
  return def.experimentId;
}

/**
 * Resolves the experiment and creates the run the plan describes (or, with `runId`, reads that
 * existing run: nothing is tagged or logged then).
 *
 * @param plan The plan.
 * @param options The open store, the run's context, the run options; `turn`: a turn of the event
 * loop ({@linkcode nextTurn}) the caller started before its own synchronous work (opening the
 * store), so that the turn costs no time of its own (one is taken here when it is missing).
 * @returns The run.
 * @throws {ExecutionException} For a missing or deleted experiment, a missing run.
 * @throws {InterruptedError} When `ctx.signal` aborted before the run was created.
 *
 * @example
 * ```ts ignore
 * const info = await recordRun(planned.plan, { store, ctx, options });
 * ```
 */
export async function recordRun(
  plan: RunPlan,
  options: { store: TrackingStore; ctx: RunContext; options: RunOptions; turn?: Promise<void> },
): Promise<RunInfo> {
  const { store, ctx } = options;
  const experimentId = await resolveExperiment(store, options.options, ctx.env, ctx.reporter);
  if (plan.runId !== undefined) {
    const info = await store.getRun(plan.runId);
    if (info === undefined) throw new ExecutionException(`Run with id=${plan.runId} not found`);
    return info;
  }
  // A signal that came during the synchronous work before is only seen after a turn of the
  // event loop: take one, so nothing is recorded for a run interrupted before it exists.
  await (options.turn ?? nextTurn());
  if (ctx.signal?.aborted) throw new InterruptedError("Interrupted before the run started");
  const user = plan.tags.find(([k]) => k === "mlflow.user")?.[1] ?? "unknown";
  return await store.createRun({
    experimentId,
    userId: user,
    startTime: Date.now(),
    runName: plan.runName || generateRunName(),
    tags: [...plan.tags],
    params: [...plan.parameters],
  });
}
