import assert from "node:assert/strict";
import { join } from "node:path";
import { parseFlatYaml } from "../../lib/yaml/flat_yaml.ts";
import { parsePythonYaml } from "../../lib/yaml/python_yaml.ts";
import { REPO_ROOT } from "../_helpers/cli.ts";

function metaFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of Deno.readDirSync(dir)) {
    const path = join(dir, e.name);
    if (e.isDirectory) out.push(...metaFiles(path));
    else if (e.name === "meta.yaml") out.push(path);
  }
  return out;
}

Deno.test("parseFlatYaml() reads every meta.yaml real MLflow wrote as PyYAML does", () => {
  const files = metaFiles(join(REPO_ROOT, "tests", "testdata"));
  assert.ok(files.length >= 5, `fixtures: ${files.length}`);
  for (const file of files) {
    const text = Deno.readTextFileSync(file);
    const flat = parseFlatYaml(text);
    assert.notEqual(flat, undefined, `declined ${file}:\n${text}`);
    assert.deepEqual(flat, parsePythonYaml(text), file);
  }
});

Deno.test("parseFlatYaml() agrees with the full parser on each scalar form it accepts", () => {
  const texts = [
    "a: 1\nb: -2\nc: 0x10\nd: 1_000\ne: 0o7\nf: 010\n",
    "a: 1.5\nb: .inf\nc: -.Inf\nd: .nan\ne: 1e3\nf: 1.0e+3\ng: 1:30\n",
    "a: yes\nb: No\nc: off\nd: TRUE\ne: y\nf: n\n",
    "a: null\nb: ~\nc:\nd: \ne: Null\n",
    "a: 2024-01-02\nb: 2024-01-02 03:04:05\nc: 2024-01-02T03:04:05.5Z\n",
    "a: ''\nb: 'it''s'\nc: '0'\nd: 'a: b'\ne: ' # x'\n",
    'a: ""\nb: "0"\nc: "it\'s: # x"\nd: "yes"\n',
    'a: ""\nb: "0"\nc: "it\'s: # x"\n',
    "a: []\nb: {}\nc: file:///tmp/mlruns/0\nd: s3://bucket/x?y=1&z=2\n",
    "a: -x\nb: ?y\nc: :z\nd: a-b_c.d\ne: hello world\nf: x:y\n",
    "run.name: x\nsnake_case-key: y\n",
  ];
  for (const text of texts) {
    const flat = parseFlatYaml(text);
    assert.notEqual(flat, undefined, text);
    assert.deepEqual(flat, parsePythonYaml(text), text);
  }
});

Deno.test("parseFlatYaml() leaves every other form to the full parser", () => {
  const texts = [
    "", // empty: None
    "a: 1", // no final newline
    "a:\n  b: 1\n", // nested mapping
    "a: |\n  text\n", // block scalar
    'a: "x\\ty"\n', // double-quoted
    "a: 'multi\n  line'\n", // a quoted scalar over two lines
    "a: long text\n  continued\n", // a folded plain scalar
    "a: x # comment\n",
    "# comment\na: 1\n",
    "a: b: c\n",
    "a: x:\n",
    "a: - x\n",
    "a: [1, 2]\n",
    "a: &anchor x\n",
    "a: !!str 1\n",
    "a: 1\na: 2\n", // a key twice
    "null: 1\n", // a key PyYAML types
    "1: x\n",
    "__proto__: x\n",
    "a: caf\u00e9\n", // non-ASCII
    "a:\tx\n",
    "a: x\r\n",
    "---\na: 1\n",
    "a: 1\n\nb: 2\n",
    " a: 1\n",
  ];
  for (const text of texts) assert.equal(parseFlatYaml(text), undefined, JSON.stringify(text));
});
