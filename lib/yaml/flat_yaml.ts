/**
 * A reader for the YAML that MLflow's file store writes (`meta.yaml`: `yaml.safe_dump` of a flat
 * dict): one `key: value` line per entry, each value a plain scalar, a quoted string (without
 * escapes) or an empty `[]`/`{}`. It reads such a text exactly as PyYAML's `safe_load` does,
 * without loading a YAML parser, and declines (returns `undefined`) anything else, for the full
 * parser (`python_yaml.ts`) to read.
 *
 * @module
 */
import { resolvePlainScalar } from "./plain_scalar.ts";
import type { PyValue } from "./py_value.ts";

const LINE_RE = /^([A-Za-z_][A-Za-z0-9_.-]*):(?: +(.*))?$/;
/** Characters that start something other than a plain scalar at the start of a value. */
const INDICATORS = "[]{},#&*!|>'\"%@`";

/** A plain scalar as PyYAML scans it on one line, or `undefined` when it may be more. */
function plainValue(text: string): PyValue | undefined {
  if (INDICATORS.includes(text[0]!)) return undefined;
  // `-`, `?` and `:` start a plain scalar only when a non-space follows.
  if ("-?:".includes(text[0]!) && (text.length === 1 || text[1] === " ")) return undefined;
  if (text.includes(": ") || text.includes(" #") || text.endsWith(":")) return undefined;
  return resolvePlainScalar(text);
}

/** A single-quoted scalar that ends on its line, or `undefined`. */
function singleQuoted(text: string): string | undefined {
  const m = /^'((?:[^']|'')*)'$/.exec(text);
  return m === null ? undefined : m[1]!.replaceAll("''", "'");
}

/** A double-quoted scalar without escapes that ends on its line, or `undefined`. */
function doubleQuoted(text: string): string | undefined {
  return /^"([^"\\]*)"$/.exec(text)?.[1];
}

/**
 * Reads a flat YAML mapping as PyYAML's `safe_load` would, when the text is in the simple form
 * MLflow writes.
 *
 * @param text The YAML text.
 * @returns The mapping, or `undefined` when the text is in any other form (the full parser
 * decides then).
 *
 * @example
 * ```ts
 * import { parseFlatYaml } from "./flat_yaml.ts";
 * const meta = parseFlatYaml("experiment_id: '0'\nname: Default\nstatus: 1\ntags: []\n");
 * console.assert(meta?.experiment_id === "0" && meta?.status === 1n);
 * console.assert(parseFlatYaml("a:\n  b: 1\n") === undefined);
 * ```
 */
export function parseFlatYaml(text: string): Record<string, PyValue> | undefined {
  // Printable ASCII only (what `safe_dump` writes unquoted or single-quoted): no tabs, other line
  // breaks, control or non-ASCII characters, which PyYAML reads by rules of their own.
  if (!text.endsWith("\n") || /[^\n\x20-\x7e]/.test(text)) return undefined;
  const out: Record<string, PyValue> = {};
  for (const line of text.slice(0, -1).split("\n")) {
    const m = LINE_RE.exec(line);
    if (m === null) return undefined;
    const key = m[1]!;
    // A key PyYAML would type (`null`, `yes`, `1`), or one given twice: the full parser decides.
    if (resolvePlainScalar(key) !== key || Object.hasOwn(out, key) || key === "__proto__") {
      return undefined;
    }
    // PyYAML drops the spaces that end a line.
    const raw = (m[2] ?? "").trimEnd();
    let value: PyValue | undefined;
    if (raw === "") value = null;
    else if (raw === "[]") value = [];
    else if (raw === "{}") value = {};
    else if (raw.startsWith("'")) value = singleQuoted(raw);
    else if (raw.startsWith('"')) value = doubleQuoted(raw);
    else value = plainValue(raw);
    if (value === undefined) return undefined;
    out[key] = value;
  }
  return out;
}
