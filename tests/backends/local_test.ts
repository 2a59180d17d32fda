import assert from "node:assert/strict";
import { groupMembers } from "../_helpers/processes.ts";
import { join } from "node:path";
import { cleanEnv, MAIN_TS, sqliteRows, tempDir, writeFiles } from "../_helpers/cli.ts";

function startCli(dir: string, entry: string): Deno.ChildProcess {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--quiet",
      MAIN_TS,
      "run",
      join(dir, "proj"),
      "-e",
      entry,
      "--env-manager",
      "local",
    ],
    cwd: dir,
    env: cleanEnv(),
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  return child;
}

async function waitForFile(path: string): Promise<string> {
  for (let i = 0; i < 500; i++) {
    const text = await Deno.readTextFile(path).catch(() => "");
    if (text.trim() !== "") return text.trim();
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`no ${path}`);
}

function groupAlive(pgid: number): boolean {
  return groupMembers(pgid).length > 0;
}

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  Deno.test(`the CLI ends the child's whole process group on ${signal}, records KILLED and exits 130`, async () => {
    await using tmp = await tempDir();
    await writeFiles(join(tmp.path, "proj"), {
      "MLproject": `entry_points:
  main:
    command: "echo $$ > pgid; sleep 300 & bash -c 'sleep 301' & wait"
`,
    });
    const cli = startCli(tmp.path, "main");
    const pgid = Number(await waitForFile(join(tmp.path, "proj", "pgid")));
    assert.ok(groupAlive(pgid));
    cli.kill(signal);
    const [status, , err] = await Promise.all([
      cli.status,
      new Response(cli.stdout).text(),
      new Response(cli.stderr).text(),
    ]);
    assert.equal(status.code, 130, err);
    assert.match(err, /=== Run \(ID '[0-9a-f]{32}'\) was killed ===/);
    assert.equal(groupAlive(pgid), false);
    const [run] = await sqliteRows(
      join(tmp.path, "mlflow.db"),
      "SELECT status, end_time FROM runs",
    );
    assert.equal(run?.status, "KILLED");
    assert.ok(run?.end_time);
  });
}

Deno.test("the child leads its own process group and gets MLflow's run variables", async () => {
  await using tmp = await tempDir();
  await writeFiles(join(tmp.path, "proj"), {
    "MLproject": `entry_points:
  main:
    command: "ps -o pid=,pgid= -p $$; echo MLFLOW_RUN_ID=$MLFLOW_RUN_ID; echo MLFLOW_EXPERIMENT_ID=$MLFLOW_EXPERIMENT_ID; echo KEEP=$KEEP"
`,
  });
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--quiet",
      MAIN_TS,
      "run",
      join(tmp.path, "proj"),
      "--env-manager",
      "local",
    ],
    cwd: tmp.path,
    env: cleanEnv({ KEEP: "parent-env", MLFLOW_RUN_ID: "stale" }),
    clearEnv: true,
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  const [pid, pgid] = text.trim().split("\n")[0]!.trim().split(/\s+/);
  assert.equal(pid, pgid);
  const [run] = await sqliteRows(join(tmp.path, "mlflow.db"), "SELECT run_uuid FROM runs");
  assert.match(text, new RegExp(`MLFLOW_RUN_ID=${run?.run_uuid}\n`));
  assert.match(text, /MLFLOW_EXPERIMENT_ID=0\n/);
  assert.match(text, /KEEP=parent-env\n/);
});
