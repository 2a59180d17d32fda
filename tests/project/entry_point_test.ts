import assert from "node:assert/strict";
import { ExecutionException } from "../../lib/system/errors.ts";
import {
  EntryPoint,
  type ParameterInput,
  type ParameterSpec,
  scriptEntryPoint,
  uriScheme,
} from "../../lib/project/entry_point.ts";
import { loadProject } from "../../lib/project/load_project.ts";
import { FIXTURES, tempDir, writeFiles } from "../_helpers/cli.ts";

const PARAMS_ECHO = `${FIXTURES}/projects/params_echo`;
const PARAMS_ECHO_FILE = `${PARAMS_ECHO}/MLproject`;

function fixtureEntry(name: string): EntryPoint {
  const ep = loadProject(PARAMS_ECHO).entryPoints.get(name);
  assert.ok(ep, `fixture entry point ${name}`);
  return ep;
}

function spec(name: string, type = "string", def?: string): [string, ParameterSpec] {
  return [name, { name, type, default: def }];
}

function entry(command: string, ...params: [string, ParameterSpec][]): EntryPoint {
  return new EntryPoint("main", command, new Map(params), "/proj/MLproject");
}

function render(ep: EntryPoint, user: Record<string, ParameterInput> = {}, from?: string): string {
  return ep.renderCommand(
    ep.computeParameters(user, from === undefined ? {} : { resolvePathsFrom: from }),
  );
}

/** Asserts `fn` throws an ExecutionException with exactly `message`. */
function throwsExactly(fn: () => unknown, message: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof ExecutionException, `expected ExecutionException, got ${e}`);
    assert.equal(e.message, message);
    return true;
  });
}

// --- fixture commands, as rendered by MLflow 2.17 (cli/*.json "Running command" lines) ---

Deno.test("renderCommand() renders params_echo main like MLflow, with '.' made absolute against the caller's dir", () => {
  const ep = fixtureEntry("main");
  assert.equal(ep.file, PARAMS_ECHO_FILE);
  assert.equal(
    render(ep, { name: "it's a b", alpha: "0.5", extra_undeclared: "xyz" }, FIXTURES),
    `python echo_args.py --entry main --name 'it'"'"'s a b' --alpha 0.5 --count 3 --data-path ${FIXTURES} --target-uri https://example.com/data.csv --extra_undeclared xyz`,
  );
});

Deno.test("renderCommand() renders params_echo required with all values given like MLflow", () => {
  const ep = fixtureEntry("required");
  assert.equal(
    render(
      ep,
      {
        label: "a b",
        ratio: "1e-3",
        steps: "10",
        input_path: "projects",
        model_uri: "s3://bucket/model",
      },
      FIXTURES,
    ),
    `python echo_args.py --entry required 'a b' 1e-3 10 ${FIXTURES}/projects s3://bucket/model --tag=v1`,
  );
});

Deno.test("renderCommand() renders falsy defaults ('' and 0) of params_echo defaults_only", () => {
  assert.equal(
    render(fixtureEntry("defaults_only"), {}, FIXTURES),
    "python echo_args.py --entry defaults_only --empty '' --zero 0 --f 2.5",
  );
});

Deno.test("renderCommand() turns {{ and }} into literal braces (params_echo braces)", () => {
  assert.equal(
    render(fixtureEntry("braces"), { expr: "a=b", name: "=x" }),
    "python echo_args.py --entry braces --literal {not_a_param} --expr a=b --name =x",
  );
});

Deno.test("computeParameters() does not validate float and int values", () => {
  const values = fixtureEntry("main").computeParameters({ alpha: "abc", count: "many" });
  assert.equal(values.declared.get("alpha"), "abc");
  assert.equal(values.declared.get("count"), "many");
});

// --- defaults and values ---

