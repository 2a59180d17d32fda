/**
 * `mlproject run` against a REAL `mlflow server` behind a fault-injecting proxy: whatever fails
 * (a refused or unreachable `runs/log-batch`, a garbled or lost `runs/create` answer, a terminal
 * status the server will not take, Ctrl-C while that status is retried), the server is left with
 * no run RUNNING that the runner gave up on, no duplicate run, and the exit code says whether the
 * run was recorded. The server is asked directly (not through the proxy) after each case.
 */
import assert from "node:assert/strict";
import { cleanEnv, runCli, tempDir, writeFiles } from "../../_helpers/cli.ts";
import { LiveCli } from "../../_helpers/cli_process.ts";
import { type FaultProxy, type FaultRule, startFaultProxy } from "../../_helpers/fault_proxy.ts";
import {
  type MlflowServer,
  type ServerRun,
  startMlflowServer,
} from "../../_helpers/mlflow_server.ts";
import { PINNED_MLFLOW_VERSIONS } from "../../_helpers/mlflow_venvs.ts";
import { compatMlflowTest } from "../_compat.ts";

/** Deno's own cache, kept when the tests move HOME and XDG_CACHE_HOME. */
const DENO_DIR = Deno.env.get("DENO_DIR") ||
  `${Deno.env.get("XDG_CACHE_HOME") || `${Deno.env.get("HOME")}/.cache`}/deno`;

const MLPROJECT = `name: faults
entry_points:
  main:
    parameters:
      alpha: {type: float, default: 0.5}
    command: "echo alpha={alpha}"
`;

interface Case {
  name: string;
  rules: FaultRule[];
  /** Exit code expected. */
  code: number;
  /** Statuses of the experiment's runs, sorted (one entry per run: no duplicate). */
  statuses: string[];
  /** stderr must match. */
  stderr?: RegExp;
  /** Extra environment of the runner. */
  env?: Record<string, string>;
  /** Leave the experiment for the runner to create (default: created first). */
  newExperiment?: boolean;
  /** Depends on how the server searches runs: tried on every version (else oldest and newest). */
  everyVersion?: boolean;
}

const CASES: Case[] = [
  {
    name: "a 400 on the first runs/log-batch ends the run FAILED and exits 1",
    rules: [{ path: "runs/log-batch", status: 400 }],
    code: 1,
    statuses: ["FAILED"],
  },
  {
    name: "503s on runs/log-batch until the retries run out end the run FAILED and exit 1",
    rules: [{ path: "runs/log-batch", status: 503, times: Infinity }],
    code: 1,
    statuses: ["FAILED"],
  },
  {
    name: "a garbled runs/create answer: the created run is found and used, once",
    rules: [{ path: "runs/create", garble: true }],
    code: 0,
    statuses: ["FINISHED"],
    everyVersion: true,
  },
  {
    name: "a lost runs/create answer: the created run is found and used, not created twice",
    rules: [{ path: "runs/create", drop: true }],
    code: 0,
    statuses: ["FINISHED"],
    everyVersion: true,
  },
  {
    name: "a 503 after the server created the run: the run is found and used, once",
    rules: [{ path: "runs/create", status: 503, afterUpstream: true, times: 2 }],
    code: 0,
    statuses: ["FINISHED"],
    everyVersion: true,
  },
  {
    name: "503s on runs/create that never reach the server: no run, exit 1",
    rules: [{ path: "runs/create", status: 503, times: Infinity }],
    code: 1,
    statuses: [],
  },
  {
    name: "a lost runs/create answer and no runs/search either: exit 1, saying a run may be left",
    rules: [
      { path: "runs/create", drop: true },
      { path: "runs/search", status: 503, times: Infinity },
    ],
    code: 1,
    statuses: ["RUNNING"],
    stderr: /may be left RUNNING in experiment/,
  },
  {
    name: "a lost experiments/create answer: the experiment it created is used",
    rules: [{ path: "experiments/create", drop: true }],
    newExperiment: true,
    code: 0,
    statuses: ["FINISHED"],
    everyVersion: true,
  },
  {
    name: "an entry point that cannot be started (no bash on PATH) ends the run FAILED, exit 1",
    rules: [],
    env: { PATH: "/nonexistent" },
    code: 1,
    statuses: ["FAILED"],
    stderr: /Cannot start 'bash'/,
  },
  {
    name: "a terminal status the server refuses exits 1",
    rules: [{ path: "runs/update", status: 400 }],
    code: 1,
    statuses: ["RUNNING"],
    stderr: /Could not record status FINISHED of run '[0-9a-f]{32}'/,
  },
];

function env(dir: string, proxy: FaultProxy): Record<string, string> {
  return cleanEnv({
    DENO_DIR,
    HOME: dir,
    XDG_CACHE_HOME: `${dir}/cache`,
    MLFLOW_TRACKING_URI: proxy.url,
    MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR: "0.001",
    MLFLOW_HTTP_REQUEST_BACKOFF_JITTER: "0",
    MLFLOW_HTTP_REQUEST_MAX_RETRIES: "2",
  });
}

async function experimentRuns(server: MlflowServer, name: string): Promise<ServerRun[]> {
  const body = await server.api(
    `experiments/get-by-name?experiment_name=${encodeURIComponent(name)}`,
  );
  const id = String((body.experiment as Record<string, unknown>).experiment_id);
  return await server.runs([id]);
}

const OLDEST = PINNED_MLFLOW_VERSIONS[0];
const NEWEST = PINNED_MLFLOW_VERSIONS.at(-1);

