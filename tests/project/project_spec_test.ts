import assert from "node:assert/strict";
import { ExecutionException } from "../../lib/system/errors.ts";
import { findProjectFile } from "../../lib/project/project_spec.ts";
import { loadProject } from "../../lib/project/load_project.ts";
import { FIXTURES, tempDir, writeFiles } from "../_helpers/cli.ts";

const PROJECTS = `${FIXTURES}/projects`;
const MAIN = "entry_points:\n  main:\n    command: echo hi\n";

/** Asserts `fn` throws an ExecutionException with exactly `message`. */
function throwsExactly(fn: () => unknown, message: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof ExecutionException, `expected ExecutionException, got ${e}`);
    assert.equal(e.message, message);
    assert.equal(e.exitCode, 1);
    return true;
  });
}

/** Returns the ExecutionException message thrown by `fn`. */
function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ExecutionException, `expected ExecutionException, got ${e}`);
    assert.ok(!e.message.includes("\n"), `one-line message: ${e.message}`);
    return e.message;
  }
  assert.fail("expected an ExecutionException");
}

for (const fileName of ["MLproject", "mlproject", "MLProject", "MLPROJECT"]) {
  Deno.test(`loadProject() reads an MLproject file named ${fileName}`, async () => {
    await using dir = await tempDir();
    await writeFiles(dir.path, { [fileName]: `name: cased\n${MAIN}` });
    const project = loadProject(dir.path);
    assert.equal(project.file, `${dir.path}/${fileName}`);
    assert.equal(project.name, "cased");
    assert.deepEqual([...project.entryPoints.keys()], ["main"]);
    assert.equal(project.entryPoints.get("main")!.command, "echo hi");
    assert.equal(findProjectFile(dir.path), `${dir.path}/${fileName}`);
  });
}

Deno.test("findProjectFile() ignores a directory named MLproject", async () => {
  await using dir = await tempDir();
  await Deno.mkdir(`${dir.path}/MLproject`);
  assert.equal(findProjectFile(dir.path), undefined);
});

Deno.test("loadProject() without an MLproject file gives no entry points and a bare python_env", async () => {
  await using dir = await tempDir();
  await writeFiles(dir.path, { "train.py": "print(1)\n" });
  const project = loadProject(dir.path);
  assert.equal(project.dir, dir.path);
  assert.equal(project.file, undefined);
  assert.equal(project.name, undefined);
  assert.equal(project.entryPoints.size, 0);
  assert.equal(project.envType, "python_env");
  assert.equal(project.envConfigPath, undefined);
  assert.equal(project.dockerEnv, undefined);
});

Deno.test("loadProject() reads the no_mlproject fixture as a project without entry points", () => {
  const project = loadProject(`${PROJECTS}/no_mlproject`);
  assert.equal(project.file, undefined);
  assert.equal(project.entryPoints.size, 0);
  assert.equal(project.envType, "python_env");
  assert.equal(project.envConfigPath, undefined);
});

Deno.test("loadProject() reads the params_echo fixture: entry points in file order with typed defaults", () => {
  const dir = `${PROJECTS}/params_echo`;
  const project = loadProject(dir);
  assert.equal(project.file, `${dir}/MLproject`);
  assert.equal(project.name, "params_echo");
  assert.equal(project.envType, "python_env");
  assert.equal(project.envConfigPath, undefined);
  assert.deepEqual([...project.entryPoints.keys()], [
    "main",
    "required",
    "defaults_only",
    "braces",
  ]);
  const main = project.entryPoints.get("main")!;
  assert.equal(main.file, `${dir}/MLproject`);
  assert.equal(
    main.command,
    "python echo_args.py --entry main --name {name} --alpha {alpha} --count {count} --data-path {data_path} --target-uri {target_uri}",
  );
  assert.deepEqual([...main.parameters.values()], [
    { name: "name", type: "string", default: "world" },
    { name: "alpha", type: "float", default: "0.1" },
    { name: "count", type: "int", default: "3" },
    { name: "data_path", type: "path", default: "." },
    { name: "target_uri", type: "uri", default: "https://example.com/data.csv" },
  ]);
  assert.deepEqual([...project.entryPoints.get("required")!.parameters.values()], [
    { name: "label", type: "string", default: undefined },
    { name: "ratio", type: "float", default: undefined },
    { name: "steps", type: "int", default: undefined },
    { name: "input_path", type: "path", default: undefined },
    { name: "model_uri", type: "uri", default: undefined },
    { name: "tag", type: "string", default: "v1" },
  ]);
  assert.deepEqual([...project.entryPoints.get("defaults_only")!.parameters.values()], [
    { name: "empty_default", type: "string", default: "" },
    { name: "zero_default", type: "int", default: "0" },
    { name: "float_default", type: "float", default: "2.5" },
  ]);
  const braces = project.entryPoints.get("braces")!;
  assert.equal(braces.parameters.size, 0);
  assert.equal(braces.command, "python echo_args.py --entry braces --literal {{not_a_param}}");
});

