/**
 * `mlproject run -b databricks` as a subprocess: it follows the job to its end (exit 0/1), and
 * SIGINT/SIGTERM cancel the job, record KILLED and exit 130.
 */
import assert from "node:assert/strict";
import { cleanEnv, runCli, tempDir, writeFiles } from "../_helpers/cli.ts";
import { LiveCli } from "../_helpers/cli_process.ts";
import { skipWithout } from "../_helpers/components.ts";
import {
  type RunScript,
  startFakeDatabricks,
  SUCCESS_SCRIPT,
} from "../_helpers/fake_databricks.ts";
import { startMlflowServer } from "../_helpers/mlflow_server.ts";
import { mlflowVenv, PINNED_MLFLOW_VERSIONS } from "../_helpers/mlflow_venvs.ts";

const VENV = PINNED_MLFLOW_VERSIONS.map((v) => mlflowVenv(v)).find((v) => v !== undefined);
const ignore = skipWithout(
  "Databricks CLI tests",
  VENV !== undefined,
  "no MLflow venv (run scripts/install_test_mlflow.sh)",
);

const CONFIG = JSON.stringify({
  spark_version: "15.4.x-scala2.12",
  num_workers: 1,
  poll_interval_seconds: 0.05,
});
const EXPERIMENT = "/Users/test@example.com/cli";

Deno.test({
  name:
    "mlproject run -b databricks: exit 0 when the job succeeds, 130 and KILLED on SIGINT/SIGTERM",
  ignore,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    await using tmp = await tempDir("mlproject-databricks-cli-");
    await Deno.mkdir(`${tmp.path}/server`);
    await using server = await startMlflowServer(VENV!, `${tmp.path}/server`);
    await writeFiles(tmp.path, {
      "proj/MLproject": "name: p\nentry_points:\n  main:\n    command: 'python train.py'\n",
      "proj/train.py": "print(1)\n",
    });
    let script: RunScript = SUCCESS_SCRIPT;
    await using fake = await startFakeDatabricks({
      mlflowUrl: server.url,
      runScript: () => script,
    });
    const env = cleanEnv({
      HOME: tmp.path,
      MLFLOW_TRACKING_URI: "databricks",
      DATABRICKS_HOST: fake.url,
      DATABRICKS_TOKEN: fake.token,
      MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR: "0",
      MLPROJECT_EXPERIMENT_CACHE: "0",
    });
    for (const k of Object.keys(env)) if (k.startsWith("DATABRICKS_CONFIG")) delete env[k];
    const args = [
      "run",
      "proj",
      "-b",
      "databricks",
      "-c",
      CONFIG,
      "--experiment-name",
      EXPERIMENT,
      "--json",
    ];
    const status = async (runId: string) =>
      ((await server.api(`runs/get?run_id=${runId}`)) as { run: { info: { status: string } } }).run
        .info.status;

    await t.step("a successful job: exit 0, FINISHED", async () => {
      const result = await runCli(args, { cwd: tmp.path, env });
      assert.equal(result.code, 0, result.stderr);
      const out = JSON.parse(result.stdout);
      assert.equal(out.status, "FINISHED");
      assert.equal(await status(out.run_id), "FINISHED");
      assert.match(
        result.stderr,
        /=== Check the run's status at http:\/\/127\.0\.0\.1:\d+\S*#job\/\d+\/run\/\d+ ===/,
      );
    });

    await t.step("a failed job: exit 1 with its state_message", async () => {
      script = [{ life_cycle_state: "RUNNING" }, {
        life_cycle_state: "TERMINATED",
        result_state: "FAILED",
        state_message: "Python exited with code 2",
      }];
      const result = await runCli(args, { cwd: tmp.path, env });
      assert.equal(result.code, 1);
      assert.match(
        result.stderr,
        /ERROR mlproject: === Databricks job run \d+ ended FAILED: Python exited with code 2 ===/,
      );
      assert.equal(JSON.parse(result.stdout).status, "FAILED");
    });

    await t.step("SIGINT during the upload: no job, run KILLED, exit 130", async () => {
      await writeFiles(tmp.path, {
        "proj2/MLproject": "entry_points:\n  main:\n    command: 'true'\n",
      });
      const jobs = fake.runs.length;
      fake.addFault({ path: "/dbfs/put", delayMs: 60_000 });
      await using cli = new LiveCli(["run", "proj2", ...args.slice(2)], { cwd: tmp.path, env });
      await cli.waitFor(/Uploading project tarball/);
      cli.kill("SIGINT");
      const result = await cli.result();
      assert.equal(result.code, 130, result.stderr);
      assert.equal(fake.runs.length, jobs);
      const experiment = (await server.api(
        `experiments/get-by-name?experiment_name=${encodeURIComponent(EXPERIMENT)}`,
      )) as { experiment: { experiment_id: string } };
      const [latest] = await server.runs([experiment.experiment.experiment_id]);
      assert.equal(latest?.info.status, "KILLED");
    });

    for (const signal of ["SIGINT", "SIGTERM"] as const) {
      await t.step(`${signal} while the job runs: cancelled, KILLED, exit 130`, async () => {
        script = [{ life_cycle_state: "PENDING" }, {
          life_cycle_state: "RUNNING",
          polls: 1_000_000,
        }];
        const jobs = fake.runs.length;
        await using cli = new LiveCli(args, { cwd: tmp.path, env });
        await cli.waitFor(/Databricks job run \d+: RUNNING/);
        cli.kill(signal);
        const result = await cli.result();
        assert.equal(result.code, 130, result.stderr);
        const job = fake.runs[jobs]!;
        assert.equal(job.cancels, 1);
        assert.match(job.history.at(-1)!, /^TERMINATED\/CANCELED/);
        const out = JSON.parse(result.stdout);
        assert.equal(out.status, "KILLED");
        assert.equal(await status(out.run_id), "KILLED");
      });
    }
  },
});
