/**
 * PEP 440 version parsing and ordering (epoch, release, pre-, post- and dev-releases, local
 * labels), enough to compare Python package versions such as MLflow's.
 *
 * @module
 */

/** A parsed PEP 440 version. */
export interface Pep440Version {
  /** Epoch (`N!`), 0 when absent. */
  epoch: number;
  /** Release numbers, e.g. `[3, 7, 0]`. */
  release: number[];
  /** Pre-release: phase and number, e.g. `["rc", 0]`. */
  pre: ["a" | "b" | "rc", number] | undefined;
  /** Post-release number. */
  post: number | undefined;
  /** Development release number. */
  dev: number | undefined;
  /** Local label segments (after `+`), lower-cased. */
  local: string[];
}

const PATTERN = new RegExp(
  "^v?(?:(\\d+)!)?(\\d+(?:\\.\\d+)*)" +
    "(?:[-_.]?(a|alpha|b|beta|rc|c|pre|preview)[-_.]?(\\d+)?)?" +
    "(?:-(\\d+)|[-_.]?(post|rev|r)[-_.]?(\\d+)?)?" +
    "(?:[-_.]?(dev)[-_.]?(\\d+)?)?" +
    "(?:\\+([a-z0-9]+(?:[-_.][a-z0-9]+)*))?$",
);

const PRE_PHASE: Record<string, "a" | "b" | "rc"> = {
  a: "a",
  alpha: "a",
  b: "b",
  beta: "b",
  rc: "rc",
  c: "rc",
  pre: "rc",
  preview: "rc",
};

/**
 * Parses a version with PEP 440's normalisation (`1.0RC1` = `1.0rc1`, `1.0-1` = `1.0.post1`).
 *
 * @param text The version text.
 * @returns The parsed version, or `undefined` when it is not a PEP 440 version.
 *
 * @example
 * ```ts
 * import { parsePep440 } from "./pep440.ts";
 * console.assert(parsePep440("3.7.0rc0")?.pre?.[0] === "rc");
 * console.assert(parsePep440("not a version") === undefined);
 * ```
 */
export function parsePep440(text: string): Pep440Version | undefined {
  const m = PATTERN.exec(text.trim().toLowerCase());
  if (m === null) return undefined;
  return {
    epoch: m[1] !== undefined ? Number(m[1]) : 0,
    release: m[2]!.split(".").map(Number),
    pre: m[3] !== undefined ? [PRE_PHASE[m[3]]!, Number(m[4] ?? 0)] : undefined,
    post: m[5] !== undefined ? Number(m[5]) : m[6] !== undefined ? Number(m[7] ?? 0) : undefined,
    dev: m[8] !== undefined ? Number(m[9] ?? 0) : undefined,
    local: m[10] !== undefined ? m[10].split(/[-_.]/) : [],
  };
}

function compareNumbers(a: number, b: number): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function compareRelease(a: number[], b: number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = compareNumbers(a[i] ?? 0, b[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

const PHASE_ORDER = { a: 0, b: 1, rc: 2 } as const;

/** Pre-release key: a dev-only release sorts before every pre-release; a final after them. */
function preKey(v: Pep440Version): [number, number] {
  if (v.pre !== undefined) return [PHASE_ORDER[v.pre[0]], v.pre[1]];
  if (v.post === undefined && v.dev !== undefined) return [-1, 0];
  return [3, 0];
}

function compareLocal(a: string[], b: string[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i];
    const y = b[i];
    if (x === undefined || y === undefined) return x === undefined ? -1 : 1;
    const xn = /^\d+$/.test(x);
    const yn = /^\d+$/.test(y);
    if (xn && yn) {
      const d = compareNumbers(Number(x), Number(y));
      if (d !== 0) return d;
    } else if (xn !== yn) {
      return xn ? 1 : -1;
    } else if (x !== y) {
      return x < y ? -1 : 1;
    }
  }
  return 0;
}

/**
 * Compares two PEP 440 versions: `1.0.dev0 < 1.0a1 < 1.0rc1 < 1.0 < 1.0.post1`, and
 * `1.0 == 1.0.0`.
 *
 * @param a A version.
 * @param b Another version.
 * @returns A negative number when `a < b`, 0 when equal, a positive number when `a > b`.
 * @throws {SyntaxError} When either is not a PEP 440 version.
 *
 * @example
 * ```ts
 * import { comparePep440 } from "./pep440.ts";
 * console.assert(comparePep440("3.7.0rc0", "3.7.0") < 0);
 * console.assert(comparePep440("3.10.0", "3.9.1") > 0);
 * ```
 */
export function comparePep440(a: string, b: string): number {
  const va = parsePep440(a);
  const vb = parsePep440(b);
  if (va === undefined || vb === undefined) {
    throw new SyntaxError(`Not a PEP 440 version: '${va === undefined ? a : b}'`);
  }
  const [pa, pb] = [preKey(va), preKey(vb)];
  return compareNumbers(va.epoch, vb.epoch) ||
    compareRelease(va.release, vb.release) ||
    compareNumbers(pa[0], pb[0]) || compareNumbers(pa[1], pb[1]) ||
    compareNumbers(va.post ?? -1, vb.post ?? -1) ||
    compareNumbers(va.dev ?? Infinity, vb.dev ?? Infinity) ||
    compareLocal(va.local, vb.local);
}