Deno.test("computeParameters() uses defaults written as Python str() of the YAML value", async () => {
  await using dir = await tempDir();
  await writeFiles(dir.path, {
    MLproject: [
      "entry_points:",
      "  main:",
      "    parameters:",
      "      b: {type: bool, default: true}",
      "      f: {type: float, default: 1.0}",
      "      z: {type: int, default: 0}",
      "      s: {type: string, default: ''}",
      "      k: {type: float, default: 1.0e+3}",
      "    command: echo {b} {f} {z} {s} {k}",
    ].join("\n"),
  });
  const ep = loadProject(dir.path).entryPoints.get("main")!;
  const values = ep.computeParameters({});
  assert.deepEqual([...values.declared], [
    ["b", "True"],
    ["f", "1.0"],
    ["z", "0"],
    ["s", ""],
    ["k", "1000.0"],
  ]);
  assert.equal(values.extra.size, 0);
  assert.equal(ep.renderCommand(values), "echo True 1.0 0 '' 1000.0");
});

Deno.test("computeParameters() writes boolean and number inputs as Python str()", () => {
  const ep = entry("echo {a} {b} {c}", spec("a"), spec("b"), spec("c"));
  const values = ep.computeParameters({ a: true, b: false, c: 0.5 });
  assert.deepEqual([...values.declared.values()], ["True", "False", "0.5"]);
});

Deno.test("computeParameters() keeps declared values in declaration order and extras in the given order", () => {
  const ep = entry("echo {a} {b}", spec("a"), spec("b"));
  const values = ep.computeParameters({ z: "1", b: "B", y: "2", a: "A" });
  assert.deepEqual([...values.declared], [["a", "A"], ["b", "B"]]);
  assert.deepEqual([...values.extra], [["z", "1"], ["y", "2"]]);
  assert.equal(ep.renderCommand(values), "echo A B --z 1 --y 2");
});

// --- missing parameters ---

Deno.test("validateParameters() lists missing parameters of params_echo required in declaration order", () => {
  const ep = fixtureEntry("required");
  throwsExactly(
    () => ep.validateParameters({ label: "x", ratio: "0.5" }),
    "No value given for missing parameters: 'steps', 'input_path', 'model_uri'",
  );
  throwsExactly(
    () => ep.computeParameters({ label: "x", ratio: "0.5" }),
    "No value given for missing parameters: 'steps', 'input_path', 'model_uri'",
  );
});

Deno.test("validateParameters() counts an empty-string user value as given", () => {
  const ep = entry("echo {a}", spec("a"));
  ep.validateParameters({ a: "" });
  assert.equal(render(ep, { a: "" }), "echo ''");
});

Deno.test("validateParameters() error is an ExecutionException with exit code 1", () => {
  const ep = entry("echo {a}", spec("a"));
  assert.throws(() => ep.validateParameters({}), (e: unknown) => {
    assert.ok(e instanceof ExecutionException);
    assert.equal(e.exitCode, 1);
    assert.equal(e.message, "No value given for missing parameters: 'a'");
    return true;
  });
});

// --- extras ---

Deno.test("renderCommand() appends extras as --key value with key and value shell-quoted", () => {
  const ep = entry("run");
  assert.equal(
    render(ep, { "a;b": "x y", plain: "v", "it's": "$(echo hi)", e: "" }),
    `run --'a;b' 'x y' --plain v --'it'"'"'s' '$(echo hi)' --e ''`,
  );
});

// --- command template ---

Deno.test("renderCommand() renders {{ and }} around placeholders as literal braces", () => {
  const ep = entry("echo {{{a}}} {{a}} }}{{", spec("a", "string", "x y"));
  assert.equal(render(ep), "echo {'x y'} {a} }{");
});

Deno.test("renderCommand() accepts the {name!s} conversion as Python str.format does", () => {
  const ep = entry("echo {a!s}", spec("a", "string", "v"));
  assert.equal(render(ep), "echo v");
});

Deno.test("renderCommand() refuses an unknown placeholder naming the file, entry point and placeholder", () => {
  const ep = entry("echo {alpha} {nope}", spec("alpha", "float", "1"));
  throwsExactly(
    () => render(ep),
    "Invalid MLproject file '/proj/MLproject': command of entry point 'main' uses '{nope}', which is not a declared parameter (declared: 'alpha'; write '{{' and '}}' for literal braces)",
  );
});

Deno.test("renderCommand() refuses a placeholder when nothing is declared, saying so", () => {
  const ep = new EntryPoint("train", "echo {x}", new Map(), "/p/mlproject");
  throwsExactly(
    () => render(ep),
    "Invalid MLproject file '/p/mlproject': command of entry point 'train' uses '{x}', which is not a declared parameter (declared: none; write '{{' and '}}' for literal braces)",
  );
});

