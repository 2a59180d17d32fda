/**
 * REST tracking benchmark: requests per run and wall time of a run's tracking calls against the
 * fake MLflow server with 20 ms latency per request, with ratios against baselines measured in
 * the same process:
 * - MLflow's runner: its 8 requests for a run in an existing experiment (get-by-name,
 *   runs/create, log-batch, set-tag, runs/get ×3, runs/update, from the 2.17 transcript),
 *   replayed against the same fake;
 * - the same tracking calls against a local SQLite store;
 * and the whole `mlproject run` (CLI subprocess, `true` as the entry point) against the fake and
 * against SQLite.
 *
 * Usage: deno run -A scripts/bench_rest.ts [--runs N]
 */
import { openRestStore } from "../lib/tracking/rest_store.ts";
import { SqliteStore } from "../lib/tracking/sqlite_store.ts";
import type { TrackingStore } from "../lib/tracking/tracking_store.ts";
import { startFakeMlflowServer } from "../tests/fakes/fake_mlflow_server.ts";

const LATENCY_MS = 20;
const runsArg = Deno.args.indexOf("--runs");
const N = runsArg >= 0 ? Number(Deno.args[runsArg + 1]) : 10;
const MAIN = new URL("../main.ts", import.meta.url).pathname;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

const PARAMS: [string, string][] = [["alpha", "0.5"], ["name", "it's a b"], ["count", "3"]];
const TAGS: [string, string][] = [
  ["mlflow.user", "bench"],
  ["mlflow.source.name", "/bench/project"],
  ["mlflow.source.type", "PROJECT"],
  ["mlflow.project.entryPoint", "main"],
  ["mlflow.project.backend", "local"],
];

/** The runner's tracking calls for one run: experiment → run + params → terminal status. */
async function trackedRun(store: TrackingStore, experiment: string): Promise<void> {
  const exp = await store.findExperiment({ name: experiment });
  const id = exp?.experimentId ?? await store.createExperiment(experiment);
  const run = await store.createRun({
    experimentId: id,
    userId: "bench",
    startTime: Date.now(),
    runName: "bench-run",
    tags: TAGS,
    params: PARAMS,
  });
  await store.endRun(run.runId, "FINISHED", Date.now());
}

const tmp = await Deno.makeTempDir({ prefix: "mlproject-bench-rest-" });
await using server = await startFakeMlflowServer({ latencyMs: LATENCY_MS });
server.seedExperiment("bench");
const DENO_DIR = Deno.env.get("DENO_DIR") ||
  `${Deno.env.get("XDG_CACHE_HOME") || `${Deno.env.get("HOME")}/.cache`}/deno`;
const env = { HOME: tmp, XDG_CACHE_HOME: `${tmp}/cache`, DENO_DIR };

// mlproject's REST store.
const ours: number[] = [];
const counts: number[] = [];
let coldCount = 0;
for (let i = 0; i <= N; i++) {
  const store = openRestStore(server.url, { env });
  const t0 = performance.now();
  await trackedRun(store, "bench");
  const dt = performance.now() - t0;
  store.close();
  if (i === 0) coldCount = store.requestCount; // first run: experiment lookup, then cached
  else {
    ours.push(dt);
    counts.push(store.requestCount);
  }
}

