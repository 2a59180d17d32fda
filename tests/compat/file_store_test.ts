/**
 * Every pinned MLflow logs into the run mlproject created on a file store
 * (`MLFLOW_TRACKING_URI=./mlruns`), and reads it back with its own client.
 */
import { tempDir } from "../_helpers/cli.ts";
import { compatEnv, compatTestPerVersion, runAndReadBack, writeCompatProject } from "./_compat.ts";

compatTestPerVersion(
  "a file store (./mlruns): the child's MLflow logs into mlproject's run and reads it back FINISHED",
  async (venv) => {
    await using tmp = await tempDir();
    const project = `${tmp.path}/proj`;
    await writeCompatProject(project);
    // MLflow >= 3.10 refuses file stores unless the user opts in (as its error says).
    const env = compatEnv(venv, {
      MLFLOW_TRACKING_URI: "./mlruns",
      MLFLOW_ALLOW_FILE_STORE: "true",
    });
    await runAndReadBack(venv, { cwd: tmp.path, project, env });
  },
);
