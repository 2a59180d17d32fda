/**
 * Concurrency and defaults of real virtualenv environments through the CLI (real `python -m venv`
 * with the machine's python3, real processes racing for one cache lock).
 */
import assert from "node:assert/strict";
import { runCli, tempDir, writeFiles } from "../_helpers/cli.ts";
import { hostPython } from "../_helpers/components.ts";
import { envTestEnv, lastJson } from "./_env_helpers.ts";

const PY = await hostPython();

Deno.test("8 concurrent runs needing one new env build it exactly once and all succeed", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/envs`;
  const project = `${tmp.path}/proj`;
  await writeFiles(project, {
    MLproject:
      "python_env: python_env.yaml\nentry_points:\n  main:\n    command: python -c 'import sys; print(\"PREFIX\", sys.prefix)'\n",
    "python_env.yaml": `python: "${PY.minor}"\n`,
  });
  const env = envTestEnv(root);
  const outs = await Promise.all(
    Array.from({ length: 8 }, (_, i) =>
      runCli(["run", project, "--json", "--run-name", `r${i}`], {
        cwd: tmp.path,
        env: { ...env, MLFLOW_TRACKING_URI: `${tmp.path}/mlruns` },
      })),
  );
  for (const out of outs) assert.equal(out.code, 0, out.stderr);
  const results = outs.map((o) => lastJson(o.stdout));
  assert.equal(new Set(results.map((r) => r.env_key)).size, 1);
  assert.equal(results.filter((r) => r.env_cache_hit === false).length, 1, "exactly one build");
  assert.equal(outs.filter((o) => /creating the virtualenv/.test(o.stderr)).length, 1);
  const dir = `${root}/${results[0]!.env_key}`;
  for (const out of outs) assert.match(out.stderr, new RegExp(`PREFIX ${dir}\\n`));
});

Deno.test("a project without an env file runs by default in a virtualenv of the python3 on PATH", async () => {
  await using tmp = await tempDir();
  const project = `${tmp.path}/proj`;
  await writeFiles(project, {
    MLproject:
      'entry_points:\n  main:\n    command: python -c \'import os, sys; print("VENV", sys.prefix == os.environ["VIRTUAL_ENV"], sys.prefix != sys.base_prefix)\'\n',
  });
  const out = await runCli(["run", project, "--json"], {
    cwd: tmp.path,
    env: envTestEnv(`${tmp.path}/envs`, { PYTHONHOME: "/nonexistent" }),
  });
  assert.equal(out.code, 0, out.stderr);
  assert.equal(lastJson(out.stdout).env_manager, "virtualenv");
  assert.match(out.stderr, /VENV True True/);
  assert.match(out.stderr, /Running command 'unset PYTHONHOME && python -c/);
});
