import assert from "node:assert/strict";
import { alive, groupMembers } from "../_helpers/processes.ts";
import { join } from "node:path";
import { ExecutionException, InterruptedError, run, UsageError } from "../../lib/mod.ts";
import { cleanEnv, sqliteRows, tempDir, writeFiles } from "../_helpers/cli.ts";

async function project(dir: string): Promise<string> {
  const path = join(dir, "proj");
  await writeFiles(path, {
    "MLproject": `entry_points:
  main:
    parameters:
      seconds: {type: float, default: 0}
      code: {type: int, default: 0}
    command: "sleep {seconds}; exit {code}"
  extras:
    parameters:
      seconds: {type: float, default: 0}
    command: "sleep {seconds}; true"
  group:
    command: "sleep 300 & sleep 301 & echo $$ > pgid; wait"
  stubborn:
    command: "bash -c 'trap \\"\\" TERM; echo $$ > stubborn.pid; sleep 302' & wait"
`,
  });
  return path;
}

function groupAlive(pgid: number): boolean {
  return groupMembers(pgid).length > 0;
}

async function until(check: () => Promise<boolean> | boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 20));
  }
}

function options(dir: string) {
  return {
    cwd: dir,
    env: cleanEnv(),
    envManager: "local",
    trackingUri: `sqlite:///${dir}/mlflow.db`,
  };
}

async function statusOf(dir: string, runId: string): Promise<string> {
  const [row] = await sqliteRows(
    `${dir}/mlflow.db`,
    "SELECT status FROM runs WHERE run_uuid = ?",
    runId,
  );
  return String(row?.status);
}

Deno.test("run() waits for a synchronous run and returns it FINISHED", async () => {
  await using tmp = await tempDir();
  const submitted = await run(await project(tmp.path), options(tmp.path));
  assert.equal(await submitted.getStatus(), "FINISHED");
  assert.equal(await submitted.wait(), true);
  assert.match(submitted.runId, /^[0-9a-f]{32}$/);
  assert.equal(submitted.experimentId, "0");
  assert.equal(submitted.trackingUri, `sqlite:///${tmp.path}/mlflow.db`);
  assert.equal(await statusOf(tmp.path, submitted.runId), "FINISHED");
});

Deno.test("run() throws ExecutionException when a synchronous run fails", async () => {
  await using tmp = await tempDir();
  await assert.rejects(
    run(await project(tmp.path), { ...options(tmp.path), parameters: { code: 4 } }),
    (e: unknown) =>
      e instanceof ExecutionException && /^Run \(ID '[0-9a-f]{32}'\) failed$/.test(e.message),
  );
});

Deno.test("run() with synchronous: false returns at once and reports RUNNING then FINISHED", async () => {
  await using tmp = await tempDir();
  const started = performance.now();
  const submitted = await run(await project(tmp.path), {
    ...options(tmp.path),
    synchronous: false,
    parameters: { seconds: 1 },
  });
  assert.ok(performance.now() - started < 900, "returned before the child ended");
  assert.equal(await submitted.getStatus(), "RUNNING");
  assert.equal(await statusOf(tmp.path, submitted.runId), "RUNNING");
  assert.equal(await submitted.wait(), true);
  assert.equal(await submitted.getStatus(), "FINISHED");
  assert.equal(await statusOf(tmp.path, submitted.runId), "FINISHED");
});

Deno.test("run() runs several asynchronous runs side by side with their own statuses", async () => {
  await using tmp = await tempDir();
  const dir = await project(tmp.path);
  const runs = await Promise.all(
    [0, 3, 0].map((code) =>
      run(dir, { ...options(tmp.path), synchronous: false, parameters: { seconds: 0.3, code } })
    ),
  );
  const results = await Promise.all(runs.map((r) => r.wait()));
  assert.deepEqual(results, [true, false, true]);
  assert.deepEqual(
    await Promise.all(runs.map((r) => statusOf(tmp.path, r.runId))),
    ["FINISHED", "FAILED", "FINISHED"],
  );
});

