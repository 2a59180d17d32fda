/**
 * Real virtualenv environments, end to end through the CLI: venvs built by the machine's
 * python3 (its X.Y is the version the projects ask for) with `python -m venv`, packages installed
 * by real pip from a local index of wheels the tests write (`six` 1.17.0 and `iniconfig` 2.3.0),
 * runs recorded in a real SQLite store. Every test uses its own MLFLOW_ENV_ROOT; nothing touches
 * the user cache or the network.
 */
import assert from "node:assert/strict";
import { runCli, sqliteRows, tempDir, writeFiles } from "../_helpers/cli.ts";
import { hostPython } from "../_helpers/components.ts";
import { localPackageIndex } from "../_helpers/wheels.ts";
import { envTestEnv, lastJson } from "./_env_helpers.ts";

const PY = await hostPython();
const PY_RE = PY.minor.replace(".", "\\.");

const PRINT_ENV =
  `python -c 'import os, sys, six, iniconfig; print("ENV", sys.prefix, os.environ["VIRTUAL_ENV"], sys.version.split()[0], six.__version__)'`;

async function tag(db: string, runId: string, key: string): Promise<string | undefined> {
  const rows = await sqliteRows(
    db,
    "SELECT value FROM tags WHERE run_uuid = ? AND key = ?",
    runId,
    key,
  );
  return rows[0]?.value as string | undefined;
}

Deno.test("virtualenv: a python_env project runs in its venv; the second run is a cache hit; a changed requirements file builds a new env", async () => {
  await using tmp = await tempDir();
  await using index = await localPackageIndex();
  const root = `${tmp.path}/envs`;
  const project = `${tmp.path}/proj`;
  await writeFiles(project, {
    MLproject: `name: venv\npython_env: python_env.yaml\nentry_points:\n  main:\n    command: "${
      PRINT_ENV.replaceAll('"', '\\"')
    }"\n`,
    "python_env.yaml":
      `python: "${PY.minor}"\nbuild_dependencies:\n  - pip\ndependencies:\n  - six\n  - -r requirements.txt\n`,
    "requirements.txt": "iniconfig\n",
  });
  const env = envTestEnv(root, index.env);
  const first = await runCli(["run", project, "--json"], { cwd: tmp.path, env });
  assert.equal(first.code, 0, first.stderr);
  const json = lastJson(first.stdout);
  assert.equal(first.stdout.trim().split("\n").length, 1, "stdout holds only the JSON");
  assert.equal(json.env_manager, "virtualenv");
  assert.equal(json.env_cache_hit, false);
  const key = String(json.env_key);
  assert.match(key, new RegExp(`^virtualenv-${PY_RE}\\.\\d+-[0-9a-f]{16}$`));
  const dir = `${root}/${key}`;
  assert.match(first.stderr, new RegExp(`ENV ${dir} ${dir} ${PY_RE}\\.\\d+ 1\\.17\\.0`));
  assert.match(first.stderr, /\[1\/3\] creating the virtualenv/);
  assert.match(first.stderr, /Successfully installed .*six-1\.17\.0/, "pip output on stderr");
  assert.equal(
    await tag(`${tmp.path}/mlflow.db`, String(json.run_id), "mlflow.project.env"),
    "virtualenv",
  );

  const second = await runCli(["run", project, "--json"], { cwd: tmp.path, env });
  assert.equal(second.code, 0, second.stderr);
  assert.equal(lastJson(second.stdout).env_cache_hit, true);
  assert.equal(lastJson(second.stdout).env_key, key);
  assert.doesNotMatch(second.stderr, /creating the virtualenv/);

  await Deno.writeTextFile(`${project}/requirements.txt`, "iniconfig==2.3.0\n");
  const changed = await runCli(["run", project, "--json"], { cwd: tmp.path, env });
  assert.equal(changed.code, 0, changed.stderr);
  const changedJson = lastJson(changed.stdout);
  assert.equal(changedJson.env_cache_hit, false);
  assert.notEqual(changedJson.env_key, key);
  assert.match(changed.stderr, /\[1\/3\] creating the virtualenv/);

  const list = await runCli(["env", "list"], { cwd: tmp.path, env });
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, new RegExp(`${key}\\s+virtualenv\\s+${PY_RE}\\.\\d+\\s+\\d`));
  assert.equal(list.stdout.trim().split("\n").length, 3);
  const rm = await runCli(["env", "rm", key], { cwd: tmp.path, env });
  assert.equal(rm.code, 0, rm.stderr);
  assert.equal(rm.stdout, `Removed ${dir}\n`);
  await assert.rejects(Deno.stat(dir), Deno.errors.NotFound);
});