Deno.test("renderCommand() does not treat an extra parameter as a placeholder value", () => {
  const ep = entry("echo {x}");
  assert.throws(() => render(ep, { x: "1" }), /uses '\{x\}', which is not a declared parameter/);
});

Deno.test("renderCommand() refuses a single } naming the file and entry point", () => {
  const ep = entry("awk '{print $1}'");
  throwsExactly(
    () => render(ep),
    "Invalid MLproject file '/proj/MLproject': command of entry point 'main' uses '{print $1}', which is not a declared parameter (declared: none; write '{{' and '}}' for literal braces)",
  );
  throwsExactly(
    () => render(entry("echo a}b")),
    "Invalid MLproject file '/proj/MLproject': command of entry point 'main' has a single '}' (write '}}' for a literal brace)",
  );
});

Deno.test("renderCommand() refuses an unclosed {", () => {
  throwsExactly(
    () => render(entry("echo {a", spec("a", "string", "1"))),
    "Invalid MLproject file '/proj/MLproject': command of entry point 'main' has a '{' without a closing '}'",
  );
});

Deno.test("renderCommand() errors for a bad template in a real MLproject name that file", async () => {
  await using dir = await tempDir();
  await writeFiles(dir.path, {
    MLproject: "entry_points:\n  fit:\n    parameters: {a: string}\n    command: echo {a} {b}\n",
  });
  const ep = loadProject(dir.path).entryPoints.get("fit")!;
  throwsExactly(
    () => render(ep, { a: "1" }),
    `Invalid MLproject file '${dir.path}/MLproject': command of entry point 'fit' uses '{b}', which is not a declared parameter (declared: 'a'; write '{{' and '}}' for literal braces)`,
  );
});

// --- path parameters ---

Deno.test("computeParameters() makes a relative path absolute against resolvePathsFrom", async () => {
  await using dir = await tempDir();
  await writeFiles(dir.path, { "data/x.csv": "1\n" });
  const ep = entry("cat {p}", spec("p", "path"));
  assert.equal(
    ep.computeParameters({ p: "data/x.csv" }, { resolvePathsFrom: dir.path }).declared.get("p"),
    `${dir.path}/data/x.csv`,
  );
  assert.equal(
    ep.computeParameters({ p: "." }, { resolvePathsFrom: dir.path }).declared.get("p"),
    dir.path,
  );
  assert.equal(
    ep.computeParameters({ p: `${dir.path}/data` }, { resolvePathsFrom: "/" }).declared.get("p"),
    `${dir.path}/data`,
  );
});

Deno.test("computeParameters() keeps path values as given without resolvePathsFrom", () => {
  const ep = entry("cat {p}", spec("p", "path"));
  assert.equal(ep.computeParameters({ p: "does/not/exist" }).declared.get("p"), "does/not/exist");
  assert.equal(ep.computeParameters({ p: "s3://b/k" }).declared.get("p"), "s3://b/k");
});

Deno.test("computeParameters() refuses a path that does not exist with MLflow's message", async () => {
  await using dir = await tempDir();
  const ep = fixtureEntry("required");
  throwsExactly(
    () =>
      ep.computeParameters({
        label: "x",
        ratio: "0.5",
        steps: "2",
        input_path: "does/not/exist",
        model_uri: "s3://bucket/model",
      }, { resolvePathsFrom: dir.path }),
    "Got value does/not/exist for parameter input_path, but no such file or directory was found.",
  );
});

Deno.test("computeParameters() checks the default of a path parameter too", async () => {
  await using dir = await tempDir();
  const ep = entry("cat {p}", spec("p", "path", "missing.txt"));
  throwsExactly(
    () => ep.computeParameters({}, { resolvePathsFrom: dir.path }),
    "Got value missing.txt for parameter p, but no such file or directory was found.",
  );
});

