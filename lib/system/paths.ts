/**
 * POSIX path and `file:` URL helpers. They replace `node:path` and `node:url`, whose Node
 * compatibility layer costs ~15 ms of start-up per process, which matters for a runner whose
 * overhead over `bash -c` is measured.
 *
 * @module
 */

/**
 * Normalizes a path: collapses `//`, `.` and `..` segments, keeps a trailing-slash-free form.
 *
 * @param path The path.
 * @returns The normalized path (`.` for an empty relative path).
 *
 * @example
 * ```ts
 * import { normalize } from "./paths.ts";
 * console.assert(normalize("/a/./b/../c/") === "/a/c");
 * ```
 */
export function normalize(path: string): string {
  const absolute = path.startsWith("/");
  const out: string[] = [];
  for (const part of path.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") {
      if (out.length > 0 && out[out.length - 1] !== "..") out.pop();
      else if (!absolute) out.push("..");
    } else out.push(part);
  }
  const joined = out.join("/");
  return absolute ? `/${joined}` : joined === "" ? "." : joined;
}

/**
 * Whether a path is absolute.
 *
 * @param path The path.
 * @returns `true` when it starts with `/`.
 *
 * @example
 * ```ts
 * import { isAbsolute } from "./paths.ts";
 * console.assert(isAbsolute("/x"));
 * ```
 */
export function isAbsolute(path: string): boolean {
  return path.startsWith("/");
}

/**
 * Joins path segments and normalizes the result.
 *
 * @param parts The segments.
 * @returns The joined path.
 *
 * @example
 * ```ts
 * import { join } from "./paths.ts";
 * console.assert(join("/a", "b", "../c") === "/a/c");
 * ```
 */
export function join(...parts: string[]): string {
  return normalize(parts.filter((p) => p !== "").join("/"));
}

/**
 * Resolves segments right to left into an absolute path, starting from the process cwd.
 *
 * @param parts The segments.
 * @returns The absolute path.
 *
 * @example
 * ```ts
 * import { resolve } from "./paths.ts";
 * console.assert(resolve("/a", "b", "/c", "d") === "/c/d");
 * ```
 */
export function resolve(...parts: string[]): string {
  let path = "";
  for (let i = parts.length - 1; i >= 0 && !path.startsWith("/"); i--) {
    const part = parts[i]!;
    if (part !== "") path = path === "" ? part : `${part}/${path}`;
  }
  if (!path.startsWith("/")) path = `${Deno.cwd()}/${path}`;
  return normalize(path);
}

/**
 * The directory part of a path.
 *
 * @param path The path.
 * @returns Its parent directory.
 *
 * @example
 * ```ts
 * import { dirname } from "./paths.ts";
 * console.assert(dirname("/a/b/c.txt") === "/a/b");
 * ```
 */
export function dirname(path: string): string {
  const trimmed = path.length > 1 ? path.replace(/\/+$/, "") : path;
  const i = trimmed.lastIndexOf("/");
  if (i === -1) return ".";
  const dir = trimmed.slice(0, i).replace(/\/+$/, "");
  return dir === "" ? "/" : dir;
}

/**
 * The extension of a path's last segment, as Node's `extname` (`""` for none or dotfiles).
 *
 * @param path The path.
 * @returns The extension including the dot.
 *
 * @example
 * ```ts
 * import { extname } from "./paths.ts";
 * console.assert(extname("cfg.json") === ".json");
 * ```
 */
export function extname(path: string): string {
  const base = path.slice(path.lastIndexOf("/") + 1);
  const dot = base.lastIndexOf(".");
  return dot <= 0 || base === ".." ? "" : base.slice(dot);
}

/**
 * The relative path from one absolute path to another.
 *
 * @param from The starting directory.
 * @param to The target.
 * @returns The relative path (`""` when they are the same).
 *
 * @example
 * ```ts
 * import { relative } from "./paths.ts";
 * console.assert(relative("/a/b", "/a/c/d") === "../c/d");
 * ```
 */
export function relative(from: string, to: string): string {
  const a = resolve(from).split("/").filter(Boolean);
  const b = resolve(to).split("/").filter(Boolean);
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return [...Array(a.length - i).fill(".."), ...b.slice(i)].join("/");
}

/**
 * Turns an absolute path into a `file://` URL, percent-encoding what URLs need.
 *
 * @param path The absolute path.
 * @returns The URL text.
 *
 * @example
 * ```ts
 * import { pathToFileUrl } from "./paths.ts";
 * console.assert(pathToFileUrl("/a b/c") === "file:///a%20b/c");
 * ```
 */
export function pathToFileUrl(path: string): string {
  return "file://" +
    resolve(path).split("/").map((s) =>
      encodeURIComponent(s).replace(/%40/g, "@").replace(/%3A/g, ":").replace(/%2B/g, "+")
    ).join("/");
}

/**
 * Turns a `file:` URL into a path; only local URLs (empty host or `localhost`) are accepted.
 *
 * @param url The URL text.
 * @returns The absolute path.
 * @throws {TypeError} For a URL that does not name a local file.
 *
 * @example
 * ```ts
 * import { fileUrlToPath } from "./paths.ts";
 * console.assert(fileUrlToPath("file:///a%20b/c") === "/a b/c");
 * ```
 */
export function fileUrlToPath(url: string): string {
  // `file:///x`, `file://localhost/x` and the short `file:/x` all name the local `/x`.
  const m = /^file:(?:\/\/([^/]*))?(\/[^?#]*)?/i.exec(url);
  if (!m || (m[1] !== undefined && m[1] !== "" && m[1].toLowerCase() !== "localhost")) {
    throw new TypeError(`Cannot turn '${url}' into a local path`);
  }
  return decodeURIComponent(m[2] ?? "/");
}
