/**
 * `run()`: a run in three stages, the same for every backend.
 *
 * 1. *Plan* (`plan.ts`): fetch, load, entry point, parameters, environment choice, backend
 *    check, tracking URI, tags. Writes nothing.
 * 2. *Record*: build (or reuse) the environment, download remote `path` values, open the store,
 *    resolve the experiment and create the run with its tags and params (`record_run.ts`).
 * 3. *Launch*: the backend starts the job; `TrackedRun` records its end.
 *
 * @module
 */
import { resolve } from "../system/paths.ts";
import { downloadRemotePaths } from "./remote_path.ts";
import { ExecutionException, InterruptedError, MlprojectError } from "../system/errors.ts";
import { type Reporter, SILENT_REPORTER } from "../system/output.ts";
import { type PlannedRun, planRun } from "./plan.ts";
import { recordRun } from "./record_run.ts";
import type { RunOptions } from "./run_options.ts";
import type { SubmittedRun } from "./submitted_run.ts";
import { TrackedRun } from "./tracked_run.ts";
import type { RunInfo, RunStatus, TrackingStore } from "../tracking/tracking_store.ts";
import { openTrackingStore, resolveTrackingUri } from "../tracking/tracking_uri.ts";
import { detectMlflow } from "../envs/mlflow_version.ts";
import { parameterText } from "../project/entry_point.ts";
import { mark } from "../system/timing.ts";
import { nextTurn } from "../system/sleep.ts";

export type { RunOptions } from "./run_options.ts";

/**
 * Runs an MLflow project, as `mlflow.projects.run` does.
 *
 * @param uri Project directory or `file://` URI, with an optional `#subdir`.
 * @param options Entry point, parameters, experiment, backend and environment choices.
 * @returns The submitted run; with `synchronous: true` (the default) it has already ended.
 * @throws {ExecutionException} When the project is invalid or, if synchronous, the run fails.
 * @throws {UsageError} For invalid options.
 *
 * @example Run the `main` entry point with a parameter
 * ```ts ignore
 * import { run } from "./run.ts";
 * const submitted = await run("examples/demo", {
 *   envManager: "local",
 *   parameters: { greeting: "hello" },
 * });
 * console.log(submitted.runId, await submitted.getStatus());
 * ```
 */
