/**
 * Reads YAML the way PyYAML's `safe_load` does (YAML 1.1 implicit types) and turns the values
 * into text the way Python's `str()` does, so MLproject defaults render as in MLflow.
 *
 * @module
 */
// @ts-types="npm:@types/js-yaml@4.0.9"
import { FAILSAFE_SCHEMA, load, Type, YAMLException } from "npm:js-yaml@4.1.0";

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

  /** Lets YAML mapping keys that are floats turn into their text, not `[object Object]`. */
  get [Symbol.toStringTag](): string {
    return "PyFloat";
  }

  /** Python's `str()` of the float (also used when it is a mapping key). */
  toString(): string {
    return pyStr(this);
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

  /** Lets YAML mapping keys that are dates turn into their text. */
  get [Symbol.toStringTag](): string {
    return "PyDate";
  }

  /** The text. */
  toString(): string {
    return this.text;
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

/**
 * Whether a value read from YAML is a mapping (a Python `dict`).
 *
 * @param value The value.
 * @returns `true` for a mapping.
 *
 * @example
 * ```ts
 * import { isPyDict, parsePythonYaml } from "./python_yaml.ts";
 * console.assert(isPyDict(parsePythonYaml("a: 1")));
 * ```
 */
export function isPyDict(value: PyValue | undefined): value is { [key: string]: PyValue } {
  return typeof value === "object" && value !== null &&
    Object.getPrototypeOf(value) === Object.prototype;
}

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

const TAG = "tag:yaml.org,2002:";

function scalarType(
  name: string,
  resolve: (text: string) => boolean,
  construct: (text: string) => unknown,
): Type {
  return new Type(TAG + name, { kind: "scalar", resolve, construct });
}

function leniently(parse: (text: string) => unknown): (text: string) => boolean {
  return (text) => {
    try {
      parse(text);
      return true;
    } catch {
      return false;
    }
  };
}

function strictFloat(text: string): number {
  const f = resolveFloat(text);
  if (Number.isNaN(f) && !/nan/i.test(text)) throw new SyntaxError(`not a float: ${text}`);
  return f;
}

// Plain scalars are typed by PyYAML's implicit resolvers; explicit `!!tags` accept what
// PyYAML's constructors accept (`!!float 1` is 1.0).
const PYTHON_SCHEMA = FAILSAFE_SCHEMA.extend({
  implicit: [
    scalarType("null", (t) => NULL_RE.test(t), () => null),
    scalarType(
      "bool",
      (t) => BOOL_RE.test(t),
      (t) => ["yes", "true", "on"].includes(t.toLowerCase()),
    ),
    scalarType("int", (t) => INT_RE.test(t), resolveInt),
    scalarType("float", (t) => FLOAT_RE.test(t), (t) => new PyFloat(resolveFloat(t))),
    scalarType(
      "timestamp",
      (t) => DATE_RE.test(t) || TIMESTAMP_RE.test(t),
      resolveTimestamp,
    ),
  ],
  explicit: [
    scalarType("int", leniently((t) => resolveInt(t.trim())), (t) => resolveInt(t.trim())),
    scalarType("float", leniently(strictFloat), (t) => new PyFloat(strictFloat(t))),
    scalarType(
      "bool",
      (t) => BOOL_RE.test(t),
      (t) => ["yes", "true", "on"].includes(t.toLowerCase()),
    ),
  ],
});

function freeze(value: unknown): PyValue {
  if (value === undefined || value === null) return null;
  if (Array.isArray(value)) return value.map(freeze);
  if (value instanceof PyFloat || value instanceof PyDate) return value;
  if (typeof value === "object") {
    const out: { [key: string]: PyValue } = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) out[k] = freeze(v);
    return out;
  }
  return value as PyValue;
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
  try {
    // `json: true` lets a repeated key win, as in PyYAML.
    return freeze(load(text, { schema: PYTHON_SCHEMA, json: true }));
  } catch (e) {
    if (e instanceof YAMLException) {
      const mark = (e as YAMLException & { mark?: { line: number; column: number } }).mark;
      const where = mark ? ` at line ${mark.line + 1}, column ${mark.column + 1}` : "";
      throw new YamlSyntaxError(
        `${(e as YAMLException & { reason?: string }).reason ?? e.message}${where}`,
      );
    }
    throw e;
  }
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
