import assert from "node:assert/strict";
import { cleanEnv, runCli, tempDir, writeFiles } from "../_helpers/cli.ts";
import { enableTiming, mark, timingMarks } from "../../lib/system/timing.ts";

Deno.test("mark() records phases in order, with increasing times, once timing is enabled", () => {
  enableTiming();
  mark("first");
  mark("second");
  const marks = timingMarks();
  assert.deepEqual(marks.map(([name]) => name), ["first", "second"]);
  assert.ok(marks[0]![1] <= marks[1]![1]);
  enableTiming();
  assert.deepEqual(timingMarks(), [], "enabling again forgets earlier marks");
});

Deno.test("MLPROJECT_TIMING=1 makes a run print its phase marks on stderr, and only then", async () => {
  await using tmp = await tempDir();
  await writeFiles(`${tmp.path}/proj`, {
    MLproject: "entry_points:\n  main:\n    command: 'true'\n",
  });
  const args = ["run", `${tmp.path}/proj`, "--env-manager", "local"];
  const env = { MLFLOW_TRACKING_URI: `sqlite:///${tmp.path}/mlflow.db` };
  const timed = await runCli(args, {
    cwd: tmp.path,
    env: cleanEnv({ ...env, MLPROJECT_TIMING: "1" }),
  });
  assert.equal(timed.code, 0, timed.stderr);
  const line = timed.stderr.split("\n").find((l) => l.startsWith("mlproject-timing: "));
  assert.ok(line, timed.stderr);
  const marks = JSON.parse(line.slice("mlproject-timing: ".length)) as [string, number][];
  const names = marks.map(([name]) => name);
  for (const phase of ["planned", "store opened", "run recorded", "child exited", "done"]) {
    assert.ok(names.includes(phase), `${phase} in ${names.join(", ")}`);
  }
  const times = marks.map(([, t]) => t);
  assert.deepEqual(times, [...times].sort((a, b) => a - b));

  const plain = await runCli(args, { cwd: tmp.path, env: cleanEnv(env) });
  assert.equal(plain.code, 0, plain.stderr);
  assert.ok(!plain.stderr.includes("mlproject-timing"), plain.stderr);
});
