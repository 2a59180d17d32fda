/**
 * The file-system reads of interpreter and MLflow detection, recorded while a recording is
 * active: every path looked at and what it was then (its `stat`, or the target of a `realpath`),
 * so a stored answer can later be checked against the same paths (see `detection_cache.ts`).
 *
 * @module
 */

/** One path a detection looked at: `s` = its `stat` stamp, `r` = its real path. */
export type Probe = [kind: "s" | "r", path: string, seen: string];

let probes: Probe[] | undefined;

/** The stamp of a `stat` result: changes whenever the file or directory (its entries) does. */
export function stampOf(info: Deno.FileInfo | undefined): string {
  if (info === undefined) return "-";
  const type = info.isFile ? "f" : info.isDirectory ? "d" : "o";
  return `${type}:${info.mtime?.getTime()}:${info.ctime?.getTime()}:${info.ino}:${info.dev}:${info.size}:${info.mode}`;
}

/**
 * Runs `fn` recording every probe of this module it makes.
 *
 * @param fn The detection.
 * @returns Its value and the probes, in order.
 *
 * @example
 * ```ts
 * import { recordProbes, statProbe } from "./_fs_probe.ts";
 * const { probes } = recordProbes(() => statProbe("/"));
 * console.assert(probes.length === 1);
 * ```
 */
export function recordProbes<T>(fn: () => T): { value: T; probes: Probe[] } {
  const outer = probes;
  probes = [];
  try {
    const value = fn();
    return { value, probes };
  } finally {
    probes = outer;
  }
}

/**
 * `stat` (symlinks followed), recorded.
 *
 * @param path The path.
 * @returns Its info, or `undefined` when nothing is there.
 *
 * @example
 * ```ts
 * import { statProbe } from "./_fs_probe.ts";
 * console.assert(statProbe("/nonexistent/x") === undefined);
 * ```
 */
export function statProbe(path: string): Deno.FileInfo | undefined {
  let info: Deno.FileInfo | undefined;
  try {
    info = Deno.statSync(path);
  } catch {
    info = undefined;
  }
  probes?.push(["s", path, stampOf(info)]);
  return info;
}

/**
 * `realpath`, recorded; the path itself when it cannot be resolved.
 *
 * @param path The path.
 * @returns The resolved path.
 *
 * @example
 * ```ts
 * import { realPathProbe } from "./_fs_probe.ts";
 * console.assert(realPathProbe("/nonexistent/x") === "/nonexistent/x");
 * ```
 */
export function realPathProbe(path: string): string {
  let real: string;
  try {
    real = Deno.realPathSync(path);
  } catch {
    real = path;
  }
  probes?.push(["r", path, real]);
  return real;
}

/**
 * A text file's contents, recorded (by its `stat`, taken first).
 *
 * @param path The file.
 * @returns Its text, or `undefined` when it cannot be read.
 *
 * @example
 * ```ts
 * import { readTextProbe } from "./_fs_probe.ts";
 * console.assert(readTextProbe("/nonexistent/x") === undefined);
 * ```
 */
export function readTextProbe(path: string): string | undefined {
  if (probes !== undefined && statProbe(path) === undefined) return undefined;
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return undefined;
  }
}

/**
 * A directory's entries, recorded (by the directory's `stat`, taken first).
 *
 * @param path The directory.
 * @returns Its entries, or `undefined` when it cannot be read.
 *
 * @example
 * ```ts
 * import { readDirProbe } from "./_fs_probe.ts";
 * console.assert(readDirProbe("/nonexistent/x") === undefined);
 * ```
 */
export function readDirProbe(path: string): Deno.DirEntry[] | undefined {
  if (probes !== undefined && statProbe(path) === undefined) return undefined;
  try {
    return [...Deno.readDirSync(path)];
  } catch {
    return undefined;
  }
}

/**
 * Whether every recorded probe still sees what it saw.
 *
 * @param recorded The probes of a past detection.
 * @returns `true` when nothing they looked at changed.
 *
 * @example
 * ```ts
 * import { probesHold, recordProbes, statProbe } from "./_fs_probe.ts";
 * console.assert(probesHold(recordProbes(() => statProbe("/")).probes));
 * ```
 */
export function probesHold(recorded: Probe[]): boolean {
  for (const [kind, path, seen] of recorded) {
    if (kind === "s") {
      let info: Deno.FileInfo | undefined;
      try {
        info = Deno.statSync(path);
      } catch {
        info = undefined;
      }
      if (stampOf(info) !== seen) return false;
    } else {
      let real: string;
      try {
        real = Deno.realPathSync(path);
      } catch {
        real = path;
      }
      if (real !== seen) return false;
    }
  }
  return true;
}
