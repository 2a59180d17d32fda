/**
 * Choosing the environment manager a project runs with, with MLflow's rules and errors.
 *
 * @module
 */
import { ExecutionException, UsageError } from "./errors.ts";
import { type Reporter, SILENT_REPORTER } from "./output.ts";
import type { ProjectSpec } from "./project_spec.ts";

/** Values of `--env-manager`. */
export const ENV_MANAGERS = ["local", "conda", "virtualenv", "uv"] as const;

/** An environment manager. */
export type EnvManager = typeof ENV_MANAGERS[number];

/** What a project runs in: a manager, or docker for `docker_env` projects. */
export type Environment = EnvManager | "docker";

/**
 * Validates an `--env-manager` value.
 *
 * @param value The value given.
 * @returns The manager.
 * @throws {UsageError} For an unknown value.
 *
 * @example
 * ```ts
 * import { validateEnvManager } from "./environment.ts";
 * console.assert(validateEnvManager("local") === "local");
 * ```
 */
export function validateEnvManager(value: string): EnvManager {
  if ((ENV_MANAGERS as readonly string[]).includes(value)) return value as EnvManager;
  throw new UsageError(
    `Invalid value for \`env_manager\`: ${value}. Must be one of ['local', 'conda', 'virtualenv', 'uv']`,
  );
}

/**
 * Picks the environment as MLflow does: docker projects always use docker; otherwise the
 * requested manager, else `conda` for conda projects and `virtualenv` for the rest.
 *
 * @param project The loaded project.
 * @param requested The `--env-manager` value, if any.
 * @returns The environment to use.
 * @throws {ExecutionException} For conda on a python_env project, and for docker projects
 * (not supported yet).
 *
 * @example
 * ```ts ignore
 * import { selectEnvironment } from "./environment.ts";
 * selectEnvironment(project, "local"); // "local"
 * ```
 */
export function selectEnvironment(
  project: ProjectSpec,
  requested: EnvManager | undefined,
): Environment {
  if (project.envType === "docker_env") {
    throw new ExecutionException(
      `Project '${project.dir}' declares docker_env: docker environments are not supported yet`,
    );
  }
  if (requested === "conda" && project.envType === "python_env") {
    throw new ExecutionException(
      "python_env project cannot be executed using conda. Set `--env-manager` to 'virtualenv' or 'local' to execute this project.",
    );
  }
  return requested ?? (project.envType === "conda_env" ? "conda" : "virtualenv");
}

/** An environment ready to run an entry point in. */
export interface PreparedEnvironment {
  /** What the run executes in. */
  readonly kind: Environment;
  /** Value of the `mlflow.project.env` tag, or `undefined` (not set for `local`). */
  readonly tag: string | undefined;
  /** Variables added to the child's environment (e.g. `VIRTUAL_ENV`, a `PATH` with the env first). */
  readonly env: Readonly<Record<string, string>>;
  /** Cache key of a built environment, for `--json` output. */
  readonly key?: string;
  /** Whether a cached environment was reused. */
  readonly cacheHit?: boolean;
  /**
   * The Python interpreter the entry point runs: the env's `bin/python` (virtualenv, uv, conda),
   * or for `local` the first `python`/`python3` on `PATH` (possibly a pyenv shim); `undefined`
   * when there is none (or for docker).
   */
  readonly python?: string;
  /** Turns the entry point's command into the command that runs inside the environment. */
  wrapCommand(command: string): string;
}

/** Options of {@linkcode prepareEnvironment}. */
export interface PrepareEnvironmentOptions {
  /** The caller's environment (`PATH`, `MLFLOW_ENV_ROOT`, …). */
  env: Record<string, string>;
  /** Aborting stops an environment build (what was built is removed). */
  signal?: AbortSignal;
  /** Receives progress lines (build steps, warnings); build output itself goes to stderr. */
  reporter?: Reporter;
}

function unsetPythonHome(env: Record<string, string>): (command: string) => string {
  // `source bin/activate` (MLflow) unsets PYTHONHOME; a set PYTHONHOME breaks a venv.
  return env.PYTHONHOME !== undefined
    ? (command: string) => `unset PYTHONHOME && ${command}`
    : (command: string) => command;
}