// MLflow's runner: the 8 requests of the transcript (existing experiment), in order.
async function mlflowRunner(): Promise<number> {
  const h = { "content-type": "application/json" };
  const call = async (method: string, path: string, body?: unknown) => {
    const r = await fetch(server.url + path, {
      method,
      headers: h,
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const out = await r.json();
    return out;
  };
  const t0 = performance.now();
  const exp = await call("GET", "/api/2.0/mlflow/experiments/get-by-name?experiment_name=bench");
  const created = await call("POST", "/api/2.0/mlflow/runs/create", {
    experiment_id: exp.experiment.experiment_id,
    user_id: "bench",
    start_time: Date.now(),
    tags: TAGS.slice(0, 4).map(([key, value]) => ({ key, value })),
  });
  const runId = created.run.info.run_id;
  const q = `?run_uuid=${runId}&run_id=${runId}`;
  await call("POST", "/api/2.0/mlflow/runs/log-batch", {
    run_id: runId,
    params: PARAMS.map(([key, value]) => ({ key, value })),
  });
  await call("POST", "/api/2.0/mlflow/runs/set-tag", {
    run_uuid: runId,
    run_id: runId,
    key: "mlflow.project.backend",
    value: "local",
  });
  await call("GET", `/api/2.0/mlflow/runs/get${q}`);
  await call("GET", `/api/2.0/mlflow/runs/get${q}`);
  await call("GET", `/api/2.0/mlflow/runs/get${q}`);
  await call("POST", "/api/2.0/mlflow/runs/update", {
    run_uuid: runId,
    run_id: runId,
    status: "FINISHED",
    end_time: Date.now(),
  });
  return performance.now() - t0;
}
const mlflow: number[] = [];
const before = server.requests.length;
for (let i = 0; i < N; i++) mlflow.push(await mlflowRunner());
const mlflowCount = (server.requests.length - before) / N;

// Local SQLite store, same calls.
const sqlite: number[] = [];
{
  const store = await SqliteStore.open(`${tmp}/mlflow.db`);
  await store.createExperiment("bench");
  for (let i = 0; i < N; i++) {
    const t0 = performance.now();
    await trackedRun(store, "bench");
    sqlite.push(performance.now() - t0);
  }
  store.close();
}

// Whole CLI runs.
await Deno.mkdir(`${tmp}/proj`);
await Deno.writeTextFile(
  `${tmp}/proj/MLproject`,
  'name: bench\nentry_points:\n  main:\n    parameters:\n      alpha: {type: float, default: 0.5}\n    command: "true"\n',
);
async function cli(uri: string): Promise<number> {
  const t0 = performance.now();
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--quiet",
      MAIN,
      "run",
      `${tmp}/proj`,
      "--env-manager",
      "local",
      "--experiment-name",
      "bench",
    ],
    cwd: tmp,
    env: { ...env, MLFLOW_TRACKING_URI: uri, PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin" },
    clearEnv: true,
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
  return performance.now() - t0;
}
const cliN = Math.max(3, Math.ceil(N / 2));
await cli(server.url); // warm the experiment cache and Deno's module cache
const cliRest: number[] = [];
const cliSqlite: number[] = [];
for (let i = 0; i < cliN; i++) {
  cliRest.push(await cli(server.url));
  cliSqlite.push(await cli(`sqlite:///${tmp}/cli.db`));
}
await Deno.remove(tmp, { recursive: true });

const fmt = (ms: number) => `${ms.toFixed(1)} ms`;
const rows = [
  ["requests per run, mlproject (experiment by name, cached)", `${median(counts)}`],
  ["requests per run, mlproject (first run: name looked up)", `${coldCount}`],
  ["requests per run, MLflow's runner (transcript replayed)", `${mlflowCount}`],
  ["request ratio mlproject / MLflow", (median(counts) / mlflowCount).toFixed(2)],
  [`tracking wall time, mlproject REST (${LATENCY_MS} ms latency)`, fmt(median(ours))],
  [`tracking wall time, MLflow's 8 requests (${LATENCY_MS} ms latency)`, fmt(median(mlflow))],
  ["tracking wall time, local SQLite store", fmt(median(sqlite))],
  ["ratio mlproject REST / MLflow replay", (median(ours) / median(mlflow)).toFixed(2)],
  ["ratio mlproject REST / SQLite", (median(ours) / median(sqlite)).toFixed(1)],
  [`CLI run wall time, REST (${LATENCY_MS} ms latency)`, fmt(median(cliRest))],
  ["CLI run wall time, SQLite", fmt(median(cliSqlite))],
  ["ratio CLI REST / CLI SQLite", (median(cliRest) / median(cliSqlite)).toFixed(2)],
];
const width = Math.max(...rows.map((r) => r[0]!.length));
for (const [k, v] of rows) {
  // deno-lint-ignore no-console
  console.log(`${k!.padEnd(width)}  ${v}`);
}
const ok = median(counts) <= 4;
// deno-lint-ignore no-console
console.log(
  ok ? "target met: <= 4 requests per run" : "TARGET MISSED: more than 4 requests per run",
);
if (!ok) Deno.exitCode = 1;
