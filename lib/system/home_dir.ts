/**
 * The user's home and cache directories, resolved the same way everywhere.
 *
 * @module
 */
import { join } from "./paths.ts";

/**
 * The user's home directory from an environment: `HOME`, else `USERPROFILE`.
 *
 * @param env The environment.
 * @returns The directory, or `undefined` when neither is set.
 *
 * @example
 * ```ts
 * import { homeDir } from "./home_dir.ts";
 * console.assert(homeDir({ HOME: "/root" }) === "/root");
 * console.assert(homeDir({}) === undefined);
 * ```
 */
export function homeDir(env: Record<string, string | undefined>): string | undefined {
  return env.HOME || env.USERPROFILE || undefined;
}

/**
 * A directory of mlproject's cache: `$MLPROJECT_CACHE_DIR/<name>`, else
 * `$XDG_CACHE_HOME/mlproject/<name>`, else `~/.cache/mlproject/<name>`.
 *
 * @param env The environment.
 * @param name The part of the cache (`git`, `envs`, `experiment_ids.json`).
 * @returns The path, or `undefined` when none of the variables is set.
 *
 * @example
 * ```ts
 * import { cacheDir } from "./home_dir.ts";
 * console.assert(cacheDir({ MLPROJECT_CACHE_DIR: "/c" }, "git") === "/c/git");
 * console.assert(cacheDir({ HOME: "/h" }, "envs") === "/h/.cache/mlproject/envs");
 * ```
 */
export function cacheDir(
  env: Record<string, string | undefined>,
  name: string,
): string | undefined {
  if (env.MLPROJECT_CACHE_DIR) return join(env.MLPROJECT_CACHE_DIR, name);
  if (env.XDG_CACHE_HOME) return join(env.XDG_CACHE_HOME, "mlproject", name);
  const home = homeDir(env);
  return home === undefined ? undefined : join(home, ".cache", "mlproject", name);
}
