/**
 * Reads YAML the way PyYAML's `safe_load` does (YAML 1.1 implicit types) and turns the values
 * into text the way Python's `str()` does, so MLproject defaults render as in MLflow.
 *
 * @module
 */
// @ts-types="npm:@types/js-yaml@4.0.9"
import { FAILSAFE_SCHEMA, load, Type, YAMLException } from "npm:js-yaml@4.1.0";
import { decodeQuotedScalar, hasLineBreak, nodeStyleAt } from "./_yaml_scalars.ts";
import {
  BOOL_RE,
  DATE_RE,
  FLOAT_RE,
  INT_RE,
  NULL_RE,
  resolveFloat,
  resolveInt,
  resolvePlainScalar,
  resolveTimestamp,
  TIMESTAMP_RE,
} from "./plain_scalar.ts";
import {
  isPyDict,
  PyDate,
  PyFloat,
  pyRepr,
  pyStr,
  type PyValue,
  YamlSyntaxError,
} from "./py_value.ts";

export {
  isPyDict,
  PyDate,
  PyFloat,
  pyRepr,
  pyStr,
  type PyValue,
  resolvePlainScalar,
  YamlSyntaxError,
};

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
    // `<<` keys merge mappings (js-yaml acts on a key with this tag).
    scalarType("merge", (t) => t === "<<", (t) => t),
    scalarType("value", (t) => t === "=", () => {
      throw new YamlSyntaxError(
        "could not determine a constructor for the tag 'tag:yaml.org,2002:value' (a bare '=')",
      );
    }),
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

/** Limits of {@linkcode parsePythonYaml}, against "billion laughs" and stack exhaustion. */
export const YAML_LIMITS = {
  /** Deepest nesting of collections (PyYAML itself fails at about 450 levels). */
  maxDepth: 1000,
  /** Most alias nodes (`*name`) in one document. */
  maxAliases: 10_000,
  /** Most nodes, counting every node an alias repeats. */
  maxNodes: 1_000_000,
} as const;

/** Raised when a YAML document exceeds one of {@linkcode YAML_LIMITS} or refers to itself. */
export class YamlLimitError extends YamlSyntaxError {
  /**
   * Creates a limit error.
   *
   * @example
   * ```ts
   * import { YamlLimitError, YamlSyntaxError } from "./python_yaml.ts";
   * console.assert(new YamlLimitError("too deep") instanceof YamlSyntaxError);
   * ```
   */
  constructor(message: string) {
    super(message);
    this.name = "YamlLimitError";
  }
}

/** The parts of js-yaml's loader state the listener uses (not all are in its types). */
interface LoaderState {
  input: string;
  position: number;
  line: number;
  kind: string | null;
  tag: string | null;
  result: unknown;
  anchor: string | null;
  anchorMap: Record<string, unknown>;
}

const STR_TAG = TAG + "str";

/**
 * Watches js-yaml's node events: enforces the depth, node and alias limits while parsing (before
 * any deep recursion or large allocation), and corrects two scalars js-yaml reads differently
 * from PyYAML: quoted multi-line scalars (the blanks before a line break are folded away) and a
 * block scalar ending the file without a line break (no `\n` is added).
 */
class LoadWatcher {
  readonly #opens: number[] = [];
  #nodes = 0;
  #aliases = 0;
  /** Objects reached through an alias, with the alias name (for the recursive-alias message). */
  readonly aliasNames = new Map<unknown, string>();
  readonly #text: string;
  readonly #unterminated: boolean;

  constructor(text: string) {
    this.#text = text;
    this.#unterminated = !/[\r\n]$/.test(text);
  }