export async function run(uri: string, options: RunOptions = {}): Promise<SubmittedRun> {
  const planned = await planRun(uri, options);
  mark("planned");
  const { ctx, fetched } = planned;
  const { reporter } = ctx;
  let store: TrackingStore | undefined;
  let runInfo: RunInfo | undefined;
  let launched = false;
  const setup = new AbortController();
  const onSetupAbort = () => setup.abort();
  if (ctx.signal?.aborted) setup.abort();
  ctx.signal?.addEventListener("abort", onSetupAbort, { once: true });
  // Downloads into a temp dir are removed with the run; under --storage-dir they are kept.
  let downloadDir: string | undefined;
  const cleanup = async () => {
    await fetched.cleanup();
    if (downloadDir !== undefined && !options.keepWorkDir) {
      await Deno.remove(downloadDir, { recursive: true }).catch(() => {});
    }
  };
  try {
    planned.fillCache();
    const prepared = await prepare(planned, options, (dir) => downloadDir = dir);
    mark("environment prepared");
    // The turn of the event loop taken before the run is created (a timer) runs out while the
    // store opens, instead of after it.
    const turn = planned.plan.runId === undefined ? nextTurn() : undefined;
    store = await openTrackingStore(prepared.trackingUri, {
      cwd: ctx.cwd,
      env: ctx.env,
      reporter,
      // Interrupting before launch stops tracking-server retries; after launch, the end of the
      // run (KILLED) must still be recorded, so the store never sees the caller's signal itself.
      signal: setup.signal,
      ...(prepared.mlflow !== undefined ? { mlflow: prepared.mlflow } : {}),
      ...(options.upgradeDb !== undefined ? { upgradeDb: options.upgradeDb } : {}),
    });
    mark("store opened");
    // Tags known once the environment is ready (a docker image's uri and id) are recorded with
    // the run, as the plan's.
    const extraTags = planned.plan.runId === undefined ? prepared.environment.tags ?? [] : [];
    const plan = extraTags.length === 0
      ? planned.plan
      : { ...planned.plan, tags: [...planned.plan.tags, ...extraTags] };
    runInfo = await recordRun(plan, { store, ctx, options, turn });
    mark("run recorded");

    const execution = await planned.backend.launch({
      runId: runInfo.runId,
      experimentId: runInfo.experimentId,
      trackingUri: store.uri,
      trackingEnv: store.childEnv,
      ...(runInfo.artifactUri ? { artifactUri: runInfo.artifactUri } : {}),
      invocation: prepared.invocation,
      env: ctx.env,
      config: planned.plan.backend.config,
      reporter,
      stdout: options.stdout ?? "inherit",
      killGraceMs: options.killGraceMs ?? 5000,
      remote: {
        uri: planned.plan.uri,
        dir: fetched.workDir,
        entryPoint: planned.plan.entryPoint,
        parameters: Object.entries(options.parameters ?? {}).map(([k, v]) => [
          k,
          parameterText(v),
        ]),
        ...(options.envManager !== undefined ? { envManager: options.envManager } : {}),
        trackingUri: prepared.trackingUri,
      },
      recordTags: (tags) => store!.logBatch(runInfo!.runId, { tags: [...tags] }),
      signal: setup.signal,
    });
    mark("launched");
    const environment = prepared.environment;
    const submitted = new TrackedRun(execution, {
      runId: runInfo.runId,
      experimentId: runInfo.experimentId,
      store,
      environment: {
        kind: environment.kind,
        ...(environment.key !== undefined ? { key: environment.key } : {}),
        ...(environment.cacheHit !== undefined ? { cacheHit: environment.cacheHit } : {}),
        // A remote job's MLflow is installed where it runs: not known here.
        ...(planned.backend.remoteEnvironment
          ? {}
          : { mlflowVersion: prepared.mlflow?.version ?? null }),
      },
    });
    launched = true;
    ctx.signal?.removeEventListener("abort", onSetupAbort);
    // The run counts as ended once its temporary checkout and downloads are removed too, so a
    // caller that exits right after `wait()` leaves nothing behind.
    const ended = submitted.wait().finally(cleanup);
    ended.catch(() => {});
    const handle: SubmittedRun = {
      runId: submitted.runId,
      experimentId: submitted.experimentId,
      trackingUri: submitted.trackingUri,
      ...(submitted.environment !== undefined ? { environment: submitted.environment } : {}),
      wait: () => ended,
      getStatus: () => submitted.getStatus(),
      cancel: async () => {
        await submitted.cancel();
        await ended.catch(() => {});
      },
    };
    const signal = ctx.signal;
    if (signal !== undefined) {
      const onAbort = () => void handle.cancel();
      if (signal.aborted) onAbort();
      else signal.addEventListener("abort", onAbort, { once: true });
      ended.finally(() => signal.removeEventListener("abort", onAbort)).catch(() => {});
    }
    if (options.synchronous === false) return handle;
    await ended;
    return await waitForRun(handle, { reporter });
  } catch (e) {
    ctx.signal?.removeEventListener("abort", onSetupAbort);
    if (!launched) {
      if (store !== undefined && runInfo !== undefined && !options.runId) {
        await markFailed(store, runInfo.runId, {
          status: ctx.signal?.aborted ? "KILLED" : "FAILED",
          reporter,
        });
      }
      store?.close();
      await cleanup();
      // An abort that surfaced as a platform error (a fetch, a download) is an interrupt.
      if (ctx.signal?.aborted && !(e instanceof MlprojectError)) {
        throw new InterruptedError("Interrupted before the run started");
      }
    }
    throw e;
  }
}

/** The environment built, the MLflow it has, the final tracking URI and invocation. */
interface PreparedRun {
  environment: Awaited<ReturnType<PlannedRun["environment"]["prepare"]>>;
  mlflow: ReturnType<typeof detectMlflow>;
  trackingUri: string;
  invocation: ReturnType<
    Awaited<ReturnType<PlannedRun["environment"]["prepare"]>>["invocation"]
  >;
}

