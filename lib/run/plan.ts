/**
 * The plan stage of a run: fetch the project, find the entry point, compute parameters, choose
 * the environment, let the backend check its configuration, choose the tracking URI, and
 * describe the run that would be recorded. Writes nothing in the tracking store, builds no
 * environment, starts nothing.
 *
 * @module
 */
import type { Backend } from "../backends/backend.ts";
import { getBackend } from "../backends/mod.ts";
import {
  type EntryPoint,
  localPathOf,
  type ParameterValues,
  scriptEntryPoint,
} from "../project/entry_point.ts";
import {
  type EnvironmentPlan,
  type EnvManager,
  planEnvironment,
  validateEnvManager,
} from "../envs/environment.ts";
import { detectMlflowCached } from "../envs/mlflow_detection_cache.ts";
import type { MlflowInstall } from "../envs/mlflow_version.ts";
import { ExecutionException, UsageError } from "../system/errors.ts";
import { type FetchedProject, fetchProject, type ProjectSource } from "../fetch/fetch_project.ts";
import { type ProjectSpec, readProject } from "../project/project_spec.ts";
import { type RunContext, runContext } from "../system/run_context.ts";
import { parseBackendConfig, type RunOptions } from "./run_options.ts";
import { parseTrackingUri, resolveTrackingUri } from "../tracking/tracking_uri.ts";
import { validateKey } from "../tracking/validation.ts";
import { mark } from "../system/timing.ts";
import { cacheDir } from "../system/home_dir.ts";

/** What a run would do, as {@linkcode plan} and `mlproject run --dry-run` show it. */
export interface RunPlan {
  /** The project URI as given. */
  readonly uri: string;
  /** The project. */
  readonly project: {
    /** Directory the entry point runs in (a temporary checkout for git and archives). */
    readonly dir: string;
    /** `name` from the MLproject file. */
    readonly name?: string;
    /** Where it came from (the `mlflow.source.*` tags). */
    readonly source: ProjectSource;
  };
  /** The entry point's name (or script). */
  readonly entryPoint: string;
  /** Params the run logs, in order: declared ones, then extra ones. */
  readonly parameters: readonly [string, string][];
  /** The rendered command (remote `path` values shown as given: they are downloaded first). */
  readonly command: string;
  /** `path` parameters whose values are downloaded before the run. */
  readonly downloads: readonly string[];
  /** The environment. */
  readonly environment: {
    /** `local`, `virtualenv`, `uv`, `conda` or `docker`. */
    readonly manager: string;
    /** Cache key (virtualenv/uv) or env name (conda), when known before building. */
    readonly key?: string;
    /** `true`: reused; `false`: must be built; unset: not known before building, or none. */
    readonly cached?: boolean;
    /** The interpreter the entry point runs, when it exists already. */
    readonly python?: string;
    /** A Python version that must be installed first. */
    readonly installPython?: string;
    /** Docker settings (`-A` in order, `--build-image`). */
    readonly docker?: {
      readonly args: readonly (readonly [string, string | boolean])[];
      readonly buildImage: boolean;
    };
  };
  /**
   * Version of the MLflow the entry point imports (`null`: none); unset when the environment
   * must be built first to know it.
   */
  readonly mlflowVersion?: string | null;
  /** The backend and its parsed configuration. */
  readonly backend: { readonly name: string; readonly config: Readonly<Record<string, unknown>> };
  /** The tracking URI the run is recorded in. */
  readonly trackingUri: string;
  /**
   * `false` when the default tracking URI depends on an MLflow not known before the
   * environment is built (the URI shown is the one chosen without it).
   */
  readonly trackingUriFinal: boolean;
  /** The experiment, as requested (`{ id: "0" }` for the default one). */
  readonly experiment: { readonly name?: string; readonly id?: string };
  /** Existing run to execute in, if any. */
  readonly runId?: string;
  /** Run name, if given (a random one is chosen when the run is created). */
  readonly runName?: string;
  /** Tags the run is created with (`mlflow.runName` aside). */
  readonly tags: readonly [string, string][];
}

