/**
 * Benchmark report for the `mlproject` CLI (`deno task bench`).
 *
 * Measures, in one run and against baselines measured in the same run:
 *
 * 1. runner overhead: the runner's own work, i.e. the wall time of `deno run -A dist/cli/main.js
 *    run scripts/bench_project --env-manager local` (entry point `true`; the bundled CLI that the
 *    binaries and the JSR package run, rebuilt by `deno task bundle` first) minus that of
 *    `deno run -A` of an empty script minus that of `bash -c 'true'`, with a warm SQLite store;
 *    the same from the sources (`main.ts`), also with a file store; and where that time goes: the
 *    median of each phase between the runner's `MLPROJECT_TIMING=1` marks
 *    (`lib/system/timing.ts`), taken from the timed SQLite runs, sources and bundle side by side;
 * 2. `--help` and `run --help` against `deno run -A` of an empty script;
 * 3. peak RSS (`VmHWM`) of the runner process while its entry point sleeps 2 s, against a
 *    `deno run -A` script that only sleeps 2 s;
 * 4. the first run into a NEW default database (a fresh directory, no `MLFLOW_TRACKING_URI`, the
 *    newest MLflow 3.x test venv first on `PATH`, so mlproject creates `mlflow.db` at that MLflow's
 *    schema) against a run into an existing default database (same venv, same directory each time);
 * 5. detecting the MLflow of a real venv from its metadata (`detectMlflow`): in this process
 *    uncached and cached, and as the first call of a fresh `deno` process, against asking Python
 *    (`python -c 'import importlib.metadata …'`). The venv is the first of
 *    `$MLPROJECT_TEST_MLFLOW_VENVS` (default `~/.cache/mlproject/test-mlflow/*`), else one made with
 *    `python3 -m venv` holding a hand-made `mlflow` dist-info.
 *
 * It is a report: targets are shown next to the numbers, never asserted. The exit code is 0
 * unless a measured command fails (or the benchmark itself crashes).
 *
 * Options: `--runs N` timed runs per variant (default 15), `--rss-runs N` memory runs per
 * variant (default 3), `--only-detection` runs part 5 alone.
 *
 * @module
 */
import { cpus } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { printOut } from "../lib/system/output.ts";
import { childMemoryKiB } from "../tests/_helpers/processes.ts";

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
const PROJECT = "scripts/bench_project";
/** The bundled CLI `deno task bundle` writes (rebuilt by the bench, so it matches the source). */
const BUNDLE_MAIN = "dist/cli/main.js";
/** The flags `deno task demo` / `deno task bench` use; every deno invocation here gets them. */
const DENO_RUN = ["run", "-A"];

/** Target of the runner's own work: run − empty deno script − `bash -c` (median, ms). */
const TARGET_OVERHEAD_MS = 30;
/** Target of `--help` over the empty deno script (median, ms). */
const TARGET_HELP_MS = 10;
const TARGET_RSS_MIB = 60;
const TARGET_DETECT_MS = 3;
const TARGET_NEW_DB_MS = 10;
const SAMPLE_EVERY_MS = 50;

/** One line on stdout (the output module's writer). */
const out = (line = ""): void => printOut(line);

function intOption(name: string, fallback: number): number {
  const args = Deno.args;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    let value: string | undefined;
    if (arg === name) value = args[i + 1];
    else if (arg.startsWith(`${name}=`)) value = arg.slice(name.length + 1);
    else continue;
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1) throw new Error(`${name} expects a positive integer`);
    return n;
  }
  return fallback;
}

// ---------------------------------------------------------------------------------------------
// Child processes: every one is tracked so that none outlives the benchmark.

const live = new Set<Deno.ChildProcess>();

interface Spec {
  label: string;
  cmd: string;
  args: string[];
  env: Record<string, string>;
  /** The working directory of each invocation (default: the repository). */
  cwd?: () => string;
}

class CommandFailed extends Error {}