Deno.test("loadProject() turns parameter defaults into Python str() text", async () => {
  await using dir = await tempDir();
  await writeFiles(dir.path, {
    MLproject: [
      "entry_points:",
      "  main:",
      "    parameters:",
      "      b: {type: bool, default: true}",
      "      y: {type: string, default: yes}",
      "      f: {type: float, default: 1.0}",
      "      e: {type: float, default: 1e-5}",
      "      big: {type: float, default: 1.0e+3}",
      "      z: {type: int, default: 0}",
      "      oct: {type: int, default: 0755}",
      "      s: {type: string, default: ''}",
      "      n: {type: string, default: null}",
      "      d: {default: 2001-12-14}",
      "      l: {default: [1, a]}",
      "      t: {type: 7}",
      "    command: echo",
    ].join("\n"),
  });
  const params = loadProject(dir.path).entryPoints.get("main")!.parameters;
  const defaults = Object.fromEntries([...params.values()].map((p) => [p.name, p.default]));
  assert.deepEqual(defaults, {
    b: "True",
    y: "True",
    f: "1.0",
    e: "1e-5",
    big: "1000.0",
    z: "0",
    oct: "493",
    s: "",
    n: undefined,
    d: "2001-12-14",
    l: "[1, 'a']",
    t: undefined,
  });
  assert.equal(params.get("d")!.type, "string");
  assert.equal(params.get("t")!.type, "7");
});

Deno.test("loadProject() reads the name field as Python str() text", async () => {
  await using dir = await tempDir();
  await writeFiles(dir.path, { MLproject: `name: 1.0\n${MAIN}` });
  assert.equal(loadProject(dir.path).name, "1.0");
});

Deno.test("loadProject() ignores unknown top-level and entry point keys", async () => {
  await using dir = await tempDir();
  await writeFiles(dir.path, {
    MLproject: "whatever: 1\nentry_points:\n  main:\n    command: echo\n    extra: [1]\n",
  });
  const project = loadProject(dir.path);
  assert.deepEqual([...project.entryPoints.keys()], ["main"]);
});

Deno.test("loadProject() with entry_points: null gives no entry points", async () => {
  await using dir = await tempDir();
  await writeFiles(dir.path, { MLproject: "name: x\nentry_points:\n" });
  assert.equal(loadProject(dir.path).entryPoints.size, 0);
});

// --- environment resolution (spec §3.3) ---

Deno.test("loadProject() prefers docker_env over env files in the directory", async () => {
  await using dir = await tempDir();
  await writeFiles(dir.path, {
    MLproject: `docker_env:\n  image: python:3.11\n${MAIN}`,
    "python_env.yaml": "python: '3.11'\n",
    "conda.yaml": "name: x\n",
  });
  const project = loadProject(dir.path);
  assert.equal(project.envType, "docker_env");
  assert.equal(project.envConfigPath, undefined);
  assert.deepEqual(project.dockerEnv, { image: "python:3.11", volumes: [], environment: [] });
});

Deno.test("loadProject() uses the python_env key's file before conda.yaml and python_env.yaml", async () => {
  await using dir = await tempDir();
  await writeFiles(dir.path, {
    MLproject: `python_env: envs/py.yaml\n${MAIN}`,
    "envs/py.yaml": "python: '3.11'\n",
    "python_env.yaml": "python: '3.10'\n",
    "conda.yaml": "name: x\n",
  });
  const project = loadProject(dir.path);
  assert.equal(project.envType, "python_env");
  assert.equal(project.envConfigPath, `${dir.path}/envs/py.yaml`);
});