Deno.test("computeParameters() accepts file:// URIs (and file:/, localhost, %-escapes) for path parameters", async () => {
  await using dir = await tempDir();
  await writeFiles(dir.path, { "a b.txt": "x" });
  const ep = entry("cat {p}", spec("p", "path"));
  const from = { resolvePathsFrom: "/" };
  const want = `${dir.path}/a b.txt`;
  assert.equal(
    ep.computeParameters({ p: `file://${dir.path}/a%20b.txt` }, from).declared.get("p"),
    want,
  );
  assert.equal(
    ep.computeParameters({ p: `file:${dir.path}/a%20b.txt` }, from).declared.get("p"),
    want,
  );
  assert.equal(
    ep.computeParameters({ p: `file://localhost${dir.path}/a%20b.txt` }, from).declared.get("p"),
    want,
  );
  assert.equal(render(ep, { p: `file://${dir.path}/a%20b.txt` }, "/"), `cat '${want}'`);
});

Deno.test("computeParameters() refuses a file:// path that does not exist", async () => {
  await using dir = await tempDir();
  const ep = entry("cat {p}", spec("p", "path"));
  const value = `file://${dir.path}/nope`;
  throwsExactly(
    () => ep.computeParameters({ p: value }, { resolvePathsFrom: "/" }),
    `Got value ${value} for parameter p, but no such file or directory was found.`,
  );
});

Deno.test("computeParameters() says downloading s3:// (and other schemes) for path parameters is not supported yet", async () => {
  await using dir = await tempDir();
  const ep = entry("cat {input_path}", spec("input_path", "path"));
  throwsExactly(
    () => ep.computeParameters({ input_path: "s3://bucket/key" }, { resolvePathsFrom: dir.path }),
    "Parameter input_path has value s3://bucket/key: downloading 's3:' URIs for 'path' parameters is not supported yet",
  );
  throwsExactly(
    () => ep.computeParameters({ input_path: "runs:/abc/model" }, { resolvePathsFrom: dir.path }),
    "Parameter input_path has value runs:/abc/model: downloading 'runs:' URIs for 'path' parameters is not supported yet",
  );
});

// --- uri parameters ---

Deno.test("computeParameters() refuses a uri value without a scheme with MLflow's message", () => {
  const ep = fixtureEntry("main");
  throwsExactly(
    () => ep.computeParameters({ target_uri: "relative/path" }),
    "Expected URI for parameter target_uri but got relative/path",
  );
  throwsExactly(
    () => ep.computeParameters({ target_uri: "/abs/path" }, { resolvePathsFrom: FIXTURES }),
    "Expected URI for parameter target_uri but got /abs/path",
  );
});

Deno.test("computeParameters() passes uri values with a scheme through unchanged", () => {
  const ep = entry("get {u}", spec("u", "uri"));
  for (const u of ["s3://b/k", "runs:/abc/model", "file:///tmp/x", "https://h/p?q=1"]) {
    assert.equal(ep.computeParameters({ u }).declared.get("u"), u);
  }
});

Deno.test("uriScheme() returns the lower-cased scheme or an empty string", () => {
  assert.equal(uriScheme("S3://b/k"), "s3");
  assert.equal(uriScheme("git+ssh://h/r"), "git+ssh");
  assert.equal(uriScheme("runs:/x"), "runs");
  assert.equal(uriScheme("relative/path"), "");
  assert.equal(uriScheme("1abc:x"), "");
  assert.equal(uriScheme(""), "");
});

// --- script entry points ---

Deno.test("scriptEntryPoint() runs a .py name with python, quoting the name", () => {
  const ep = scriptEntryPoint("a b.py", {})!;
  assert.equal(ep.name, "a b.py");
  assert.equal(ep.parameters.size, 0);
  assert.equal(ep.file, "MLproject");
  assert.equal(render(ep), "python 'a b.py'");
  assert.equal(
    render(scriptEntryPoint("hello.py", {})!, { greeting: "hi there" }),
    "python hello.py --greeting 'hi there'",
  );
  assert.equal(render(scriptEntryPoint("src/train.py", {})!), "python src/train.py");
});

Deno.test("scriptEntryPoint() runs a .sh name with $SHELL, defaulting to bash", () => {
  assert.equal(
    render(scriptEntryPoint("hello.sh", { shell: "/bin/bash" })!, { n: "1" }),
    "/bin/bash hello.sh --n 1",
  );
  assert.equal(render(scriptEntryPoint("hello.sh", {})!), "bash hello.sh");
  assert.equal(render(scriptEntryPoint("hello.sh", { shell: "" })!), "bash hello.sh");
  assert.equal(
    render(scriptEntryPoint("my script.sh", { shell: "/bin/zsh" })!),
    "/bin/zsh 'my script.sh'",
  );
});