function spawn(spec: Spec): Deno.ChildProcess {
  const child = new Deno.Command(spec.cmd, {
    args: spec.args,
    cwd: spec.cwd?.() ?? ROOT,
    env: spec.env,
    clearEnv: true,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  live.add(child);
  return child;
}

/** The last `mlproject-timing: [...]` line a run printed with `MLPROJECT_TIMING=1`. */
type Marks = [string, number][];

/** Timing marks of the last {@linkcode timeOnce} call (empty when it printed none). */
let lastMarks: Marks = [];

/** Runs a command to completion; returns its wall time in ms (spawn to exit). */
async function timeOnce(spec: Spec): Promise<number> {
  const start = performance.now();
  const child = spawn(spec);
  const result = await child.output().finally(() => live.delete(child));
  const elapsed = performance.now() - start;
  const stderr = new TextDecoder().decode(result.stderr);
  if (result.code !== 0) {
    throw new CommandFailed(
      `'${spec.label}' exited with code ${result.code}${
        stderr.trim() ? `:\n${stderr.trim()}` : ""
      }`,
    );
  }
  const line = stderr.split("\n").findLast((l) => l.startsWith("mlproject-timing: "));
  lastMarks = line === undefined ? [] : JSON.parse(line.slice("mlproject-timing: ".length));
  return elapsed;
}

interface MemoryRun {
  peakHwmMiB: number;
  peakRssMiB: number;
  samples: number;
  wallMs: number;
}

/** Runs a command, sampling `/proc/<pid>/status` every {@linkcode SAMPLE_EVERY_MS} ms. */
async function sampleMemory(spec: Spec): Promise<MemoryRun> {
  const start = performance.now();
  const child = spawn(spec);
  let exited = false;
  const done = child.output().finally(() => {
    exited = true;
    live.delete(child);
  });
  let hwm = 0;
  let rss = 0;
  let samples = 0;
  while (!exited) {
    const s = childMemoryKiB(child.pid);
    if (s !== undefined) {
      hwm = Math.max(hwm, s.hwm);
      rss = Math.max(rss, s.rss);
      samples++;
    }
    await Promise.race([done, new Promise((r) => setTimeout(r, SAMPLE_EVERY_MS))]);
  }
  const result = await done;
  const wallMs = performance.now() - start;
  if (result.code !== 0) {
    const stderr = new TextDecoder().decode(result.stderr).trim();
    throw new CommandFailed(
      `'${spec.label}' exited with code ${result.code}${stderr ? `:\n${stderr}` : ""}`,
    );
  }
  return { peakHwmMiB: hwm / 1024, peakRssMiB: rss / 1024, samples, wallMs };
}

/** Ends whatever is still running: SIGTERM (the runner then cancels its run), SIGKILL later. */
async function stopAll(): Promise<void> {
  const children = [...live];
  for (const child of children) {
    try {
      child.kill("SIGTERM");
    } catch { /* already gone */ }
  }
  const waits = children.map((child) =>
    Promise.race([
      child.status.then(() => true),
      new Promise<boolean>((r) => setTimeout(() => r(false), 7000)),
    ]).then((ended) => {
      if (!ended) {
        try {
          child.kill("SIGKILL");
        } catch { /* gone */ }
      }
    })
  );
  await Promise.all(waits);
  live.clear();
}

/**
 * `deno task bundle`: the CLI bundled into `dist/cli/` (one module per dynamic import), trained
 * (the functions a run executes compiled with their modules): what the binaries run.
 */
async function buildBundle(): Promise<void> {
  const built = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "scripts/bundle.ts"],
    cwd: ROOT,
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!built.success) {
    throw new CommandFailed(
      `deno task bundle failed: ${new TextDecoder().decode(built.stderr).trim()}`,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Statistics and formatting.

function quantile(values: number[], q: number): number {
  const s = [...values].sort((a, b) => a - b);
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo]! + (s[hi]! - s[lo]!) * (pos - lo);
}
const median = (values: number[]) => quantile(values, 0.5);

const ms = (v: number) => `${v.toFixed(1)} ms`;
const ms3 = (v: number) => `${v.toFixed(3)} ms`;
const mib = (v: number) => `${v.toFixed(1)} MiB`;
const signed = (v: number, unit: string) =>
  `${v >= 0 ? "+" : "−"}${Math.abs(v).toFixed(1)} ${unit}`;
const ratio = (a: number, b: number) => (b > 0 ? `${(a / b).toFixed(2)}×` : "n/a");

function table(header: string[], rows: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ")
      .trimEnd();
  out(line(header));
  out(widths.map((w) => "-".repeat(w)).join("  "));
  for (const r of rows) out(line(r));
}

// ---------------------------------------------------------------------------------------------
// MLflow detection.

/** A real venv with MLflow metadata: a test MLflow venv, else a fresh `python3 -m venv`. */
async function detectionVenv(tmp: string): Promise<{ python: string; origin: string }> {
  const root = Deno.env.get("MLPROJECT_TEST_MLFLOW_VENVS") ??
    `${Deno.env.get("HOME")}/.cache/mlproject/test-mlflow`;
  const { detectMlflow } = await import("../lib/envs/mlflow_version.ts");
  try {
    const names = [...Deno.readDirSync(root)].map((e) => e.name).sort();
    for (const name of names) {
      const python = join(root, name, "bin", "python");
      if (detectMlflow(python, { env: {}, cache: false }) !== undefined) {
        return { python, origin: `test MLflow venv ${name}` };
      }
    }
  } catch { /* none */ }
  const venv = join(tmp, "detect-venv");
  const made = await new Deno.Command("python3", {
    args: ["-m", "venv", "--without-pip", venv],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!made.success) throw new CommandFailed("python3 -m venv failed: no venv to detect MLflow in");
  const lib = join(venv, "lib");
  const site = join(lib, [...Deno.readDirSync(lib)][0]!.name, "site-packages");
  await Deno.mkdir(join(site, "mlflow-9.9.9.dist-info"));
  await Deno.writeTextFile(
    join(site, "mlflow-9.9.9.dist-info", "METADATA"),
    "Metadata-Version: 2.1\nName: mlflow\nVersion: 9.9.9\n",
  );
  return { python: join(venv, "bin", "python"), origin: "python3 -m venv + hand-made dist-info" };
}

interface DetectionTimes {
  python: string;
  origin: string;
  version: string;
  pythonAsk: number[];
  cold: number[];
  cached: number[];
  fresh: number[];
}

/** Times detection in-process (cold and cached), in fresh processes, and asking Python. */
async function benchDetection(tmp: string, runs: number): Promise<DetectionTimes> {
  const { detectMlflow } = await import("../lib/envs/mlflow_version.ts");
  const { python, origin } = await detectionVenv(tmp);
  const env = { HOME: tmp, PATH: "/usr/bin:/bin" };
  const version = detectMlflow(python, { env, cache: false })?.version ?? "none";
  const times: DetectionTimes = {
    python,
    origin,
    version,
    pythonAsk: [],
    cold: [],
    cached: [],
    fresh: [],
  };
  const inProcess = runs * 20;
  for (let i = 0; i < inProcess; i++) {
    let t = performance.now();
    detectMlflow(python, { env, cache: false });
    times.cold.push(performance.now() - t);
    t = performance.now();
    detectMlflow(python, { env });
    times.cached.push(performance.now() - t);
  }
  const script = join(tmp, "detect_once.ts");
  await Deno.writeTextFile(
    script,
    `import { detectMlflow } from ${
      JSON.stringify(pathToFileURL(join(ROOT, "lib/envs/mlflow_version.ts")).href)
    };\n` +
      `const t = performance.now();\n` +
      `const found = detectMlflow(${JSON.stringify(python)}, { env: ${JSON.stringify(env)} });\n` +
      `const ms = performance.now() - t;\n` +
      `if (found === undefined) Deno.exit(3);\n` +
      `await Deno.stderr.write(new TextEncoder().encode(String(ms)));\n`,
  );
  const ask = "import importlib.metadata as m; print(m.version('mlflow'))";
  for (let i = 0; i < runs; i++) {
    times.pythonAsk.push(
      await timeOnce({
        label: "python -c importlib.metadata",
        cmd: python,
        args: ["-c", ask],
        env,
      }),
    );
    const child = spawn({
      label: "deno: one detectMlflow call",
      cmd: Deno.execPath(),
      args: [...DENO_RUN, script],
      env: { ...Deno.env.toObject(), DENO_NO_UPDATE_CHECK: "1" },
    });
    const result = await child.output().finally(() => live.delete(child));
    if (result.code !== 0) {
      throw new CommandFailed(`the detection script exited with ${result.code}`);
    }
    times.fresh.push(Number(new TextDecoder().decode(result.stderr)));
  }
  return times;
}

function detectionRows(d: DetectionTimes): string[][] {
  const ask = median(d.pythonAsk);
  const verdict = (v: number) => (v <= TARGET_DETECT_MS ? "within" : "OVER");
  const row = (label: string, v: number, base: number, baseLabel: string) => [
    label,
    `${ms3(base)} ${baseLabel}`,
    ms3(v),
    `${v - base >= 0 ? "+" : "−"}${Math.abs(v - base).toFixed(3)} ms`,
    ratio(v, base),
    `≤ ${TARGET_DETECT_MS} ms`,
    verdict(v),
  ];
  return [
    row("MLflow detection, uncached", median(d.cold), ask, "ask Python"),
    row("MLflow detection, cached", median(d.cached), median(d.cold), "uncached"),
    row("MLflow detection, 1st call of a process", median(d.fresh), ask, "ask Python"),
  ];
}

function detectionReport(d: DetectionTimes): string[][] {
  out(
    `MLflow detection: ${d.python} (${d.origin}) → ${d.version}; in-process ${d.cold.length} ` +
      `calls each, ${d.fresh.length} fresh processes, ${d.pythonAsk.length} Python runs`,
  );
  table(
    ["variant", "min", "p25", "median", "p75", "max"],
    (
      [
        ["ask Python (importlib.metadata)", d.pythonAsk],
        ["detectMlflow, uncached", d.cold],
        ["detectMlflow, cached", d.cached],
        ["detectMlflow, 1st call of a process", d.fresh],
      ] as const
    ).map(([label, v]) => [
      label,
      ms3(Math.min(...v)),
      ms3(quantile(v, 0.25)),
      ms3(median(v)),
      ms3(quantile(v, 0.75)),
      ms3(Math.max(...v)),
    ]),
  );
  out();
  return detectionRows(d);
}

// ---------------------------------------------------------------------------------------------
// New default database.

/**
 * The newest pinned MLflow 3.x (`scripts/test_mlflow_versions.txt`) whose test venv is installed
 * (`$MLPROJECT_TEST_MLFLOW_VENVS/<version>`, default `~/.cache/mlproject/test-mlflow`).
 */
async function newestMlflow3Venv(): Promise<{ version: string; bin: string } | undefined> {
  const { comparePep440 } = await import("../lib/system/pep440.ts");
  const root = Deno.env.get("MLPROJECT_TEST_MLFLOW_VENVS") ||
    join(Deno.env.get("HOME") ?? "/nonexistent", ".cache", "mlproject", "test-mlflow");
  const pinned = (await Deno.readTextFile(join(ROOT, "scripts", "test_mlflow_versions.txt")))
    .split("\n").map((l) => l.trim().split(/\s+/)[0]!).filter((w) => /^3\.\d+\.\d+$/.test(w));
  const installed = pinned.filter((version) => {
    try {
      return Deno.statSync(join(root, version, "bin", "python")).isFile;
    } catch {
      return false;
    }
  });
  const version = installed.sort(comparePep440).at(-1);
  return version === undefined ? undefined : { version, bin: join(root, version, "bin") };
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<number> {
  const runs = intOption("--runs", 15);
  const rssRuns = intOption("--rss-runs", 3);
  const tmp = await Deno.makeTempDir({ prefix: "mlproject-bench-" });
  const onSignal = () => {
    // Stop the children (the runner cancels its run on SIGTERM), remove the temp dir, exit.
    void stopAll().finally(() => {
      try {
        Deno.removeSync(tmp, { recursive: true });
      } catch { /* gone */ }
      Deno.exit(130);
    });
  };
  const signals: Deno.Signal[] = ["SIGINT", "SIGTERM"];
  for (const s of signals) Deno.addSignalListener(s, onSignal);

  try {
    if (Deno.args.includes("--only-detection")) {
      out(`mlproject benchmark (MLflow detection only) — deno ${Deno.version.deno}`);
      out();
      const rows = detectionReport(await benchDetection(tmp, runs));
      out("Report (medians; ratio = measured / baseline)");
      table(["metric", "baseline", "measured", "difference", "ratio", "target", "vs target"], rows);
      return 0;
    }
    const emptyScript = join(tmp, "empty.ts");
    const sleepScript = join(tmp, "sleep.ts");
    await Deno.writeTextFile(emptyScript, "");
    await Deno.writeTextFile(sleepScript, "await new Promise((r) => setTimeout(r, 2000));\n");

    // A clean environment: no MLFLOW_* settings from the caller, no upgrade check on the network.
    const base: Record<string, string> = {};
    for (const [k, v] of Object.entries(Deno.env.toObject())) {
      if (!k.startsWith("MLFLOW_")) base[k] = v;
    }
    base.DENO_NO_UPDATE_CHECK = "1";
    base.NO_COLOR = "1";
    const sqliteUri = `sqlite:///${join(tmp, "mlflow.db")}`;
    const fileUri = pathToFileURL(join(tmp, "mlruns")).href;
    const sqliteEnv = { ...base, MLFLOW_TRACKING_URI: sqliteUri };
    const fileEnv = { ...base, MLFLOW_TRACKING_URI: fileUri };
    const deno = Deno.execPath();
    const runArgs = [...DENO_RUN, "main.ts", "run", PROJECT, "--env-manager", "local"];

    // A run whose default store is `sqlite:///mlflow.db` of its cwd (MLflow 3.x first on PATH):
    // into a new directory each time (the database is created), or always the same one.
    const mlflow3 = await newestMlflow3Venv();
    const newDbRunArgs = [
      ...DENO_RUN,
      "--config",
      join(ROOT, "deno.json"),
      join(ROOT, "main.ts"),
      "run",
      join(ROOT, PROJECT),
      "--env-manager",
      "local",
    ];
    const venvEnv = mlflow3 === undefined
      ? base
      : { ...base, PATH: `${mlflow3.bin}:${base.PATH ?? "/usr/bin:/bin"}` };
    const existingDir = join(tmp, "existing-db");
    await Deno.mkdir(existingDir);
    const freshDirs: string[] = [];
    const dbSpecs = {
      newDb: {
        label: `mlproject run, new default DB (MLflow ${mlflow3?.version})`,
        cmd: deno,
        args: newDbRunArgs,
        env: venvEnv,
        cwd: () => {
          const dir = Deno.makeTempDirSync({ dir: tmp, prefix: "fresh-" });
          freshDirs.push(dir);
          return dir;
        },
      },
      existingDb: {
        label: `mlproject run, existing default DB (MLflow ${mlflow3?.version})`,
        cmd: deno,
        args: newDbRunArgs,
        env: venvEnv,
        cwd: () => existingDir,
      },
    } satisfies Record<string, Spec>;

    const specs = {
      bash: { label: "bash -c 'true'", cmd: "bash", args: ["-c", "true"], env: base },
      empty: {
        label: "deno run -A <empty.ts>",
        cmd: deno,
        args: [...DENO_RUN, emptyScript],
        env: base,
      },
      // The SQLite runs also print their phase marks (recording them costs nothing measurable).
      sqlite: {
        label: "mlproject run (sqlite)",
        cmd: deno,
        args: runArgs,
        env: { ...sqliteEnv, MLPROJECT_TIMING: "1" },
      },
      file: { label: "mlproject run (file store)", cmd: deno, args: runArgs, env: fileEnv },
      dryRun: {
        label: "mlproject run --dry-run (sqlite)",
        cmd: deno,
        args: [...runArgs, "--dry-run"],
        env: sqliteEnv,
      },
      help: {
        label: "mlproject --help",
        cmd: deno,
        args: [...DENO_RUN, "main.ts", "--help"],
        env: base,
      },
      runHelp: {
        label: "mlproject run --help",
        cmd: deno,
        args: [...DENO_RUN, "main.ts", "run", "--help"],
        env: base,
      },
      // The same CLI bundled (`deno task bundle`: one module per dynamic import instead of one
      // per source file).
      bundle: {
        label: "bundled: mlproject run (sqlite)",
        cmd: deno,
        args: [...DENO_RUN, BUNDLE_MAIN, ...runArgs.slice(DENO_RUN.length + 1)],
        env: { ...sqliteEnv, MLPROJECT_TIMING: "1" },
      },
      bundleHelp: {
        label: "bundled: mlproject --help",
        cmd: deno,
        args: [...DENO_RUN, BUNDLE_MAIN, "--help"],
        env: base,
      },
      ...(mlflow3 === undefined ? {} : dbSpecs),
    } satisfies Record<string, Spec>;
    type Key = keyof typeof specs | keyof typeof dbSpecs;
    const order = Object.keys(specs) as Key[];
    const specOf = (k: Key): Spec => (specs as Record<Key, Spec>)[k];

    out(
      `mlproject benchmark — deno ${Deno.version.deno}, ` +
        `${cpus().length} CPU(s), ${runs} timed runs per variant (interleaved), ` +
        `${rssRuns} memory run(s) per variant`,
    );
    out(`project: ${PROJECT}, entry point 'main' = \`true\`; deno flags: ${DENO_RUN.join(" ")}`);
    out();

    await buildBundle();
    // Warm-up: fills Deno's module/npm caches, creates the SQLite DB and the mlruns store.
    for (const key of order) await timeOnce(specOf(key));
    if (mlflow3 === undefined) {
      out(
        "new default DB: skipped (no MLflow 3.x venv in $MLPROJECT_TEST_MLFLOW_VENVS or " +
          "~/.cache/mlproject/test-mlflow; scripts/install_test_mlflow.sh installs them)",
      );
    } else {
      // The run really created the default database in its fresh directory.
      const made = freshDirs.at(-1)!;
      try {
        Deno.statSync(join(made, "mlflow.db"));
      } catch {
        throw new CommandFailed(`the run in ${made} did not create mlflow.db`);
      }
    }

    const times = Object.fromEntries(order.map((k) => [k, [] as number[]])) as Record<
      Key,
      number[]
    >;
    /** Phase durations, in-process totals and the rest of the wall time, of the marked runs. */
    const newMarked = () => ({
      phases: new Map<string, number[]>(),
      inProcess: [] as number[],
      outside: [] as number[],
    });
    const marked = { sqlite: newMarked(), bundle: newMarked() };
    for (let i = 0; i < runs; i++) {
      // Rotate the starting variant so no variant always follows the same one.
      for (let j = 0; j < order.length; j++) {
        const key = order[(i + j) % order.length]!;
        const wall = await timeOnce(specOf(key));
        times[key].push(wall);
        if ((key !== "sqlite" && key !== "bundle") || lastMarks.length === 0) continue;
        const into = marked[key];
        let previous = 0;
        for (const [phase, at] of lastMarks) {
          into.phases.set(phase, [...into.phases.get(phase) ?? [], at - previous]);
          previous = at;
        }
        into.inProcess.push(previous);
        into.outside.push(wall - previous);
      }
    }

    // Memory: the runner while its entry point sleeps 2 s vs a deno script sleeping 2 s.
    const rssSpecs = {
      sleepScript: {
        label: "deno run -A <sleep.ts>",
        cmd: deno,
        args: [...DENO_RUN, sleepScript],
        env: base,
      },
      runner: {
        label: "mlproject run -e sleep (sqlite)",
        cmd: deno,
        args: [...runArgs, "-e", "sleep"],
        env: sqliteEnv,
      },
    } satisfies Record<string, Spec>;
    const mem: { sleepScript: MemoryRun[]; runner: MemoryRun[] } = { sleepScript: [], runner: [] };
    for (let i = 0; i < rssRuns; i++) {
      mem.sleepScript.push(await sampleMemory(rssSpecs.sleepScript));
      mem.runner.push(await sampleMemory(rssSpecs.runner));
    }

    const detection = await benchDetection(tmp, runs);

    // --- Raw timings.
    out("Wall time per invocation (spawn to exit)");
    table(
      ["command", "min", "p25", "median", "p75", "max"],
      order.map((k) => [
        specOf(k).label,
        ms(Math.min(...times[k])),
        ms(quantile(times[k], 0.25)),
        ms(median(times[k])),
        ms(quantile(times[k], 0.75)),
        ms(Math.max(...times[k])),
      ]),
    );
    out();

    const med = Object.fromEntries(order.map((k) => [k, median(times[k])])) as Record<Key, number>;
    const peak = (runsOf: MemoryRun[]) => median(runsOf.map((r) => r.peakHwmMiB));
    const peakRss = (runsOf: MemoryRun[]) => median(runsOf.map((r) => r.peakRssMiB));
    const rssBase = peak(mem.sleepScript);
    const rssRunner = peak(mem.runner);

    // The runner's own work: what a run costs beyond starting deno and running the command.
    // Each round's variants ran back to back, so the differences are taken round by round (the
    // machine's load drifts less within a round) and their median is reported.
    const paired = (k: Key, minus: Key[]) =>
      median(times[k].map((v, i) => minus.reduce((acc, m) => acc - times[m][i]!, v)));
    const overhead = paired("sqlite", ["empty", "bash"]);
    const overheadFile = paired("file", ["empty", "bash"]);
    const overheadBundle = paired("bundle", ["empty", "bash"]);
    const bundleHelpOwn = paired("bundleHelp", ["empty"]);
    const baselines = med.empty + med.bash;
    const helpOwn = paired("help", ["empty"]);
    const runHelpOwn = paired("runHelp", ["empty"]);
    const verdict = (ok: boolean) => (ok ? "within" : "OVER");
    const detectionTable = detectionReport(detection);

    if (marked.sqlite.inProcess.length > 0 || marked.bundle.inProcess.length > 0) {
      out(
        `Where a run's time goes (mlproject run, sqlite; median (min) of ${runs} runs; each phase ` +
          `ends at its MLPROJECT_TIMING mark, in ms since deno started the runtime)`,
      );
      const cell = (v: number[] | undefined) =>
        v === undefined || v.length === 0 ? "-" : `${ms(median(v))} (${ms(Math.min(...v))})`;
      const names = [...new Set([...marked.sqlite.phases.keys(), ...marked.bundle.phases.keys()])];
      table(
        ["phase", "main.ts", "bundled"],
        [
          ...names.map((n) => [
            `  ${n}`,
            cell(marked.sqlite.phases.get(n)),
            cell(marked.bundle.phases.get(n)),
          ]),
          [
            "in-process total (runtime start → last mark)",
            cell(marked.sqlite.inProcess),
            cell(marked.bundle.inProcess),
          ],
          [
            "deno startup and exit (wall − in-process)",
            cell(marked.sqlite.outside),
            cell(marked.bundle.outside),
          ],
          ["  the empty deno script, all of it", cell(times.empty), ""],
          ["  bash -c 'true' (the entry point's own time)", cell(times.bash), ""],
        ],
      );
      out();
    }

    out("Report (medians; ratio = measured / baseline)");
    table(
      ["metric", "baseline", "measured", "difference", "ratio", "target", "vs target"],
      [
        [
          "runner overhead (run − empty − bash), sqlite: bundled (binaries, JSR)",
          `${ms(baselines)} empty+bash`,
          ms(med.bundle),
          signed(overheadBundle, "ms"),
          ratio(med.bundle, baselines),
          `diff ≤ ${TARGET_OVERHEAD_MS} ms`,
          verdict(overheadBundle <= TARGET_OVERHEAD_MS),
        ],
        [
          "  the same from the sources (deno run main.ts)",
          `${ms(baselines)} empty+bash`,
          ms(med.sqlite),
          signed(overhead, "ms"),
          ratio(med.sqlite, baselines),
          `diff ≤ ${TARGET_OVERHEAD_MS} ms`,
          verdict(overhead <= TARGET_OVERHEAD_MS),
        ],
        [
          "runner overhead (run − empty − bash), file",
          `${ms(baselines)} empty+bash`,
          ms(med.file),
          signed(overheadFile, "ms"),
          ratio(med.file, baselines),
          `diff ≤ ${TARGET_OVERHEAD_MS} ms`,
          verdict(overheadFile <= TARGET_OVERHEAD_MS),
        ],
        [
          "  --dry-run (plan only: no store, no child)",
          `${ms(med.empty)} empty`,
          ms(med.dryRun),
          signed(med.dryRun - med.empty, "ms"),
          ratio(med.dryRun, med.empty),
          "(info)",
          "",
        ],
        [
          "  of which deno startup (empty)",
          `${ms(med.bash)} bash -c`,
          ms(med.empty),
          signed(med.empty - med.bash, "ms"),
          ratio(med.empty, med.bash),
          "(info)",
          "",
        ],
        [
          "  runner beyond deno startup",
          `${ms(med.empty)} empty`,
          ms(med.sqlite),
          signed(med.sqlite - med.empty, "ms"),
          ratio(med.sqlite, med.empty),
          "(info)",
          "",
        ],
        [
          "--help",
          `${ms(med.empty)} empty`,
          ms(med.help),
          signed(helpOwn, "ms"),
          ratio(med.help, med.empty),
          `diff ≤ ${TARGET_HELP_MS} ms`,
          verdict(helpOwn <= TARGET_HELP_MS),
        ],
        [
          "  bundled --help",
          `${ms(med.empty)} empty`,
          ms(med.bundleHelp),
          signed(bundleHelpOwn, "ms"),
          ratio(med.bundleHelp, med.empty),
          `diff ≤ ${TARGET_HELP_MS} ms`,
          verdict(bundleHelpOwn <= TARGET_HELP_MS),
        ],
        [
          "run --help",
          `${ms(med.empty)} empty`,
          ms(med.runHelp),
          signed(runHelpOwn, "ms"),
          ratio(med.runHelp, med.empty),
          `diff ≤ ${TARGET_HELP_MS} ms`,
          verdict(runHelpOwn <= TARGET_HELP_MS),
        ],
        [
          "peak RSS (VmHWM) while child sleeps",
          `${mib(rssBase)} sleep.ts`,
          mib(rssRunner),
          signed(rssRunner - rssBase, "MiB"),
          ratio(rssRunner, rssBase),
          `≤ ${TARGET_RSS_MIB} MiB`,
          verdict(rssRunner <= TARGET_RSS_MIB),
        ],
        [
          "  max sampled VmRSS",
          `${mib(peakRss(mem.sleepScript))} sleep.ts`,
          mib(peakRss(mem.runner)),
          signed(peakRss(mem.runner) - peakRss(mem.sleepScript), "MiB"),
          ratio(peakRss(mem.runner), peakRss(mem.sleepScript)),
          "(info)",
          "",
        ],
        ...(mlflow3 === undefined ? [] : [[
          "1st run into a new default DB",
          `${ms(med.existingDb)} existing DB`,
          ms(med.newDb),
          signed(med.newDb - med.existingDb, "ms"),
          ratio(med.newDb, med.existingDb),
          `diff ≤ ${TARGET_NEW_DB_MS} ms`,
          verdict(med.newDb - med.existingDb <= TARGET_NEW_DB_MS),
        ]]),
        ...detectionTable,
      ],
    );
    out();
    const samples = mem.runner.map((r) => r.samples).join("/");
    out(
      `memory: median of ${rssRuns} run(s), /proc/<pid>/status sampled every ${SAMPLE_EVERY_MS} ms ` +
        `(runner samples per run: ${samples}; runner wall ${
          ms(median(mem.runner.map((r) => r.wallMs)))
        }, sleep.ts wall ${ms(median(mem.sleepScript.map((r) => r.wallMs)))})`,
    );
    const met = [
      overheadBundle <= TARGET_OVERHEAD_MS,
      helpOwn <= TARGET_HELP_MS,
      runHelpOwn <= TARGET_HELP_MS,
      rssRunner <= TARGET_RSS_MIB,
      median(detection.cold) <= TARGET_DETECT_MS,
      median(detection.cached) <= TARGET_DETECT_MS,
      median(detection.fresh) <= TARGET_DETECT_MS,
      ...(mlflow3 === undefined ? [] : [med.newDb - med.existingDb <= TARGET_NEW_DB_MS]),
    ];
    const newDb = mlflow3 === undefined
      ? ""
      : `; 1st run into a new default DB ${
        signed(med.newDb - med.existingDb, "ms")
      } vs an existing one (MLflow ${mlflow3.version}, target ≤ ${TARGET_NEW_DB_MS})`;
    out(
      `Summary: runner overhead (run − empty deno script − bash -c) ${
        signed(overheadBundle, "ms")
      } bundled as the binaries and JSR run it (sqlite, target ≤ ${TARGET_OVERHEAD_MS}), ${
        signed(overhead, "ms")
      } from the sources, ${signed(overheadFile, "ms")} (file store, sources); --dry-run ${
        signed(med.dryRun - med.empty, "ms")
      } over an empty deno script; --help ${signed(helpOwn, "ms")}, run --help ${
        signed(runHelpOwn, "ms")
      } over an empty deno script (target ≤ ${TARGET_HELP_MS}; bundled --help ${
        signed(bundleHelpOwn, "ms")
      }); peak RSS ${mib(rssRunner)} ` +
        `(${ratio(rssRunner, rssBase)} of an idle deno script, target ≤ ${TARGET_RSS_MIB}); ` +
        `MLflow detection ${ms3(median(detection.cold))} uncached, ${
          ms3(median(detection.cached))
        } cached, ${
          ms3(median(detection.fresh))
        } as a process's 1st call (target ≤ ${TARGET_DETECT_MS})${newDb} — ` +
        `${met.filter(Boolean).length}/${met.length} targets met.`,
    );
    return 0;
  } catch (e) {
    if (!(e instanceof CommandFailed)) throw e;
    out(`bench: a measured command failed: ${e.message}`);
    return 1;
  } finally {
    for (const s of signals) Deno.removeSignalListener(s, onSignal);
    await stopAll();
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
}

if (import.meta.main) {
  Deno.exit(await main());
}
