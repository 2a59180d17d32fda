/**
 * `run()`: fetch the project, validate everything, record the run as `mlflow run` does, and
 * launch it on a backend.
 *
 * @module
 */
import { extname, resolve } from "./paths.ts";
import { downloadRemotePaths } from "./remote_path.ts";
import { getBackend } from "../backends/mod.ts";
import {
  type EntryPoint,
  localPathOf,
  type ParameterInput,
  scriptEntryPoint,
} from "./entry_point.ts";
import { type EnvManager, prepareEnvironment, validateEnvManager } from "./environment.ts";
import { ExecutionException, InterruptedError, UsageError } from "./errors.ts";
import { fetchProject } from "./fetch_project.ts";
import { type Reporter, SILENT_REPORTER } from "./output.ts";
import { loadProject, type ProjectSpec } from "./project_spec.ts";
import type { OutputMode } from "./run_command.ts";
import { generateRunName } from "./run_name.ts";
import type { SubmittedRun } from "./submitted_run.ts";
import type { RunInfo, RunStatus, TrackingStore } from "./tracking/tracking_store.ts";
import {
  openTrackingStore,
  parseTrackingUri,
  resolveTrackingUri,
} from "./tracking/tracking_uri.ts";
import { detectMlflow } from "./envs/mlflow_version.ts";
import { validateKey } from "./tracking/validation.ts";
import { readUserFileSync } from "./user_file.ts";

/** Options of {@linkcode run}, mirroring `mlflow.projects.run`. */
export interface RunOptions {
  /** Entry point name or a `.py`/`.sh` script (default `main`). */
  entryPoint?: string;
  /** Git commit, branch or tag to run. */
  version?: string;
  /** Parameters; values are turned into text as Python's `str()` does. */
  parameters?: Record<string, ParameterInput>;
  /** `docker run` arguments (`true` for a flag). */
  dockerArgs?: Record<string, string | boolean>;
  /** Experiment to run in, by name (created when missing). */
  experimentName?: string;
  /** Experiment to run in, by id. */
  experimentId?: string;
  /** Backend (default `local`). */
  backend?: string;
  /** Backend configuration: an object, a `.json` file path, or inline JSON. */
  backendConfig?: Record<string, unknown> | string;
  /** `local`, `virtualenv`, `uv` or `conda`; chosen from the project when unset. */
  envManager?: string;
  /** Where remote `path` parameters are downloaded. */
  storageDir?: string;
  /** Wait for the run to end and throw `ExecutionException` when it fails (default `true`). */
  synchronous?: boolean;
  /** Existing run to execute in (nothing is tagged or logged). */
  runId?: string;
  /** Run name (tag `mlflow.runName`); a random `adjective-noun-N` when unset. */
  runName?: string;
  /** Docker projects: build an image with the project copied in. */
  buildImage?: boolean;
  /** Tracking URI (default: `MLFLOW_TRACKING_URI`, `./mlruns` with data, `sqlite:///mlflow.db`). */
  trackingUri?: string;
  /** Directory relative paths belong to (default the process cwd). */
  cwd?: string;
  /** Environment of the child and source of `MLFLOW_*` settings (default the process env). */
  env?: Record<string, string>;
  /** Receives progress lines; silent by default. */
  reporter?: Reporter;
  /** Where the child's stdout goes (default `inherit`; `stderr` keeps our stdout clean). */
  stdout?: OutputMode;
  /** Milliseconds between TERM and KILL when cancelling (default 5000). */
  killGraceMs?: number;
  /** Aborting cancels the run (its whole process group), which ends `KILLED`. */
  signal?: AbortSignal;
  /** Keep temporary checkouts and downloads after the run (for debugging). */
  keepWorkDir?: boolean;
  /**
   * Upgrade an existing SQLite store whose schema the run's MLflow would refuse, with that
   * MLflow's own `mlflow db upgrade` (after a backup). Without it such a store is refused.
   */
  upgradeDb?: boolean;
}

function parseBackendConfig(
  value: Record<string, unknown> | string | undefined,
  cwd: string,
): Record<string, unknown> {
  if (value === undefined) return {};
  if (typeof value !== "string") return { ...value };
  let text = value;
  if (extname(value) === ".json") {
    text = readUserFileSync(resolve(cwd, value), {
      label: "backend config file",
      usage: true,
      shownAs: value,
    });
  }
  try {
    const parsed = JSON.parse(text);
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
      throw new SyntaxError("expected a JSON object");
    }
    return parsed;
  } catch (e) {
    throw new UsageError(
      `Invalid backend config JSON. Parse error: ${e instanceof Error ? e.message : e}`,
    );
  }
}

