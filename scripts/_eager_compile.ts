/**
 * Eager compilation of a bundle's hot functions (used by `scripts/bundle.ts`).
 *
 * V8 compiles a function lazily, on its first call, and Deno's code cache holds only what was
 * compiled with the module: every function a run calls is parsed and compiled again in every
 * process. A function expression in parentheses is compiled with its module instead (V8's
 * "parenthesized function" heuristic), so it lands in the code cache. This module rewrites the
 * functions a trained run executed (read from V8's `--log-function-events` log) into that form:
 *
 * - a hot top-level `function f(…) {…}` becomes `var f = (function f(…) {…});`, moved to the top
 *   of the module body (after the imports): it is still defined before any statement of the module
 *   runs, as a hoisted declaration is; not done in a chunk that is part of an import cycle, where
 *   another module could call it before this one is evaluated;
 * - a hot function expression or arrow function is wrapped in parentheses, where the character
 *   before it shows that a `(` there cannot join the previous statement;
 * - methods, accessors and nested declarations stay as they are.
 *
 * @module
 */
import * as acorn from "npm:acorn@8.14.0";
import { fullAncestor } from "npm:acorn-walk@8.3.4";

/** A function's source range as V8 logs it: `start` at its parameters, `end` after its body. */
export interface FunctionRange {
  start: number;
  end: number;
}

/**
 * The user functions that V8 compiled lazily during a run, by module file name, from the text of
 * a `--log-function-events` log (one process's: script ids are per process).
 *
 * @param log The log text.
 * @param dirUrl The `file://` URL of the bundle directory (with a trailing `/`): only its modules
 * are kept.
 * @returns Function ranges by file name (relative to `dirUrl`).
 *
 * @example
 * ```ts
 * import { hotFunctions } from "./_eager_compile.ts";
 * const log = "script-details,7,file:///b/main.js,0,0,\nfunction,parse-function,7,10,42,0.1,5,main\n";
 * console.assert(hotFunctions(log, "file:///b/").get("main.js")![0]!.end === 42);
 * ```
 */
export function hotFunctions(log: string, dirUrl: string): Map<string, FunctionRange[]> {
  const scripts = new Map<string, string>();
  const lines = log.split("\n").map((l) => l.split(","));
  for (const f of lines) {
    if (f[0] === "script-details" && f[2]?.startsWith(dirUrl)) {
      scripts.set(f[1]!, f[2].slice(dirUrl.length));
    }
  }
  const hot = new Map<string, FunctionRange[]>();
  for (const f of lines) {
    if (f[0] !== "function" || (f[1] !== "parse-function" && f[1] !== "interpreter")) continue;
    const file = scripts.get(f[2]!);
    if (file === undefined) continue;
    const list = hot.get(file) ?? [];
    list.push({ start: Number(f[3]), end: Number(f[4]) });
    hot.set(file, list);
  }
  return hot;
}

/** What {@linkcode eagerCompile} did to one module. */
export interface EagerResult {
  /** The rewritten source. */
  text: string;
  /** Function expressions and arrow functions wrapped in parentheses. */
  wrapped: number;
  /** Top-level declarations turned into parenthesized `var` definitions. */
  hoisted: number;
}

// deno-lint-ignore no-explicit-any
type Node = any;

/** Words after which an expression starts, so a `(` there opens it. */
const OPENING_WORDS = new Set([
  "return",
  "yield",
  "await",
  "case",
  "typeof",
  "void",
  "in",
  "of",
  "new",
  "throw",
  "default",
  "delete",
]);

/** Whether a `(` inserted at `at` opens an expression (and cannot call the previous one). */
function opensExpression(text: string, at: number): boolean {
  let i = at - 1;
  while (i >= 0 && /\s/.test(text[i]!)) i--;
  if (i < 0) return false;
  const c = text[i]!;
  if ("([,=:?!&|{;+-*/%<>~^".includes(c)) return true;
  if (!/[A-Za-z]/.test(c)) return false;
  let j = i;
  while (j > 0 && /[A-Za-z]/.test(text[j - 1]!)) j--;
  return OPENING_WORDS.has(text.slice(j, i + 1)) && (j === 0 || !/[\w$.]/.test(text[j - 1]!));
}

/**
 * Rewrites the hot functions of one module so that V8 compiles them with the module.
 *
 * @param source The module's text.
 * @param hot The ranges of its hot functions (as {@linkcode hotFunctions} reads them).
 * @param options `hoist: false` keeps top-level declarations in place (a module in an import
 * cycle).
 * @returns The new text and what changed.
 * @throws {SyntaxError} When the source, or the rewritten source, does not parse.
 *
 * @example
 * ```ts
 * import { eagerCompile } from "./_eager_compile.ts";
 * const src = "f();\nfunction f() {\n  return 1;\n}\n";
 * const out = eagerCompile(src, [{ start: 15, end: src.length - 1 }]);
 * console.assert(out.hoisted === 1 && out.text.includes("var f = (function f()"));
 * ```
 */
