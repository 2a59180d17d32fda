/**
 * Executable lookup on a `PATH`, without spawning anything.
 *
 * @module
 */
import { statProbe } from "./_fs_probe.ts";

/**
 * Whether a path is an existing regular file with an execute bit.
 *
 * @param path The path.
 * @returns `true` for an executable file (symlinks followed).
 *
 * @example
 * ```ts
 * import { isExecutable } from "./_which.ts";
 * console.assert(isExecutable("/bin/sh"));
 * ```
 */
export function isExecutable(path: string): boolean {
  const info = statProbe(path);
  return info !== undefined && info.isFile && ((info.mode ?? 0o111) & 0o111) !== 0;
}

/**
 * Finds an executable on `PATH` as a shell does.
 *
 * @param name The executable name (a name with `/` is checked as a path).
 * @param options `path`: the `PATH` value; `skip`: directories to ignore (e.g. pyenv shims).
 * @returns Its path, or `undefined`.
 *
 * @example
 * ```ts
 * import { which } from "./_which.ts";
 * console.assert(which("sh", { path: "/usr/bin:/bin" }) !== undefined);
 * ```
 */
export function which(
  name: string,
  options: { path: string | undefined; skip?: string[] },
): string | undefined {
  if (name.includes("/")) return isExecutable(name) ? name : undefined;
  for (const dir of (options.path ?? "").split(":")) {
    if (dir === "" || options.skip?.includes(dir.replace(/\/+$/, ""))) continue;
    const candidate = `${dir.replace(/\/+$/, "")}/${name}`;
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}
