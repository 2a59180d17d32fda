/**
 * The uv manager through the CLI. uv cannot be installed on this machine (no package, not in the
 * pip mirror), so `uv` here is a bash script the test writes. What is REAL: the interpreter
 * lookup (this machine's pyenv Pythons), the cache, the command lines mlproject runs, the
 * environment the entry point gets, the tags. What is FAKE: `uv venv` (the script runs the real
 * `python -m venv --without-pip`) and `uv pip install` (the script records the requirements file
 * and writes a module per requirement instead of resolving packages; a requirement named
 * `fail-me` makes it exit 1 as uv does on an unresolvable requirement).
 */
import assert from "node:assert/strict";
import { runCli, sqliteRows, tempDir, writeFiles } from "../_helpers/cli.ts";
import { envTestEnv, lastJson, writeExecutable } from "./_env_helpers.ts";

const FAKE_UV = `#!/bin/bash
echo "uv $*" >> "$FAKE_UV_LOG"
if [ "$1" = venv ]; then
  py="\${3#--python=}"
  exec "$py" -m venv --without-pip "$2"
fi
if [ "$1 $2" = "pip install" ]; then
  [ -n "$VIRTUAL_ENV" ] || { echo "error: no virtual environment found" >&2; exit 2; }
  req="$5"
  sed 's/^/  | /' "$req" >> "$FAKE_UV_LOG"
  site=$(echo "$VIRTUAL_ENV"/lib/python*/site-packages)
  while read -r line; do
    case "$line" in
      fail-me*) echo "  x No solution found when resolving dependencies: fail-me" >&2; exit 1 ;;
      -*|"") ;;
      *) name=$(echo "$line" | sed 's/[=<>].*//'); echo "VERSION='fake'" > "$site/$name.py"; echo "Installed $name" ;;
    esac
  done < "$req"
  exit 0
fi
echo "fake uv: unexpected $*" >&2; exit 2
`;

Deno.test("uv: uv venv + uv pip install build the env, the run gets it, and the second run hits the cache", async () => {
  await using tmp = await tempDir();
  await writeExecutable(`${tmp.path}/bin/uv`, FAKE_UV);
  const log = `${tmp.path}/uv.log`;
  const project = `${tmp.path}/proj`;
  await writeFiles(project, {
    MLproject:
      'entry_points:\n  main:\n    command: python -c \'import os, sys, six; print("UVENV", sys.prefix, os.environ["VIRTUAL_ENV"], six.VERSION)\'\n',
    "python_env.yaml":
      'python: "3.12.1"\nbuild_dependencies: [pip]\ndependencies: [six, -r req.txt]\n',
    "req.txt": "iniconfig\n",
  });
  const root = `${tmp.path}/envs`;
  const env = envTestEnv(root, {
    FAKE_UV_LOG: log,
    PATH: `${tmp.path}/bin:${Deno.env.get("PATH")}`,
  });
  const out = await runCli(["run", project, "--env-manager", "uv", "--json"], {
    cwd: tmp.path,
    env,
  });
  assert.equal(out.code, 0, out.stderr);
  const json = lastJson(out.stdout);
  assert.equal(json.env_manager, "uv");
  assert.equal(json.env_cache_hit, false);
  assert.match(String(json.env_key), /^uv-3\.12\.1-[0-9a-f]{16}$/);
  const dir = `${root}/${json.env_key}`;
  assert.match(out.stderr, new RegExp(`UVENV ${dir} ${dir} fake`));
  const calls = (await Deno.readTextFile(log)).split("\n");
  assert.match(
    calls[0]!,
    new RegExp(`^uv venv ${dir} --python=\\S+/versions/3\\.12\\.1/bin/python$`),
  );
  assert.match(
    calls[1]!,
    new RegExp(`^uv pip install --python=${dir}/bin/python -r \\S+requirements\\.\\S+\\.txt$`),
  );
  assert.equal(calls[2], "  | pip");
  assert.match(calls[4]!, /^ {2}\| six$/);
  assert.equal(calls[5], `  | -r ${project}/req.txt`);
  const runId = String(json.run_id);
  const rows = await sqliteRows(
    `${tmp.path}/mlflow.db`,
    "SELECT value FROM tags WHERE run_uuid = ? AND key = 'mlflow.project.env'",
    runId,
  );
  assert.equal(rows[0]?.value, "virtualenv");

  const again = await runCli(["run", project, "--env-manager", "uv", "--json"], {
    cwd: tmp.path,
    env,
  });
  assert.equal(again.code, 0, again.stderr);
  assert.equal(lastJson(again.stdout).env_cache_hit, true);
  assert.equal(
    (await Deno.readTextFile(log)).split("\n").filter((l) => l.startsWith("uv ")).length,
    3,
  );
});

Deno.test("uv: a failed uv pip install caches nothing; a missing uv is a one-line error", async () => {
  await using tmp = await tempDir();
  await writeExecutable(`${tmp.path}/bin/uv`, FAKE_UV);
  const project = `${tmp.path}/proj`;
  await writeFiles(project, {
    MLproject: "entry_points:\n  main:\n    command: 'true'\n",
    "python_env.yaml": 'python: "3.12"\ndependencies: [fail-me]\n',
  });
  const root = `${tmp.path}/envs`;
  const out = await runCli(["run", project, "--env-manager", "uv"], {
    cwd: tmp.path,
    env: envTestEnv(root, {
      FAKE_UV_LOG: `${tmp.path}/uv.log`,
      PATH: `${tmp.path}/bin:${Deno.env.get("PATH")}`,
    }),
  });
  assert.equal(out.code, 1);
  assert.match(out.stderr, /No solution found when resolving dependencies: fail-me/);
  assert.match(
    out.stderr,
    /=== Creating the environment failed: '.*uv pip install .*' exited with code 1/,
  );
  assert.deepEqual([...Deno.readDirSync(root)].map((e) => e.name), [".locks"]);

  const missing = await runCli(["run", project, "--env-manager", "uv"], {
    cwd: tmp.path,
    env: envTestEnv(root, { PATH: "/usr/bin:/bin" }),
  });
  assert.equal(missing.code, 1);
  assert.match(
    missing.stderr,
    /=== Could not find the uv executable on PATH: install uv \(https:\/\/docs\.astral\.sh\/uv\/getting-started\/installation\/\) or use `--env-manager virtualenv` ===\n$/,
  );
});