export function eagerCompile(
  source: string,
  hot: readonly FunctionRange[],
  options: { hoist?: boolean } = {},
): EagerResult {
  const ast: Node = acorn.parse(source, { ecmaVersion: "latest", sourceType: "module" });
  const byEnd = new Map<number, { node: Node; parent: Node }[]>();
  fullAncestor(ast, (node: Node, _state: unknown, ancestors: Node[]) => {
    if (!/Function/.test(node.type)) return;
    const list = byEnd.get(node.end) ?? [];
    list.push({ node, parent: ancestors[ancestors.length - 2] });
    byEnd.set(node.end, list);
  });
  // A logged range starts at the parameters: the innermost function ending there that starts
  // at or before it.
  const targets = new Map<Node, Node>();
  for (const { start, end } of hot) {
    const found = (byEnd.get(end) ?? []).filter(({ node }) => node.start <= start).pop();
    if (found !== undefined) targets.set(found.node, found.parent);
  }
  const inserts = new Map<number, { open: number; close: number }>();
  const insert = (at: number, kind: "open" | "close") => {
    const entry = inserts.get(at) ?? { open: 0, close: 0 };
    entry[kind]++;
    inserts.set(at, entry);
  };
  const hoist: { node: Node; from: number; exported: boolean }[] = [];
  let wrapped = 0;
  for (const [node, parent] of targets) {
    if (node.type === "FunctionDeclaration") {
      if (options.hoist === false) continue;
      if (parent?.type === "Program") hoist.push({ node, from: node.start, exported: false });
      else if (parent?.type === "ExportNamedDeclaration" && ast.body.includes(parent)) {
        hoist.push({ node, from: parent.start, exported: true });
      }
      continue;
    }
    const isMember = parent?.type === "MethodDefinition" ||
      (parent?.type === "Property" && (parent.method || parent.kind !== "init"));
    if (isMember || !opensExpression(source, node.start)) continue;
    insert(node.start, "open");
    insert(node.end, "close");
    wrapped++;
  }
  // Closing parentheses before opening ones at the same offset.
  const copy = (from: number, to: number): string => {
    let out = "";
    for (let i = from; i < to; i++) {
      const at = inserts.get(i);
      if (at !== undefined) out += ")".repeat(at.close) + "(".repeat(at.open);
      out += source[i];
    }
    return out;
  };
  let bodyStart = 0;
  for (const statement of ast.body) {
    if (statement.type === "ImportDeclaration") bodyStart = statement.end;
  }
  hoist.sort((a, b) => a.from - b.from);
  let rest = "";
  let definitions = "";
  let at = bodyStart;
  for (const { node, from, exported } of hoist) {
    rest += copy(at, from);
    const closing = inserts.get(node.end)?.close ?? 0;
    definitions += `${exported ? "export " : ""}var ${node.id.name} = (${
      copy(node.start, node.end)
    }${")".repeat(closing)});\n`;
    at = node.end;
  }
  rest += copy(at, source.length);
  const tail = inserts.get(source.length);
  if (tail !== undefined) rest += ")".repeat(tail.close);
  const text = copy(0, bodyStart) + (definitions === "" ? "" : `\n${definitions}`) + rest;
  acorn.parse(text, { ecmaVersion: "latest", sourceType: "module" });
  return { text, wrapped, hoisted: hoist.length };
}

/**
 * The modules of a bundle directory that are part of an import cycle between its files.
 *
 * @param modules Module file name → its text.
 * @returns The names of the modules on a cycle.
 *
 * @example
 * ```ts
 * import { modulesOnCycles } from "./_eager_compile.ts";
 * const m = new Map([["a.js", 'import "./b.js";'], ["b.js", 'import "./a.js";'], ["c.js", ""]]);
 * console.assert(modulesOnCycles(m).size === 2);
 * ```
 */
export function modulesOnCycles(modules: ReadonlyMap<string, string>): Set<string> {
  const edges = new Map<string, string[]>();
  for (const [name, text] of modules) {
    const deps = [...text.matchAll(/(?:from|import)\s*\(?\s*["']\.\/([^"']+)["']/g)]
      .map((m) => m[1]!).filter((d) => modules.has(d));
    edges.set(name, deps);
  }
  const onCycle = new Set<string>();
  // A module is on a cycle when it can reach itself.
  for (const start of modules.keys()) {
    const seen = new Set<string>();
    const stack = [...edges.get(start)!];
    while (stack.length > 0) {
      const next = stack.pop()!;
      if (next === start) {
        onCycle.add(start);
        break;
      }
      if (seen.has(next)) continue;
      seen.add(next);
      stack.push(...edges.get(next)!);
    }
  }
  return onCycle;
}
