/**
 * detectMlflow() against the pinned real MLflow venvs: the version read from metadata is the one
 * `import mlflow` reports.
 */
import assert from "node:assert/strict";
import { detectMlflow } from "../../../lib/envs/mlflow_version.ts";
import { tempDir } from "../../_helpers/cli.ts";
import { PINNED_MLFLOW_VERSIONS, runPython } from "../../_helpers/mlflow_venvs.ts";
import { compatMlflowTest } from "../_compat.ts";

for (const version of PINNED_MLFLOW_VERSIONS) {
  compatMlflowTest(
    `detectMlflow() of real MLflow ${version} equals \`import mlflow; print(mlflow.__version__)\``,
    [version],
    async (_t, venv) => {
      await using tmp = await tempDir();
      const env = { HOME: tmp.path, PATH: Deno.env.get("PATH") ?? "" };
      const out = await runPython(venv, "import mlflow; print(mlflow.__version__)", {
        env,
        cwd: tmp.path,
      });
      assert.equal(out.code, 0, out.stderr);
      const imported = out.stdout.trim().split("\n").at(-1);
      assert.equal(imported, version);
      assert.equal(detectMlflow(venv.python, { env, cwd: tmp.path })?.version, imported);
    },
  );
}
