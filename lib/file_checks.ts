/**
 * Synchronous checks of what a path names, for the few places that only need a yes or no.
 *
 * @module
 */

function statOrUndefined(path: string): Deno.FileInfo | undefined {
  try {
    return Deno.statSync(path);
  } catch {
    return undefined;
  }
}

/**
 * Whether anything exists at `path` (symlinks followed).
 *
 * @param path The path.
 * @returns `true` when it exists.
 *
 * @example
 * ```ts
 * import { pathExists } from "./file_checks.ts";
 * console.assert(pathExists("/"));
 * ```
 */
export function pathExists(path: string): boolean {
  return statOrUndefined(path) !== undefined;
}

/**
 * Whether `path` is a directory (symlinks followed).
 *
 * @param path The path.
 * @returns `true` for a directory.
 *
 * @example
 * ```ts
 * import { isDirectory } from "./file_checks.ts";
 * console.assert(isDirectory("/"));
 * ```
 */
export function isDirectory(path: string): boolean {
  return statOrUndefined(path)?.isDirectory ?? false;
}

/**
 * Whether `path` is a regular file (symlinks followed).
 *
 * @param path The path.
 * @returns `true` for a file.
 *
 * @example
 * ```ts
 * import { isFile } from "./file_checks.ts";
 * console.assert(!isFile("/"));
 * ```
 */
export function isFile(path: string): boolean {
  return statOrUndefined(path)?.isFile ?? false;
}

const PATH_PROBLEMS: Record<string, string> = {
  ELOOP: "too many levels of symbolic links (a symlink loop)",
  ENAMETOOLONG: "the file name is too long",
  EACCES: "permission denied",
  ENOTDIR: "a part of the path is not a directory",
};

/**
 * Why `path` cannot be followed although something may be there: a symlink loop, a name too
 * long, no permission. `undefined` when it can be followed or simply does not exist.
 *
 * @param path The path.
 * @returns The problem in a few words, or `undefined`.
 *
 * @example
 * ```ts
 * import { pathProblem } from "./file_checks.ts";
 * console.assert(pathProblem("/") === undefined);
 * console.assert(pathProblem(`/${"x".repeat(300)}`) === "the file name is too long");
 * ```
 */
export function pathProblem(path: string): string | undefined {
  try {
    Deno.statSync(path);
    return undefined;
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    return typeof code === "string" ? PATH_PROBLEMS[code] : undefined;
  }
}
