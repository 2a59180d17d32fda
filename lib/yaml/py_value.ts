/**
 * Values as PyYAML's `safe_load` produces them (Python `float`, dates, dicts) and Python's
 * `str()`/`repr()` of them, without the parser: code that only reads values (a cached MLproject)
 * does not load it.
 *
 * @module
 */

/** A Python `float` read from YAML (kept apart from ints so `1.0` renders as `1.0`). */
export class PyFloat {
  /** The numeric value. */
  readonly value: number;
  /**
   * Wraps a float.
   *
   * @example
   * ```ts
   * import { PyFloat, pyStr } from "./py_value.ts";
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
   * import { PyDate } from "./py_value.ts";
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
 * import { isPyDict } from "./py_value.ts";
 * console.assert(isPyDict({ a: "1" }) && !isPyDict(["a"]));
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
   * import { YamlSyntaxError } from "./py_value.ts";
   * const e = new YamlSyntaxError("bad");
   * console.assert(e.message === "bad");
   * ```
   */
  constructor(message: string) {
    super(message);
    this.name = "YamlSyntaxError";
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
 * import { PyFloat, pyStr } from "./py_value.ts";
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
 * import { pyRepr } from "./py_value.ts";
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

/**
 * A YAML value as JSON: integers as numbers, floats as numbers, dates as their text.
 *
 * @param value A value from `parsePythonYaml`.
 * @returns The JSON value.
 *
 * @example
 * ```ts
 * import { yamlToJson } from "./py_value.ts";
 * import { parsePythonYaml } from "./python_yaml.ts";
 * console.assert((yamlToJson(parsePythonYaml("a: 1")) as { a: number }).a === 1);
 * ```
 */
export function yamlToJson(value: PyValue): unknown {
  if (typeof value === "bigint") return Number(value);
  if (value instanceof PyFloat) return value.value;
  if (value instanceof PyDate) return value.text;
  if (Array.isArray(value)) return value.map(yamlToJson);
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, yamlToJson(v)]));
  }
  return value;
}