for (const version of PINNED_MLFLOW_VERSIONS) {
  compatMlflowTest(
    `mlflow ${version} server behind a faulty proxy: no run left RUNNING, no duplicate, the right exit code`,
    [version],
    async (t, venv) => {
      await using tmp = await tempDir();
      await writeFiles(tmp.path, {
        "proj/MLproject": MLPROJECT,
        "slow/MLproject": "entry_points:\n  main:\n    command: 'sleep 60'\n",
      });
      await Deno.mkdir(`${tmp.path}/server`);
      await using server = await startMlflowServer(venv, `${tmp.path}/server`);
      await using proxy = await startFaultProxy(server.url);

      // Faults that do not depend on the server's version run against the oldest and newest only.
      const full = version === OLDEST || version === NEWEST;
      for (const [i, c] of CASES.entries()) {
        await t.step({
          name: c.name,
          ignore: !full && !c.everyVersion,
          fn: async () => {
            proxy.clearRules();
            const experiment = `case-${i}`;
            // The experiment exists first, so each case's faults hit the run's own requests.
            if (!c.newExperiment) await server.api("experiments/create", { name: experiment });
            for (const rule of c.rules) proxy.addRule(rule);
            const result = await runCli(
              [
                "run",
                `${tmp.path}/proj`,
                "--env-manager",
                "local",
                "--experiment-name",
                experiment,
              ],
              { cwd: tmp.path, env: { ...env(tmp.path, proxy), ...c.env } },
            );
            proxy.clearRules();
            const runs = await experimentRuns(server, experiment);
            const detail = `${result.stderr}\nserver runs: ${
              JSON.stringify(runs.map((r) => r.info))
            }`;
            assert.equal(result.code, c.code, detail);
            assert.deepEqual(runs.map((r) => r.info.status).sort(), c.statuses, detail);
            if (c.stderr !== undefined) assert.match(result.stderr, c.stderr);
            assert.ok(!/unexpected failure| at .*\.ts:\d+/.test(result.stderr), result.stderr);
            if (c.code === 0) {
              const params = runs[0]!.data.params ?? [];
              assert.deepEqual(params.map((p) => [p.key, p.value]), [["alpha", "0.5"]]);
            }
          },
        });
      }

      await t.step({
        name: "Ctrl-C while the params are being logged ends the run KILLED, exit 130",
        ignore: !full,
        fn: async () => {
          proxy.clearRules();
          const experiment = "case-sigint-params";
          await server.api("experiments/create", { name: experiment });
          proxy.addRule({ path: "runs/log-batch", delayMs: 60_000 });
          const arrived = proxy.arrival("runs/log-batch");
          await using cli = new LiveCli(
            ["run", `${tmp.path}/proj`, "--env-manager", "local", "--experiment-name", experiment],
            { cwd: tmp.path, env: env(tmp.path, proxy) },
          );
          await arrived;
          cli.kill("SIGINT");
          const result = await cli.result();
          proxy.clearRules();
          assert.equal(result.code, 130, result.stderr);
          const runs = await experimentRuns(server, experiment);
          assert.deepEqual(runs.map((r) => r.info.status), ["KILLED"], result.stderr);
        },
      });

      await t.step({
        name: "a second Ctrl-C stops the retrying of KILLED: exit 130, not recorded",
        ignore: !full,
        fn: async () => {
          proxy.clearRules();
          const experiment = "case-sigint-twice";
          await server.api("experiments/create", { name: experiment });
          proxy.addRule({ path: "runs/update", status: 503, times: Infinity });
          await using cli = new LiveCli(
            ["run", `${tmp.path}/slow`, "--env-manager", "local", "--experiment-name", experiment],
            {
              cwd: tmp.path,
              env: { ...env(tmp.path, proxy), MLFLOW_HTTP_REQUEST_MAX_RETRIES: "0" },
            },
          );
          await cli.waitFor(/Running command/);
          cli.kill("SIGINT");
          await cli.waitFor(/Could not record status KILLED of run '[0-9a-f]{32}' yet/);
          cli.kill("SIGINT");
          const result = await cli.result();
          proxy.clearRules();
          assert.equal(result.code, 130, result.stderr);
          assert.match(result.stderr, /status KILLED of run '[0-9a-f]{32}' was not recorded/);
        },
      });

      await t.step({
        name: "Ctrl-C while FINISHED is retried exits 130 and says it was not recorded",
        ignore: !full,
        fn: async () => {
          proxy.clearRules();
          const experiment = "case-sigint";
          await server.api("experiments/create", { name: experiment });
          proxy.addRule({ path: "runs/update", status: 503, times: Infinity });
          await using cli = new LiveCli(
            ["run", `${tmp.path}/proj`, "--env-manager", "local", "--experiment-name", experiment],
            {
              cwd: tmp.path,
              env: { ...env(tmp.path, proxy), MLFLOW_HTTP_REQUEST_MAX_RETRIES: "0" },
            },
          );
          await cli.waitFor(/Could not record status FINISHED of run '[0-9a-f]{32}' yet/);
          cli.kill("SIGINT");
          const result = await cli.result();
          proxy.clearRules();
          assert.equal(result.code, 130, result.stderr);
          assert.equal(result.signal, null);
          assert.match(result.stderr, /status FINISHED of run '[0-9a-f]{32}' was not recorded/);
          assert.doesNotMatch(result.stderr, /succeeded/);
          const runs = await experimentRuns(server, experiment);
          assert.equal(runs.length, 1);
        },
      });
    },
  );
}
