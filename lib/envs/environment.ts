/**
 * Choosing the environment manager a project runs with, with MLflow's rules and errors.
 *
 * @module
 */
import { findLocalPython } from "./python_site.ts";
import { ExecutionException, UsageError } from "../system/errors.ts";
import { type Invocation, shellInvocation } from "../backends/invocation.ts";
import { type Reporter, SILENT_REPORTER } from "../system/output.ts";
import type { ProjectSpec } from "../project/project_spec.ts";

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
 * @throws {ExecutionException} For conda on a python_env project.
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
  if (project.envType === "docker_env") return "docker";
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
  /** Tags the run is created with besides `mlflow.project.env` (docker: the image's uri and id). */
  readonly tags?: readonly [string, string][];
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
  /** How the entry point's rendered command runs in this environment, from `cwd`. */
  invocation(command: string, cwd: string): Invocation;
}

/** `docker run` settings a docker environment receives (`-A`, `--build-image`). */
export interface DockerRequest {
  /** `docker run` arguments in order, repeated names kept (`true` for a flag). */
  readonly args: readonly (readonly [string, string | boolean])[];
  /** Build an image with the project copied in. */
  readonly buildImage: boolean;
  /**
   * Absolute paths left out of the build context (the run's local tracking store when it is
   * inside the project, see `trackingStorePaths`).
   */
  readonly excludePaths?: readonly string[];
  /**
   * Push the image to this repository (`registry/name`, Kubernetes' `repository-uri`) under its
   * content tag; the invocation then runs `<repository>:<tag>@<digest>`.
   */
  readonly pushTo?: string;
}

/** Options of {@linkcode planEnvironment} and {@linkcode prepareEnvironment}. */
export interface PrepareEnvironmentOptions {
  /** The caller's environment (`PATH`, `MLFLOW_ENV_ROOT`, …). */
  env: Record<string, string>;
  /** Aborting stops an environment build (what was built is removed). */
  signal?: AbortSignal;
  /** Receives progress lines (build steps, warnings); build output itself goes to stderr. */
  reporter?: Reporter;
  /** Settings for docker environments. */
  docker?: DockerRequest;
}

/** The environment a run will use, chosen without building or writing anything. */
export interface EnvironmentPlan {
  /** What the run executes in. */
  readonly kind: Environment;
  /** Value of the `mlflow.project.env` tag, or `undefined` (not set for `local`). */
  readonly tag: string | undefined;
  /** Cache key (virtualenv/uv) or env name (conda), when known before building. */
  readonly key?: string;
  /**
   * `true`: a ready environment is reused; `false`: it must be built; unset: not known before
   * building (conda), or nothing to build (local).
   */
  readonly cached?: boolean;
  /** The interpreter the entry point will run, when it exists already. */
  readonly python?: string;
  /** A Python that must be installed first (`X.Y[.Z]`), when none matches. */
  readonly installPython?: string;
  /** Docker settings, for docker environments. */
  readonly docker?: DockerRequest;
  /** Builds (or reuses) the environment. */
  prepare(options?: { reporter?: Reporter; signal?: AbortSignal }): Promise<PreparedEnvironment>;
}

function unsetPythonHome(env: Record<string, string>): (command: string) => string {
  // `source bin/activate` (MLflow) unsets PYTHONHOME; a set PYTHONHOME breaks a venv.
  return env.PYTHONHOME !== undefined
    ? (command: string) => `unset PYTHONHOME && ${command}`
    : (command: string) => command;
}

/**
 * Chooses the environment (see {@linkcode selectEnvironment}) and finds what it would use (the
 * interpreter, the cache key, whether a ready build exists) without building, installing or
 * writing anything.
 *
 * @param project The loaded project.
 * @param requested The `--env-manager` value, if any.
 * @param options The caller's environment, reporter, docker settings.
 * @returns The plan; its `prepare()` builds or reuses the environment.
 * @throws {ExecutionException} For an unusable choice (MLflow's errors), a missing `uv`, an
 * invalid `python_env.yaml`.
 *
 * @example
 * ```ts ignore
 * import { planEnvironment } from "./environment.ts";
 * const planned = await planEnvironment(project, "virtualenv", { env: Deno.env.toObject() });
 * planned.cached; // false: `prepare()` will build it
 * ```
 */
