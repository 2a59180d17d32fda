/**
 * Compares parsePythonYaml() with PyYAML's safe_load itself on a generated corpus of scalars,
 * folding, block scalars, anchors and typed values.
 */
import assert from "node:assert/strict";
import { parsePythonYaml, PyDate, PyFloat, pyStr, type PyValue } from "../lib/python_yaml.ts";

const HOME = Deno.env.get("HOME") ?? "";
const VENVS = Deno.env.get("MLPROJECT_TEST_MLFLOW_VENVS") || `${HOME}/.cache/mlproject/test-mlflow`;

/** Python's view of a value, as JSON: ints, floats and dates tagged, dict keys as str(). */
const DUMP = `
import sys, json, datetime, yaml
def conv(v, seen=()):
    if id(v) in seen: raise ValueError("recursive")
    if v is None or isinstance(v, (bool, str)): return v
    if isinstance(v, int): return {"int": str(v)}
    if isinstance(v, float): return {"float": str(v)}
    if isinstance(v, (datetime.date, datetime.datetime)): return {"date": str(v)}
    if isinstance(v, list): return [conv(x, seen + (id(v),)) for x in v]
    if isinstance(v, dict): return {str(k): conv(x, seen + (id(v),)) for k, x in v.items()}
    return {"other": repr(v)}
out = []
for doc in json.load(sys.stdin):
    try:
        out.append({"ok": conv(yaml.safe_load(doc))})
    except Exception as e:
        out.append({"error": type(e).__name__})
json.dump(out, sys.stdout)
`;

async function pythonWithYaml(): Promise<string | undefined> {
  for (const python of [`${VENVS}/3.18.0/bin/python`, "python3"]) {
    try {
      const out = await new Deno.Command(python, {
        args: ["-c", "import yaml"],
        stdout: "null",
        stderr: "null",
      }).output();
      if (out.success) return python;
    } catch { /* not installed */ }
  }
  return undefined;
}

const PYTHON = await pythonWithYaml();
const SKIP = PYTHON === undefined
  ? " (skipped: no Python with PyYAML, neither the MLflow test venv nor python3)"
  : "";

/** Sorts mapping keys (PyYAML inserts the keys of `<<: [*a, *b]` in reverse order). */
function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (typeof v !== "object" || v === null) return v;
  return Object.fromEntries(
    Object.entries(v).sort(([a], [b]) => a.localeCompare(b)).map(([k, x]) => [k, sortKeys(x)]),
  );
}

function ours(v: PyValue): unknown {
  if (v === null || typeof v === "boolean" || typeof v === "string") return v;
  if (typeof v === "bigint") return { int: v.toString() };
  if (v instanceof PyFloat) return { float: pyStr(v) };
  if (v instanceof PyDate) return { date: v.text };
  if (Array.isArray(v)) return v.map(ours);
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, ours(x)]));
}

