/**
 * The `uv` manager: `uv venv <dir> --allow-existing --python <interpreter>`, then `uv pip install` of
 * `build_dependencies` and `dependencies` (uv's own configuration applies: `uv.toml`, `UV_*`).
 *
 * @module
 */
import { ExecutionException } from "../system/errors.ts";
import { which } from "./_which.ts";
import type { Environment } from "./env_cache.ts";
import type { PythonInterpreter } from "./python_finder.ts";
import type { ResolvedRequirements } from "./python_env_spec.ts";
import { venvEnvironment, type VenvRecipe } from "./virtualenv.ts";

/**
 * Finds the `uv` executable.
 *
 * @param env The caller's environment.
 * @returns The path of `uv`.
 * @throws {ExecutionException} When `uv` is not on `PATH`.
 *
 * @example
 * ```ts ignore
 * import { findUv } from "./uv.ts";
 * findUv(Deno.env.toObject()); // "/usr/local/bin/uv"
 * ```
 */
export function findUv(env: Record<string, string>): string {
  const uv = which("uv", { path: env.PATH });
  if (uv === undefined) {
    throw new ExecutionException(
      "Could not find the uv executable on PATH: install uv (https://docs.astral.sh/uv/getting-started/installation/) or use `--env-manager virtualenv`",
    );
  }
  return uv;
}

/**
 * Describes a uv environment (nothing is built until the cache asks).
 *
 * @param python The base interpreter.
 * @param requirements What to install.
 * @param options The project directory (installs run there) and the `uv` executable.
 * @returns The environment.
 *
 * @example
 * ```ts ignore
 * import { uvEnvironment } from "./uv.ts";
 * const environment = uvEnvironment(python, requirements, { projectDir, uv: "/usr/bin/uv" });
 * ```
 */
export function uvEnvironment(
  python: PythonInterpreter,
  requirements: ResolvedRequirements,
  options: { projectDir: string; uv: string },
): Environment {
  const { uv } = options;
  const recipe: VenvRecipe = {
    manager: "uv",
    tool: "uv",
    create: (dir) => ({
      label: "[1/3] creating the uv venv",
      // The cache has already made `dir` (with its build marker): uv refuses an existing
      // directory unless told to keep it.
      argv: [uv, "venv", dir, "--allow-existing", `--python=${python.path}`],
    }),
    installer: (dir) => [uv, "pip", "install", `--python=${dir}/bin/python`],
  };
  return venvEnvironment(python, requirements, { recipe, projectDir: options.projectDir });
}
