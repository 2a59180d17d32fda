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