Deno.test("scriptEntryPoint() keeps braces in a script name literal", () => {
  assert.equal(render(scriptEntryPoint("{x}.py", {})!), "python '{x}.py'");
  assert.equal(render(scriptEntryPoint("a}b.sh", { shell: "sh" })!), "sh 'a}b.sh'");
});

Deno.test("scriptEntryPoint() names the given project file", () => {
  assert.equal(scriptEntryPoint("x.py", { file: "/p/MLproject" })!.file, "/p/MLproject");
});

Deno.test("scriptEntryPoint() returns undefined for other extensions", () => {
  for (const name of ["main", "x.R", "x.txt", "py", "x.pyc", "x.py.bak", "sh"]) {
    assert.equal(scriptEntryPoint(name, {}), undefined, name);
  }
});

// --- hostile values reach the child as single argv items ---

const HOSTILE = [
  "a;b",
  "; echo injected",
  "$(echo pwned)",
  "`echo pwned`",
  "it's",
  'say "hi"',
  `'"'"'`,
  "a\nb",
  "é 日本 🎉",
  "-n",
  "--help",
  "",
  " spaced ",
  "$HOME",
  "a && echo b || c",
  "* ?",
  "{x}",
  "}{",
  "\\",
];

async function bashArgv(command: string): Promise<string[]> {
  const out = await new Deno.Command("bash", {
    args: ["-c", command],
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).output();
  assert.equal(new TextDecoder().decode(out.stderr), "");
  assert.equal(out.code, 0);
  const items = new TextDecoder().decode(out.stdout).split("\0");
  assert.equal(items.pop(), "");
  return items;
}

Deno.test("renderCommand() output run by bash hands every hostile declared value over as one argv item", async () => {
  for (const value of HOSTILE) {
    const ep = entry("printf '%s\\0' {x} end", spec("x"));
    const argv = await bashArgv(render(ep, { x: value }));
    assert.deepEqual(argv, [value, "end"], JSON.stringify(value));
  }
});

Deno.test("renderCommand() output run by bash hands hostile extra keys and values over exactly", async () => {
  const ep = entry("printf '%s\\0'");
  const user: Record<string, string> = {};
  HOSTILE.forEach((v, i) => {
    user[`k${i};${v}`] = v;
  });
  const argv = await bashArgv(render(ep, user));
  const want = HOSTILE.flatMap((v, i) => [`--k${i};${v}`, v]);
  assert.deepEqual(argv, want);
});

Deno.test("renderCommand() output run by bash hands hostile MLproject defaults over exactly", async () => {
  await using dir = await tempDir();
  await writeFiles(dir.path, {
    MLproject: [
      "entry_points:",
      "  main:",
      "    parameters:",
      `      a: {type: string, default: "$(echo pwned); echo 'x' \\"y\\""}`,
      "      b: {type: string, default: '`id` && rm nothing'}",
      "      c: {type: float, default: 1.0}",
      "    command: printf '%s\\0' {a} {b} {c}",
    ].join("\n"),
  });
  const ep = loadProject(dir.path).entryPoints.get("main")!;
  const argv = await bashArgv(render(ep));
  assert.deepEqual(argv, [`$(echo pwned); echo 'x' "y"`, "`id` && rm nothing", "1.0"]);
});

Deno.test("renderCommand() output run by bash gives python3 the exact sys.argv", async () => {
  const ep = entry(
    `python3 -c 'import json, sys; print(json.dumps(sys.argv[1:]))' {x} {y}`,
    spec("x"),
    spec("y"),
  );
  const values = { x: "it's $(echo pwned)\nline2", y: "-c" };
  const out = await new Deno.Command("bash", {
    args: ["-c", render(ep, { ...values, "z z": "`id`" })],
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  assert.deepEqual(JSON.parse(new TextDecoder().decode(out.stdout)), [
    values.x,
    values.y,
    "--z z",
    "`id`",
  ]);
});
