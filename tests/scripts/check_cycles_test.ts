import assert from "node:assert/strict";
import { cycles, folderGraph, folderOf, moduleGraph } from "../../scripts/check_cycles.ts";
import { REPO_ROOT, tempDir, writeFiles } from "../_helpers/cli.ts";

const g = (edges: Record<string, string[]>) =>
  new Map(Object.entries(edges).map(([k, v]) => [k, new Set(v)]));

Deno.test("cycles() finds file cycles and self-imports, and nothing in a DAG", () => {
  assert.deepEqual(cycles(g({ a: ["b"], b: ["c"], c: [] })), []);
  assert.deepEqual(cycles(g({ a: ["b"], b: ["a"], c: ["c"] })), [["a", "b"], ["c"]]);
});

Deno.test("folderGraph() maps lib/<folder>/ files to their folder and finds folder cycles", () => {
  assert.equal(folderOf("lib/run/run.ts"), "lib/run");
  assert.equal(folderOf("lib/mod.ts"), "lib");
  assert.equal(folderOf("main.ts"), ".");
  const folders = folderGraph(g({
    "lib/run/run.ts": ["lib/system/errors.ts"],
    "lib/system/errors.ts": [],
    "lib/system/paths.ts": ["lib/run/plan.ts"],
    "lib/run/plan.ts": [],
  }));
  assert.deepEqual(cycles(folders), [["lib/run", "lib/system"]]);
});

Deno.test("moduleGraph() reads static, dynamic and type-only imports from deno info", async () => {
  await using tmp = await tempDir();
  await writeFiles(tmp.path, {
    "a.ts": 'import "./b.ts";\nexport type { T } from "./c.ts";\n',
    "b.ts": 'export const f = () => import("./a.ts");\n',
    "c.ts": "export type T = number;\n",
  });
  const graph = await moduleGraph(["a.ts"], tmp.path);
  assert.deepEqual([...graph.get("a.ts")!].sort(), ["b.ts", "c.ts"]);
  assert.deepEqual(cycles(graph), [["a.ts", "b.ts"]]);
});

Deno.test("the repository itself has no import cycle", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${REPO_ROOT}/scripts/check_cycles.ts`],
    stdout: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stdout));
});