  readonly listener = (event: "open" | "close", raw: unknown): void => {
    const state = raw as LoaderState;
    if (event === "open") {
      this.#opens.push(state.position);
      if (this.#opens.length > YAML_LIMITS.maxDepth + 1) {
        throw new YamlLimitError(
          `nesting is deeper than ${YAML_LIMITS.maxDepth} levels at line ${state.line + 1}`,
        );
      }
      if (++this.#nodes > YAML_LIMITS.maxNodes) {
        throw new YamlLimitError(`more than ${YAML_LIMITS.maxNodes} nodes`);
      }
      return;
    }
    const start = this.#opens.pop() ?? 0;
    if (state.kind !== null && state.kind !== "scalar") return;
    const { style, at } = nodeStyleAt(state.input, start);
    if (style === "alias") {
      if (++this.#aliases > YAML_LIMITS.maxAliases) {
        throw new YamlLimitError(
          `more than ${YAML_LIMITS.maxAliases} aliases (at line ${state.line + 1})`,
        );
      }
      const name = /^[^\s,[\]{}]+/.exec(state.input.slice(at + 1, at + 1025))?.[0] ?? "";
      if (typeof state.result === "object" && state.result !== null) {
        this.aliasNames.set(state.result, name);
      }
      return;
    }
    if (typeof state.result !== "string" || (state.tag !== null && state.tag !== STR_TAG)) return;
    let fixed: string | undefined;
    if (style === "single" || style === "double") {
      const source = state.input.slice(at, state.position);
      if (hasLineBreak(source)) fixed = decodeQuotedScalar(source);
    } else if (
      (style === "literal" || style === "folded") && this.#unterminated &&
      state.position >= state.input.replace(/\0$/, "").length - 1 && state.result.endsWith("\n")
    ) {
      // js-yaml appended a line break to the text; PyYAML reads the last line as it is. That
      // break ends the value unless the last line is blank and chomping drops trailing breaks.
      const keep = /^[|>][0-9]?\+/.test(state.input.slice(at, at + 3));
      const lastLine = this.#text.slice(Math.max(this.#text.lastIndexOf("\n"), 0));
      if (keep || lastLine.trim() !== "") fixed = state.result.slice(0, -1);
    }
    if (fixed === undefined || fixed === state.result) return;
    state.result = fixed;
    if (state.anchor !== null) state.anchorMap[state.anchor] = fixed;
  };
}

/**
 * Copies js-yaml's result into plain values, refusing a recursive alias and counting nodes as
 * an expansion would (shared nodes are copied once and stay shared, so memory stays bounded).
 */
function freeze(root: unknown, aliasNames: Map<unknown, string>): PyValue {
  const done = new Map<object, { value: PyValue; size: number }>();
  const active = new Set<object>();
  const visit = (value: unknown): { value: PyValue; size: number } => {
    if (value === undefined || value === null) return { value: null, size: 1 };
    if (typeof value !== "object" || value instanceof PyFloat || value instanceof PyDate) {
      return { value: value as PyValue, size: 1 };
    }
    const known = done.get(value);
    if (known !== undefined) return known;
    if (active.has(value)) {
      const name = aliasNames.get(value);
      throw new YamlLimitError(
        `recursive alias${name ? ` '*${escapeText(name)}'` : ""}: an anchored node contains itself`,
      );
    }
    active.add(value);
    let size = 1;
    const add = (child: unknown): PyValue => {
      const r = visit(child);
      size += r.size;
      if (size > YAML_LIMITS.maxNodes) {
        throw new YamlLimitError(
          `more than ${YAML_LIMITS.maxNodes} nodes once aliases are expanded`,
        );
      }
      return r.value;
    };
    let out: PyValue;
    if (Array.isArray(value)) out = value.map(add);
    else {
      const obj: { [key: string]: PyValue } = {};
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) obj[k] = add(v);
      out = obj;
    }
    active.delete(value);
    const result = { value: out, size };
    done.set(value, result);
    return result;
  };
  return visit(root).value;
}

function escapeText(text: string): string {
  return text.replace(/[\n\r]/g, (c) => (c === "\n" ? "\\n" : "\\r"));
}

/**
 * Parses YAML text like PyYAML's `safe_load`: YAML 1.1 booleans (`yes`, `on`), ints (`0755`,
 * `1_000`), floats that need a dot (`1.0`, `1.0e+3`; `1e3` stays text). Documents beyond
 * {@linkcode YAML_LIMITS} (deep nesting, alias bombs) and recursive aliases are refused.
 *
 * @param text The YAML document.
 * @returns The value, or `null` for an empty document.
 * @throws {YamlSyntaxError} When the text is not valid YAML ({@linkcode YamlLimitError} for a
 *   limit), with a one-line message.
 *
 * @example
 * ```ts
 * import { parsePythonYaml } from "./python_yaml.ts";
 * const v = parsePythonYaml("a: yes") as Record<string, unknown>;
 * console.assert(v.a === true);
 * ```
 */
export function parsePythonYaml(text: string): PyValue {
  const watcher = new LoadWatcher(text);
  let loaded: unknown;
  try {
    // `json: true` lets a repeated key win, as in PyYAML.
    loaded = load(text, { schema: PYTHON_SCHEMA, json: true, listener: watcher.listener });
  } catch (e) {
    if (e instanceof YamlSyntaxError) throw e;
    if (e instanceof YAMLException) {
      const mark = (e as YAMLException & { mark?: { line: number; column: number } }).mark;
      const where = mark ? ` at line ${mark.line + 1}, column ${mark.column + 1}` : "";
      const reason = (e as YAMLException & { reason?: string }).reason ?? e.message;
      throw new YamlSyntaxError(`${escapeText(reason)}${where}`);
    }
    if (e instanceof RangeError) {
      throw new YamlLimitError(`nesting too deep to parse (${e.message})`);
    }
    throw e;
  }
  return freeze(loaded, watcher.aliasNames);
}
