import assert from "node:assert/strict";
import { ExecutionException } from "../../lib/system/errors.ts";
import {
  pythonEnvFromCondaYaml,
  readPythonEnvSpec,
  resolveRequirements,
} from "../../lib/envs/python_env_spec.ts";
import { loadProject } from "../../lib/project/load_project.ts";
import { tempDir, writeFiles } from "../_helpers/cli.ts";

const MAIN = "entry_points:\n  main:\n    command: echo hi\n";

function rejectsWith(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof ExecutionException, String(e));
    assert.match(e.message, pattern);
    return true;
  });
}

Deno.test("readPythonEnvSpec() reads python, build_dependencies and dependencies of python_env.yaml", async () => {
  await using dir = await tempDir();
  await writeFiles(dir.path, {
    MLproject: MAIN,
    "python_env.yaml":
      'python: "3.10"\nbuild_dependencies:\n  - pip\ndependencies:\n  - six==1.17.0\n',
  });
  const spec = readPythonEnvSpec(loadProject(dir.path));
  assert.equal(spec.python, "3.10");
  assert.deepEqual(spec.buildDependencies, ["pip"]);
  assert.deepEqual(spec.dependencies, ["six==1.17.0"]);
});

Deno.test("readPythonEnvSpec() gives the current Python and no dependencies to a project without env file", async () => {
  await using dir = await tempDir();
  await writeFiles(dir.path, { MLproject: MAIN });
  const spec = readPythonEnvSpec(loadProject(dir.path));
  assert.equal(spec.python, undefined);
  assert.deepEqual([spec.buildDependencies, spec.dependencies], [[], []]);
});

Deno.test("readPythonEnvSpec() refuses an unquoted python version (a float, as MLflow) and unknown keys", async () => {
  await using dir = await tempDir();
  await writeFiles(dir.path, { MLproject: MAIN, "python_env.yaml": "python: 3.10\n" });
  rejectsWith(
    () => readPythonEnvSpec(loadProject(dir.path)),
    /`python` must be a string but got '3.1'/,
  );
  await writeFiles(dir.path, { "python_env.yaml": 'python: "3.10"\ndeps: [six]\n' });
  rejectsWith(() => readPythonEnvSpec(loadProject(dir.path)), /unexpected key 'deps'/);
  await writeFiles(dir.path, { "python_env.yaml": 'python: "3.10"\ndependencies: six\n' });
  rejectsWith(
    () => readPythonEnvSpec(loadProject(dir.path)),
    /`dependencies` must be a list of strings/,
  );
});

Deno.test("pythonEnvFromCondaYaml() keeps the python pin and the pip list and warns about other conda deps", async () => {
  await using dir = await tempDir();
  await writeFiles(dir.path, {
    "conda.yaml": "name: x\nchannels: [conda-forge]\ndependencies:\n  - python=3.12\n  - pip\n" +
      "  - setuptools=69.0\n  - numpy=1.26\n  - pip:\n    - six\n    - -r requirements.txt\n",
  });
  const spec = pythonEnvFromCondaYaml(`${dir.path}/conda.yaml`);
  assert.equal(spec.python, "3.12");
  assert.deepEqual(spec.buildDependencies, ["pip", "setuptools==69.0"]);
  assert.deepEqual(spec.dependencies, ["six", "-r requirements.txt"]);
  assert.deepEqual(spec.warnings, [
    "The following conda dependencies will not be installed in the resulting environment: ['numpy=1.26']",
  ]);
});

