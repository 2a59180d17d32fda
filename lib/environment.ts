/**
 * Choosing the environment manager a project runs with, with MLflow's rules and errors.
 *
 * @module
 */
import { ExecutionException, UsageError } from "./errors.ts";
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
 * @throws {ExecutionException} For conda on a python_env project, and for environments this
 * version cannot build yet.
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
  const chosen: EnvManager = requested ??
    (project.envType === "conda_env" ? "conda" : "virtualenv");
  if (chosen !== "local") {
    const why = requested === undefined ? ` (chosen for this ${project.envType} project)` : "";
    throw new ExecutionException(
      `The '${chosen}' environment manager${why} is not supported yet: run with \`--env-manager local\` to use the current environment`,
    );
  }
  return chosen;
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
  /** Turns the entry point's command into the command that runs inside the environment. */
  wrapCommand(command: string): string;
}

/** Options of {@linkcode prepareEnvironment}. */
export interface PrepareEnvironmentOptions {
  /** The caller's environment (`PATH`, `MLFLOW_ENV_ROOT`, …). */
  env: Record<string, string>;
  /** Aborting stops an environment build. */
  signal?: AbortSignal;
}

/**
 * Chooses the environment (see {@linkcode selectEnvironment}) and makes it ready: nothing to do
 * for `local`.
 *
 * @param project The loaded project.
 * @param requested The `--env-manager` value, if any.
 * @param options The caller's environment.
 * @returns The environment to run in.
 *
 * @example
 * ```ts ignore
 * import { prepareEnvironment } from "./environment.ts";
 * const prepared = await prepareEnvironment(project, "local", { env: Deno.env.toObject() });
 * prepared.wrapCommand("python train.py");
 * ```
 */
export function prepareEnvironment(
  project: ProjectSpec,
  requested: EnvManager | undefined,
  options: PrepareEnvironmentOptions,
): Promise<PreparedEnvironment> {
  void options;
  const kind = selectEnvironment(project, requested);
  return Promise.resolve({
    kind,
    tag: undefined,
    env: {},
    wrapCommand: (command: string) => command,
  });
}
