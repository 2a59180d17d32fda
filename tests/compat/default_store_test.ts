/**
 * Every pinned MLflow on the default store in a fresh directory (no MLFLOW_TRACKING_URI):
 * mlproject must pick the store that MLflow would pick (`./mlruns` before 3.7, else
 * `sqlite:///mlflow.db` at that MLflow's own schema), so that the child logs into the run and
 * that version's client, with its own default, reads it back.
 */
import assert from "node:assert/strict";
import { tempDir } from "../_helpers/cli.ts";
import { compatEnv, compatTestPerVersion, runAndReadBack, writeCompatProject } from "./_compat.ts";

/** MLflow's default store in an empty directory: `./mlruns` before 3.7, then SQLite. */
function defaultStore(version: string): "mlruns" | "mlflow.db" {
  const [major, minor] = version.split(".").map(Number);
  return major! < 3 || (major === 3 && minor! < 7) ? "mlruns" : "mlflow.db";
}

compatTestPerVersion(
  "the default store in a fresh directory: the child's MLflow logs into mlproject's run and reads it back FINISHED",
  async (venv) => {
    await using tmp = await tempDir();
    const cwd = `${tmp.path}/work`;
    const project = `${tmp.path}/proj`;
    await Deno.mkdir(cwd);
    await writeCompatProject(project);
    const env = compatEnv(venv);
    const { readBack } = await runAndReadBack(venv, { cwd, project, env });
    const version = venv.version;
    const store = defaultStore(version);
    assert.deepEqual(
      [...Deno.readDirSync(cwd)].map((e) => e.name).filter((n) => n === store),
      [store],
      `MLflow ${version}'s default store ./${store} was used`,
    );
    assert.match(
      readBack.trackingUri,
      store === "mlruns" ? /mlruns$/ : /^sqlite:\/\/\/(.*\/)?mlflow\.db$/,
    );
  },
);
