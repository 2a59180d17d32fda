import assert from "node:assert/strict";
import {
  parsePythonYaml,
  PyDate,
  PyFloat,
  pyRepr,
  pyStr,
  type PyValue,
  resolvePlainScalar,
  YamlLimitError,
  YamlSyntaxError,
} from "../lib/python_yaml.ts";
import { FIXTURES } from "./_helpers/cli.ts";

/** Parses `a: <scalar>` and returns the value of `a`. */
function scalar(text: string): PyValue {
  const doc = parsePythonYaml(`a: ${text}`);
  assert.ok(doc !== null && typeof doc === "object" && !Array.isArray(doc));
  return (doc as Record<string, PyValue>)["a"]!;
}

/** Describes a value as `<python type> <python str()>`, as PyYAML + str() would. */
function typed(v: PyValue): string {
  if (v === null) return "NoneType None";
  if (typeof v === "boolean") return `bool ${pyStr(v)}`;
  if (typeof v === "bigint") return `int ${pyStr(v)}`;
  if (v instanceof PyFloat) return `float ${pyStr(v)}`;
  if (v instanceof PyDate) return `date ${pyStr(v)}`;
  if (typeof v === "string") return `str ${v}`;
  if (Array.isArray(v)) return `list ${pyStr(v)}`;
  return `dict ${pyStr(v)}`;
}

// Expected values were produced by PyYAML 6.0 `yaml.safe_load` + Python 3 `str()`.

Deno.test("parsePythonYaml() reads YAML 1.1 booleans (yes/no/on/off/True) as bools", () => {
  const cases: [string, string][] = [
    ["yes", "bool True"],
    ["Yes", "bool True"],
    ["YES", "bool True"],
    ["no", "bool False"],
    ["NO", "bool False"],
    ["on", "bool True"],
    ["On", "bool True"],
    ["off", "bool False"],
    ["Off", "bool False"],
    ["True", "bool True"],
    ["true", "bool True"],
    ["TRUE", "bool True"],
    ["false", "bool False"],
  ];
  for (const [text, want] of cases) assert.equal(typed(scalar(text)), want, text);
});

Deno.test("parsePythonYaml() keeps y/n and mixed-case booleans as strings, like PyYAML", () => {
  for (const text of ["y", "n", "Y", "N", "tRue", "oN", "nULL"]) {
    assert.equal(typed(scalar(text)), `str ${text}`, text);
  }
});

Deno.test("parsePythonYaml() reads YAML 1.1 integers: octal, hex, binary, underscores, sexagesimal", () => {
  const cases: [string, string][] = [
    ["0", "int 0"],
    ["-0", "int 0"],
    ["00", "int 0"],
    ["+12", "int 12"],
    ["0755", "int 493"],
    ["+0755", "int 493"],
    ["0x1F", "int 31"],
    ["-0x1F", "int -31"],
    ["0x_1F", "int 31"],
    ["0b101", "int 5"],
    ["0b1_0", "int 2"],
    ["1_000", "int 1000"],
    ["1__0", "int 10"],
    ["-1_0", "int -10"],
    ["1:30", "int 90"],
    ["-1:30", "int -90"],
    ["1:59", "int 119"],
    ["1_0:30", "int 630"],
    ["0_7", "int 7"],
  ];
  for (const [text, want] of cases) assert.equal(typed(scalar(text)), want, text);
});

Deno.test("parsePythonYaml() keeps non-YAML-1.1 number forms as strings (08, 0o17, 1:60, 0_8)", () => {
  for (const text of ["08", "0o17", "1:60", "0_8", "_1", "12e"]) {
    assert.equal(typed(scalar(text)), `str ${text}`, text);
  }
});

Deno.test("parsePythonYaml() reads huge integers exactly", () => {
  const v = scalar("12345678901234567890");
  assert.equal(v, 12345678901234567890n);
  assert.equal(pyStr(v), "12345678901234567890");
  assert.equal(pyStr(scalar("-98765432109876543210987654321")), "-98765432109876543210987654321");
});