/**
 * Chooses the environment (see {@linkcode selectEnvironment}) and makes it ready: nothing to do
 * for `local`; a cached (or newly built) venv for `virtualenv` and `uv`; MLflow's
 * `mlflow-<sha1>` env for `conda`.
 *
 * @param project The loaded project.
 * @param requested The `--env-manager` value, if any.
 * @param options The caller's environment, reporter and abort signal.
 * @returns The environment to run in.
 * @throws {ExecutionException} When the environment cannot be built (nothing is cached then).
 *
 * @example
 * ```ts ignore
 * import { prepareEnvironment } from "./environment.ts";
 * const prepared = await prepareEnvironment(project, "local", { env: Deno.env.toObject() });
 * prepared.wrapCommand("python train.py");
 * ```
 */
export async function prepareEnvironment(
  project: ProjectSpec,
  requested: EnvManager | undefined,
  options: PrepareEnvironmentOptions,
): Promise<PreparedEnvironment> {
  const kind = selectEnvironment(project, requested);
  const reporter = options.reporter ?? SILENT_REPORTER;
  // As `source bin/activate`: a PYTHONHOME of another Python breaks probes, builds and the venv.
  const { PYTHONHOME: _pythonHome, ...env } = options.env;
  const signal = options.signal !== undefined ? { signal: options.signal } : {};
  if (kind === "docker") {
    return { kind, tag: undefined, env: {}, wrapCommand: (command: string) => command };
  }
  if (kind === "local") {
    const { findLocalPython } = await import("./envs/python_site.ts");
    const python = findLocalPython(options.env);
    return {
      kind,
      tag: undefined,
      env: {},
      ...(python !== undefined ? { python } : {}),
      wrapCommand: (command: string) => command,
    };
  }
  if (kind === "conda") {
    const { prepareConda } = await import("./envs/conda.ts");
    const conda = await prepareConda(project.envConfigPath!, { env, reporter, ...signal });
    return {
      kind,
      tag: "conda",
      env: {},
      key: conda.name,
      cacheHit: conda.existed,
      ...(conda.prefix !== undefined ? { python: `${conda.prefix}/bin/python` } : {}),
      wrapCommand: (command: string) => `${conda.activation} && ${command}`,
    };
  }
  const [spec, finder, cache] = await Promise.all([
    import("./envs/python_env_spec.ts"),
    import("./envs/python_finder.ts"),
    import("./envs/env_cache.ts"),
  ]);
  const pythonEnv = spec.readPythonEnvSpec(project);
  for (const warning of pythonEnv.warnings) reporter.log("WARNING", warning);
  const requirements = await spec.resolveRequirements(pythonEnv, project.dir);
  let environment;
  if (kind === "uv") {
    const uv = await import("./envs/uv.ts");
    const uvPath = uv.findUv(env);
    const python = await finder.findPython(pythonEnv.python, {
      env,
      installers: ["uv", "pyenv"],
      reporter,
      ...signal,
    });
    environment = uv.uvEnvironment(python, requirements, { projectDir: project.dir, uv: uvPath });
  } else {
    const venv = await import("./envs/virtualenv.ts");
    const python = await finder.findPython(pythonEnv.python, {
      env,
      installers: ["pyenv", "uv"],
      reporter,
      ...signal,
    });
    environment = venv.virtualenvEnvironment(python, requirements, {
      projectDir: project.dir,
      env,
    });
  }
  const acquired = await cache.acquireEnvironment(environment, { env, reporter, ...signal });
  if (acquired.cacheHit) {
    reporter.log("INFO", `=== Using cached environment ${acquired.key} (${acquired.dir}) ===`);
  }
  return {
    kind,
    // MLflow's tag vocabulary is docker/virtualenv/conda: a uv env is a virtualenv.
    tag: "virtualenv",
    env: environment.activate(acquired.dir, env),
    key: acquired.key,
    cacheHit: acquired.cacheHit,
    python: `${acquired.dir}/bin/python`,
    wrapCommand: unsetPythonHome(options.env),
  };
}