Deno.test("pythonEnvFromCondaYaml() gives MLflow's errors for an unpinned or badly compared python", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/conda.yaml`;
  await writeFiles(dir.path, { "conda.yaml": "dependencies:\n  - python\n" });
  rejectsWith(
    () => pythonEnvFromCondaYaml(path),
    /^Invalid dependency for python: python\. It must be pinned \(e\.g\. python=3\.8\.13\)\.$/,
  );
  await writeFiles(dir.path, { "conda.yaml": "dependencies:\n  - python<3.9\n" });
  rejectsWith(
    () => pythonEnvFromCondaYaml(path),
    /^Invalid version comparator for python: '<'\. Must be one of \['<=', '>=', '=', '=='\]\.$/,
  );
  await writeFiles(dir.path, { "conda.yaml": "dependencies:\n  - {foo: [1]}\n" });
  rejectsWith(() => pythonEnvFromCondaYaml(path), /^Invalid conda dependency: /);
});

Deno.test("resolveRequirements() makes -r and -c paths absolute from the project and reads them, nested ones too", async () => {
  await using dir = await tempDir();
  await writeFiles(dir.path, {
    "requirements.txt": "six\n-r sub/more.txt  # nested\n",
    "sub/more.txt": "iniconfig\n-c pins.txt\n",
    "sub/pins.txt": "six==1.17.0\n",
    "constraints.txt": "iniconfig==2.3.0\n",
  });
  const resolved = await resolveRequirements({
    python: "3.12",
    buildDependencies: ["pip"],
    dependencies: ["-r requirements.txt", "--constraint=constraints.txt", "attrs"],
    source: `${dir.path}/python_env.yaml`,
    warnings: [],
  }, dir.path);
  assert.deepEqual(resolved.build, ["pip"]);
  assert.deepEqual(resolved.dependencies, [
    `-r ${dir.path}/requirements.txt`,
    `-c ${dir.path}/constraints.txt`,
    "attrs",
  ]);
  assert.deepEqual(resolved.fingerprint, [
    `-r ${dir.path}/requirements.txt`,
    "six\n-r sub/more.txt  # nested\n",
    `-r ${dir.path}/sub/more.txt`,
    "iniconfig\n-c pins.txt\n",
    `-c ${dir.path}/sub/pins.txt`,
    "six==1.17.0\n",
    `-c ${dir.path}/constraints.txt`,
    "iniconfig==2.3.0\n",
  ]);
});

Deno.test("resolveRequirements() names the missing file and the line that references it", async () => {
  await using dir = await tempDir();
  await assert.rejects(
    resolveRequirements({
      python: undefined,
      buildDependencies: [],
      dependencies: ["-r nope.txt"],
      source: `${dir.path}/python_env.yaml`,
      warnings: [],
    }, dir.path),
    (e: unknown) => {
      assert.ok(e instanceof ExecutionException);
      assert.equal(
        e.message,
        `Cannot read 'nope.txt' referenced by '-r nope.txt' in '${dir.path}/python_env.yaml': no such file`,
      );
      return true;
    },
  );
});

Deno.test("resolveRequirements() fingerprints local-path requirements: every file of a plain one, only packaging files of an editable one", async () => {
  await using dir = await tempDir();
  await writeFiles(dir.path, {
    "pkg/pyproject.toml": "[project]\nname = 'pkg'\n",
    "pkg/pkg/__init__.py": "X = 1\n",
    "pkg/pkg/__pycache__/x.pyc": "ignored",
    "edit/setup.py": "setup(name='edit')\n",
    "edit/edit/code.py": "Y = 1\n",
  });
  const spec = (deps: string[]) => ({
    python: "3.12",
    buildDependencies: [],
    dependencies: deps,
    source: `${dir.path}/python_env.yaml`,
    warnings: [],
  });
  const before = await resolveRequirements(spec(["./pkg", "-e ./edit", "six"]), dir.path);
  assert.ok(before.fingerprint.includes(`local ${dir.path}/pkg`));
  assert.ok(before.fingerprint.some((l) => l.startsWith("pkg/__init__.py ")));
  assert.ok(!before.fingerprint.some((l) => l.includes("__pycache__")));
  assert.ok(before.fingerprint.includes(`editable ${dir.path}/edit/setup.py`));
  assert.ok(!before.fingerprint.some((l) => l.includes("code.py")));

  await Deno.writeTextFile(`${dir.path}/edit/edit/code.py`, "Y = 2\n");
  const codeEdit = await resolveRequirements(spec(["./pkg", "-e ./edit", "six"]), dir.path);
  assert.deepEqual(codeEdit.fingerprint, before.fingerprint, "editable code changes are live");

  await Deno.writeTextFile(`${dir.path}/pkg/pkg/__init__.py`, "X = 22\n");
  const changed = await resolveRequirements(spec(["./pkg", "-e ./edit", "six"]), dir.path);
  assert.notDeepEqual(
    changed.fingerprint,
    before.fingerprint,
    "a changed local package means a new env",
  );
});