Deno.test("parsePythonYaml() reads floats only with a dot, as PyYAML (1e3 stays a string)", () => {
  const cases: [string, string][] = [
    ["1.0", "float 1.0"],
    ["1.", "float 1.0"],
    ["0.", "float 0.0"],
    [".5", "float 0.5"],
    ["+1.5", "float 1.5"],
    ["1.0e+3", "float 1000.0"],
    ["1.0E+3", "float 1000.0"],
    ["1.0e-3", "float 0.001"],
    ["1.5e-5", "float 1.5e-05"],
    ["3.14_15", "float 3.1415"],
    ["190:20:30.15", "float 685230.15"],
    ["1e3", "str 1e3"],
    ["1e+3", "str 1e+3"],
    ["1.0e3", "str 1.0e3"],
    ["-.5", "str -.5"],
  ];
  for (const [text, want] of cases) assert.equal(typed(scalar(text)), want, text);
});

Deno.test("parsePythonYaml() reads .inf, -.inf and .nan but not -.nan", () => {
  const cases: [string, string][] = [
    [".inf", "float inf"],
    [".Inf", "float inf"],
    ["+.inf", "float inf"],
    ["-.inf", "float -inf"],
    [".nan", "float nan"],
    [".NaN", "float nan"],
    [".NAN", "float nan"],
    ["-.nan", "str -.nan"],
  ];
  for (const [text, want] of cases) assert.equal(typed(scalar(text)), want, text);
  const inf = scalar("-.inf");
  assert.ok(inf instanceof PyFloat);
  assert.equal(inf.value, -Infinity);
  const nan = scalar(".nan");
  assert.ok(nan instanceof PyFloat);
  assert.ok(Number.isNaN(nan.value));
});

Deno.test("parsePythonYaml() reads ~, null, Null, NULL and an empty value as None", () => {
  for (const text of ["~", "null", "Null", "NULL", ""]) {
    assert.equal(scalar(text), null, JSON.stringify(text));
  }
  assert.equal(typed(scalar("~x")), "str ~x");
});

Deno.test("parsePythonYaml() reads dates and timestamps as Python's str() of date/datetime", () => {
  const cases: [string, string][] = [
    ["2001-12-14", "date 2001-12-14"],
    ["2001-12-14 21:59:43", "date 2001-12-14 21:59:43"],
    ["2001-12-14T21:59:43Z", "date 2001-12-14 21:59:43+00:00"],
    ["2001-12-14t21:59:43.10-05:00", "date 2001-12-14 21:59:43.100000-05:00"],
    ["2001-12-14 21:59:43.10 -5", "date 2001-12-14 21:59:43.100000-05:00"],
    ["2001-1-2 3:04:05", "date 2001-01-02 03:04:05"],
    ["2001-12-14 21:59:43.1234567", "date 2001-12-14 21:59:43.123456"],
  ];
  for (const [text, want] of cases) assert.equal(typed(scalar(text)), want, text);
});

Deno.test("parsePythonYaml() keeps quoted scalars as strings", () => {
  const cases: [string, string][] = [
    ["'yes'", "str yes"],
    ['"no"', "str no"],
    ['"1.0"', "str 1.0"],
    ["'0755'", "str 0755"],
    ["'~'", "str ~"],
    ["''", "str "],
    ['"null"', "str null"],
    ["'2001-12-14'", "str 2001-12-14"],
    ['"a\\tb"', "str a\tb"],
    ["'it''s'", "str it's"],
  ];
  for (const [text, want] of cases) assert.equal(typed(scalar(text)), want, text);
});

Deno.test("parsePythonYaml() honours explicit !!str, !!int, !!bool and !!null tags", () => {
  assert.equal(typed(scalar("!!str yes")), "str yes");
  assert.equal(typed(scalar("!!str 1.0")), "str 1.0");
  assert.equal(typed(scalar('!!int "3"')), "int 3");
  assert.equal(typed(scalar("!!int 0x10")), "int 16");
  assert.equal(typed(scalar("!!int '0755'")), "int 493");
  assert.equal(typed(scalar("!!bool yes")), "bool True");
  assert.equal(typed(scalar("!!null ''")), "NoneType None");
  assert.equal(typed(scalar("!!float 1.5")), "float 1.5");
  assert.equal(typed(scalar("!!float 1e3")), "float 1000.0");
});

