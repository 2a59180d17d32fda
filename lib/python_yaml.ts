/**
 * Reads YAML the way PyYAML's `safe_load` does (YAML 1.1 implicit types) and turns the values
 * into text the way Python's `str()` does, so MLproject defaults render as in MLflow.
 *
 * @module
 */
import { isMap, isScalar, isSeq, parseDocument } from "yaml";
import type { Node } from "yaml";

/** A Python `float` read from YAML (kept apart from ints so `1.0` renders as `1.0`). */
export class PyFloat {
  /** The numeric value. */
  readonly value: number;
  /**
   * Wraps a float.
   *
   * @example
   * ```ts
   * import { PyFloat, pyStr } from "./python_yaml.ts";
   * console.assert(pyStr(new PyFloat(1)) === "1.0");
   * ```
   */
  constructor(value: number) {
    this.value = value;
  }
}

/** A calendar date or timestamp read from YAML, kept as Python's `str()` of it. */
export class PyDate {
  /** Python's `str()` of the value. */
  readonly text: string;
  /**
   * Wraps a date text.
   *
   * @example
   * ```ts
   * import { PyDate } from "./python_yaml.ts";
   * console.assert(new PyDate("2001-12-14").text === "2001-12-14");
   * ```
   */
  constructor(text: string) {
    this.text = text;
  }
}

/** A value as PyYAML would produce it. */
export type PyValue =
  | null
  | boolean
  | bigint
  | PyFloat
  | PyDate
  | string
  | PyValue[]
  | { [key: string]: PyValue };

/** Raised when YAML text cannot be parsed. */
export class YamlSyntaxError extends SyntaxError {
  /**
   * Creates a YAML syntax error.
   *
   * @example
   * ```ts
   * import { YamlSyntaxError } from "./python_yaml.ts";
   * const e = new YamlSyntaxError("bad");
   * console.assert(e.message === "bad");
   * ```
   */
  constructor(message: string) {
    super(message);
    this.name = "YamlSyntaxError";
  }
}

const BOOL_RE = /^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$/;
const FLOAT_RE =
  /^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9_]+(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$/;
const INT_RE =
  /^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$/;
const NULL_RE = /^(?:~|null|Null|NULL|)$/;
const DATE_RE = /^[0-9]{4}-[0-9]{2}-[0-9]{2}$/;
const TIMESTAMP_RE =
  /^([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})(?:[Tt]|[ \t]+)([0-9]{1,2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]*))?(?:[ \t]*(Z|[-+][0-9]{1,2}(?::[0-9]{2})?))?$/;

function sexagesimal(parts: string[]): number {
  let value = 0;
  for (const part of parts) value = value * 60 + Number(part);
  return value;
}