Deno.test("cancel() ends the whole process group and records KILLED", async () => {
  await using tmp = await tempDir();
  const dir = await project(tmp.path);
  const submitted = await run(dir, {
    ...options(tmp.path),
    entryPoint: "group",
    synchronous: false,
  });
  await until(async () => (await Deno.readTextFile(join(dir, "pgid")).catch(() => "")) !== "");
  const pgid = Number((await Deno.readTextFile(join(dir, "pgid"))).trim());
  assert.ok(groupAlive(pgid));
  await submitted.cancel();
  assert.equal(groupAlive(pgid), false, "no process of the group survives");
  assert.equal(await submitted.getStatus(), "KILLED");
  assert.equal(await submitted.wait(), false);
  assert.equal(await statusOf(tmp.path, submitted.runId), "KILLED");
});

Deno.test("cancel() KILLs processes that ignore TERM after the grace period", async () => {
  await using tmp = await tempDir();
  const dir = await project(tmp.path);
  const submitted = await run(dir, {
    ...options(tmp.path),
    entryPoint: "stubborn",
    synchronous: false,
    killGraceMs: 300,
  });
  await until(async () =>
    (await Deno.readTextFile(join(dir, "stubborn.pid")).catch(() => "")) !== ""
  );
  const pid = Number((await Deno.readTextFile(join(dir, "stubborn.pid"))).trim());
  const started = performance.now();
  await submitted.cancel();
  assert.ok(performance.now() - started >= 250, "waited for the grace period");
  assert.equal(alive(pid), false);
  assert.equal(await statusOf(tmp.path, submitted.runId), "KILLED");
});

Deno.test("cancel() after the run finished keeps its status", async () => {
  await using tmp = await tempDir();
  const submitted = await run(await project(tmp.path), options(tmp.path));
  await submitted.cancel();
  assert.equal(await submitted.getStatus(), "FINISHED");
  assert.equal(await statusOf(tmp.path, submitted.runId), "FINISHED");
});

Deno.test("run() with an aborted signal cancels a synchronous run with InterruptedError", async () => {
  await using tmp = await tempDir();
  const controller = new AbortController();
  setTimeout(() => controller.abort(), 300);
  await assert.rejects(
    run(await project(tmp.path), {
      ...options(tmp.path),
      parameters: { seconds: 30 },
      signal: controller.signal,
    }),
    InterruptedError,
  );
  const [row] = await sqliteRows(`${tmp.path}/mlflow.db`, "SELECT status FROM runs");
  assert.equal(row?.status, "KILLED");
});

Deno.test("run() validates options like mlflow.projects.run", async () => {
  await using tmp = await tempDir();
  const dir = await project(tmp.path);
  await assert.rejects(run(dir, { ...options(tmp.path), envManager: "pip" }), UsageError);
  await assert.rejects(
    run(dir, { ...options(tmp.path), experimentName: "a", experimentId: "1" }),
    /Specify only one of 'experiment_name' or 'experiment_id'\./,
  );
  await assert.rejects(run(dir, { ...options(tmp.path), backend: "kubernetes" }), UsageError);
  await assert.rejects(run(dir, { ...options(tmp.path), entryPoint: "x" }), ExecutionException);
});

Deno.test("run() turns number and boolean parameters into Python str() text", async () => {
  await using tmp = await tempDir();
  const submitted = await run(await project(tmp.path), {
    ...options(tmp.path),
    entryPoint: "extras",
    parameters: { seconds: 0, extra: true, ratio: 0.5 },
  });
  const rows = await sqliteRows(
    `${tmp.path}/mlflow.db`,
    "SELECT key, value FROM params WHERE run_uuid = ? ORDER BY key",
    submitted.runId,
  );
  assert.deepEqual(rows.map((r) => [r.key, r.value]), [
    ["extra", "True"],
    ["ratio", "0.5"],
    ["seconds", "0"],
  ]);
});