Deno.test("parsePythonYaml() reads an integer-looking !!float scalar as a float (!!float 1 → 1.0)", () => {
  // PyYAML: yaml.safe_load("a: !!float 1") == {"a": 1.0}; str() gives "1.0".
  assert.equal(typed(scalar("!!float 1")), "float 1.0");
  assert.equal(typed(scalar("!!float '1'")), "float 1.0");
});

Deno.test("parsePythonYaml() builds mappings and lists with str() keys; the last duplicate key wins", () => {
  assert.deepEqual(parsePythonYaml("a: 1\na: 2"), { a: 2n });
  assert.equal(
    pyStr(parsePythonYaml("[1, 'a', \"it's\", null, true, 1.0]")),
    `[1, 'a', "it's", None, True, 1.0]`,
  );
  assert.equal(pyStr(parsePythonYaml("{a: 1, b: [x]}")), "{'a': 1, 'b': ['x']}");
  assert.deepEqual(Object.keys(parsePythonYaml("1: a\n2.5: b") as object), ["1", "2.5"]);
});

Deno.test("parsePythonYaml() returns null for an empty or comment-only document", () => {
  assert.equal(parsePythonYaml(""), null);
  assert.equal(parsePythonYaml("# only a comment\n"), null);
});

Deno.test("parsePythonYaml() throws YamlSyntaxError with a position for the bad_yaml fixture", () => {
  const text = Deno.readTextFileSync(`${FIXTURES}/projects/invalid/bad_yaml/MLproject`);
  assert.throws(
    () => parsePythonYaml(text),
    (e: unknown) => {
      assert.ok(e instanceof YamlSyntaxError);
      assert.ok(e instanceof SyntaxError);
      assert.equal(e.name, "YamlSyntaxError");
      assert.match(e.message, / at line \d+, column \d+$/);
      assert.ok(!e.message.includes("\n"), "message is a single line");
      return true;
    },
  );
});

Deno.test("resolvePlainScalar() types a bare scalar the same way", () => {
  assert.equal(resolvePlainScalar("yes"), true);
  assert.equal(resolvePlainScalar("1e3"), "1e3");
  assert.equal(resolvePlainScalar("0x10"), 16n);
  assert.equal(resolvePlainScalar(""), null);
  assert.equal(pyStr(resolvePlainScalar("1.0e+3")), "1000.0");
});

Deno.test("pyStr() matches Python str() for bools, None, ints and strings", () => {
  assert.equal(pyStr(true), "True");
  assert.equal(pyStr(false), "False");
  assert.equal(pyStr(null), "None");
  assert.equal(pyStr(undefined), "None");
  assert.equal(pyStr(0n), "0");
  assert.equal(pyStr(12345678901234567890n), "12345678901234567890");
  assert.equal(pyStr("it's"), "it's");
  assert.equal(pyStr(new PyDate("2001-12-14")), "2001-12-14");
});

Deno.test("pyStr() matches Python str() for floats (repr rules: 1.0, 1e-05, 1e+16, -0.0, inf, nan)", () => {
  const cases: [number, string][] = [
    [1, "1.0"],
    [1000, "1000.0"],
    [1e-5, "1e-05"],
    [1.5e-5, "1.5e-05"],
    [1e-4, "0.0001"],
    [1e15, "1000000000000000.0"],
    [1234567890123456, "1234567890123456.0"],
    [1e16, "1e+16"],
    [1.5e300, "1.5e+300"],
    [0.1, "0.1"],
    [2.5, "2.5"],
    [0.30000000000000004, "0.30000000000000004"],
    [123456789012345.6, "123456789012345.6"],
    [0, "0.0"],
    [-0, "-0.0"],
    [-2.5, "-2.5"],
    [-1e-7, "-1e-07"],
    [Infinity, "inf"],
    [-Infinity, "-inf"],
    [NaN, "nan"],
  ];
  for (const [x, want] of cases) assert.equal(pyStr(new PyFloat(x)), want, String(x));
});

Deno.test("pyRepr() quotes strings like Python repr()", () => {
  assert.equal(pyRepr("a"), "'a'");
  assert.equal(pyRepr("it's"), `"it's"`);
  assert.equal(pyRepr(`it's "x"`), `'it\\'s "x"'`);
  assert.equal(pyRepr("a\nb"), "'a\\nb'");
  assert.equal(pyRepr("a\\b"), "'a\\\\b'");
  assert.equal(pyRepr(true), "True");
  assert.equal(pyRepr(null), "None");
});