Deno.test("loadProject() uses the conda_env key's file before python_env.yaml", async () => {
  await using dir = await tempDir();
  await writeFiles(dir.path, {
    MLproject: `conda_env: my_conda.yaml\n${MAIN}`,
    "my_conda.yaml": "name: x\n",
    "python_env.yaml": "python: '3.10'\n",
  });
  const project = loadProject(dir.path);
  assert.equal(project.envType, "conda_env");
  assert.equal(project.envConfigPath, `${dir.path}/my_conda.yaml`);
});

Deno.test("loadProject() keeps an absolute python_env path absolute (os.path.join semantics)", async () => {
  await using dir = await tempDir();
  await using other = await tempDir();
  await writeFiles(other.path, { "py.yaml": "python: '3.11'\n" });
  await writeFiles(dir.path, { MLproject: `python_env: ${other.path}/py.yaml\n${MAIN}` });
  const project = loadProject(dir.path);
  assert.equal(project.envType, "python_env");
  assert.equal(project.envConfigPath, `${other.path}/py.yaml`);
});

Deno.test("loadProject() picks up python_env.yaml before conda.yaml when no key is given", async () => {
  await using dir = await tempDir();
  await writeFiles(dir.path, {
    MLproject: MAIN,
    "python_env.yaml": "python: '3.11'\n",
    "conda.yaml": "name: x\n",
  });
  const project = loadProject(dir.path);
  assert.equal(project.envType, "python_env");
  assert.equal(project.envConfigPath, `${dir.path}/python_env.yaml`);
});

Deno.test("loadProject() picks up conda.yaml as a conda_env project", async () => {
  await using dir = await tempDir();
  await writeFiles(dir.path, { MLproject: MAIN, "conda.yaml": "name: x\n" });
  const project = loadProject(dir.path);
  assert.equal(project.envType, "conda_env");
  assert.equal(project.envConfigPath, `${dir.path}/conda.yaml`);
});

Deno.test("loadProject() picks up env files even without an MLproject file", async () => {
  await using dir = await tempDir();
  await writeFiles(dir.path, { "conda.yaml": "name: x\n" });
  const project = loadProject(dir.path);
  assert.equal(project.envType, "conda_env");
  assert.equal(project.envConfigPath, `${dir.path}/conda.yaml`);
});

Deno.test("loadProject() does not recognise conda.yml", async () => {
  await using dir = await tempDir();
  await writeFiles(dir.path, { MLproject: MAIN, "conda.yml": "name: x\n" });
  const project = loadProject(dir.path);
  assert.equal(project.envType, "python_env");
  assert.equal(project.envConfigPath, undefined);
});

Deno.test("loadProject() with a null python_env key falls back to the env files", async () => {
  await using dir = await tempDir();
  await writeFiles(dir.path, { MLproject: `python_env:\n${MAIN}`, "conda.yaml": "name: x\n" });
  const project = loadProject(dir.path);
  assert.equal(project.envType, "conda_env");
  assert.equal(project.envConfigPath, `${dir.path}/conda.yaml`);
});

Deno.test("loadProject() refuses the two_envs fixture naming both environment fields", () => {
  const message = errorOf(() => loadProject(`${PROJECTS}/invalid/two_envs`));
  assert.match(
    message,
    /^Project cannot contain multiple environment fields: \{'(python_env|conda_env)', '(python_env|conda_env)'\}$/,
  );
  assert.ok(message.includes("'python_env'"));
  assert.ok(message.includes("'conda_env'"));
});

Deno.test("loadProject() refuses two environment keys even when their values are null", async () => {
  await using dir = await tempDir();
  await writeFiles(dir.path, { MLproject: `docker_env:\nconda_env:\n${MAIN}` });
  const message = errorOf(() => loadProject(dir.path));
  assert.match(message, /^Project cannot contain multiple environment fields: \{'.*', '.*'\}$/);
  assert.ok(message.includes("'docker_env'"));
  assert.ok(message.includes("'conda_env'"));
});