function findEntryPoint(
  project: ProjectSpec,
  name: string,
  env: Record<string, string>,
): EntryPoint {
  const declared = project.entryPoints.get(name);
  if (declared !== undefined) return declared;
  const script = scriptEntryPoint(name, {
    ...(env.SHELL !== undefined ? { shell: env.SHELL } : {}),
    ...(project.file !== undefined ? { file: project.file } : {}),
  });
  if (script !== undefined) return script;
  const names = [...project.entryPoints.keys()].map((k) => `'${k}'`).join(", ");
  throw new ExecutionException(
    `Could not find ${name} among entry points [${names}] or interpret ${name} as a runnable script. Supported script file extensions: ['.py', '.sh']`,
  );
}

function currentUser(env: Record<string, string>): string {
  for (const key of ["LOGNAME", "USER", "LNAME", "USERNAME"]) {
    if (env[key]) return env[key]!;
  }
  // As Python's getpass: the password database entry of the current uid.
  try {
    const uid = String(Deno.uid());
    for (const line of Deno.readTextFileSync("/etc/passwd").split("\n")) {
      const fields = line.split(":");
      if (fields[2] === uid && fields[0]) return fields[0];
    }
  } catch { /* no passwd file */ }
  return "unknown";
}

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
  const cwd = options.cwd ?? Deno.cwd();
  const env = options.env ?? Deno.env.toObject();
  const reporter = options.reporter ?? SILENT_REPORTER;
  const backendName = options.backend ?? "local";
  const entryName = options.entryPoint ?? "main";
  const parameters = options.parameters ?? {};

  const envManager: EnvManager | undefined = options.envManager === undefined
    ? undefined
    : validateEnvManager(options.envManager);
  // Validated as MLflow does; the local backend has no settings to read from it yet.
  parseBackendConfig(options.backendConfig, cwd);
  if (backendName === "kubernetes" && options.backendConfig === undefined) {
    throw new UsageError("Specify 'backend_config' when using kubernetes mode.");
  }
  if (options.experimentName && options.experimentId) {
    throw new UsageError("Specify only one of 'experiment_name' or 'experiment_id'.");
  }
  const backend = getBackend(backendName);

  const fetched = await fetchProject(uri, {
    version: options.version,
    cwd,
    keepWorkDir: options.keepWorkDir ?? false,
    env,
    reporter,
    ...(options.signal !== undefined ? { signal: options.signal } : {}),
  });
  let store: TrackingStore | undefined;
  let runInfo: RunInfo | undefined;
  let launched = false;
  const setup = new AbortController();
  const onSetupAbort = () => setup.abort();
  if (options.signal?.aborted) setup.abort();
  options.signal?.addEventListener("abort", onSetupAbort, { once: true });
  // Downloads into a temp dir are removed with the run; under --storage-dir they are kept.
  let downloadDir: string | undefined;
  const cleanup = async () => {
    await fetched.cleanup();
    if (downloadDir !== undefined && !options.keepWorkDir) {
      await Deno.remove(downloadDir, { recursive: true }).catch(() => {});
    }
  };
  try {
    const project = loadProject(fetched.workDir);
    const entryPoint = findEntryPoint(project, entryName, env);
    const logged = entryPoint.computeParameters(parameters);
    for (const key of Object.keys(parameters)) validateKey("param", key);
    // Local `path` values are checked before an environment is built for nothing (remote ones
    // are downloaded once the tracking URI is known).
    const remotePaths = new Map<string, string>();
    for (const spec of entryPoint.parameters.values()) {
      const value = logged.declared.get(spec.name);
      if (spec.type === "path" && value !== undefined && localPathOf(value) === undefined) {
        remotePaths.set(spec.name, value);
      }
    }
    entryPoint.computeParameters(parameters, { resolvePathsFrom: cwd, downloaded: remotePaths });
    const givenUri = options.trackingUri ?? (env.MLFLOW_TRACKING_URI || undefined);
    // A malformed URI is refused before an environment is built for nothing.
    if (givenUri !== undefined) parseTrackingUri(givenUri, cwd);
    const environment = await prepareEnvironment(project, envManager, {
      env,
      reporter,
      ...(options.signal !== undefined ? { signal: options.signal } : {}),
    });
    // The MLflow the entry point will import decides the default store and its schema.
    const mlflow = environment.python === undefined
      ? undefined
      : detectMlflow(environment.python, { env: { ...env, ...environment.env }, cwd });
    reporter.log(
      "INFO",
      mlflow === undefined
        ? "=== No MLflow found in the run's environment ==="
        : `=== The run's environment has MLflow ${mlflow.version} (${mlflow.sitePackages}) ===`,
    );
    const trackingUri = givenUri ??
      resolveTrackingUri(env, { cwd, mlflowVersion: mlflow?.version ?? null });
    const downloaded = await downloadRemotePaths(entryPoint, logged, {
      ...(options.storageDir !== undefined ? { storageDir: resolve(cwd, options.storageDir) } : {}),
      trackingUri,
      env,
      reporter,
    });
    if (downloaded.dir !== undefined && options.storageDir === undefined) {
      downloadDir = downloaded.dir;
    }
    const values = entryPoint.computeParameters(parameters, {
      resolvePathsFrom: cwd,
      downloaded: downloaded.paths,
    });
    const command = environment.wrapCommand(entryPoint.renderCommand(values));

    store = await openTrackingStore(trackingUri, {
      cwd,
      env,
      reporter,
      // Interrupting before launch stops tracking-server retries; after launch, the end of the
      // run (KILLED) must still be recorded, so the store never sees the caller's signal itself.
      signal: setup.signal,
      ...(mlflow !== undefined ? { mlflow } : {}),
      ...(options.upgradeDb !== undefined ? { upgradeDb: options.upgradeDb } : {}),
    });
    const experimentId = await resolveExperiment(store, options, env, reporter);

    if (options.runId) {
      runInfo = await store.getRun(options.runId);
      if (runInfo === undefined) {
        throw new ExecutionException(`Run with id=${options.runId} not found`);
      }
    } else {
      const { source } = fetched;
      const user = currentUser(env);
      const tags: [string, string][] = [
        ["mlflow.user", user],
        ["mlflow.source.name", source.name],
        ["mlflow.source.type", "PROJECT"],
        ["mlflow.project.entryPoint", entryName],
      ];
      if (source.commit) tags.push(["mlflow.source.git.commit", source.commit]);
      if (source.repoUrl) tags.push(["mlflow.source.git.repoURL", source.repoUrl]);
      if (source.branch) tags.push(["mlflow.source.git.branch", source.branch]);
      tags.push(["mlflow.project.backend", backend.name]);
      if (environment.tag !== undefined) tags.push(["mlflow.project.env", environment.tag]);
      // A signal that came during the synchronous work above is only seen after a turn of the
      // event loop: take one, so nothing is recorded for a run interrupted before it exists.
      await new Promise((r) => setTimeout(r, 1));
      if (options.signal?.aborted) throw new InterruptedError("Interrupted before the run started");
      runInfo = await store.createRun({
        experimentId,
        userId: user,
        startTime: Date.now(),
        runName: options.runName || generateRunName(),
        tags,
        params: [...logged.declared, ...logged.extra],
      });
    }

    const submitted = await backend.launch({
      runId: runInfo.runId,
      experimentId: runInfo.experimentId,
      command,
      workDir: fetched.workDir,
      env: { ...env, ...environment.env },
      store,
      reporter,
      stdout: options.stdout ?? "inherit",
      killGraceMs: options.killGraceMs ?? 5000,
      environment: {
        kind: environment.kind,
        ...(environment.key !== undefined ? { key: environment.key } : {}),
        ...(environment.cacheHit !== undefined ? { cacheHit: environment.cacheHit } : {}),
        mlflowVersion: mlflow?.version ?? null,
      },
    });
    launched = true;
    options.signal?.removeEventListener("abort", onSetupAbort);
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
    if (options.signal !== undefined) {
      const onAbort = () => void handle.cancel();
      if (options.signal.aborted) onAbort();
      else options.signal.addEventListener("abort", onAbort, { once: true });
      ended.finally(() => options.signal!.removeEventListener("abort", onAbort)).catch(() => {});
    }
    if (options.synchronous === false) return handle;
    await ended;
    return await waitForRun(handle, { reporter });
  } catch (e) {
    options.signal?.removeEventListener("abort", onSetupAbort);
    if (!launched) {
      if (store !== undefined && runInfo !== undefined && !options.runId) {
        await markFailed(store, runInfo.runId, {
          status: options.signal?.aborted ? "KILLED" : "FAILED",
          reporter,
        });
      }
      store?.close();
      await cleanup();
    }
    throw e;
  }
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
    await store.endRun(runId, options.status, Date.now(), {
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
