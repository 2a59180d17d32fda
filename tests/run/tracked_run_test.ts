/**
 * `TrackedRun`, the one place the end of a run is recorded for every backend: real local
 * processes launched by the local backend, a real `mlruns` file store.
 */
import assert from "node:assert/strict";
import { LocalBackend } from "../../lib/backends/local.ts";
import { shellInvocation } from "../../lib/backends/invocation.ts";
import { SILENT_REPORTER } from "../../lib/system/output.ts";
import { TrackedRun } from "../../lib/run/tracked_run.ts";
import { openTrackingStore } from "../../lib/tracking/tracking_uri.ts";
import type { TrackingStore } from "../../lib/tracking/tracking_store.ts";
import { tempDir } from "../_helpers/cli.ts";

async function launch(dir: string, command: string, store: TrackingStore): Promise<TrackedRun> {
  const experimentId = await store.createExperiment("e");
  const info = await store.createRun({
    experimentId,
    userId: "u",
    startTime: Date.now(),
    runName: "r",
    tags: [],
  });
  const execution = await new LocalBackend().launch({
    runId: info.runId,
    experimentId,
    trackingUri: store.uri,
    trackingEnv: store.childEnv,
    invocation: shellInvocation(command, { cwd: dir }),
    env: { PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin" },
    config: {},
    reporter: SILENT_REPORTER,
    stdout: "null",
    killGraceMs: 2000,
  });
  return new TrackedRun(execution, { runId: info.runId, experimentId, store });
}

Deno.test("TrackedRun records FINISHED for a job that succeeds and FAILED for one that fails", async () => {
  await using tmp = await tempDir();
  for (const [command, status, ok] of [["true", "FINISHED", true], ["exit 3", "FAILED", false]]) {
    const store = await openTrackingStore(`file://${tmp.path}/mlruns-${status}`);
    const run = await launch(tmp.path, command as string, store);
    assert.equal(await run.getStatus(), "RUNNING");
    assert.equal(await run.wait(), ok);
    assert.equal(await run.getStatus(), status);
    const reopened = await openTrackingStore(`file://${tmp.path}/mlruns-${status}`);
    assert.equal((await reopened.getRun(run.runId))?.status, status);
    reopened.close();
  }
});

Deno.test("TrackedRun keeps a terminal status the child recorded itself", async () => {
  await using tmp = await tempDir();
  const uri = `file://${tmp.path}/mlruns`;
  const store = await openTrackingStore(uri);
  const run = await launch(tmp.path, "while [ ! -e go ]; do sleep 0.05; done", store);
  // As the child's MLflow would: the run ends FAILED although the process exits 0.
  const child = await openTrackingStore(uri);
  await child.updateRun(run.runId, { status: "FAILED", endTime: Date.now() });
  child.close();
  await Deno.writeTextFile(`${tmp.path}/go`, "");
  assert.equal(await run.wait(), false);
  assert.equal(await run.getStatus(), "FAILED");
});

Deno.test("TrackedRun.cancel() stops the job and records KILLED", async () => {
  await using tmp = await tempDir();
  const uri = `file://${tmp.path}/mlruns`;
  const store = await openTrackingStore(uri);
  const run = await launch(tmp.path, "touch started; sleep 300", store);
  while (!(await Deno.stat(`${tmp.path}/started`).then(() => true, () => false))) {
    await new Promise((r) => setTimeout(r, 20));
  }
  await run.cancel();
  assert.equal(await run.getStatus(), "KILLED");
  assert.equal(await run.wait(), false);
  const reopened = await openTrackingStore(uri);
  assert.equal((await reopened.getRun(run.runId))?.status, "KILLED");
  reopened.close();
  assert.throws(() => Deno.kill(run.pid!, "SIGCONT"), "the process group is gone");
});