Deno.test("loadProject() refuses three environment keys naming all of them", async () => {
  await using dir = await tempDir();
  await writeFiles(dir.path, {
    MLproject: `docker_env: {image: x}\npython_env: a.yaml\nconda_env: b.yaml\n${MAIN}`,
  });
  const message = errorOf(() => loadProject(dir.path));
  assert.ok(message.startsWith("Project cannot contain multiple environment fields: {"));
  for (const k of ["docker_env", "python_env", "conda_env"]) assert.ok(message.includes(`'${k}'`));
});

Deno.test("loadProject() reports a missing python_env file with MLflow's message", async () => {
  await using dir = await tempDir();
  await writeFiles(dir.path, { MLproject: `python_env: nope.yaml\n${MAIN}` });
  throwsExactly(
    () => loadProject(dir.path),
    `Project specified python_env file ${dir.path}/nope.yaml, but no such file was found.`,
  );
});

Deno.test("loadProject() reports a missing conda_env file with MLflow's message", async () => {
  await using dir = await tempDir();
  await writeFiles(dir.path, { MLproject: `conda_env: env/conda.yaml\n${MAIN}` });
  throwsExactly(
    () => loadProject(dir.path),
    `Project specified conda environment file ${dir.path}/env/conda.yaml, but no such file was found.`,
  );
});

// --- docker_env validation ---

const DOCKER_PREFIX = "Project configuration (MLproject file) was invalid: ";

Deno.test("loadProject() refuses the docker_noimage fixture with MLflow's exact message", () => {
  throwsExactly(
    () => loadProject(`${PROJECTS}/invalid/docker_noimage`),
    `${DOCKER_PREFIX}Docker environment specified but no image attribute found.`,
  );
});

Deno.test("loadProject() refuses a docker_env with an empty image", async () => {
  await using dir = await tempDir();
  await writeFiles(dir.path, { MLproject: `docker_env:\n  image: ''\n${MAIN}` });
  throwsExactly(
    () => loadProject(dir.path),
    `${DOCKER_PREFIX}Docker environment specified but no image attribute found.`,
  );
});

Deno.test("loadProject() refuses docker volumes that are not a list of strings", async () => {
  const message =
    `${DOCKER_PREFIX}Docker volumes must be a list of strings, e.g.: '["/path1/:/path1", "/path2/:/path2"])'`;
  for (const volumes of ["/data:/data", "[1, 2]", "[[a, b]]", "{a: b}"]) {
    await using dir = await tempDir();
    await writeFiles(dir.path, {
      MLproject: `docker_env:\n  image: img\n  volumes: ${volumes}\n${MAIN}`,
    });
    throwsExactly(() => loadProject(dir.path), message);
  }
});

Deno.test("loadProject() refuses docker environment entries that are not strings or lists", async () => {
  const message =
    `${DOCKER_PREFIX}environment must be a list containing either strings (to copy environment variables from host system) or lists of string pairs (to define new environment variables).E.g.: '[["NEW_VAR", "new_value"], "VAR_TO_COPY_FROM_HOST"])'`;
  for (const env of ["FOO", "[1]", "[{A: b}]", "{A: b}"]) {
    await using dir = await tempDir();
    await writeFiles(dir.path, {
      MLproject: `docker_env:\n  image: img\n  environment: ${env}\n${MAIN}`,
    });
    throwsExactly(() => loadProject(dir.path), message);
  }
});

Deno.test("loadProject() reads docker image, volumes and environment (names and pairs)", async () => {
  await using dir = await tempDir();
  await writeFiles(dir.path, {
    MLproject: [
      "docker_env:",
      "  image: repo/img:1.0",
      '  volumes: ["/a:/a", "/b:/b:ro"]',
      '  environment: [["NEW_VAR", "new value"], "HOST_VAR", [N, 1.0]]',
      MAIN,
    ].join("\n"),
  });
  const project = loadProject(dir.path);
  assert.equal(project.envType, "docker_env");
  assert.deepEqual(project.dockerEnv, {
    image: "repo/img:1.0",
    volumes: ["/a:/a", "/b:/b:ro"],
    environment: [["NEW_VAR", "new value"], "HOST_VAR", ["N", "1.0"]],
  });
});

Deno.test("loadProject() accepts empty docker volumes and environment lists", async () => {
  await using dir = await tempDir();
  await writeFiles(dir.path, {
    MLproject: `docker_env:\n  image: img\n  volumes: []\n  environment: []\n${MAIN}`,
  });
  assert.deepEqual(loadProject(dir.path).dockerEnv, {
    image: "img",
    volumes: [],
    environment: [],
  });
});