function resolveInt(text: string): bigint {
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

function resolveFloat(text: string): number {
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

function resolveTimestamp(text: string): PyDate {
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

function convert(node: Node | null | undefined | unknown): PyValue {
  if (node === null || node === undefined) return null;
  if (isMap(node)) {
    const out: { [key: string]: PyValue } = {};
    for (const pair of node.items) {
      const key = convert(pair.key);
      out[pyStr(key)] = convert(pair.value);
    }
    return out;
  }
  if (isSeq(node)) return node.items.map((item) => convert(item));
  if (isScalar(node)) {
    const tag = node.tag;
    if (node.type === "PLAIN" && (tag === undefined || tag === "?")) {
      return resolvePlainScalar(String(node.source ?? node.value ?? ""));
    }
    const v = node.value;
    if ((tag ?? "").endsWith(":float")) {
      const f = typeof v === "number" ? v : resolveFloat(String(v));
      if (!Number.isNaN(f) || /nan/i.test(String(v))) return new PyFloat(f);
    }
    if (typeof v === "string") return v;
    if (typeof v === "boolean") return v;
    if (typeof v === "bigint") return v;
    if (typeof v === "number") {
      return Number.isInteger(v) && !(tag ?? "").endsWith(":float") ? BigInt(v) : new PyFloat(v);
    }
    if (v === null || v === undefined) return null;
    return String(v);
  }
  return null;
}

/**
 * Parses YAML text like PyYAML's `safe_load`: YAML 1.1 booleans (`yes`, `on`), ints (`0755`,
 * `1_000`), floats that need a dot (`1.0`, `1.0e+3`; `1e3` stays text).
 *
 * @param text The YAML document.
 * @returns The value, or `null` for an empty document.
 * @throws {YamlSyntaxError} When the text is not valid YAML.
 *
 * @example
 * ```ts
 * import { parsePythonYaml } from "./python_yaml.ts";
 * const v = parsePythonYaml("a: yes") as Record<string, unknown>;
 * console.assert(v.a === true);
 * ```
 */
export function parsePythonYaml(text: string): PyValue {
  const doc = parseDocument(text, {
    version: "1.1",
    intAsBigInt: true,
    keepSourceTokens: false,
    uniqueKeys: false,
    prettyErrors: true,
  });
  if (doc.errors.length > 0) {
    const first = doc.errors[0]!;
    throw new YamlSyntaxError(first.message.split("\n")[0]!.replace(/:$/, ""));
  }
  return convert(doc.contents);
}

function pyFloatStr(x: number): string {
  if (Number.isNaN(x)) return "nan";
  if (x === Infinity) return "inf";
  if (x === -Infinity) return "-inf";
  if (x === 0) return Object.is(x, -0) ? "-0.0" : "0.0";
  const [mant, expText] = x.toExponential().split("e") as [string, string];
  const exp = Number(expText);
  const negative = mant.startsWith("-");
  const digits = mant.replace("-", "").replace(".", "");
  let out: string;
  if (exp >= -5 + 1 && exp < 16) {
    if (exp >= 0) {
      const intPart = digits.slice(0, exp + 1).padEnd(exp + 1, "0");
      const frac = digits.slice(exp + 1);
      out = `${intPart}.${frac === "" ? "0" : frac}`;
    } else {
      out = `0.${"0".repeat(-exp - 1)}${digits}`;
    }
  } else {
    const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    const sign = exp < 0 ? "-" : "+";
    out = `${m}e${sign}${String(Math.abs(exp)).padStart(2, "0")}`;
  }
  return negative ? `-${out}` : out;
}

/**
 * Returns Python's `str()` of a value read from YAML (`True`, `None`, `1.0`, `1e-05`, ...).
 *
 * @param value The value.
 * @returns Its text.
 *
 * @example
 * ```ts
 * import { PyFloat, pyStr } from "./python_yaml.ts";
 * console.assert(pyStr(true) === "True");
 * console.assert(pyStr(new PyFloat(1000)) === "1000.0");
 * ```
 */
export function pyStr(value: PyValue | number | undefined): string {
  if (value === null || value === undefined) return "None";
  if (typeof value === "boolean") return value ? "True" : "False";
  if (typeof value === "bigint") return value.toString();
  if (typeof value === "number") return Number.isInteger(value) ? String(value) : pyFloatStr(value);
  if (typeof value === "string") return value;
  if (value instanceof PyFloat) return pyFloatStr(value.value);
  if (value instanceof PyDate) return value.text;
  if (Array.isArray(value)) return `[${value.map(pyRepr).join(", ")}]`;
  return `{${Object.entries(value).map(([k, v]) => `${pyRepr(k)}: ${pyRepr(v)}`).join(", ")}}`;
}

/**
 * Returns Python's `repr()` of a value (strings quoted), as seen inside lists and dicts.
 *
 * @param value The value.
 * @returns Its representation.
 *
 * @example
 * ```ts
 * import { pyRepr } from "./python_yaml.ts";
 * console.assert(pyRepr("a") === "'a'");
 * ```
 */
export function pyRepr(value: PyValue): string {
  if (typeof value === "string") {
    if (value.includes("'") && !value.includes('"')) return `"${value}"`;
    return `'${value.replaceAll("\\", "\\\\").replaceAll("'", "\\'").replaceAll("\n", "\\n")}'`;
  }
  return pyStr(value);
}