function laughs(levels: number, width: number): string {
  let text = `a0: &a0 [${Array(width).fill("lol").join(", ")}]\n`;
  for (let i = 1; i < levels; i++) {
    text += `a${i}: &a${i} [${Array(width).fill(`*a${i - 1}`).join(", ")}]\n`;
  }
  return text;
}

function refuses(text: string, pattern: RegExp): void {
  assert.throws(() => parsePythonYaml(text), (e: unknown) => {
    assert.ok(e instanceof YamlLimitError, `expected YamlLimitError, got ${e}`);
    assert.match(e.message, pattern);
    assert.ok(!e.message.includes("\n"), "one line");
    return true;
  });
}

Deno.test("parsePythonYaml() refuses a billion-laughs alias bomb (9 anchors x 9 aliases) by node count", () => {
  refuses(laughs(9, 9), /more than 1000000 nodes once aliases are expanded/);
});

Deno.test("parsePythonYaml() keeps shared aliases below the node limit and reads them like PyYAML", () => {
  const doc = parsePythonYaml(laughs(4, 9)) as Record<string, PyValue[]>;
  assert.equal((doc.a3 as PyValue[][]).length, 9);
  assert.equal(pyStr(doc.a1!).split("lol").length - 1, 81);
});

Deno.test("parsePythonYaml() refuses more than 10000 aliases", () => {
  refuses(`a: &a x\nb: [${Array(10_001).fill("*a").join(", ")}]\n`, /more than 10000 aliases/);
});

Deno.test("parsePythonYaml() refuses a recursive alias (a: &a [*a]) naming it", () => {
  refuses("a: &a [*a]\n", /recursive alias '\*a'/);
  refuses("a: &m {b: *m}\n", /recursive alias '\*m'/);
});

Deno.test("parsePythonYaml() refuses nesting 50-100k deep with a named limit, not a stack overflow", () => {
  refuses("a: " + "[".repeat(100_000) + "]".repeat(100_000), /nesting is deeper than 1000 levels/);
  refuses("- ".repeat(50_000) + "x\n", /nesting is deeper than 1000 levels/);
  refuses("{a: ".repeat(50_000) + "}".repeat(50_000), /nesting is deeper than 1000 levels/);
  assert.ok(parsePythonYaml("- ".repeat(900) + "x\n") !== null);
});

Deno.test("parsePythonYaml() drops no newline PyYAML keeps and adds none: block scalar at end of file", () => {
  assert.deepEqual(parsePythonYaml("command: |\n  python train.py"), {
    command: "python train.py",
  });
  assert.deepEqual(parsePythonYaml("command: |\n  python train.py\n"), {
    command: "python train.py\n",
  });
  assert.deepEqual(parsePythonYaml("d: >\n  hello\n  world"), { d: "hello world" });
  assert.deepEqual(parsePythonYaml("d: |+\n  a\n  "), { d: "a\n" });
});

Deno.test("parsePythonYaml() folds the blanks before a line break in quoted scalars (js-yaml#307)", () => {
  assert.deepEqual(parsePythonYaml('c: "python train.py \n  --seed 1"\n'), {
    c: "python train.py --seed 1",
  });
  assert.deepEqual(parsePythonYaml('d: "hello \t\n world"\n'), { d: "hello world" });
  assert.deepEqual(parsePythonYaml("d: 'hello  \n\n  world'\n"), { d: "hello\nworld" });
  assert.deepEqual(parsePythonYaml('a: &x "p \n q"\nb: *x\n'), { a: "p q", b: "p q" });
});

Deno.test("parsePythonYaml() refuses a bare '=' value as PyYAML does, and merges '<<' keys", () => {
  assert.throws(() => parsePythonYaml("a: =\n"), YamlSyntaxError);
  assert.deepEqual(
    pyStr(parsePythonYaml("b: &b {x: 1, y: 2}\nd:\n  <<: *b\n  y: 3\n")),
    "{'b': {'x': 1, 'y': 2}, 'd': {'x': 1, 'y': 3}}",
  );
});
