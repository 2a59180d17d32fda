/**
 * Databricks backend benchmark against the fake workspace (tests/_helpers/fake_databricks.ts),
 * whose MLflow API is the fake MLflow server: requests per run from the first call to the job's
 * terminal state (by kind: tracking, DBFS, Jobs), with the default polling (1 s, 2 s, 4 s … up to
 * 30 s), and a second run of the same project (0 uploads). The fake job goes PENDING → RUNNING →
 * TERMINATED, one state per `runs/get`; the table after it counts `runs/get` calls for longer jobs
 * (ours: the backoff schedule; MLflow's `wait()`: one every 30 s). Then a ~20 MB project (half
 * random bytes, half text) run twice: the first run archives and uploads it, the second takes the
 * sha256 from the tarball cache (no archive, 0 uploads).
 *
 * Usage: deno run -A scripts/bench_databricks.ts
 */
import { run } from "../lib/run/run.ts";
import { printOut } from "../lib/system/output.ts";
import { DEFAULT_POLL_INTERVAL_SECONDS } from "../lib/databricks/backend_config.ts";
import { startFakeDatabricks } from "../tests/_helpers/fake_databricks.ts";
import { startFakeMlflowServer } from "../tests/fakes/fake_mlflow_server.ts";

const tmp = await Deno.makeTempDir({ prefix: "mlproject-bench-databricks-" });
await using mlflow = await startFakeMlflowServer();
await using fake = await startFakeDatabricks({ mlflowUrl: mlflow.url });
await Deno.mkdir(`${tmp}/proj`);
await Deno.writeTextFile(
  `${tmp}/proj/MLproject`,
  "name: bench\nentry_points:\n  main:\n    parameters:\n      alpha: {type: float, default: 0.1}\n    command: 'python train.py {alpha}'\n",
);
await Deno.writeTextFile(`${tmp}/proj/train.py`, "print('train')\n");

const env = {
  HOME: tmp,
  PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
  DATABRICKS_HOST: fake.url,
  DATABRICKS_TOKEN: fake.token,
  MLPROJECT_EXPERIMENT_CACHE: "0",
};

interface Measured {
  ms: number;
  /** From the call to the submit request: checks, tarball (or cache) and upload. */
  toSubmitMs: number;
  tracking: number;
  dbfs: number;
  uploads: number;
  jobs: number;
  polls: number;
}

async function oneRun(project = `${tmp}/proj`): Promise<Measured> {
  const before = fake.requests.length;
  const t0 = performance.now();
  let toSubmitMs = NaN;
  const reporter = {
    log(_level: string, message: string): void {
      if (message.startsWith("=== Submitting a run")) toSubmitMs = performance.now() - t0;
    },
  };
  const submitted = await run(project, {
    backend: "databricks",
    backendConfig: { spark_version: "15.4.x-scala2.12", num_workers: 1 },
    trackingUri: "databricks",
    experimentName: "/Users/bench@example.com/databricks",
    parameters: { alpha: 0.5 },
    env,
    cwd: tmp,
    reporter,
  });
  const ms = performance.now() - t0;
  if (await submitted.getStatus() !== "FINISHED") throw new Error("the bench run did not finish");
  const requests = fake.requests.slice(before);
  const count = (re: RegExp) => requests.filter((r) => re.test(r.path)).length;
  return {
    ms,
    toSubmitMs,
    tracking: count(/^\/api\/2\.0\/mlflow\//),
    dbfs: count(/^\/api\/2\.0\/dbfs\//),
    uploads: count(/^\/api\/2\.0\/dbfs\/(put|create|add-block|close)$/),
    jobs: count(/^\/api\/2\.\d\/jobs\//),
    polls: count(/^\/api\/2\.\d\/jobs\/runs\/get$/),
  };
}

const first = await oneRun();
const second = await oneRun();
const line = (label: string, m: Measured) =>
  `${label.padEnd(28)} ${
    String(m.tracking + m.dbfs + m.jobs).padStart(3)
  } requests (tracking ${m.tracking}, DBFS ${m.dbfs} of which uploads ${m.uploads}, jobs ${m.jobs} of which runs/get ${m.polls})  ${
    (m.ms / 1000).toFixed(1)
  } s, to submit ${(m.toSubmitMs / 1000).toFixed(2)} s`;
printOut(
  `Databricks backend (fake workspace; job PENDING → RUNNING → TERMINATED, one state per runs/get; poll interval ${DEFAULT_POLL_INTERVAL_SECONDS} s max, first reads after 1 s, 2 s, 4 s …)`,
);
printOut(line("run 1 (new project)", first));
printOut(line("run 2 (same project)", second));

// A ~20 MB project: 10 MB random bytes (incompressible), 10 MB text.
await Deno.mkdir(`${tmp}/big`);
await Deno.copyFile(`${tmp}/proj/MLproject`, `${tmp}/big/MLproject`);
const random = new Uint8Array(10 * 1024 * 1024);
for (let at = 0; at < random.length; at += 65536) {
  crypto.getRandomValues(random.subarray(at, at + 65536));
}
await Deno.writeFile(`${tmp}/big/data.bin`, random);
let seed = 7;
const words: string[] = [];
for (let size = 0; size < 10 * 1024 * 1024; size += words.at(-1)!.length) {
  seed = (seed * 1103515245 + 12345) % 2 ** 31;
  words.push(`tok${seed % 5000} `);
}
await Deno.writeTextFile(`${tmp}/big/corpus.txt`, words.join(""));
const bigFirst = await oneRun(`${tmp}/big`);
const bigSecond = await oneRun(`${tmp}/big`);
printOut(line("20 MB project, run 1", bigFirst));
printOut(line("20 MB project, run 2", bigSecond));

// runs/get calls while a job runs for T seconds (the job's state never changes meanwhile).
function ourPolls(seconds: number): number {
  let t = 0;
  let delay = 1;
  let polls = 1; // the read right after submit (run page URL)
  while (t < seconds) {
    t += delay;
    polls++;
    delay = Math.min(DEFAULT_POLL_INTERVAL_SECONDS, delay * 2);
  }
  return polls;
}
const mlflowPolls = (seconds: number) => 1 + Math.ceil(seconds / 30);
printOut(
  "runs/get while a job stays in one state (mlproject sees a short job end within 1-2 s, MLflow after up to 30 s)",
);
printOut("  job length                     mlproject   MLflow wait() (every 30 s)");
for (const seconds of [10, 60, 600, 3600]) {
  const label = seconds < 60 ? `${seconds} s` : `${seconds / 60} min`;
  printOut(
    `  ${label.padEnd(28)} ${String(ourPolls(seconds)).padStart(9)}   ${
      String(mlflowPolls(seconds)).padStart(9)
    }`,
  );
}
await Deno.remove(tmp, { recursive: true });
