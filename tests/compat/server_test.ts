/**
 * Every pinned MLflow through a real `mlflow server` of that version (127.0.0.1, a free port,
 * SQLite backend, proxied artifacts): mlproject creates the run over REST, the child logs into
 * it, and that version's client reads it back through the server.
 */
import assert from "node:assert/strict";
import { tempDir } from "../_helpers/cli.ts";
import { startMlflowServer } from "../_helpers/mlflow_server.ts";
import { groupMembers } from "../_helpers/processes.ts";
import { compatEnv, compatTestPerVersion, runAndReadBack, writeCompatProject } from "./_compat.ts";

compatTestPerVersion(
  "a real mlflow server: the child's MLflow logs into mlproject's run and reads it back FINISHED",
  async (venv) => {
    await using tmp = await tempDir();
    await Deno.mkdir(`${tmp.path}/server`);
    await using server = await startMlflowServer(venv, `${tmp.path}/server`);
    const project = `${tmp.path}/proj`;
    await writeCompatProject(project);
    const env = compatEnv(venv, { MLFLOW_TRACKING_URI: server.url });
    await runAndReadBack(venv, { cwd: tmp.path, project, env });
    await server.stop();
    assert.deepEqual(groupMembers(server.pid), [], "the server and its workers are gone");
  },
);
