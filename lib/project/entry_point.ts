/**
 * Entry points: parameter validation, parameter values, and rendering the command line with
 * every value shell-quoted so it can never inject shell syntax.
 *
 * @module
 */
import { fileUrlToPath, isAbsolute, resolve } from "../system/paths.ts";
import { escapeForMessage, ExecutionException } from "../system/errors.ts";
import { shellQuote } from "../system/shell_quote.ts";

/**
 * Longest entry point command, in UTF-8 bytes (126 KiB): the command reaches `bash -c` as one
 * argument, and Linux refuses an argument over 128 KiB (`MAX_ARG_STRLEN`, E2BIG); 2 KiB are left
 * for an environment's activation prefix.
 */
export const COMMAND_MAX_BYTES = 126 * 1024;

/** A declared parameter. */
export interface ParameterSpec {
  /** Parameter name. */
  name: string;
  /** Declared type (`string`, `float`, `int`, `bool`, `path`, `uri`, or anything else). */
  type: string;
  /** Default as text (Python `str()` of the YAML value), or `undefined` when required. */
  default: string | undefined;
}

/** Parameter values of one run: declared ones in declaration order, then the extras. */
export interface ParameterValues {
  /** Declared parameters (user value or default). */
  declared: Map<string, string>;
  /** Parameters the entry point does not declare, in the order given. */
  extra: Map<string, string>;
}

/** Options for {@linkcode EntryPoint.computeParameters}. */
export interface ComputeParametersOptions {
  /**
   * Directory that relative `path` values are resolved against. When set, `path` values are made
   * absolute and must exist (execution); when unset they are kept as given (logging).
   */
  resolvePathsFrom?: string;
  /** Local copies of remote `path` values, by parameter name (see `remote_path.ts`). */
  downloaded?: ReadonlyMap<string, string>;
}

const SCHEME_RE = /^([A-Za-z][A-Za-z0-9+.-]*):/;

/**
 * Returns the URL scheme of a value as Python's `urlparse` would, or `""` when it has none.
 *
 * @param value The value.
 * @returns The lower-cased scheme, or `""`.
 *
 * @example
 * ```ts
 * import { uriScheme } from "./entry_point.ts";
 * console.assert(uriScheme("s3://b/k") === "s3");
 * console.assert(uriScheme("relative/path") === "");
 * ```
 */
export function uriScheme(value: string): string {
  const m = SCHEME_RE.exec(value);
  return m ? m[1]!.toLowerCase() : "";
}

/**
 * The local path a `path` parameter value names (a plain path or a `file:` URI without a remote
 * host), or `undefined` when it must be downloaded.
 *
 * @param value The parameter value.
 * @returns The path (maybe relative), or `undefined`.
 *
 * @example
 * ```ts
 * import { localPathOf } from "./entry_point.ts";
 * console.assert(localPathOf("file:///data/x.csv") === "/data/x.csv");
 * console.assert(localPathOf("s3://b/x.csv") === undefined);
 * ```
 */
export function localPathOf(value: string): string | undefined {
  const scheme = uriScheme(value);
  if (scheme === "") return value;
  if (scheme !== "file") return undefined;
  try {
    return fileUrlToPath(value);
  } catch {
    return undefined; // a file URI with a remote host
  }
}

/** Text of a user parameter value, as Python's `str()` would give it. */
export type ParameterInput = string | number | boolean;

/**
 * A user parameter value as text, as Python's `str()` gives it (`true` → `True`).
 *
 * @param v The value.
 * @returns The text.
 *
 * @example
 * ```ts
 * import { parameterText } from "./entry_point.ts";
 * console.assert(parameterText(false) === "False" && parameterText(0.5) === "0.5");
 * ```
 */
export function parameterText(v: ParameterInput): string {
  if (typeof v === "boolean") return v ? "True" : "False";
  return String(v);
}