async function prepare(
  planned: PlannedRun,
  options: RunOptions,
  onDownloadDir: (dir: string) => void,
): Promise<PreparedRun> {
  const { ctx, entryPoint, logged } = planned;
  const { cwd, env, reporter } = ctx;
  const environment = await planned.environment.prepare({
    reporter,
    ...(ctx.signal !== undefined ? { signal: ctx.signal } : {}),
  });
  if (planned.backend.remoteEnvironment) {
    // The job builds its environment and downloads `path` values where it runs.
    const trackingUri = planned.givenTrackingUri ??
      resolveTrackingUri(env, { cwd, mlflowVersion: null });
    const invocation = environment.invocation(planned.plan.command, planned.fetched.workDir);
    return { environment, mlflow: undefined, trackingUri, invocation };
  }
  // The MLflow the entry point will import decides the default store and its schema.
  // `local` runs the interpreter the plan inspected, with the same environment.
  const mlflow = environment.python === undefined
    ? undefined
    : environment.kind === "local" && environment.python === planned.environment.python &&
        Object.keys(environment.env).length === 0
    ? planned.mlflow
    : detectMlflow(environment.python, { env: { ...env, ...environment.env }, cwd });
  if (environment.kind !== "docker") {
    reporter.log(
      "INFO",
      mlflow === undefined
        ? "=== No MLflow found in the run's environment ==="
        : `=== The run's environment has MLflow ${mlflow.version} (${mlflow.sitePackages}) ===`,
    );
  }
  const trackingUri = planned.givenTrackingUri ??
    resolveTrackingUri(env, { cwd, mlflowVersion: mlflow?.version ?? null });
  const downloaded = await downloadRemotePaths(entryPoint, logged, {
    ...(options.storageDir !== undefined ? { storageDir: resolve(cwd, options.storageDir) } : {}),
    trackingUri,
    env,
    cwd,
    reporter,
    ...(ctx.signal !== undefined ? { signal: ctx.signal } : {}),
  });
  if (downloaded.dir !== undefined && options.storageDir === undefined) {
    onDownloadDir(downloaded.dir);
  }
  const values = entryPoint.computeParameters(options.parameters ?? {}, {
    resolvePathsFrom: cwd,
    downloaded: downloaded.paths,
  });
  const invocation = environment.invocation(
    entryPoint.renderCommand(values),
    planned.fetched.workDir,
  );
  return { environment, mlflow, trackingUri, invocation };
}

/** How long ending a run whose launch failed may take (ms). */
const MARK_FAILED_TIMEOUT_MS = 20_000;

async function markFailed(
  store: TrackingStore,
  runId: string,
  options: { status: RunStatus; reporter: Reporter },
): Promise<void> {
  try {
    // Bounded, and not stopped by an interrupt already received: the run must not stay RUNNING.
    await store.endRun(runId, {
      status: options.status,
      endTime: Date.now(),
      signal: AbortSignal.timeout(MARK_FAILED_TIMEOUT_MS),
    });
  } catch (e) {
    // The original error matters more; still say the run may show RUNNING.
    options.reporter.log(
      "WARNING",
      `Could not end run '${runId}' ${options.status}: ${
        e instanceof Error ? e.message : e
      }; it may still show RUNNING`,
    );
  }
}

/**
 * Waits for a submitted run and reports its end as `mlflow run` does: `Run (ID '…') succeeded`,
 * or an `ExecutionException` (`InterruptedError` when it was killed).
 *
 * @param submitted The run.
 * @param options Where progress goes.
 * @returns The run, once it succeeded.
 *
 * @example
 * ```ts ignore
 * import { run, waitForRun } from "./run.ts";
 * const submitted = await run("examples/demo", { synchronous: false, envManager: "local" });
 * await waitForRun(submitted);
 * ```
 */
export async function waitForRun(
  submitted: SubmittedRun,
  options: { reporter?: Reporter } = {},
): Promise<SubmittedRun> {
  const reporter = options.reporter ?? SILENT_REPORTER;
  await submitted.wait();
  const status = await submitted.getStatus();
  if (status === "FINISHED" && await submitted.wait()) {
    reporter.log("INFO", `=== Run (ID '${submitted.runId}') succeeded ===`);
    return submitted;
  }
  if (status === "KILLED") {
    throw new InterruptedError(`Run (ID '${submitted.runId}') was killed`);
  }
  throw new ExecutionException(`Run (ID '${submitted.runId}') failed`);
}
