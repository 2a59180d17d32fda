import assert from "node:assert/strict";
import { parsePythonYaml, YamlSyntaxError } from "../../lib/yaml/python_yaml.ts";
import { cachedYaml, cacheYaml, PARSER_REVISION } from "../../lib/yaml/yaml_cache.ts";
import type { PyValue } from "../../lib/yaml/py_value.ts";

/** Parses through the cache as `readProject()` does: the cached value, else a parse stored. */
function parsePythonYamlCached(text: string, options: { dir?: string } = {}): PyValue {
  const cached = cachedYaml(text, options);
  if (cached !== undefined) return cached;
  const value = parsePythonYaml(text);
  cacheYaml(text, value, options);
  return value;
}

/** Every kind of value the parser produces, keys whose order JS objects rearrange included. */
const RICH = `name: demo
"10": ten
"2": two
b: yes
n: ~
i: 0o17
big: 123456789012345678901234567890
f: 1.0
e: 1e-5
nan: .nan
inf: -.inf
negzero: -0.0
d: 2001-12-14
ts: 2001-12-14t21:59:43.10-05:00
s: 'quoted'
list: [1, 2.5, [x, {y: z}], null]
nested:
  entry_points:
    main:
      command: "python train.py {alpha}"
      parameters:
        alpha: {type: float, default: 0.1}
`;

function entries(dir: string): string[] {
  return [...Deno.readDirSync(dir)].map((e) => e.name).sort();
}

function tempDir(): { path: string; [Symbol.dispose](): void } {
  const path = Deno.makeTempDirSync({ prefix: "yaml-cache-test-" });
  return { path, [Symbol.dispose]: () => Deno.removeSync(path, { recursive: true }) };
}

Deno.test("a cached value is exactly what the parser produced: types, -0, NaN, key order", () => {
  using dir = tempDir();
  const parsed = parsePythonYaml(RICH);
  const first = parsePythonYamlCached(RICH, { dir: dir.path });
  assert.deepStrictEqual(first, parsed);
  assert.equal(entries(dir.path).length, 1);
  const again = parsePythonYamlCached(RICH, { dir: dir.path });
  assert.deepStrictEqual(again, parsed);
  assert.deepStrictEqual(Object.keys(again as object), Object.keys(parsed as object));
});

Deno.test("a cache entry is read instead of parsing the text again", () => {
  using dir = tempDir();
  parsePythonYamlCached("a: 1", { dir: dir.path });
  const [name] = entries(dir.path);
  // Changing the stored value shows which one is returned.
  const path = `${dir.path}/${name}`;
  const entry = JSON.parse(Deno.readTextFileSync(path));
  entry.value = { o: [["a", { i: "2" }]] };
  Deno.writeTextFileSync(path, JSON.stringify(entry));
  assert.deepStrictEqual(parsePythonYamlCached("a: 1", { dir: dir.path }), { a: 2n });
});

Deno.test("an entry for another text, another parser revision or a corrupt one is not used", () => {
  using dir = tempDir();
  parsePythonYamlCached("a: 1", { dir: dir.path });
  const path = `${dir.path}/${entries(dir.path)[0]}`;
  const entry = JSON.parse(Deno.readTextFileSync(path));
  const wrong = { o: [["a", { i: "2" }]] };
  for (
    const stored of [
      JSON.stringify({ ...entry, text: "a: 2", value: wrong }),
      JSON.stringify({ ...entry, parser: `${PARSER_REVISION}-old`, value: wrong }),
      JSON.stringify({ ...entry, value: { o: [["a", { q: 1 }]] } }),
      "{not json",
    ]
  ) {
    Deno.writeTextFileSync(path, stored);
    assert.deepStrictEqual(parsePythonYamlCached("a: 1", { dir: dir.path }), { a: 1n });
  }
});

Deno.test("values with shared alias nodes are parsed every time, never stored", () => {
  using dir = tempDir();
  const text = "base: &b {x: 1}\nother: *b\n";
  const value = parsePythonYamlCached(text, { dir: dir.path }) as Record<string, unknown>;
  assert.equal(value.base, value.other);
  assert.deepStrictEqual(entries(dir.path), []);
});

Deno.test("a text that does not parse fails every time and leaves no entry", () => {
  using dir = tempDir();
  for (let i = 0; i < 2; i++) {
    assert.throws(() => parsePythonYamlCached("a: [1", { dir: dir.path }), YamlSyntaxError);
  }
  assert.deepStrictEqual(entries(dir.path), []);
});

Deno.test("without a directory nothing is cached; an unwritable one only costs the parse", () => {
  assert.deepStrictEqual(parsePythonYamlCached("a: b"), { a: "b" });
  using dir = tempDir();
  Deno.writeTextFileSync(`${dir.path}/file`, "");
  assert.deepStrictEqual(parsePythonYamlCached("a: b", { dir: `${dir.path}/file/sub` }), {
    a: "b",
  });
});

Deno.test("readProject() reads a cached MLproject as loadProject() parses it, and fills the cache", async () => {
  using dir = tempDir();
  const project = `${dir.path}/project`;
  Deno.mkdirSync(project);
  Deno.writeTextFileSync(
    `${project}/MLproject`,
    "name: p\nentry_points:\n  main:\n    parameters:\n      a: {type: float, default: 1.5e+3}\n    command: echo {a}\n",
  );
  const cache = `${dir.path}/cache`;
  const { readProject } = await import("../../lib/project/project_spec.ts");
  const { loadProject } = await import("../../lib/project/load_project.ts");
  const expected = loadProject(project);
  const render = (p: typeof expected) =>
    p.entryPoints.get("main")!.renderCommand(p.entryPoints.get("main")!.computeParameters({}));
  const first = await readProject(project, { yamlCacheDir: cache });
  assert.equal(entries(cache).length, 1);
  const second = await readProject(project, { yamlCacheDir: cache });
  for (const p of [first, second]) {
    assert.equal(p.name, expected.name);
    assert.equal(render(p), render(expected));
  }
  assert.equal(render(second), "echo 1500.0");
});

Deno.test("readProject() with storeLater writes nothing until the caller stores", async () => {
  using dir = tempDir();
  const project = `${dir.path}/project`;
  Deno.mkdirSync(project);
  Deno.writeTextFileSync(`${project}/MLproject`, "name: later\n");
  const cache = `${dir.path}/cache`;
  const { readProject } = await import("../../lib/project/project_spec.ts");
  let store: (() => void) | undefined;
  const spec = await readProject(project, { yamlCacheDir: cache, storeLater: (s) => store = s });
  assert.equal(spec.name, "later");
  assert.deepStrictEqual(entries(dir.path), ["project"]);
  store!();
  assert.equal(entries(cache).length, 1);
});