export async function planEnvironment(
  project: ProjectSpec,
  requested: EnvManager | undefined,
  options: PrepareEnvironmentOptions,
): Promise<EnvironmentPlan> {
  const kind = selectEnvironment(project, requested);
  const planReporter = options.reporter ?? SILENT_REPORTER;
  // As `source bin/activate`: a PYTHONHOME of another Python breaks probes, builds and the venv.
  const { PYTHONHOME: _pythonHome, ...env } = options.env;
  const shell = (
    command: string,
    cwd: string,
    extra: { shell?: string; env?: Record<string, string> } = {},
  ) => shellInvocation(command, { cwd, ...extra });
  if (kind === "docker") {
    const docker = await import("../docker/mod.ts");
    docker.validateDockerProject(project);
    const signalOpt = options.signal !== undefined ? { signal: options.signal } : {};
    await docker.checkDockerEngine({ env: options.env, ...signalOpt });
    const request: DockerRequest = options.docker ?? { args: [], buildImage: false };
    const imageOptions = {
      buildImage: request.buildImage,
      env: options.env,
      ...(request.excludePaths !== undefined ? { excludePaths: request.excludePaths } : {}),
    };
    const looked = await docker.lookupDockerImage(project, { ...imageOptions, ...signalOpt });
    const dockerEnv = project.dockerEnv!;
    return {
      kind,
      tag: "docker",
      key: looked.uri,
      cached: looked.present,
      docker: request,
      async prepare(more = {}) {
        const signal = more.signal ?? options.signal;
        const image = await docker.resolveDockerImage(project, {
          ...imageOptions,
          reporter: more.reporter ?? planReporter,
          ...(signal !== undefined ? { signal } : {}),
        });
        let ref = image.uri;
        let recorded: { uri: string; id: string } = image;
        if (request.pushTo !== undefined) {
          const tag = image.uri.slice(image.uri.lastIndexOf(":") + 1);
          const pushed = await docker.pushDockerImage(image.uri, `${request.pushTo}:${tag}`, {
            env: options.env,
            reporter: more.reporter ?? planReporter,
            ...(signal !== undefined ? { signal } : {}),
          });
          // As MLflow: the pushed reference, and the registry digest as the image id.
          recorded = { uri: pushed.uri, id: pushed.digest };
          ref = `${pushed.uri}@${pushed.digest}`;
        }
        const tags = Object.entries(docker.dockerImageTags(recorded)).filter(([k]) =>
          k !== "mlflow.project.env"
        );
        return {
          kind,
          tag: "docker",
          env: {},
          tags,
          key: image.uri,
          cacheHit: !image.built,
          invocation: (command, cwd) => ({
            command,
            argv: docker.containerCommand(command),
            env: {},
            cwd,
            container: {
              image: ref,
              imageId: image.id,
              mustBuild: false,
              mounts: [],
              workdir: request.buildImage ? docker.IMAGE_WORKDIR : "",
              runArgs: request.args,
              volumes: dockerEnv.volumes,
              environment: dockerEnv.environment,
            },
          }),
        };
      },
    };
  }
  if (kind === "local") {
    const python = findLocalPython(options.env);
    const prepared: PreparedEnvironment = {
      kind,
      tag: undefined,
      env: {},
      ...(python !== undefined ? { python } : {}),
      invocation: (command, cwd) => shell(command, cwd),
    };
    return {
      kind,
      tag: undefined,
      ...(python !== undefined ? { python } : {}),
      prepare: () => Promise.resolve(prepared),
    };
  }
  if (kind === "conda") {
    const conda = await import("./conda.ts");
    const { readUserFile } = await import("../system/user_file.ts");
    const name = await conda.condaEnvName(
      await readUserFile(project.envConfigPath!, { label: "conda environment file" }),
    );
    return {
      kind,
      tag: "conda",
      key: name,
      async prepare(more = {}) {
        const reporter = more.reporter ?? planReporter;
        const signal = more.signal ?? options.signal;
        const made = await conda.prepareConda(project.envConfigPath!, {
          env,
          reporter,
          ...(signal !== undefined ? { signal } : {}),
        });
        return {
          kind,
          tag: "conda",
          env: {},
          key: made.name,
          cacheHit: made.existed,
          ...(made.prefix !== undefined ? { python: `${made.prefix}/bin/python` } : {}),
          invocation: (command, cwd) =>
            shell(command, cwd, { shell: `${made.activation} && ${command}` }),
        };
      },
    };
  }
  const [spec, finder, cache] = await Promise.all([
    import("./python_env_spec.ts"),
    import("./python_finder.ts"),
    import("./env_cache.ts"),
  ]);
  const pythonEnv = spec.readPythonEnvSpec(project);
  for (const warning of pythonEnv.warnings) planReporter.log("WARNING", warning);
  const requirements = await spec.resolveRequirements(pythonEnv, project.dir);
  const installers: ("pyenv" | "uv")[] = kind === "uv" ? ["uv", "pyenv"] : ["pyenv", "uv"];
  const uvPath = kind === "uv" ? (await import("./uv.ts")).findUv(env) : undefined;
  const describe = async (python: Awaited<ReturnType<typeof finder.findPython>>) => {
    if (uvPath !== undefined) {
      const uv = await import("./uv.ts");
      return uv.uvEnvironment(python, requirements, { projectDir: project.dir, uv: uvPath });
    }
    const venv = await import("./virtualenv.ts");
    return venv.virtualenvEnvironment(python, requirements, { projectDir: project.dir, env });
  };
  // Only what is installed already: installing a Python is part of preparing.
  const found = await finder.findPython(pythonEnv.python, { env, installers: [] })
    .catch(() => undefined);
  const described = found !== undefined ? await describe(found) : undefined;
  const looked = described !== undefined
    ? await cache.lookupEnvironment(described, { env })
    : undefined;
  const wrap = unsetPythonHome(options.env);
  return {
    kind,
    // MLflow's tag vocabulary is docker/virtualenv/conda: a uv env is a virtualenv.
    tag: "virtualenv",
    ...(looked !== undefined ? { key: looked.key, cached: looked.cacheHit } : { cached: false }),
    ...(looked?.cacheHit ? { python: `${looked.dir}/bin/python` } : {}),
    ...(found === undefined && pythonEnv.python !== undefined
      ? { installPython: pythonEnv.python }
      : {}),
    async prepare(more = {}) {
      const reporter = more.reporter ?? planReporter;
      const signal = more.signal ?? options.signal;
      const environment = described ?? await describe(
        await finder.findPython(pythonEnv.python, {
          env,
          installers,
          reporter,
          ...(signal !== undefined ? { signal } : {}),
        }),
      );
      const acquired = await cache.acquireEnvironment(environment, {
        env,
        reporter,
        ...(signal !== undefined ? { signal } : {}),
      });
      if (acquired.cacheHit) {
        reporter.log("INFO", `=== Using cached environment ${acquired.key} (${acquired.dir}) ===`);
      }
      const vars = environment.activate(acquired.dir, env);
      return {
        kind,
        tag: "virtualenv",
        env: vars,
        key: acquired.key,
        cacheHit: acquired.cacheHit,
        python: `${acquired.dir}/bin/python`,
        invocation: (command, cwd) =>
          shell(command, cwd, { shell: wrap(command), env: { ...vars } }),
      };
    },
  };
}

/**
 * Chooses the environment and makes it ready (see {@linkcode planEnvironment}): nothing to do
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
 * prepared.invocation("python train.py", project.dir).argv; // ["bash", "-c", "python train.py"]
 * ```
 */
export async function prepareEnvironment(
  project: ProjectSpec,
  requested: EnvManager | undefined,
  options: PrepareEnvironmentOptions,
): Promise<PreparedEnvironment> {
  return await (await planEnvironment(project, requested, options)).prepare();
}
