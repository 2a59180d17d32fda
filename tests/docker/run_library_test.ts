/**
 * `run()` and `plan()` on docker_env projects from the library: an async run cancelled with
 * `cancel()`, and a plan that pulls nothing. Real engine (skips with one line without it).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { run } from "../../lib/run/run.ts";
import { plan } from "../../lib/run/plan.ts";
import { formatPlan } from "../../lib/run/plan_format.ts";
import { RUN_ID_LABEL } from "../../lib/docker/run_args.ts";
import { FileStore } from "../../lib/tracking/file_store.ts";
import { cleanEnv, tempDir, writeFiles } from "../_helpers/cli.ts";
import { BUSYBOX, containersLabelled, dockerOut, NO_ENGINE } from "./_engine.ts";

Deno.test({
  name: "an async docker run: cancel() stops and removes the container and the run ends KILLED",
  ignore: NO_ENGINE,
  fn: async () => {
    await using d = await tempDir();
    await writeFiles(d.path, {
      "proj/MLproject":
        `name: wire\ndocker_env:\n  image: ${BUSYBOX}\nentry_points:\n  main:\n    command: "trap 'exit 143' TERM; echo started; sleep 300 & wait"\n`,
    });
    const submitted = await run(join(d.path, "proj"), {
      synchronous: false,
      cwd: d.path,
      env: cleanEnv(),
      trackingUri: `file://${d.path}/mlruns`,
      stdout: "null",
      killGraceMs: 2000,
    });
    const label = `${RUN_ID_LABEL}=${submitted.runId}`;
    for (let i = 0; i < 600; i++) {
      const up = await dockerOut(["ps", "--filter", `label=${label}`, "--format", "{{.Names}}"]);
      if (up !== "") break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal((await containersLabelled(label)).length, 1);
    assert.equal(submitted.environment?.kind, "docker");
    await submitted.cancel();
    assert.equal(await submitted.getStatus(), "KILLED");
    assert.deepEqual(await containersLabelled(label), []);
    const store = new FileStore(`${d.path}/mlruns`);
    try {
      assert.equal((await store.getRun(submitted.runId))?.status, "KILLED");
    } finally {
      store.close();
    }
  },
});

Deno.test({
  name:
    "plan() of a docker project whose image is not local says it must be pulled, and pulls nothing",
  ignore: NO_ENGINE,
  fn: async () => {
    await using d = await tempDir();
    const image = `mlproject-test/absent-${crypto.randomUUID().slice(0, 8)}:0`;
    await writeFiles(d.path, {
      "proj/MLproject":
        `name: wire\ndocker_env:\n  image: ${image}\nentry_points:\n  main:\n    command: "true"\n`,
    });
    const planned = await plan(join(d.path, "proj"), {
      cwd: d.path,
      env: cleanEnv({ MLFLOW_TRACKING_URI: `file://${d.path}/mlruns` }),
      dockerArgs: [["gpus", "all"], ["e", "A=1"], ["e", "B=2"]],
    });
    assert.equal(planned.environment.manager, "docker");
    assert.equal(planned.environment.key, image);
    assert.equal(planned.environment.cached, false);
    const lines = formatPlan(planned);
    assert.ok(
      lines.some((l) => /^Environment: +docker .*\(must be pulled\)$/.test(l)),
      lines.join("\n"),
    );
    assert.deepEqual(
      lines.filter((l) => l.startsWith("Docker arg")).map((l) => l.split(/: +/)[1]),
      ["gpus=all", "e=A=1", "e=B=2"],
    );
    assert.ok(planned.tags.some(([k, v]) => k === "mlflow.project.env" && v === "docker"));
    await assert.rejects(dockerOut(["image", "inspect", image]));
    await assert.rejects(Deno.stat(`${d.path}/mlruns`));
  },
});
