/**
 * SIGINT/SIGTERM at the earliest moments of `mlproject run` (the first stderr byte, a warning
 * printed before the library is loaded): exit code 130 from our own handler (never death by the
 * default handler), and nothing recorded. (A signal before the Deno runtime runs main.ts at all
 * still meets the default handler; /proc's SigCgt cannot tell that moment apart, as Deno itself
 * catches these signals at times.)
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { cleanEnv, sqliteRows, tempDir, writeFiles } from "./_helpers/cli.ts";
import { LiveCli } from "./_helpers/cli_process.ts";

async function recordedRuns(dir: string): Promise<number> {
  const db = join(dir, "mlflow.db");
  try {
    await Deno.stat(db);
  } catch {
    return 0;
  }
  const tables = await sqliteRows(db, "SELECT name FROM sqlite_master WHERE name = 'runs'");
  if (tables.length === 0) return 0;
  return (await sqliteRows(db, "SELECT run_uuid FROM runs")).length;
}

interface Moment {
  name: string;
  args: (dir: string) => string[];
  wait: (cli: LiveCli) => Promise<void>;
}

const MOMENTS: Moment[] = [
  {
    name: "after the first stderr byte (--env-file, before the run command starts)",
    args: (dir) => ["--env-file", join(dir, "vars.env"), "run", join(dir, "proj")],
    wait: (cli) => cli.waitFor(/./),
  },
  {
    name: "after the conda warning (before the library is loaded)",
    // A conda project whose conda never answers: the run cannot end before the signal.
    args: (dir) => ["run", join(dir, "conda-proj"), "--env-manager", "conda"],
    wait: (cli) => cli.waitFor(/use of conda is discouraged/),
  },
];

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  for (const moment of MOMENTS) {
    Deno.test(`${signal} ${moment.name} exits 130 and records nothing`, async () => {
      await using tmp = await tempDir();
      await writeFiles(tmp.path, {
        "proj/MLproject": "entry_points:\n  main:\n    command: 'sleep 30'\n",
        "vars.env": "A=1\n",
        "conda-proj/MLproject":
          "conda_env: conda.yaml\nentry_points:\n  main:\n    command: 'true'\n",
        "conda-proj/conda.yaml": "name: x\ndependencies: [python=3.11]\n",
        "conda/bin/conda": "#!/bin/sh\nexec sleep 30\n",
      });
      await Deno.chmod(join(tmp.path, "conda/bin/conda"), 0o755);
      await using cli = new LiveCli(moment.args(tmp.path), {
        cwd: tmp.path,
        env: cleanEnv({
          HOME: tmp.path,
          XDG_CACHE_HOME: join(tmp.path, "cache"),
          MLFLOW_CONDA_HOME: join(tmp.path, "conda"),
        }),
      });
      await moment.wait(cli);
      cli.kill(signal);
      const result = await cli.result();
      assert.equal(result.signal, null, `killed by the default ${signal} handler`);
      assert.equal(result.code, 130, result.stderr);
      assert.match(result.stderr, /ERROR mlproject: === Interrupted/);
      assert.ok(!/ at .*\.ts:\d+/.test(result.stderr), result.stderr);
      assert.equal(await recordedRuns(tmp.path), 0);
    });
  }
}