// --- our own one-line errors where MLflow crashes ---

Deno.test("loadProject() refuses the empty_mlproject fixture naming the file", () => {
  const file = `${PROJECTS}/invalid/empty_mlproject/MLproject`;
  throwsExactly(
    () => loadProject(`${PROJECTS}/invalid/empty_mlproject`),
    `Invalid MLproject file '${file}': the file is empty`,
  );
});

Deno.test("loadProject() refuses a comment-only MLproject as empty", async () => {
  await using dir = await tempDir();
  await writeFiles(dir.path, { MLproject: "# nothing here\n" });
  throwsExactly(
    () => loadProject(dir.path),
    `Invalid MLproject file '${dir.path}/MLproject': the file is empty`,
  );
});

Deno.test("loadProject() refuses the bad_yaml fixture with a one-line parse error naming the file", () => {
  const file = `${PROJECTS}/invalid/bad_yaml/MLproject`;
  const message = errorOf(() => loadProject(`${PROJECTS}/invalid/bad_yaml`));
  assert.ok(
    message.startsWith(`Cannot parse MLproject file '${file}': `),
    message,
  );
  assert.match(message, / at line \d+, column \d+$/);
});

Deno.test("loadProject() refuses a top-level list naming the file and the value", async () => {
  await using dir = await tempDir();
  await writeFiles(dir.path, { MLproject: "- a\n- b\n" });
  throwsExactly(
    () => loadProject(dir.path),
    `Invalid MLproject file '${dir.path}/MLproject': the top level must be a mapping, got '['a', 'b']'`,
  );
});

Deno.test("loadProject() refuses a top-level scalar naming the file and the value", async () => {
  await using dir = await tempDir();
  await writeFiles(dir.path, { mlproject: "just text\n" });
  throwsExactly(
    () => loadProject(dir.path),
    `Invalid MLproject file '${dir.path}/mlproject': the top level must be a mapping, got 'just text'`,
  );
});

Deno.test("loadProject() refuses entry_points that is not a mapping", async () => {
  await using dir = await tempDir();
  await writeFiles(dir.path, { MLproject: "entry_points: [main]\n" });
  throwsExactly(
    () => loadProject(dir.path),
    `Invalid MLproject file '${dir.path}/MLproject': field 'entry_points' must be a mapping, got '['main']'`,
  );
});

Deno.test("loadProject() refuses an entry point that is not a mapping", async () => {
  await using dir = await tempDir();
  await writeFiles(dir.path, { MLproject: "entry_points:\n  main: python train.py\n" });
  throwsExactly(
    () => loadProject(dir.path),
    `Invalid MLproject file '${dir.path}/MLproject': entry point 'entry_points.main' must be a mapping with 'command', got 'python train.py'`,
  );
});

Deno.test("loadProject() refuses an entry point without a command", async () => {
  await using dir = await tempDir();
  await writeFiles(dir.path, {
    MLproject: "entry_points:\n  main:\n    command: echo\n  train:\n    parameters: {a: string}\n",
  });
  throwsExactly(
    () => loadProject(dir.path),
    `Invalid MLproject file '${dir.path}/MLproject': entry point 'train' has no 'command' field`,
  );
});

Deno.test("loadProject() refuses an entry point whose command is null", async () => {
  await using dir = await tempDir();
  await writeFiles(dir.path, { MLproject: "entry_points:\n  main:\n    command:\n" });
  throwsExactly(
    () => loadProject(dir.path),
    `Invalid MLproject file '${dir.path}/MLproject': entry point 'main' has no 'command' field`,
  );
});

Deno.test("loadProject() refuses `parameters: null` naming the field", async () => {
  await using dir = await tempDir();
  await writeFiles(dir.path, {
    MLproject: "entry_points:\n  main:\n    parameters:\n    command: echo\n",
  });
  throwsExactly(
    () => loadProject(dir.path),
    `Invalid MLproject file '${dir.path}/MLproject': field 'entry_points.main.parameters' must be a mapping of parameter names, got 'None'`,
  );
});

