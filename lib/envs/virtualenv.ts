/**
 * The `virtualenv` manager: a venv made with `virtualenv` when it is on `PATH`, else with
 * `python -m venv`, then `build_dependencies` and `dependencies` installed with
 * `python -m pip install` (the user's pip configuration applies; `PIP_NO_INPUT=1`).
 *
 * @module
 */
import { installRequirements, runStep } from "./_install.ts";
import { which } from "./_which.ts";
import type { BuildOptions, Environment } from "./env_cache.ts";
import type { PythonInterpreter } from "./python_finder.ts";
import type { ResolvedRequirements } from "./python_env_spec.ts";

/**
 * Variables that activate a venv: its `bin` first on `PATH`, and `VIRTUAL_ENV`.
 *
 * @param dir The venv.
 * @param env The caller's environment.
 * @returns The variables to add.
 *
 * @example
 * ```ts
 * import { venvActivation } from "./virtualenv.ts";
 * console.assert(venvActivation("/v", { PATH: "/usr/bin" }).PATH === "/v/bin:/usr/bin");
 * ```
 */
export function venvActivation(
  dir: string,
  env: Record<string, string>,
): Record<string, string> {
  return {
    PATH: env.PATH ? `${dir}/bin:${env.PATH}` : `${dir}/bin`,
    VIRTUAL_ENV: dir,
  };
}

/**
 * Describes a virtualenv environment (nothing is built until the cache asks).
 *
 * @param python The base interpreter.
 * @param requirements What to install.
 * @param options The project directory (installs run there) and the caller's environment (to
 * look for `virtualenv`).
 * @returns The environment.
 *
 * @example
 * ```ts ignore
 * import { virtualenvEnvironment } from "./virtualenv.ts";
 * const environment = virtualenvEnvironment(python, requirements, { projectDir, env });
 * ```
 */
export function virtualenvEnvironment(
  python: PythonInterpreter,
  requirements: ResolvedRequirements,
  options: { projectDir: string; env: Record<string, string> },
): Environment {
  const virtualenv = which("virtualenv", { path: options.env.PATH });
  const recipe: VenvRecipe = {
    manager: "virtualenv",
    tool: virtualenv !== undefined ? "virtualenv" : "venv",
    create: (dir) => ({
      label: "[1/3] creating the virtualenv",
      argv: virtualenv !== undefined
        ? [virtualenv, "--python", python.path, dir]
        : [python.path, "-m", "venv", dir],
    }),
    installer: (dir) => [`${dir}/bin/python`, "-m", "pip", "install"],
  };
  return venvEnvironment(python, requirements, { recipe, projectDir: options.projectDir });
}

/** How a venv-style environment is made: the command that creates it and the installer. */
export interface VenvRecipe {
  /** Manager name recorded in the cache. */
  manager: "virtualenv" | "uv";
  /** Tool name that goes into the cache key (`venv`, `virtualenv`, `uv`). */
  tool: string;
  /** Label and argv of the step that creates the venv in a directory. */
  create: (dir: string) => { label: string; argv: string[] };
  /** Installer argv (`-r <file>` is appended) for a venv directory. */
  installer: (dir: string) => string[];
}

/**
 * Describes a venv-style environment built in three steps: create the venv, install
 * `build_dependencies`, install `dependencies`. Activation is `PATH` and `VIRTUAL_ENV`.
 *
 * @param python The base interpreter.
 * @param requirements What to install.
 * @param options The recipe, and the project directory installs run in.
 * @returns The environment.
 *
 * @example
 * ```ts ignore
 * import { venvEnvironment } from "./virtualenv.ts";
 * const environment = venvEnvironment(python, requirements, { recipe, projectDir });
 * ```
 */
export function venvEnvironment(
  python: PythonInterpreter,
  requirements: ResolvedRequirements,
  options: { recipe: VenvRecipe; projectDir: string },
): Environment {
  const { recipe } = options;
  return {
    manager: recipe.manager,
    python,
    fingerprint: [
      `tool ${recipe.tool}`,
      "build_dependencies",
      ...requirements.build,
      "dependencies",
      ...requirements.dependencies,
      "files",
      ...requirements.fingerprint,
    ],
    async build(dir: string, build: BuildOptions): Promise<void> {
      const steps = {
        env: { ...build.env, ...venvActivation(dir, build.env) },
        cwd: options.projectDir,
        reporter: build.reporter,
        ...(build.signal !== undefined ? { signal: build.signal } : {}),
      };
      const create = recipe.create(dir);
      await runStep(create.label, create.argv, { ...steps, env: build.env });
      const install = recipe.installer(dir);
      await installRequirements(
        "[2/3] installing build dependencies",
        requirements.build,
        install,
        steps,
      );
      await installRequirements(
        "[3/3] installing dependencies",
        requirements.dependencies,
        install,
        steps,
      );
    },
    activate: venvActivation,
  };
}
