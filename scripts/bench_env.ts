/**
 * Benchmark of environment cache hits (`deno run -A scripts/bench_env.ts`).
 *
 * Builds, once, the virtualenv of a project with dependencies (`six`, `iniconfig`: tiny wheels
 * in a local package index written by tests/_helpers/wheels.ts, so pip needs no network) in a
 * temporary `MLFLOW_ENV_ROOT`, then times, alternating in the same run:
 *
 * - `deno run -A main.ts run <project>` (a cache hit: the env is reused), and
 * - `deno run -A main.ts run <project> --env-manager local` (no environment at all),
 *
 * both with the entry point `true` and a warm SQLite store. It reports the medians, the overhead
 * of the cache hit (target ≤ 150 ms) and the ratio. It is a report: the target is shown, never
 * asserted; the exit code is 0 unless a measured command fails.
 *
 * Options: `--runs N` timed runs per variant (default 15).
 *
 * @module
 */
import { localPackageIndex } from "../tests/_helpers/wheels.ts";
import { printOut } from "../lib/system/output.ts";

const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const TARGET_OVERHEAD_MS = 150;

/** One line on stdout (the output module's writer). */
const out = (line = ""): void => printOut(line);

function runsOption(): number {
  const args = Deno.args;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const value = arg === "--runs" ? args[i + 1] : arg.startsWith("--runs=") ? arg.slice(7) : "";
    if (value === "") continue;
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1) throw new Error("--runs expects a positive integer");
    return n;
  }
  return 15;
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

const work = await Deno.makeTempDir({ prefix: "mlproject-bench-env-" });
await using index = await localPackageIndex();
try {
  const project = `${work}/project`;
  await Deno.mkdir(project);
  await Deno.writeTextFile(
    `${project}/MLproject`,
    "name: bench-env\npython_env: python_env.yaml\nentry_points:\n  main:\n    command: 'true'\n",
  );
  await Deno.writeTextFile(
    `${project}/python_env.yaml`,
    'python: "3"\nbuild_dependencies:\n  - pip\ndependencies:\n  - six\n  - -r requirements.txt\n',
  );
  await Deno.writeTextFile(`${project}/requirements.txt`, "iniconfig\n");
  const env: Record<string, string> = {
    ...Deno.env.toObject(),
    MLFLOW_ENV_ROOT: `${work}/envs`,
    MLFLOW_TRACKING_URI: `sqlite:///${work}/mlflow.db`,
    ...index.env,
  };

  const time = async (extra: string[], label: string): Promise<number> => {
    const started = performance.now();
    const result = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", `${ROOT}/main.ts`, "run", project, ...extra],
      cwd: work,
      env,
      clearEnv: true,
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).output();
    const ms = performance.now() - started;
    if (!result.success) {
      throw new Error(`${label} failed:\n${new TextDecoder().decode(result.stderr)}`);
    }
    return ms;
  };

  out("Environment cache-hit benchmark");
  const buildMs = await time([], "first run (builds the env)");
  out(`  first run, building the env (six, iniconfig): ${(buildMs / 1000).toFixed(1)} s`);
  await time(["--env-manager", "local"], "warm-up"); // warm the store and deno's cache

  const runs = runsOption();
  const hit: number[] = [];
  const local: number[] = [];
  for (let i = 0; i < runs; i++) {
    hit.push(await time([], "cache-hit run"));
    local.push(await time(["--env-manager", "local"], "local run"));
  }
  const hitMs = median(hit);
  const localMs = median(local);
  const overhead = hitMs - localMs;
  out(`  runs per variant:                  ${runs}`);
  out(`  median, --env-manager local:       ${localMs.toFixed(1)} ms`);
  out(`  median, virtualenv cache hit:      ${hitMs.toFixed(1)} ms`);
  out(
    `  cache-hit overhead:                ${
      overhead.toFixed(1)
    } ms (target ≤ ${TARGET_OVERHEAD_MS} ms: ${
      overhead <= TARGET_OVERHEAD_MS ? "met" : "NOT met"
    })`,
  );
  out(`  ratio cache hit / local:           ${(hitMs / localMs).toFixed(2)}`);
} finally {
  await Deno.remove(work, { recursive: true }).catch(() => {});
}
