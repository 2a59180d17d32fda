import assert from "node:assert/strict";
import { eagerCompile, hotFunctions, modulesOnCycles } from "../../scripts/_eager_compile.ts";

/** The range V8 logs for the function whose text begins with `head` (from its parameters). */
function range(source: string, head: string): { start: number; end: number } {
  const at = source.indexOf(head);
  assert.ok(at >= 0, head);
  const start = head.includes("(") ? at + head.indexOf("(") : at;
  // The body's closing brace: the first `}` at the indentation of the head's line.
  const lineStart = source.lastIndexOf("\n", at) + 1;
  const indent = source.slice(lineStart, at).match(/^\s*/)![0];
  const close = source.indexOf(`\n${indent}}`, at);
  const end = close + 1 + indent.length + 1;
  return { start, end };
}

async function evaluate(source: string): Promise<Record<string, unknown>> {
  return await import(`data:text/javascript,${encodeURIComponent(source)}`);
}

Deno.test("eagerCompile() defines a hot declaration before the module's first statement, as hoisting did", async () => {
  const source = [
    "export const early = twice(21);",
    "function twice(x) {",
    "  return helper(x) * 2;",
    "}",
    "function helper(x) {",
    "  return x;",
    "}",
    "export { twice };",
    "",
  ].join("\n");
  const out = eagerCompile(source, [range(source, "function twice(x)")]);
  assert.equal(out.hoisted, 1);
  assert.match(out.text, /^\nvar twice = \(function twice\(x\) \{/);
  assert.ok(out.text.includes("function helper(x) {"), "a cold declaration stays");
  const [before, after] = [await evaluate(source), await evaluate(out.text)];
  assert.equal(after.early, 42);
  assert.equal(
    (after.twice as (x: number) => number)(5),
    (before.twice as (x: number) => number)(5),
  );
});

Deno.test("eagerCompile() keeps imports first and hoists an exported declaration with its export", async () => {
  const source = [
    'import { strictEqual } from "node:assert";',
    "export async function load(n) {",
    "  strictEqual(typeof n, 'number');",
    "  return n + 1;",
    "}",
    "",
  ].join("\n");
  const out = eagerCompile(source, [range(source, "function load(n)")]);
  assert.equal(out.hoisted, 1);
  assert.ok(out.text.startsWith('import { strictEqual } from "node:assert";\nexport var load = ('));
  assert.ok(out.text.includes("(async function load(n) {"));
  const mod = await evaluate(out.text);
  assert.equal(await (mod.load as (n: number) => Promise<number>)(1), 2);
});

Deno.test("eagerCompile() wraps hot arrow functions and function expressions, never methods or accessors", async () => {
  const source = [
    "export class Box {",
    "  values() {",
    "    return [1, 2].map((x) => x + 1);",
    "  }",
    "  get size() {",
    "    return 2;",
    "  }",
    "}",
    "export const obj = { run(x) {\n    return x;\n  } };",
    "export const f = function (y) {\n  return y * 3;\n};",
    "",
  ].join("\n");
  const hot = [
    range(source, "values() {"),
    range(source, "size() {"),
    range(source, "run(x) {"),
    range(source, "function (y) {"),
  ];
  const arrow = source.indexOf("(x) => x + 1");
  hot.push({ start: arrow, end: arrow + "(x) => x + 1".length });
  const out = eagerCompile(source, hot);
  assert.equal(out.wrapped, 2);
  assert.equal(out.hoisted, 0);
  assert.ok(out.text.includes(".map(((x) => x + 1))"));
  assert.ok(out.text.includes("export const f = (function (y) {\n  return y * 3;\n});"));
  assert.ok(out.text.includes("  values() {") && out.text.includes("  get size() {"));
  const mod = await evaluate(out.text);
  const box = new (mod.Box as new () => { values(): number[]; size: number })();
  assert.deepEqual(box.values(), [2, 3]);
  assert.equal((mod.f as (y: number) => number)(2), 6);
});

Deno.test("eagerCompile() leaves a function in place where a `(` could call what comes before it", () => {
  // `}` before the arrow: a `(` there could be read as a call of the expression the `}` ends.
  const source = "export const g = { a: 1 }\n;export const h = [0].map(x => x);\n";
  const out = eagerCompile(source, [{
    start: source.indexOf("x =>"),
    end: source.indexOf("x);") + 1,
  }]);
  assert.equal(out.wrapped, 1, "after `(` it is safe");
  const unsafe = "label: {\n}\nx => x;\n";
  const kept = eagerCompile(unsafe, [{ start: unsafe.indexOf("x =>"), end: unsafe.indexOf(";") }]);
  assert.equal(kept.wrapped, 0);
  assert.equal(kept.text, unsafe);
});

Deno.test("eagerCompile() with hoist: false keeps declarations where they are", () => {
  const source = "function f(a) {\n  return a;\n}\nexport { f };\n";
  const out = eagerCompile(source, [range(source, "function f(a)")], { hoist: false });
  assert.equal(out.text, source);
  assert.equal(out.hoisted, 0);
});

Deno.test("hotFunctions() keeps the lazily compiled functions of the bundle's own modules", () => {
  const log = [
    "script-details,3,ext:deno_web/06_streams.js,0,0,",
    "script-details,9,file:///b/main.js,0,0,",
    "script-details,10,file:///b/chunk-A.js,0,0,",
    "script-details,11,file:///elsewhere/x.js,0,0,",
    "function,parse-function,3,5,50,0.1,1,streams",
    "function,parse-function,9,10,42,0.1,2,main",
    "function,interpreter,10,7,70,0.1,3,helper",
    "function,first-execution,10,100,200,0,4,other",
    "function,parse-function,11,1,2,0.1,5,x",
    "",
  ].join("\n");
  const hot = hotFunctions(log, "file:///b/");
  assert.deepEqual([...hot.keys()].sort(), ["chunk-A.js", "main.js"]);
  assert.deepEqual(hot.get("main.js"), [{ start: 10, end: 42 }]);
  assert.deepEqual(hot.get("chunk-A.js"), [{ start: 7, end: 70 }]);
});

Deno.test("modulesOnCycles() names the chunks that import each other, statically or dynamically", () => {
  const modules = new Map([
    ["main.js", 'import { a } from "./chunk-A.js";\nawait import("./lazy.js");'],
    ["chunk-A.js", 'import "./chunk-B.js";'],
    ["chunk-B.js", 'export const b = 1;\nconst later = () => import("./chunk-A.js");'],
    ["lazy.js", 'import { a } from "./chunk-A.js";'],
  ]);
  assert.deepEqual([...modulesOnCycles(modules)].sort(), ["chunk-A.js", "chunk-B.js"]);
});