/** An entry point of a project. */
export class EntryPoint {
  /** Entry point name (or the script file name for script entry points). */
  readonly name: string;
  /** Command template (`{name}` placeholders, `{{`/`}}` literal braces). */
  readonly command: string;
  /** Declared parameters in declaration order. */
  readonly parameters: Map<string, ParameterSpec>;
  /** The MLproject file it comes from (for error messages). */
  readonly file: string;

  /**
   * Creates an entry point.
   *
   * @example
   * ```ts
   * import { EntryPoint } from "./entry_point.ts";
   * const ep = new EntryPoint("main", "echo {x}", new Map(), "MLproject");
   * console.assert(ep.name === "main");
   * ```
   */
  constructor(name: string, command: string, parameters: Map<string, ParameterSpec>, file: string) {
    this.name = name;
    this.command = command;
    this.parameters = parameters;
    this.file = file;
  }

  /**
   * Throws MLflow's error when declared parameters without a default were not given.
   *
   * @param user The user's parameter values.
   *
   * @example
   * ```ts
   * import { EntryPoint } from "./entry_point.ts";
   * new EntryPoint("m", "echo", new Map(), "MLproject").validateParameters({});
   * ```
   */
  validateParameters(user: Record<string, ParameterInput>): void {
    const missing = [...this.parameters.values()]
      .filter((p) => !(p.name in user) && p.default === undefined)
      .map((p) => `'${p.name}'`);
    if (missing.length > 0) {
      throw new ExecutionException(`No value given for missing parameters: ${missing.join(", ")}`);
    }
  }

  /**
   * Computes the raw (unquoted) values of every parameter: declared ones (user value or default)
   * and extras. `uri` values must have a scheme; `path` values are checked when
   * `resolvePathsFrom` is given.
   *
   * @param user The user's parameter values.
   * @param options Where to resolve relative paths.
   * @returns The values.
   *
   * @example
   * ```ts
   * import { EntryPoint } from "./entry_point.ts";
   * const ep = new EntryPoint("m", "echo {a}", new Map([["a", { name: "a", type: "string", default: "1" }]]), "MLproject");
   * console.assert(ep.computeParameters({}).declared.get("a") === "1");
   * ```
   */
  computeParameters(
    user: Record<string, ParameterInput>,
    options: ComputeParametersOptions = {},
  ): ParameterValues {
    this.validateParameters(user);
    const declared = new Map<string, string>();
    for (const spec of this.parameters.values()) {
      const given = spec.name in user ? parameterText(user[spec.name]!) : spec.default!;
      declared.set(spec.name, this.#computeValue(spec, given, options));
    }
    const extra = new Map<string, string>();
    for (const [key, value] of Object.entries(user)) {
      if (!this.parameters.has(key)) extra.set(key, parameterText(value));
    }
    return { declared, extra };
  }

  #computeValue(spec: ParameterSpec, value: string, options: ComputeParametersOptions): string {
    if (spec.type === "uri") {
      if (uriScheme(value) === "") {
        throw new ExecutionException(`Expected URI for parameter ${spec.name} but got ${value}`);
      }
      return value;
    }
    if (spec.type === "path" && options.resolvePathsFrom !== undefined) {
      const local = options.downloaded?.get(spec.name);
      if (local !== undefined) return local;
      return this.#localPath(spec, value, options.resolvePathsFrom);
    }
    return value;
  }

