// deno-lint-ignore-file camelcase -- Databricks payloads are snake_case
/**
 * The Databricks backend end to end through the library: a fake workspace (DBFS, Jobs, OAuth)
 * whose MLflow API is a real `mlflow server`, so every run is recorded for real.
 */
import assert from "node:assert/strict";
import { run } from "../../lib/run/run.ts";
import type { Reporter } from "../../lib/system/output.ts";
import { ExecutionException } from "../../lib/system/errors.ts";
import { DEFAULT_CLUSTER_MLFLOW_VERSION } from "../../lib/databricks/backend_config.ts";
import { clearOAuthTokenCache } from "../../lib/tracking/databricks_oauth.ts";
import { tempDir, writeFiles } from "../_helpers/cli.ts";
import { skipWithout } from "../_helpers/components.ts";
import {
  failedScript,
  type FakeDatabricks,
  type RunScript,
  startFakeDatabricks,
  SUCCESS_SCRIPT,
} from "../_helpers/fake_databricks.ts";
import { type MlflowServer, startMlflowServer } from "../_helpers/mlflow_server.ts";
import { mlflowVenv, PINNED_MLFLOW_VERSIONS } from "../_helpers/mlflow_venvs.ts";

const VENV = PINNED_MLFLOW_VERSIONS.map((v) => mlflowVenv(v)).find((v) => v !== undefined);
const ignore = skipWithout(
  "Databricks backend tests",
  VENV !== undefined,
  "no MLflow venv (run scripts/install_test_mlflow.sh)",
);

const SPEC = { spark_version: "15.4.x-scala2.12", node_type_id: "i3.xlarge", num_workers: 1 };
const FAST = { poll_interval_seconds: 0.05 };
const MLPROJECT = `name: dbproj
entry_points:
  main:
    parameters:
      alpha: {type: float, default: 0.1}
      note: {type: string, default: "x"}
    command: "python train.py {alpha} {note}"
`;
const EXPERIMENT = "/Users/test@example.com/db";

/** A reporter that keeps the lines. */
function capture(): Reporter & { lines: string[] } {
  const lines: string[] = [];
  return { lines, log: (level, message) => lines.push(`${level} ${message}`) };
}

interface World {
  server: MlflowServer;
  fake: FakeDatabricks;
  dir: string;
  env: Record<string, string>;
  /** The life cycle of the next jobs (default: PENDING, RUNNING, TERMINATED/SUCCESS). */
  setScript(script: RunScript | undefined): void;
}

/** The server's record of a run: status and tags. */
async function serverRun(server: MlflowServer, runId: string) {
  const body = await server.api(`runs/get?run_id=${runId}`) as {
    run: {
      info: { status: string; experiment_id: string };
      data: { tags?: { key: string; value: string }[]; params?: { key: string; value: string }[] };
    };
  };
  const tags = Object.fromEntries((body.run.data.tags ?? []).map((t) => [t.key, t.value]));
  const params = Object.fromEntries((body.run.data.params ?? []).map((t) => [t.key, t.value]));
  return { status: body.run.info.status, experimentId: body.run.info.experiment_id, tags, params };
}

async function withWorld(
  fn: (w: World, t: Deno.TestContext) => Promise<void>,
  t: Deno.TestContext,
): Promise<void> {
  await using tmp = await tempDir("mlproject-databricks-");
  await Deno.mkdir(`${tmp.path}/server`);
  await using server = await startMlflowServer(VENV!, `${tmp.path}/server`);
  await writeFiles(tmp.path, { "proj/MLproject": MLPROJECT, "proj/train.py": "print(1)\n" });
  let script: RunScript | undefined;
  await using fake = await startFakeDatabricks({
    mlflowUrl: server.url,
    runScript: () => script ?? SUCCESS_SCRIPT,
  });
  const env = {
    HOME: tmp.path,
    PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
    USER: "test-user",
    DATABRICKS_HOST: fake.url,
    DATABRICKS_TOKEN: fake.token,
    MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR: "0",
    MLFLOW_HTTP_REQUEST_BACKOFF_JITTER: "0",
    MLPROJECT_EXPERIMENT_CACHE: "0",
  };
  await fn({ server, fake, dir: tmp.path, env, setScript: (s) => script = s }, t);
}