Deno.test("virtualenv: a pip failure fails before any run is created, caches nothing, and the next run retries", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/envs`;
  const project = `${tmp.path}/proj`;
  await writeFiles(project, {
    MLproject: "entry_points:\n  main:\n    command: python -c 'print(1)'\n",
    "python_env.yaml": `python: "${PY.minor}"\ndependencies:\n  - no-such-package-mlproject-test\n`,
  });
  await using index = await localPackageIndex();
  const env = envTestEnv(root, {
    ...index.env,
    MLFLOW_TRACKING_URI: `sqlite:///${tmp.path}/mlflow.db`,
  });
  for (let attempt = 0; attempt < 2; attempt++) {
    const out = await runCli(["run", project, "--json"], { cwd: tmp.path, env });
    assert.equal(out.code, 1);
    // --json: no run, so stdout is the error object alone.
    const error = JSON.parse(out.stdout);
    assert.deepEqual(Object.keys(error), ["error", "exit_code"]);
    assert.match(error.error, /^Creating the environment failed: /);
    assert.equal(error.exit_code, 1);
    assert.match(out.stderr, /\[1\/3\] creating the virtualenv/, `attempt ${attempt} builds`);
    assert.match(out.stderr, /No matching distribution found for no-such-package-mlproject-test/);
    assert.match(
      out.stderr,
      /=== Creating the environment failed: '.*\/bin\/python -m pip install -r .*' exited with code 1 \(its output is above\) ===/,
    );
    assert.doesNotMatch(out.stderr, /\n\s+at /, "no stack trace");
    const left = [...Deno.readDirSync(root)].filter((e) => e.name !== ".locks");
    assert.deepEqual(left, [], "nothing cached");
  }
  const db = await Deno.stat(`${tmp.path}/mlflow.db`).then(() => true, () => false);
  if (db) assert.deepEqual(await sqliteRows(`${tmp.path}/mlflow.db`, "SELECT * FROM runs"), []);
});

Deno.test("virtualenv: a conda.yaml project runs under --env-manager virtualenv with its python pin and pip list", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/envs`;
  const project = `${tmp.path}/proj`;
  await writeFiles(project, {
    MLproject: `entry_points:\n  main:\n    command: "${PRINT_ENV.replaceAll('"', '\\"')}"\n`,
    "conda.yaml":
      `name: c\nchannels: [conda-forge]\ndependencies:\n  - python=${PY.minor}\n  - pip\n  - numpy=1.26\n  - pip:\n    - six\n    - iniconfig\n`,
  });
  await using index = await localPackageIndex();
  const out = await runCli(["run", project, "--env-manager", "virtualenv", "--json"], {
    cwd: tmp.path,
    env: envTestEnv(root, index.env),
  });
  assert.equal(out.code, 0, out.stderr);
  assert.equal(lastJson(out.stdout).env_manager, "virtualenv");
  assert.match(
    out.stderr,
    /WARNING mlproject: The following conda dependencies will not be installed in the resulting environment: \['numpy=1\.26'\]/,
  );
  assert.match(out.stderr, new RegExp(`ENV \\S+ \\S+ ${PY_RE}\\.\\d+ 1\\.17\\.0`));
});
