/**
 * Which archive format a project URI names, from its file name alone (kept apart from the
 * archive reader so that runs of directories and git repositories do not load it).
 *
 * @module
 */

/**
 * Whether a URI or path names an archive mlproject can unpack.
 *
 * @param uri The URI or path (without `#subdir`).
 * @returns `zip`, `tar`, or `undefined`.
 *
 * @example
 * ```ts
 * import { archiveKind } from "./archive.ts";
 * console.assert(archiveKind("https://h/p.tar.gz") === "tar");
 * ```
 */
export function archiveKind(uri: string): "zip" | "tar" | undefined {
  const path = uri.replace(/[?#].*$/, "");
  if (/.\.zip$/i.test(path)) return "zip";
  if (/.\.(tar|tar\.gz|tgz)$/i.test(path)) return "tar";
  return undefined;
}
