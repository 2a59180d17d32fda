/**
 * The uv manager through the CLI with the real `uv` (from PyPI; the tests skip with one line
 * when it is not on PATH). `uv` on the CLI's PATH is a wrapper the test writes: it logs its
 * arguments and the requirements file it is given, then runs the real uv. Packages come from a
 * local index of wheels the test writes (uv offline, no configuration file).
 */
import assert from "node:assert/strict";
import { runCli, sqliteRows, tempDir, writeFiles } from "../_helpers/cli.ts";
import { findExecutable, hostPython, skipWithout } from "../_helpers/components.ts";
import { localPackageIndex } from "../_helpers/wheels.ts";
import { envTestEnv, lastJson, writeExecutable } from "./_env_helpers.ts";

const REAL_UV = findExecutable("uv");
const ignore = skipWithout("uv tests", REAL_UV !== undefined, "no uv on PATH (pip install uv)");
const PY = await hostPython();

/** Logs `uv ARGS` (and the lines of a requirements file given to `uv pip install`), runs uv. */
function loggingUv(log: string): string {
  return `#!/bin/bash
echo "uv $*" >> '${log}'
if [ "$1 $2" = "pip install" ]; then
  for a in "$@"; do case "$a" in *.txt) sed 's/^/  | /' "$a" >> '${log}' ;; esac; done
fi
exec '${REAL_UV}' "$@"
`;
}

Deno.test({
  name:
    "uv: uv venv + uv pip install build the env, the run gets it, and the second run hits the cache",
  ignore,
  async fn() {
    await using tmp = await tempDir();
    await using index = await localPackageIndex();
    const log = `${tmp.path}/uv.log`;
    await writeExecutable(`${tmp.path}/bin/uv`, loggingUv(log));
    const project = `${tmp.path}/proj`;
    await writeFiles(project, {
      MLproject:
        'entry_points:\n  main:\n    command: python -c \'import os, sys, six, iniconfig; print("UVENV", sys.prefix, os.environ["VIRTUAL_ENV"], six.VERSION, iniconfig.VERSION)\'\n',
      "python_env.yaml":
        `python: "${PY.version}"\nbuild_dependencies: [iniconfig]\ndependencies: [six, -r req.txt]\n`,
      "req.txt": "iniconfig==2.3.0\n",
    });
    const root = `${tmp.path}/envs`;
    const env = envTestEnv(root, {
      ...index.env,
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
    const versionRe = PY.version.replaceAll(".", "\\.");
    assert.match(String(json.env_key), new RegExp(`^uv-${versionRe}-[0-9a-f]{16}$`));
    const dir = `${root}/${json.env_key}`;
    assert.match(out.stderr, new RegExp(`UVENV ${dir} ${dir} 1\\.17\\.0 2\\.3\\.0`));
    const calls = (await Deno.readTextFile(log)).split("\n");
    assert.match(calls[0]!, new RegExp(`^uv venv ${dir} --allow-existing --python=\\S+$`));
    const install = new RegExp(
      `^uv pip install --python=${dir}/bin/python -r \\S+requirements\\.\\S+\\.txt$`,
    );
    assert.match(calls[1]!, install, "build_dependencies first");
    assert.equal(calls[2], "  | iniconfig");
    assert.match(calls[3]!, install, "then dependencies");
    assert.deepEqual(calls.slice(4), ["  | six", `  | -r ${project}/req.txt`, ""]);
    assert.match(out.stderr, /\+ six==1\.17\.0/, "uv's own output on stderr");
    const site = [...Deno.readDirSync(`${dir}/lib`)].map((e) => e.name);
    assert.equal(site.length, 1);
    const installed = [...Deno.readDirSync(`${dir}/lib/${site[0]}/site-packages`)].map((e) =>
      e.name
    );
    assert.ok(installed.includes("six-1.17.0.dist-info"), installed.join(" "));
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
      "the cache hit runs no uv",
    );
  },
});

Deno.test({
  name: "uv: a failed uv pip install caches nothing; a missing uv is a one-line error",
  ignore,
  async fn() {
    await using tmp = await tempDir();
    await using index = await localPackageIndex();
    const project = `${tmp.path}/proj`;
    await writeFiles(project, {
      MLproject: "entry_points:\n  main:\n    command: 'true'\n",
      "python_env.yaml": `python: "${PY.minor}"\ndependencies: [six, fail-me]\n`,
    });
    const root = `${tmp.path}/envs`;
    const out = await runCli(["run", project, "--env-manager", "uv"], {
      cwd: tmp.path,
      env: envTestEnv(root, {
        ...index.env,
        PATH: `${REAL_UV!.slice(0, REAL_UV!.lastIndexOf("/"))}:${Deno.env.get("PATH")}`,
      }),
    });
    assert.equal(out.code, 1);
    assert.match(out.stderr, /No solution found when resolving dependencies/);
    assert.match(out.stderr, /fail-me/);
    assert.match(
      out.stderr,
      /=== Creating the environment failed: '.*uv pip install .*' exited with code 1/,
    );
    assert.deepEqual([...Deno.readDirSync(root)].map((e) => e.name), [".locks"]);

    const missing = await runCli(["run", project, "--env-manager", "uv"], {
      cwd: tmp.path,
      env: envTestEnv(root, { PATH: "/nonexistent" }),
    });
    assert.equal(missing.code, 1);
    assert.match(
      missing.stderr,
      /=== Could not find the uv executable on PATH: install uv \(https:\/\/docs\.astral\.sh\/uv\/getting-started\/installation\/\) or use `--env-manager virtualenv` ===\n$/,
    );
  },
});
