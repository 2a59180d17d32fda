/**
 * `deno task bundle`: the CLI bundled into `dist/cli/` (`deno bundle --code-splitting`: a module
 * per dynamic import instead of one per source file), then trained: runs of a trivial project
 * (`scripts/bench_project`, local environment; a new and then an existing SQLite store, the same
 * with a file store, in a temporary directory, with a temporary cache) with V8's function events
 * logged, and the
 * functions those runs executed rewritten to be compiled with their module
 * (`scripts/_eager_compile.ts`), so that they come from the code cache instead of being compiled
 * again by every process.
 *
 *   deno run -A scripts/bundle.ts [--outdir DIR] [--no-train]
 *
 * @module
 */
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { printOut } from "../lib/system/output.ts";
import { runCommand } from "../lib/system/run_command.ts";
import {
  eagerCompile,
  type FunctionRange,
  hotFunctions,
  modulesOnCycles,
} from "./_eager_compile.ts";

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));

function option(name: string): string | undefined {
  const i = Deno.args.indexOf(name);
  return i === -1 ? undefined : Deno.args[i + 1];
}

/** Runs `deno …` (the one subprocess wrapper); throws with its stderr when it fails. */
async function deno(args: string[], options: { cwd?: string; env?: Record<string, string> } = {}) {
  const out = await runCommand(Deno.execPath(), args, { cwd: ROOT, ...options });
  if (!out.success) {
    const err = out.stderr.trim();
    throw new Error(`deno ${args.join(" ")} failed (exit ${out.code})${err ? `:\n${err}` : ""}`);
  }
}

/** Runs the bundled CLI on the trivial project; returns the function events each run logged. */
async function train(outdir: string): Promise<string[]> {
  const tmp = await Deno.makeTempDir({ prefix: "mlproject-bundle-" });
  try {
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(Deno.env.toObject())) {
      if (!k.startsWith("MLFLOW_") && !k.startsWith("MLPROJECT_")) env[k] = v;
    }
    Object.assign(env, {
      XDG_CACHE_HOME: join(tmp, "cache"),
      DENO_NO_UPDATE_CHECK: "1",
      NO_COLOR: "1",
    });
    const sqlite = `sqlite:///${join(tmp, "mlflow.db")}`;
    const files = pathToFileURL(join(tmp, "mlruns")).href;
    const logs: string[] = [];
    // Each store new, then existing.
    for (const [n, uri] of [sqlite, sqlite, files, files].entries()) {
      env.MLFLOW_TRACKING_URI = uri;
      const file = join(tmp, `functions-${n}.log`);
      await deno([
        "run",
        "-A",
        "--config",
        join(ROOT, "deno.json"),
        `--v8-flags=--log-function-events,--logfile=${file},--no-logfile-per-isolate`,
        join(outdir, "main.js"),
        "run",
        join(ROOT, "scripts", "bench_project"),
        "--env-manager",
        "local",
      ], { cwd: tmp, env });
      logs.push(await Deno.readTextFile(file));
    }
    return logs;
  } finally {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
}

async function main(): Promise<void> {
  const outdir = resolve(option("--outdir") ?? join(ROOT, "dist", "cli"));
  await Deno.remove(outdir, { recursive: true }).catch(() => {});
  await deno(["bundle", "--quiet", "--code-splitting", "--outdir", outdir, "main.ts"]);
  // Typed for JSR (the package's `./cli` export): the entry module exports nothing.
  await Deno.writeTextFile(join(outdir, "main.d.ts"), "export {};\n");
  const entry = join(outdir, "main.js");
  const text = await Deno.readTextFile(entry);
  const shebang = text.startsWith("#!") ? text.slice(0, text.indexOf("\n") + 1) : "";
  await Deno.writeTextFile(
    entry,
    `${shebang}/* @ts-self-types="./main.d.ts" */\n${text.slice(shebang.length)}`,
  );
  const modules = new Map<string, string>();
  for await (const e of Deno.readDir(outdir)) {
    if (e.isFile && e.name.endsWith(".js")) {
      modules.set(e.name, await Deno.readTextFile(join(outdir, e.name)));
    }
  }
  if (Deno.args.includes("--no-train")) {
    printOut(`${outdir}: ${modules.size} modules`);
    return;
  }
  // Script ids are per process: each log is read on its own.
  const hot = new Map<string, FunctionRange[]>();
  for (const log of await train(outdir)) {
    for (const [name, ranges] of hotFunctions(log, `${pathToFileURL(outdir).href}/`)) {
      hot.set(name, [...hot.get(name) ?? [], ...ranges]);
    }
  }
  const cyclic = modulesOnCycles(modules);
  let wrapped = 0;
  let hoisted = 0;
  for (const [name, ranges] of hot) {
    const text = modules.get(name);
    if (text === undefined) continue;
    const out = eagerCompile(text, ranges, { hoist: !cyclic.has(name) });
    await Deno.writeTextFile(join(outdir, name), out.text);
    wrapped += out.wrapped;
    hoisted += out.hoisted;
  }
  printOut(
    `${outdir}: ${modules.size} modules; compiled with their module: ${
      hoisted + wrapped
    } functions a trained run executed (${hoisted} declarations, ${wrapped} expressions)`,
  );
}

if (import.meta.main) await main();
