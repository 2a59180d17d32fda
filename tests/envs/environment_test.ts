import assert from "node:assert/strict";
import { ExecutionException, UsageError } from "../../lib/system/errors.ts";
import {
  ENV_MANAGERS,
  type EnvManager,
  prepareEnvironment,
  selectEnvironment,
  validateEnvManager,
} from "../../lib/envs/environment.ts";
import { detectMlflow } from "../../lib/envs/mlflow_version.ts";
import type { ProjectSpec } from "../../lib/project/project_spec.ts";
import { loadProject } from "../../lib/project/load_project.ts";
import { FIXTURES, tempDir, writeFiles } from "../_helpers/cli.ts";

const MAIN = "entry_points:\n  main:\n    command: echo hi\n";

function project(envType: ProjectSpec["envType"], dir = "/proj"): ProjectSpec {
  return {
    dir,
    file: `${dir}/MLproject`,
    name: undefined,
    entryPoints: new Map(),
    envType,
    envConfigPath: undefined,
    dockerEnv: envType === "docker_env"
      ? { image: "img", volumes: [], environment: [] }
      : undefined,
  };
}

/** Asserts `fn` throws an ExecutionException with exactly `message`. */
function throwsExactly(fn: () => unknown, message: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof ExecutionException, `expected ExecutionException, got ${e}`);
    assert.equal(e.message, message);
    assert.equal(e.exitCode, 1);
    return true;
  });
}

const CONDA_ON_PYTHON_ENV =
  "python_env project cannot be executed using conda. Set `--env-manager` to 'virtualenv' or 'local' to execute this project.";

Deno.test("validateEnvManager() accepts local, conda, virtualenv and uv", () => {
  assert.deepEqual([...ENV_MANAGERS], ["local", "conda", "virtualenv", "uv"]);
  for (const m of ENV_MANAGERS) assert.equal(validateEnvManager(m), m);
});

Deno.test("validateEnvManager() refuses other values with a usage error listing the choices", () => {
  for (const bad of ["bogus", "", "Local", "docker", " local"]) {
    assert.throws(() => validateEnvManager(bad), (e: unknown) => {
      assert.ok(e instanceof UsageError);
      assert.equal(e.exitCode, 2);
      assert.equal(
        e.message,
        `Invalid value for \`env_manager\`: ${bad}. Must be one of ['local', 'conda', 'virtualenv', 'uv']`,
      );
      return true;
    }, JSON.stringify(bad));
  }
});

Deno.test("selectEnvironment() runs python_env and conda_env projects locally with --env-manager local", () => {
  assert.equal(selectEnvironment(project("python_env"), "local"), "local");
  assert.equal(selectEnvironment(project("conda_env"), "local"), "local");
});

Deno.test("selectEnvironment() refuses conda for a python_env project with MLflow's message", () => {
  throwsExactly(() => selectEnvironment(project("python_env"), "conda"), CONDA_ON_PYTHON_ENV);
});

Deno.test("selectEnvironment() refuses conda for a project without any env file (a bare python_env)", async () => {
  await using dir = await tempDir();
  await writeFiles(dir.path, { MLproject: MAIN });
  throwsExactly(() => selectEnvironment(loadProject(dir.path), "conda"), CONDA_ON_PYTHON_ENV);
});

Deno.test("selectEnvironment() honours an explicit virtualenv, uv or conda where MLflow allows it", () => {
  const cases: [ProjectSpec["envType"], EnvManager][] = [
    ["python_env", "virtualenv"],
    ["python_env", "uv"],
    ["conda_env", "conda"],
    ["conda_env", "virtualenv"],
    ["conda_env", "uv"],
  ];
  for (const [envType, manager] of cases) {
    assert.equal(selectEnvironment(project(envType), manager), manager, `${envType} ${manager}`);
  }
});

Deno.test("selectEnvironment() defaults to virtualenv for python_env projects", () => {
  assert.equal(selectEnvironment(project("python_env"), undefined), "virtualenv");
});

Deno.test("selectEnvironment() defaults to conda for conda_env projects", async () => {
  await using dir = await tempDir();
  await writeFiles(dir.path, { MLproject: MAIN, "conda.yaml": "name: x\n" });
  assert.equal(selectEnvironment(loadProject(dir.path), undefined), "conda");
});

Deno.test("selectEnvironment() defaults the params_echo fixture (no env file) to virtualenv", () => {
  assert.equal(
    selectEnvironment(loadProject(`${FIXTURES}/projects/params_echo`), undefined),
    "virtualenv",
  );
});

Deno.test("prepareEnvironment() with local changes nothing and sets no tag", async () => {
  const prepared = await prepareEnvironment(project("python_env"), "local", { env: {} });
  assert.equal(prepared.kind, "local");
  assert.equal(prepared.tag, undefined);
  assert.deepEqual(prepared.env, {});
  assert.deepEqual(prepared.invocation("python x.py", "/p").argv, ["bash", "-c", "python x.py"]);
});

Deno.test("prepareEnvironment() with local exposes the first python, else python3, on PATH as its interpreter", async () => {
  await using dir = await tempDir();
  await writeFiles(dir.path, { "a/python3": "#!/bin/sh\n", "b/python": "#!/bin/sh\n" });
  await Deno.chmod(`${dir.path}/a/python3`, 0o755);
  await Deno.chmod(`${dir.path}/b/python`, 0o755);
  const local = (PATH: string) =>
    prepareEnvironment(project("python_env"), "local", { env: { PATH } });
  assert.equal((await local(`${dir.path}/a:${dir.path}/b`)).python, `${dir.path}/b/python`);
  assert.equal((await local(`${dir.path}/a`)).python, `${dir.path}/a/python3`);
  assert.equal((await local(`${dir.path}/none`)).python, undefined);
});

Deno.test("prepareEnvironment() with uv and virtualenv exposes the built env's bin/python", async () => {
  await using dir = await tempDir();
  await writeFiles(dir.path, {
    "proj/MLproject": `python_env: python_env.yaml\n${MAIN}`,
    "proj/python_env.yaml": "build_dependencies: []\ndependencies: []\n",
  });
  const env = {
    PATH: Deno.env.get("PATH") ?? "",
    HOME: dir.path,
    MLFLOW_ENV_ROOT: `${dir.path}/envs`,
  };
  for (const manager of ["uv", "virtualenv"] as const) {
    let prepared;
    try {
      prepared = await prepareEnvironment(loadProject(`${dir.path}/proj`), manager, { env });
    } catch (e) {
      // deno-lint-ignore no-console
      console.log(`skipped ${manager}: cannot build an env here (${(e as Error).message})`);
      continue;
    }
    assert.ok(prepared.python?.startsWith(`${dir.path}/envs/`), prepared.python);
    assert.ok(prepared.python?.endsWith("/bin/python"), prepared.python);
    assert.ok(Deno.statSync(prepared.python!).isFile);
    assert.equal(detectMlflow(prepared.python!, { env }), undefined, "a fresh env has no MLflow");
  }
});

Deno.test("selectEnvironment() picks docker for docker_env projects, whatever the manager", async () => {
  await using dir = await tempDir();
  await writeFiles(dir.path, { MLproject: `docker_env:\n  image: python:3.11\n${MAIN}` });
  const docker = loadProject(dir.path);
  for (const requested of [undefined, ...ENV_MANAGERS]) {
    assert.equal(selectEnvironment(docker, requested), "docker");
  }
});
