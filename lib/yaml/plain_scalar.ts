/**
 * PyYAML's implicit resolvers for plain scalars (null, bool, int, float, timestamp; the rest is a
 * string), without a YAML parser: shared by the full parser (`python_yaml.ts`), the flat-mapping
 * reader (`flat_yaml.ts`) and the YAML writer of the file store.
 *
 * @module
 */
import { PyDate, PyFloat, type PyValue } from "./py_value.ts";

/** PyYAML's implicit `bool` resolver. */
export const BOOL_RE =
  /^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$/;
/** PyYAML's implicit `float` resolver (YAML 1.1: `1e3` is a string, `1.0e+3` a float). */
export const FLOAT_RE =
  /^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9_]+(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$/;
/** PyYAML's implicit `int` resolver (binary, octal, hex, sexagesimal, `_` separators). */
export const INT_RE =
  /^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$/;
/** PyYAML's implicit `null` resolver (an empty scalar too). */
export const NULL_RE = /^(?:~|null|Null|NULL|)$/;
/** PyYAML's implicit `timestamp` resolver, date form. */
export const DATE_RE = /^[0-9]{4}-[0-9]{2}-[0-9]{2}$/;
/** PyYAML's implicit `timestamp` resolver, date-time form (groups: the parts). */
export const TIMESTAMP_RE =
  /^([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})(?:[Tt]|[ \t]+)([0-9]{1,2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]*))?(?:[ \t]*(Z|[-+][0-9]{1,2}(?::[0-9]{2})?))?$/;

function sexagesimal(parts: string[]): number {
  let value = 0;
  for (const part of parts) value = value * 60 + Number(part);
  return value;
}

/**
 * The integer PyYAML constructs from an `int` scalar.
 *
 * @param text A scalar {@linkcode INT_RE} matches.
 * @returns Its value.
 *
 * @example
 * ```ts
 * import { resolveInt } from "./plain_scalar.ts";
 * console.assert(resolveInt("0x1_0") === 16n);
 * ```
 */
export function resolveInt(text: string): bigint {
  let t = text.replaceAll("_", "");
  let sign = 1n;
  if (t[0] === "-" || t[0] === "+") {
    if (t[0] === "-") sign = -1n;
    t = t.slice(1);
  }
  if (t === "0") return 0n;
  if (t.startsWith("0b")) return sign * BigInt(t);
  if (t.startsWith("0x")) return sign * BigInt(t);
  if (t.includes(":")) {
    let value = 0n;
    for (const part of t.split(":")) value = value * 60n + BigInt(part);
    return sign * value;
  }
  if (t.startsWith("0")) return sign * BigInt("0o" + t.slice(1));
  return sign * BigInt(t);
}

/**
 * The float PyYAML constructs from a `float` scalar.
 *
 * @param text A scalar {@linkcode FLOAT_RE} matches.
 * @returns Its value.
 *
 * @example
 * ```ts
 * import { resolveFloat } from "./plain_scalar.ts";
 * console.assert(resolveFloat("-.inf") === -Infinity);
 * ```
 */
export function resolveFloat(text: string): number {
  let t = text.replaceAll("_", "").toLowerCase();
  let sign = 1;
  if (t[0] === "-" || t[0] === "+") {
    if (t[0] === "-") sign = -1;
    t = t.slice(1);
  }
  if (t === ".inf") return sign * Infinity;
  if (t === ".nan") return NaN;
  if (t.includes(":")) return sign * sexagesimal(t.split(":"));
  return sign * Number(t);
}

/**
 * The date or datetime PyYAML constructs from a `timestamp` scalar, as Python prints it.
 *
 * @param text A scalar {@linkcode DATE_RE} or {@linkcode TIMESTAMP_RE} matches.
 * @returns Its value.
 *
 * @example
 * ```ts
 * import { resolveTimestamp } from "./plain_scalar.ts";
 * console.assert(String(resolveTimestamp("2024-01-02")) === "2024-01-02");
 * ```
 */
export function resolveTimestamp(text: string): PyDate {
  if (DATE_RE.test(text)) return new PyDate(text);
  const m = TIMESTAMP_RE.exec(text)!;
  const pad = (s: string | undefined) => (s ?? "0").padStart(2, "0");
  let out = `${m[1]}-${pad(m[2])}-${pad(m[3])} ${pad(m[4])}:${m[5]}:${m[6]}`;
  if (m[7]) out += "." + m[7].slice(0, 6).padEnd(6, "0");
  if (m[8]) {
    if (m[8] === "Z") out += "+00:00";
    else {
      const [h, mm] = m[8].slice(1).split(":");
      out += `${m[8][0]}${pad(h)}:${pad(mm)}`;
    }
  }
  return new PyDate(out);
}

/**
 * Resolves a plain (unquoted) scalar as PyYAML's YAML 1.1 resolver does.
 *
 * @param text The scalar's source text.
 * @returns The typed value.
 *
 * @example
 * ```ts
 * import { resolvePlainScalar } from "./python_yaml.ts";
 * console.assert(resolvePlainScalar("yes") === true);
 * console.assert(resolvePlainScalar("1e3") === "1e3");
 * ```
 */
export function resolvePlainScalar(text: string): PyValue {
  if (NULL_RE.test(text)) return null;
  if (BOOL_RE.test(text)) return ["yes", "true", "on"].includes(text.toLowerCase());
  if (INT_RE.test(text)) return resolveInt(text);
  if (FLOAT_RE.test(text)) return new PyFloat(resolveFloat(text));
  if (DATE_RE.test(text) || TIMESTAMP_RE.test(text)) return resolveTimestamp(text);
  return text;
}