Deno.test("loadProject() refuses parameters given as a list naming the field", async () => {
  await using dir = await tempDir();
  await writeFiles(dir.path, {
    MLproject: "entry_points:\n  main:\n    parameters: [a, b]\n    command: echo\n",
  });
  throwsExactly(
    () => loadProject(dir.path),
    `Invalid MLproject file '${dir.path}/MLproject': field 'entry_points.main.parameters' must be a mapping of parameter names, got '['a', 'b']'`,
  );
});

Deno.test("loadProject() refuses a parameter spec that is a number", async () => {
  await using dir = await tempDir();
  await writeFiles(dir.path, {
    MLproject: "entry_points:\n  main:\n    parameters:\n      alpha: 3\n    command: echo\n",
  });
  throwsExactly(
    () => loadProject(dir.path),
    `Invalid MLproject file '${dir.path}/MLproject': parameter 'entry_points.main.parameters.alpha' must be a type name or a mapping with 'type' and 'default', got '3'`,
  );
});

Deno.test("loadProject() refuses a parameter spec that is null", async () => {
  await using dir = await tempDir();
  await writeFiles(dir.path, {
    MLproject: "entry_points:\n  train:\n    parameters:\n      alpha:\n    command: echo\n",
  });
  throwsExactly(
    () => loadProject(dir.path),
    `Invalid MLproject file '${dir.path}/MLproject': parameter 'entry_points.train.parameters.alpha' must be a type name or a mapping with 'type' and 'default', got 'None'`,
  );
});

Deno.test("loadProject() refuses a parameter spec that is a list", async () => {
  await using dir = await tempDir();
  await writeFiles(dir.path, {
    MLproject:
      "entry_points:\n  main:\n    parameters:\n      alpha: [float, 1]\n    command: echo\n",
  });
  throwsExactly(
    () => loadProject(dir.path),
    `Invalid MLproject file '${dir.path}/MLproject': parameter 'entry_points.main.parameters.alpha' must be a type name or a mapping with 'type' and 'default', got '['float', 1]'`,
  );
});

for (
  const [value, type, shown] of [
    ["[echo, hi]", "list", "['echo', 'hi']"],
    ["42", "int", "42"],
    ["1.5", "float", "1.5"],
    ["yes", "bool", "True"],
    ["{a: 1}", "dict", "{'a': 1}"],
    ["2024-01-01", "date", "2024-01-01"],
  ]
) {
  Deno.test(`loadProject() refuses a ${type} command (command: ${value}) naming file, entry point and type`, async () => {
    await using dir = await tempDir();
    await writeFiles(dir.path, { MLproject: `entry_points:\n  fit:\n    command: ${value}\n` });
    throwsExactly(
      () => loadProject(dir.path),
      `Invalid MLproject file '${dir.path}/MLproject': field 'command' of entry point 'fit' must be a string, got ${type} '${shown}'`,
    );
  });
}

Deno.test("loadProject() refuses a 5 MB command with the 126 KiB cap (E2BIG otherwise)", async () => {
  await using dir = await tempDir();
  const command = "echo " + "x".repeat(5 * 1024 * 1024);
  await writeFiles(dir.path, { MLproject: `entry_points:\n  main:\n    command: ${command}\n` });
  const message = errorOf(() => loadProject(dir.path));
  assert.match(
    message,
    /field 'command' of entry point 'main' is 5242885 bytes, over the 126 KiB limit/,
  );
});

Deno.test("loadProject() accepts a command just under the cap", async () => {
  await using dir = await tempDir();
  const command = "echo " + "x".repeat(126 * 1024 - 5);
  await writeFiles(dir.path, { MLproject: `entry_points:\n  main:\n    command: ${command}\n` });
  assert.equal(loadProject(dir.path).entryPoints.get("main")!.command, command);
});

Deno.test("loadProject() refuses non-UTF-8 bytes naming the byte and its offset", async () => {
  await using dir = await tempDir();
  await Deno.writeFile(
    `${dir.path}/MLproject`,
    new Uint8Array([...new TextEncoder().encode("name: caf"), 0xe9, 0x0a]),
  );
  throwsExactly(
    () => loadProject(dir.path),
    `Cannot read MLproject file '${dir.path}/MLproject': it is not valid UTF-8 (byte 0xe9 at offset 9)`,
  );
});