/** A plan with what the next stages need (internal to the run pipeline). */
export interface PlannedRun {
  /** The plan. */
  readonly plan: RunPlan;
  /** Settings every stage shares. */
  readonly ctx: RunContext;
  /** The fetched project (its temporary checkout is removed by `fetched.cleanup()`). */
  readonly fetched: FetchedProject;
  /** The loaded project. */
  readonly project: ProjectSpec;
  /** The entry point. */
  readonly entryPoint: EntryPoint;
  /** Logged parameter values. */
  readonly logged: ParameterValues;
  /** The environment to prepare. */
  readonly environment: EnvironmentPlan;
  /** The backend. */
  readonly backend: Backend;
  /** The tracking URI given (option or `MLFLOW_TRACKING_URI`), if any. */
  readonly givenTrackingUri: string | undefined;
  /** Stores what planning learned in mlproject's cache (a parsed MLproject, the MLflow
   * detected): a plan writes nothing. */
  readonly fillCache: () => void;
  /** The MLflow detected in the planned environment's interpreter (`undefined` when none). */
  readonly mlflow: MlflowInstall | undefined;
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

/**
 * The user a run is recorded for, as MLflow finds it: `LOGNAME`, `USER`, `LNAME`, `USERNAME`,
 * else the password database entry of the current uid, else `unknown`.
 *
 * @param env The environment.
 * @returns The user name.
 *
 * @example
 * ```ts
 * import { currentUser } from "./plan.ts";
 * console.assert(currentUser({ USER: "ada" }) === "ada");
 * ```
 */
export function currentUser(env: Record<string, string>): string {
  for (const key of ["LOGNAME", "USER", "LNAME", "USERNAME"]) {
    if (env[key]) return env[key]!;
  }
  try {
    const uid = String(Deno.uid());
    for (const line of Deno.readTextFileSync("/etc/passwd").split("\n")) {
      const fields = line.split(":");
      if (fields[2] === uid && fields[0]) return fields[0];
    }
  } catch { /* no passwd file */ }
  return "unknown";
}

/**
 * Plans a run and keeps what the next stages need. The caller owns `fetched` (call its
 * `cleanup()`); on error nothing is left behind.
 *
 * @param uri Project directory, `file://` URI, git URL or archive, with an optional `#subdir`.
 * @param options As for `run()`.
 * @returns The planned run.
 *
 * @example
 * ```ts ignore
 * const planned = await planRun("examples/demo", { envManager: "local" });
 * await planned.fetched.cleanup();
 * ```
 */
export async function planRun(uri: string, options: RunOptions = {}): Promise<PlannedRun> {
  const ctx = runContext(options);
  const { cwd, env, reporter } = ctx;
  const backendName = options.backend ?? "local";
  const entryName = options.entryPoint ?? "main";
  const parameters = options.parameters ?? {};

  const envManager: EnvManager | undefined = options.envManager === undefined
    ? undefined
    : validateEnvManager(options.envManager);
  const config = parseBackendConfig(options.backendConfig, { cwd });
  if (backendName === "kubernetes" && options.backendConfig === undefined) {
    throw new UsageError("Specify 'backend_config' when using kubernetes mode.");
  }
  if (options.experimentName && options.experimentId) {
    throw new UsageError("Specify only one of 'experiment_name' or 'experiment_id'.");
  }
  const backend = await getBackend(backendName);

  const fetched = await fetchProject(uri, {
    version: options.version,
    cwd,
    keepWorkDir: options.keepWorkDir ?? false,
    env,
    reporter,
    ...(ctx.signal !== undefined ? { signal: ctx.signal } : {}),
  });
  mark("project fetched");
  try {
    let fillCache = () => {};
    const project = await readProject(fetched.workDir, {
      yamlCacheDir: cacheDir(env, "parsed-yaml"),
      storeLater: (store) => fillCache = store,
    });
    mark("MLproject loaded");
    const entryPoint = findEntryPoint(project, entryName, env);
    const logged = entryPoint.computeParameters(parameters);
    for (const key of Object.keys(parameters)) validateKey("param", key);
    // Local `path` values are checked before an environment is built for nothing (remote ones
    // are downloaded once the tracking URI is known).
    const downloads: string[] = [];
    for (const spec of entryPoint.parameters.values()) {
      const value = logged.declared.get(spec.name);
      if (spec.type === "path" && value !== undefined && localPathOf(value) === undefined) {
        downloads.push(spec.name);
      }
    }
    const shown = entryPoint.computeParameters(parameters, {
      resolvePathsFrom: cwd,
      downloaded: new Map(downloads.map((name) => [name, logged.declared.get(name)!])),
    });
    const givenTrackingUri = options.trackingUri ?? (env.MLFLOW_TRACKING_URI || undefined);
    // A malformed URI is refused before an environment is built for nothing.
    if (givenTrackingUri !== undefined) parseTrackingUri(givenTrackingUri, cwd);
    const dockerArgs = options.dockerArgs ?? [];
    // A remote job (Databricks) builds its environment where it runs: nothing is planned here.
    const remote = backend.remoteEnvironment
      ? (await import("../envs/remote_environment.ts")).planRemoteEnvironment(project, envManager)
      : undefined;
    const environment = remote ?? await planEnvironment(project, envManager, {
      env,
      reporter,
      docker: {
        args: Array.isArray(dockerArgs) ? dockerArgs : Object.entries(dockerArgs),
        // Kubernetes runs the project's code from an image pushed to `repository-uri`.
        buildImage: (options.buildImage ?? false) || backendName === "kubernetes",
        ...(backendName === "kubernetes" && typeof config["repository-uri"] === "string"
          ? { pushTo: config["repository-uri"] }
          : {}),
        // A local store inside the project changes on every run: not part of a built image.
        ...(project.envType === "docker_env"
          ? {
            excludePaths: (await import("../docker/image.ts")).trackingStorePaths(
              givenTrackingUri ?? resolveTrackingUri(env, { cwd, mlflowVersion: null }),
              cwd,
            ),
          }
          : {}),
      },
      ...(ctx.signal !== undefined ? { signal: ctx.signal } : {}),
    });
    mark("environment planned");
    let storeDetection = () => {};
    const mlflow = environment.python === undefined
      ? undefined
      : detectMlflowCached(environment.python, {
        env,
        cwd,
        cacheFile: cacheDir(env, "mlflow-detection.json"),
        storeLater: (store) => storeDetection = store,
      });
    mark("MLflow detected");
    // The MLflow inside a docker image is not inspected: the URI is chosen without it.
    const docker = environment.kind === "docker";
    const mlflowKnown = environment.kind === "local" || (!docker && environment.cached === true);
    const mlflowVersion = mlflowKnown ? mlflow?.version ?? null : undefined;
    const trackingUri = givenTrackingUri ??
      resolveTrackingUri(env, { cwd, mlflowVersion: mlflowVersion ?? null });
    const checked = await backend.check?.({
      config,
      trackingUri,
      projectName: project.name,
      environment: environment.kind,
      cwd,
      env,
      ...(project.file !== undefined ? { projectFile: project.file } : {}),
    });

    mark("backend checked");
    const { source } = fetched;
    const tags: [string, string][] = [
      ["mlflow.user", currentUser(env)],
      ["mlflow.source.name", source.name],
      ["mlflow.source.type", "PROJECT"],
      ["mlflow.project.entryPoint", entryName],
    ];
    if (source.commit) tags.push(["mlflow.source.git.commit", source.commit]);
    if (source.repoUrl) tags.push(["mlflow.source.git.repoURL", source.repoUrl]);
    if (source.branch) tags.push(["mlflow.source.git.branch", source.branch]);
    tags.push(["mlflow.project.backend", backend.name]);
    if (environment.tag !== undefined) tags.push(["mlflow.project.env", environment.tag]);
    tags.push(...(checked?.tags ?? []));

    const experimentName = options.experimentName || env.MLFLOW_EXPERIMENT_NAME || undefined;
    const experimentId = options.experimentId || env.MLFLOW_EXPERIMENT_ID || undefined;
    const plan: RunPlan = {
      uri,
      project: {
        dir: fetched.workDir,
        ...(project.name !== undefined ? { name: project.name } : {}),
        source,
      },
      entryPoint: entryName,
      parameters: [...logged.declared, ...logged.extra],
      command: entryPoint.renderCommand(shown),
      downloads,
      environment: {
        manager: environment.kind,
        ...(environment.key !== undefined ? { key: environment.key } : {}),
        ...(environment.cached !== undefined ? { cached: environment.cached } : {}),
        ...(environment.python !== undefined ? { python: environment.python } : {}),
        ...(environment.installPython !== undefined
          ? { installPython: environment.installPython }
          : {}),
        ...(environment.kind === "docker" && environment.docker !== undefined
          ? { docker: { args: environment.docker.args, buildImage: environment.docker.buildImage } }
          : {}),
      },
      ...(mlflowVersion !== undefined ? { mlflowVersion } : {}),
      backend: { name: backend.name, config },
      trackingUri,
      trackingUriFinal: givenTrackingUri !== undefined || mlflowKnown || docker,
      experiment: options.experimentId
        ? { id: options.experimentId }
        : options.experimentName
        ? { name: options.experimentName }
        : experimentId !== undefined && experimentName === undefined
        ? { id: experimentId }
        : experimentName !== undefined
        ? { name: experimentName }
        : { id: "0" },
      ...(options.runId ? { runId: options.runId } : {}),
      ...(options.runName ? { runName: options.runName } : {}),
      tags: options.runId ? [] : tags,
    };
    return {
      plan,
      ctx,
      fetched,
      project,
      entryPoint,
      logged,
      environment,
      backend,
      givenTrackingUri,
      fillCache: () => {
        fillCache();
        storeDetection();
      },
      mlflow,
    };
  } catch (e) {
    await fetched.cleanup();
    throw e;
  }
}

/**
 * Plans a run without doing it: what `mlproject run --dry-run` shows. Fetches the project
 * (a temporary checkout is removed again unless `keepWorkDir`), and writes nothing: no tracking
 * store, no environment, no run, no download.
 *
 * @param uri Project directory, `file://` URI, git URL or archive, with an optional `#subdir`.
 * @param options As for `run()`.
 * @returns The plan.
 * @throws {ExecutionException} For an invalid project, entry point, parameter or environment.
 * @throws {UsageError} For invalid options.
 *
 * @example
 * ```ts ignore
 * import { plan } from "./plan.ts";
 * const p = await plan("examples/demo", { envManager: "local", parameters: { greeting: "hi" } });
 * console.log(p.command, p.trackingUri, p.environment.cached);
 * ```
 */
export async function plan(uri: string, options: RunOptions = {}): Promise<RunPlan> {
  const planned = await planRun(uri, options);
  await planned.fetched.cleanup();
  return planned.plan;
}
