/**
 * Synchronous checks of what a path names, for the few places that only need a yes or no.
 *
 * @module
 */

/**
 * What `path` names (symlinks followed), or `undefined` when nothing can be found there.
 *
 * @param path The path.
 * @returns Its file info, or `undefined`.
 *
 * @example
 * ```ts
 * import { statOrUndefined } from "./file_checks.ts";
 * console.assert(statOrUndefined("/nonexistent/x") === undefined);
 * ```
 */
export function statOrUndefined(path: string): Deno.FileInfo | undefined {
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

const OS_ERROR_REASONS: Record<string, string> = {
  ENOENT: "no such file",
  ELOOP: "too many levels of symbolic links (a symlink loop)",
  ENAMETOOLONG: "the file name is too long",
  EACCES: "permission denied",
  EPERM: "permission denied",
  EISDIR: "it is a directory",
  ENOTDIR: "a part of the path is not a directory",
  ENXIO: "no such device or address (a socket?)",
};

/**
 * What an OS error on a path means, in a few words, from its `code` (`ELOOP`, `ENAMETOOLONG`, ...):
 * the one wording of these reasons in messages that name a file.
 *
 * @param e The error thrown by a file operation.
 * @returns The reason, or `undefined` for an error without a known code.
 *
 * @example
 * ```ts
 * import { osErrorReason } from "./file_checks.ts";
 * console.assert(osErrorReason({ code: "ENAMETOOLONG" }) === "the file name is too long");
 * console.assert(osErrorReason(new Error("boom")) === undefined);
 * ```
 */
export function osErrorReason(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | undefined)?.code;
  return typeof code === "string" && Object.hasOwn(OS_ERROR_REASONS, code)
    ? OS_ERROR_REASONS[code]
    : undefined;
}

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
    return (e as { code?: unknown }).code === "ENOENT" ? undefined : osErrorReason(e);
  }
}

/**
 * The names in a directory, or none when it cannot be listed.
 *
 * @param path The directory.
 * @returns Its entries' names.
 *
 * @example
 * ```ts
 * import { listDir } from "./file_checks.ts";
 * console.assert(listDir("/nonexistent").length === 0);
 * ```
 */
export function listDir(path: string): string[] {
  try {
    return [...Deno.readDirSync(path)].map((e) => e.name);
  } catch {
    return [];
  }
}
