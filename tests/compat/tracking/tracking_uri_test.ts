/**
 * resolveTrackingUri() against the pinned real MLflow venvs: with the version detected from the
 * venv, it names the store that MLflow itself defaults to, in an empty directory and in one whose
 * `mlruns` holds experiment data.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { detectMlflow } from "../../../lib/envs/mlflow_version.ts";
import { parseTrackingUri, resolveTrackingUri } from "../../../lib/tracking/tracking_uri.ts";
import { writeExperimentMeta } from "../../_helpers/mlruns.ts";
import { tempDir } from "../../_helpers/cli.ts";
import { PINNED_MLFLOW_VERSIONS, runPython } from "../../_helpers/mlflow_venvs.ts";
import { compatMlflowTest } from "../_compat.ts";

for (const version of PINNED_MLFLOW_VERSIONS) {
  compatMlflowTest(
    `resolveTrackingUri() with the detected version names the store real MLflow ${version} defaults to`,
    [version],
    async (_t, venv) => {
      await using tmp = await tempDir();
      const env = { HOME: tmp.path, PATH: Deno.env.get("PATH") ?? "" };
      const empty = join(tmp.path, "empty");
      const withData = join(tmp.path, "with-data");
      await Deno.mkdir(empty);
      writeExperimentMeta(join(withData, "mlruns"), "0");
      for (const cwd of [empty, withData]) {
        const out = await runPython(venv, "import mlflow; print(mlflow.get_tracking_uri())", {
          env,
          cwd,
        });
        assert.equal(out.code, 0, out.stderr);
        const printed = out.stdout.trim().split("\n").at(-1)!;
        const mlflowVersion = detectMlflow(venv.python, { env, cwd })?.version;
        assert.equal(mlflowVersion, version);
        const ours = parseTrackingUri(resolveTrackingUri({}, { cwd, mlflowVersion }), cwd);
        assert.deepEqual(ours, parseTrackingUri(printed, cwd), `${version} in ${cwd}`);
      }
    },
  );
}