Deno.test("loadProject() keeps errors about keys holding line breaks on one line", async () => {
  await using dir = await tempDir();
  await writeFiles(dir.path, {
    MLproject: 'entry_points:\n  "bad\\nname": 1\n',
  });
  assert.match(
    errorOf(() => loadProject(dir.path)),
    /entry point 'entry_points\.bad\\nname' must be a mapping/,
  );
  await writeFiles(dir.path, {
    MLproject: 'entry_points:\n  main:\n    command: "echo {a\\nb}"\n',
  });
  const ep = loadProject(dir.path).entryPoints.get("main")!;
  assert.throws(() => ep.renderCommand(ep.computeParameters({})), (e: unknown) => {
    assert.ok(e instanceof ExecutionException);
    assert.match(e.message, /uses '\{a\\nb\}'/);
    assert.ok(!e.message.includes("\n"));
    return true;
  });
});

Deno.test("loadProject() refuses a YAML alias bomb and a recursive alias naming the file", async () => {
  await using dir = await tempDir();
  let bomb = "a0: &a0 [x, x, x, x, x, x, x, x, x]\n";
  for (let i = 1; i < 9; i++) bomb += `a${i}: &a${i} [${Array(9).fill(`*a${i - 1}`).join(", ")}]\n`;
  await writeFiles(dir.path, { MLproject: bomb });
  assert.match(
    errorOf(() => loadProject(dir.path)),
    new RegExp(`^Cannot parse MLproject file '${dir.path}/MLproject': more than 1000000 nodes`),
  );
  await writeFiles(dir.path, { MLproject: "a: &a [*a]\n" });
  assert.match(
    errorOf(() => loadProject(dir.path)),
    /^Cannot parse MLproject file '.*\/MLproject': recursive alias '\*a'/,
  );
});

for (const target of ["/dev/zero", "/dev/null"]) {
  Deno.test(`loadProject() refuses an MLproject that is a symlink to ${target} without reading it`, async () => {
    await using dir = await tempDir();
    await Deno.symlink(target, `${dir.path}/MLproject`);
    throwsExactly(
      () => loadProject(dir.path),
      `Cannot read MLproject file '${dir.path}/MLproject': it is a character device, not a regular file`,
    );
  });
}

Deno.test("loadProject() refuses a FIFO MLproject at once (no writer needed)", async () => {
  await using dir = await tempDir();
  const mk = await new Deno.Command("mkfifo", { args: [`${dir.path}/MLproject`] }).output();
  assert.ok(mk.success);
  throwsExactly(
    () => loadProject(dir.path),
    `Cannot read MLproject file '${dir.path}/MLproject': it is a FIFO, not a regular file`,
  );
});

Deno.test("loadProject() refuses an MLproject symlink loop naming the file", async () => {
  await using dir = await tempDir();
  await Deno.symlink("MLproject", `${dir.path}/MLproject`);
  throwsExactly(
    () => loadProject(dir.path),
    `Cannot read MLproject file '${dir.path}/MLproject': too many levels of symbolic links (a symlink loop)`,
  );
});

Deno.test("loadProject() refuses an MLproject over 10 MiB", async () => {
  await using dir = await tempDir();
  await writeFiles(dir.path, { MLproject: `name: x\n#${"x".repeat(10 * 1024 * 1024)}\n` });
  throwsExactly(
    () => loadProject(dir.path),
    `Cannot read MLproject file '${dir.path}/MLproject': it is 10485770 bytes, over the 10 MiB limit for this kind of file`,
  );
});

Deno.test("renderCommand() refuses a command that parameters make longer than 126 KiB (a 20 MB value)", async () => {
  await using dir = await tempDir();
  await writeFiles(dir.path, {
    MLproject: "entry_points:\n  main:\n    parameters: {x: string}\n    command: echo {x}\n",
  });
  const ep = loadProject(dir.path).entryPoints.get("main")!;
  const values = ep.computeParameters({ x: "y".repeat(20 * 1024 * 1024) });
  assert.throws(() => ep.renderCommand(values), (e: unknown) => {
    assert.ok(e instanceof ExecutionException);
    assert.equal(
      e.message,
      "The command of entry point 'main' is 20971525 bytes with its parameters, over the 126 KiB limit (Linux refuses a longer argument to bash -c)",
    );
    return true;
  });
});