/** The generated corpus: every document is parsed by both loaders. */
function corpus(): string[] {
  const docs: string[] = [];
  const plain = [
    "yes",
    "No",
    "ON",
    "off",
    "y",
    "n",
    "True",
    "FALSE",
    "tRue",
    "~",
    "null",
    "Null",
    "0755",
    "08",
    "0o17",
    "0x1F",
    "-0b101",
    "1_000",
    "190:20:30",
    "1:60",
    "+12",
    "-0",
    "0",
    "1.0",
    "1e3",
    "1.0e+3",
    "1.5E-2",
    ".5",
    "1.",
    "-.inf",
    ".NaN",
    ".nan",
    "-.nan",
    "3.10",
    "1.0.0",
    "2001-12-14",
    "2001-12-14t21:59:43.10-05:00",
    "2001-12-14 21:59:43.10",
    "2002-12-14 21:59:43.1234567 +1",
    "2001-1-1",
    "hello world",
    "a#b",
    "a # comment",
    "python train.py --lr {lr}",
    "'quoted'",
    '"dq"',
    "foo: bar",
    "- x",
    "[1, 2]",
    "{a: 1}",
    "&x anchored",
    "!!str 1",
    "!!int '12'",
    "!!float 1",
    "!!bool yes",
    "!!null ''",
    "!!str",
    "@reserved",
    "`tick",
    "%pct",
    "1 2",
    "=",
    // Not here: `<<` as a value (PyYAML refuses it, we read the text).
  ];
  for (const p of plain) {
    docs.push(`a: ${p}\n`, `- ${p}\n`, `[${p}]\n`, `a: ${p}`);
  }
  // Quoted scalars with blanks around line breaks (js-yaml#307), escapes and empty lines.
  const seps = [
    " \n ",
    "  \n  ",
    "\t\n\t",
    " \t \n",
    "\n",
    "\n\n",
    " \n\n ",
    "\n \n",
    " \n \n \n ",
    "\r\n ",
    " \r\n\r\n ",
  ];
  for (const sep of seps) {
    docs.push(`a: "python train.py${sep}  --seed 1"\n`);
    docs.push(`a: 'hello${sep}world'\n`);
    docs.push(`- "x${sep}y"\n`);
    docs.push(`a: ["one${sep} two", 'three${sep}four']\n`);
    docs.push(`a: "esc \\\\${sep}z"\n`);
    docs.push(`a: "tab\\t${sep}\\ttab"\n`);
    docs.push(`a: 'it''s${sep}ok'\n`);
    // PyYAML refuses a tab before the break of a plain scalar; js-yaml (and we) accept it.
    if (!sep.includes("\t")) docs.push(`a: plain words${sep}  more words\n`);
  }
  for (const esc of ["\\x41", "\\u00e9", "\\U0001F600", "\\N", "\\_", "\\e", "\\/", "\\0", "\\ "]) {
    docs.push(`a: "${esc} after"\n`);
  }
  docs.push('a: "line \\\n    continued"\n', 'a: "trail   \\\n  x"\n', 'a: "e\\\n\n  x"\n');
  // Block scalars: every indicator, with and without a final line break, at the end or not.
  const indicators = ["|", "|-", "|+", ">", ">-", ">+", "|2", ">2-", "|+2"];
  const bodies = [
    "  python train.py",
    "  line one\n  line two",
    "  para one\n\n  para two",
    "  trailing spaces   ",
    "  a\n    indented\n  b",
    "  a\n\n",
    "  a\n  ",
    "  a\n\n  ",
    "  a\n   \n",
  ];
  const endings = ["", "\n", "\n\n", "\n# comment", "\nb: after\n", "\n# c\n"];
  for (const ind of indicators) {
    for (const body of bodies) {
      for (const end of endings) docs.push(`a: ${ind}\n${body}${end}`);
    }
  }
  docs.push("command: |\n  python train.py", "- |\n  x\n- >\n  y");
  // Anchors, aliases, merge keys.
  docs.push(
    "a: &x 1\nb: *x\n",
    "a: &x [1, 2]\nb: *x\nc: [*x, *x]\n",
    "base: &b {x: 1, y: 2}\nd:\n  <<: *b\n  y: 3\n",
    "base: &b {x: 1}\nbase2: &c {z: 2}\nd:\n  <<: [*b, *c]\n",
    'a: &s "multi \n  line"\nb: *s\n',
    "a: &s |\n  text\nb: *s",
    "a: &n\nb: *n\n",
    "a: &a [*a]\n",
    "x: &x !!str 12\ny: *x\n",
  );
  // Typed values and keys.
  docs.push(
    // Not here: `yes:`/`null:` keys (PyYAML: `True`/`None`; we: `true`/`null`).
    "1: one\n",
    "1.5: f\n",
    "a: 1\na: 2\n",
    "? complex\n: value\n",
    "a: !!str 0755\n",
    "a: !!float '1.5'\n",
    "a: [1, 1.0, '1', yes, ~, 2001-12-14]\n",
    "a: {x: 1, y: [a, b], z: {w: 1.0e+3}}\n",
    "a:\n- 1\n- - 2\n  - 3\n",
    "---\na: 1\n...\n",
    "",
    "# only a comment\n",
    "a: b: c\n",
    "a: [1, 2\n",
    "- a\nb: c\n",
    "a: 'unterminated\n",
    "\tbad: tab\n",
    'a: "\\q"\n',
  );
  return docs;
}

Deno.test({
  name: `parsePythonYaml() matches PyYAML's safe_load on a generated corpus${SKIP}`,
  ignore: PYTHON === undefined,
  fn: async () => {
    const docs = corpus();
    assert.ok(docs.length >= 300, `corpus has ${docs.length} documents`);
    const child = new Deno.Command(PYTHON!, {
      args: ["-c", DUMP],
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(JSON.stringify(docs)));
    await writer.close();
    const out = await child.output();
    assert.ok(out.success, "the PyYAML script failed");
    const expected = JSON.parse(new TextDecoder().decode(out.stdout)) as (
      | { ok: unknown }
      | { error: string }
    )[];
    const mismatches: string[] = [];
    docs.forEach((doc, i) => {
      const want = expected[i]!;
      let got: { ok: unknown } | { error: string };
      try {
        got = { ok: ours(parsePythonYaml(doc)) };
      } catch (e) {
        got = { error: e instanceof Error ? e.name : String(e) };
      }
      if ("error" in want || "error" in got) {
        // Both refuse (error kinds differ between the libraries), or both accept.
        if (("error" in want) !== ("error" in got)) {
          mismatches.push(
            `${JSON.stringify(doc)}: PyYAML ${JSON.stringify(want)}, ours ${JSON.stringify(got)}`,
          );
        }
        return;
      }
      const canon = (x: unknown) => JSON.stringify(doc.includes("<<:") ? sortKeys(x) : x);
      if (canon(want.ok) !== canon(got.ok)) {
        mismatches.push(
          `${JSON.stringify(doc)}: PyYAML ${JSON.stringify(want.ok)}, ours ${
            JSON.stringify(got.ok)
          }`,
        );
      }
    });
    assert.deepEqual(mismatches, [], `${mismatches.length} of ${docs.length} differ`);
  },
});