function runOptions(w: World, extra: Record<string, unknown> = {}) {
  return {
    backend: "databricks",
    backendConfig: { ...SPEC, ...FAST },
    trackingUri: "databricks",
    experimentName: EXPERIMENT,
    env: w.env,
    cwd: w.dir,
    ...extra,
  };
}

Deno.test({
  name: "databricks backend against a fake workspace and a real mlflow server",
  ignore,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: (t) =>
    withWorld(async (w, t) => {
      const { fake, server } = w;

      await t.step("checks fail with MLflow's messages before any request", async () => {
        const cases: [Record<string, unknown>, RegExp][] = [
          [
            { backendConfig: undefined },
            /^Backend spec must be provided when launching MLflow project runs on Databricks\.$/,
          ],
          [
            { trackingUri: `sqlite:///${w.dir}/mlflow.db` },
            /^When running on Databricks, the MLflow tracking URI must be of the form 'databricks'/,
          ],
          [
            { env: { HOME: w.dir, PATH: w.env.PATH! } },
            /^Reading Databricks credential configuration failed with MLflow tracking URI 'databricks'/,
          ],
          [
            { backendConfig: { new_cluster: SPEC, existing_cluster_id: "c" } },
            /either 'new_cluster' or 'existing_cluster_id'/,
          ],
        ];
        await writeFiles(w.dir, {
          "spark/MLproject":
            "name: s\ndatabricks_spark_job:\n  python_libraries: [numpy]\nentry_points:\n  main:\n    command: python job.py\n",
        });
        await assert.rejects(
          run(`${w.dir}/spark`, runOptions(w)),
          /'databricks_spark_job' section .* not supported yet/,
        );
        for (const [extra, message] of cases) {
          const options = { ...runOptions(w), ...extra };
          if ("backendConfig" in extra && extra.backendConfig === undefined) {
            delete (options as Record<string, unknown>).backendConfig;
          }
          await assert.rejects(run(`${w.dir}/proj`, options), (e: Error) => {
            assert.match(e.message, message);
            return true;
          });
        }
        assert.equal(fake.requests.length, 0);
      });

      let firstPath = "";
      await t.step(
        "a run uploads once, submits MLflow's payload, is followed and tagged",
        async () => {
          w.setScript(undefined);
          const reporter = capture();
          const submitted = await run(`${w.dir}/proj`, {
            ...runOptions(w, {
              backendConfig: {
                new_cluster: SPEC,
                libraries: [{ pypi: { package: "scikit-learn" } }],
                ...FAST,
              },
            }),
            parameters: { alpha: 0.5, note: "it's a $HOME" },
            reporter,
          });
          assert.equal(await submitted.getStatus(), "FINISHED");
          const recorded = await serverRun(server, submitted.runId);
          assert.equal(recorded.status, "FINISHED");
          const [job] = fake.runs;
          assert.ok(job);
          assert.equal(recorded.tags["mlflow.project.backend"], "databricks");
          assert.equal(recorded.tags["mlflow.databricks.runURL"], job.run_page_url);
          assert.equal(recorded.tags["mlflow.databricks.shellJobRunID"], String(job.run_id));
          assert.equal(recorded.tags["mlflow.databricks.shellJobID"], String(job.job_id));
          assert.equal(recorded.tags["mlflow.databricks.webappURL"], fake.url);
          assert.equal(recorded.params.alpha, "0.5");

          // Upload: get-status, then one put of MLflow's content-addressed path.
          const [path] = fake.dbfsPaths();
          firstPath = path!;
          assert.match(
            path!,
            new RegExp(
              `^/mlflow-experiments/${recorded.experimentId}/projects-code/[0-9a-f]{64}\\.tar\\.gz$`,
            ),
          );
          const sha = path!.slice(path!.lastIndexOf("/") + 1, -".tar.gz".length);
          const digest = new Uint8Array(
            await crypto.subtle.digest("SHA-256", fake.dbfsFile(path!)! as Uint8Array<ArrayBuffer>),
          );
          assert.equal([...digest].map((b) => b.toString(16).padStart(2, "0")).join(""), sha);
          assert.equal(fake.count("/api/2.0/dbfs/get-status"), 1);
          assert.equal(fake.count("/api/2.0/dbfs/put"), 1);

          // The submit payload.
          const payload = job.payload as {
            run_name: string;
            new_cluster: unknown;
            libraries: unknown[];
            shell_command_task: { command: string[]; env_vars: Record<string, string> };
          };
          assert.equal(payload.run_name, `MLflow Run for ${w.dir}/proj`);
          assert.deepEqual(payload.new_cluster, SPEC);
          assert.deepEqual(payload.libraries, [
            { pypi: { package: "scikit-learn" } },
            { pypi: { package: `mlflow==${DEFAULT_CLUSTER_MLFLOW_VERSION}` } },
          ]);
          assert.deepEqual(payload.shell_command_task.env_vars, {
            MLFLOW_TRACKING_URI: "databricks",
            MLFLOW_EXPERIMENT_ID: recorded.experimentId,
          });
          const [bash, flag, script] = payload.shell_command_task.command;
          assert.deepEqual([bash, flag], ["bash", "-c"]);
          assert.ok(
            script!.endsWith(
              `mlflow run /databricks/mlflow/projects/${sha} --entry-point main -c '{"_mlflow_local_backend_run_id": "${submitted.runId}"}' -P alpha=0.5 -P 'note=it'"'"'s a $HOME'`,
            ),
            script,
          );

          // MLflow's lines and a line per state.
          const text = reporter.lines.join("\n");
          assert.match(
            text,
            new RegExp(
              `Launched MLflow run as Databricks job run with ID ${job.run_id}\\. Getting run status page URL\\.\\.\\.`,
            ),
          );
          assert.match(
            text,
            new RegExp(`Check the run's status at ${job.run_page_url.replace(/[?.]/g, "\\$&")}`),
          );
          assert.match(
            text,
            /job run \d+: PENDING[^]*job run \d+: RUNNING[^]*job run \d+: TERMINATED \(SUCCESS\)/,
          );
          assert.match(text, /state read every 0\.05 s at most/);
        },
      );

      await t.step("the same project again: 0 uploads", async () => {
        const puts = fake.count("/api/2.0/dbfs/put");
        const reporter = capture();
        const submitted = await run(`${w.dir}/proj`, { ...runOptions(w), reporter });
        assert.equal(await submitted.getStatus(), "FINISHED");
        assert.equal(fake.count("/api/2.0/dbfs/put"), puts);
        assert.equal(fake.count("/api/2.0/dbfs/create"), 0);
        assert.deepEqual(fake.dbfsPaths(), [firstPath]);
        assert.ok(reporter.lines.includes("INFO === Project already exists in DBFS ==="));
        // The tarball cache (HOME's ~/.cache/mlproject) gave the sha256: nothing was archived.
        const sha = firstPath.slice(firstPath.lastIndexOf("/") + 1, -".tar.gz".length);
        assert.ok(
          reporter.lines.includes(`INFO === Project unchanged since its last tarball (${sha}) ===`),
        );
        // The bare cluster spec goes out without mlproject's own key.
        assert.deepEqual(fake.runs.at(-1)!.payload.new_cluster, SPEC);
      });

      await t.step("a project over 1 MB is streamed in 1 MB blocks with progress", async () => {
        // Random bytes do not compress: the tarball is over 2 MB, so 3 blocks.
        const blob = new Uint8Array(2_600_000);
        for (let off = 0; off < blob.length; off += 65536) {
          crypto.getRandomValues(blob.subarray(off, off + 65536));
        }
        await writeFiles(w.dir, { "bigproj/MLproject": MLPROJECT });
        await Deno.writeFile(`${w.dir}/bigproj/data.bin`, blob);
        const reporter = capture();
        const submitted = await run(`${w.dir}/bigproj`, { ...runOptions(w), reporter });
        assert.equal(await submitted.getStatus(), "FINISHED");
        assert.equal(fake.count("/api/2.0/dbfs/create"), 1);
        assert.equal(fake.count("/api/2.0/dbfs/add-block"), 3);
        assert.equal(fake.count("/api/2.0/dbfs/close"), 1);
        const progress = reporter.lines.filter((l) =>
          /=== Uploaded [\d.]+ of [\d.]+ MB ===/.test(l)
        );
        assert.equal(progress.length, 3);
        const stored = fake.dbfsPaths().find((p) => p !== firstPath)!;
        assert.ok(fake.dbfsFile(stored)!.length > 2 * 1024 * 1024);
      });

      await t.step(
        "an unexpected get-status answer: MLflow's message, no job, run FAILED",
        async () => {
          const jobs = fake.runs.length;
          fake.addFault({ path: "/dbfs/get-status", status: 400 });
          await assert.rejects(
            run(`${w.dir}/proj`, { ...runOptions(w), reporter: capture() }),
            (e: Error) => {
              assert.match(
                e.message,
                /^Got unexpected error response when checking whether file mlflow-experiments\/\d+\/projects-code\/[0-9a-f]{64}\.tar\.gz exists in DBFS: \{"error_code":"INTERNAL_ERROR"/,
              );
              return true;
            },
          );
          assert.equal(fake.runs.length, jobs);
          const [latest] = await server.runs([
            String(
              ((await server.api(
                `experiments/get-by-name?experiment_name=${encodeURIComponent(EXPERIMENT)}`,
              )) as { experiment: { experiment_id: string } }).experiment.experiment_id,
            ),
          ]);
          assert.equal(latest?.info.status, "FAILED");
        },
      );

      await t.step("a failed job fails the run with its state_message", async () => {
        w.setScript(failedScript("Run failed with error message: exit code 3"));
        const reporter = capture();
        let runId = "";
        await assert.rejects(
          run(`${w.dir}/proj`, { ...runOptions(w), reporter }).catch((e) => {
            runId = /Run \(ID '([0-9a-f]+)'\) failed/.exec(e.message)?.[1] ?? "";
            throw e;
          }),
          (e: unknown) =>
            e instanceof ExecutionException && /^Run \(ID '[0-9a-f]+'\) failed$/.test(e.message),
        );
        assert.equal((await serverRun(server, runId)).status, "FAILED");
        assert.ok(
          reporter.lines.some((l) =>
            l.startsWith("ERROR") &&
            l.includes("FAILED: Run failed with error message: exit code 3")
          ),
          reporter.lines.join("\n"),
        );
      });

      await t.step(
        "a terminal state without a result fails instead of polling forever",
        async () => {
          w.setScript([
            { life_cycle_state: "PENDING" },
            { life_cycle_state: "INTERNAL_ERROR", state_message: "Cluster could not start" },
          ]);
          const reporter = capture();
          await assert.rejects(run(`${w.dir}/proj`, { ...runOptions(w), reporter }), /failed/);
          assert.ok(reporter.lines.some((l) => l.includes("Cluster could not start")));
        },
      );

      await t.step("429 and 5xx answers are retried; exactly one job is submitted", async () => {
        w.setScript(undefined);
        const jobs = fake.runs.length;
        fake.addFault({ path: "/dbfs/get-status", status: 503, times: 2 });
        fake.addFault({ path: "/jobs/runs/submit", status: 429, retryAfter: 0, times: 1 });
        fake.addFault({ path: "/jobs/runs/get", status: 500, times: 2 });
        fake.addFault({ path: "/mlflow/runs/create", status: 503, times: 1 });
        // The first submit is served but its answer lost: the resent one gets the same job.
        fake.addFault({ path: "/jobs/runs/submit", dropAnswer: true, times: 1 });
        const reporter = capture();
        const submitted = await run(`${w.dir}/proj`, { ...runOptions(w), reporter });
        assert.equal(await submitted.getStatus(), "FINISHED");
        assert.equal(fake.runs.length, jobs + 1);
        assert.equal(fake.runs.at(-1)!.payload.idempotency_token, submitted.runId);
        assert.ok(fake.count("/jobs/runs/submit") >= 3);
        assert.equal(fake.faults.filter((f) => (f.times ?? 0) > 0).length, 0);
        assert.ok(
          reporter.lines.filter((l) => l.startsWith("WARNING") && /Retrying/.test(l)).length >= 5,
        );
      });

      await t.step(
        "the job is still followed when the workspace stops answering for a while",
        async () => {
          w.setScript(undefined);
          const reporter = capture();
          const submitted = await run(`${w.dir}/proj`, {
            ...runOptions(w),
            env: { ...w.env, MLFLOW_HTTP_REQUEST_MAX_RETRIES: "0" },
            reporter,
            synchronous: false,
          });
          fake.addFault({ path: "/jobs/runs/get", status: 503, times: 3 });
          assert.equal(await submitted.wait(), true);
          assert.equal(await submitted.getStatus(), "FINISHED");
          assert.equal(
            reporter.lines.filter((l) =>
              l.includes("Could not read the state of Databricks job run")
            )
              .length,
            3,
          );
        },
      );

      await t.step("cancel() cancels the job, waits for its end and records KILLED", async () => {
        w.setScript([
          { life_cycle_state: "PENDING" },
          { life_cycle_state: "RUNNING", polls: 1_000_000 },
        ]);
        const submitted = await run(`${w.dir}/proj`, {
          ...runOptions(w),
          reporter: capture(),
          synchronous: false,
        });
        // Async: the job exists and is being followed.
        assert.equal(await submitted.getStatus(), "RUNNING");
        const job = fake.runs.at(-1)!;
        await submitted.cancel();
        assert.equal(await submitted.getStatus(), "KILLED");
        assert.equal(job.cancels, 1);
        assert.match(job.history.at(-1)!, /^TERMINATED\/CANCELED/);
        assert.equal((await serverRun(server, submitted.runId)).status, "KILLED");
      });

      await t.step("existing_cluster_id: the job runs on that cluster", async () => {
        w.setScript(undefined);
        const submitted = await run(`${w.dir}/proj`, {
          ...runOptions(w, {
            backendConfig: { existing_cluster_id: "0923-164208-meows279", ...FAST },
          }),
          reporter: capture(),
        });
        assert.equal(await submitted.getStatus(), "FINISHED");
        const payload = fake.runs.at(-1)!.payload;
        assert.equal(payload.existing_cluster_id, "0923-164208-meows279");
        assert.equal("new_cluster" in payload, false);
      });

      await t.step("OAuth M2M for tracking and backend: one token request", async () => {
        clearOAuthTokenCache();
        const before = fake.requests.length;
        const { DATABRICKS_TOKEN: _token, ...env } = w.env;
        const submitted = await run(`${w.dir}/proj`, {
          ...runOptions(w),
          env: {
            ...env,
            DATABRICKS_CLIENT_ID: fake.oauth.clientId,
            DATABRICKS_CLIENT_SECRET: fake.oauth.clientSecret,
          },
          reporter: capture(),
        });
        assert.equal(await submitted.getStatus(), "FINISHED");
        const requests = fake.requests.slice(before);
        assert.equal(requests.filter((r) => r.path === "/oidc/v1/token").length, 1);
        const others = requests.filter((r) => r.path !== "/oidc/v1/token");
        assert.ok(others.some((r) => r.path.startsWith("/api/2.0/mlflow/")));
        assert.ok(others.some((r) => r.path.startsWith("/api/2.0/jobs/")));
        assert.deepEqual([...new Set(others.map((r) => r.auth))], ["oauth"]);

        // A token the workspace no longer accepts (403) is replaced once, then reused.
        fake.expireTokens();
        const again = await run(`${w.dir}/proj`, {
          ...runOptions(w),
          env: {
            ...env,
            DATABRICKS_CLIENT_ID: fake.oauth.clientId,
            DATABRICKS_CLIENT_SECRET: fake.oauth.clientSecret,
          },
          reporter: capture(),
        });
        assert.equal(await again.getStatus(), "FINISHED");
        assert.equal(fake.requests.filter((r) => r.path === "/oidc/v1/token").length, 2);
      });
    }, t),
});