  #localPath(spec: ParameterSpec, value: string, from: string): string {
    const local = localPathOf(value);
    if (local === undefined) {
      throw new ExecutionException(
        `Parameter ${spec.name} has value ${value}: downloading '${
          uriScheme(value)
        }:' URIs for 'path' parameters is not supported yet`,
      );
    }
    const abs = isAbsolute(local) ? local : resolve(from, local);
    try {
      Deno.statSync(abs);
    } catch {
      throw new ExecutionException(
        `Got value ${value} for parameter ${spec.name}, but no such file or directory was found.`,
      );
    }
    return abs;
  }

  /**
   * Renders the command: placeholders replaced by shell-quoted values, then each extra parameter
   * appended as `--key value` with both key and value quoted.
   *
   * @param values Values from {@linkcode EntryPoint.computeParameters}.
   * @returns The shell command line.
   *
   * @example
   * ```ts
   * import { EntryPoint } from "./entry_point.ts";
   * const ep = new EntryPoint("m", "echo {a}", new Map([["a", { name: "a", type: "string", default: undefined }]]), "MLproject");
   * const cmd = ep.renderCommand(ep.computeParameters({ a: "x; rm -rf /", b: "2" }));
   * console.assert(cmd === "echo 'x; rm -rf /' --b 2");
   * ```
   */
  renderCommand(values: ParameterValues): string {
    const quoted = new Map<string, string>();
    for (const [k, v] of values.declared) quoted.set(k, shellQuote(v));
    let command = formatCommand(this.command, quoted, this);
    for (const [k, v] of values.extra) command += ` --${shellQuote(k)} ${shellQuote(v)}`;
    const size = new TextEncoder().encode(command).length;
    if (size > COMMAND_MAX_BYTES) {
      throw new ExecutionException(
        `The command of entry point '${
          escapeForMessage(this.name)
        }' is ${size} bytes with its parameters, over the ${
          COMMAND_MAX_BYTES / 1024
        } KiB limit (Linux refuses a longer argument to bash -c)`,
      );
    }
    return command;
  }
}

function formatCommand(template: string, values: Map<string, string>, ep: EntryPoint): string {
  const fail = (detail: string) =>
    new ExecutionException(
      `Invalid MLproject file '${escapeForMessage(ep.file)}': command of entry point '${
        escapeForMessage(ep.name)
      }' ${escapeForMessage(detail)}`,
    );
  let out = "";
  let i = 0;
  while (i < template.length) {
    const ch = template[i]!;
    if (ch === "{") {
      if (template[i + 1] === "{") {
        out += "{";
        i += 2;
        continue;
      }
      const end = template.indexOf("}", i + 1);
      if (end === -1) throw fail(`has a '{' without a closing '}'`);
      const field = template.slice(i + 1, end);
      if (field.includes("{")) throw fail(`has a nested placeholder '{${field}}'`);
      const name = field.replace(/!s$/, "");
      if (!values.has(name)) {
        throw fail(
          `uses '{${field}}', which is not a declared parameter (declared: ${
            [...values.keys()].map((k) => `'${k}'`).join(", ") || "none"
          }; write '{{' and '}}' for literal braces)`,
        );
      }
      out += values.get(name);
      i = end + 1;
      continue;
    }
    if (ch === "}") {
      if (template[i + 1] === "}") {
        out += "}";
        i += 2;
        continue;
      }
      throw fail(`has a single '}' (write '}}' for a literal brace)`);
    }
    out += ch;
    i++;
  }
  return out;
}

/**
 * Makes the entry point MLflow uses when the name is a script file (`.py`, `.sh`) rather than
 * a declared entry point, or returns `undefined`.
 *
 * @param name The entry point name, e.g. `train.py`.
 * @param options `shell` is `$SHELL` (default `bash`); `file` names the project file.
 * @returns The entry point, or `undefined` for other names.
 *
 * @example
 * ```ts
 * import { scriptEntryPoint } from "./entry_point.ts";
 * console.assert(scriptEntryPoint("a b.py", {})!.command === "python 'a b.py'");
 * ```
 */
export function scriptEntryPoint(
  name: string,
  options: { shell?: string; file?: string },
): EntryPoint | undefined {
  const file = options.file ?? "MLproject";
  const literal = (s: string) => s.replaceAll("{", "{{").replaceAll("}", "}}");
  if (name.endsWith(".py")) {
    return new EntryPoint(name, literal(`python ${shellQuote(name)}`), new Map(), file);
  }
  if (name.endsWith(".sh")) {
    const shell = options.shell || "bash";
    return new EntryPoint(name, literal(`${shell} ${shellQuote(name)}`), new Map(), file);
  }
  return undefined;
}
