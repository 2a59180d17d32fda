#!/usr/bin/env -S deno run -A
/**
 * The `mlproject` command line: parses arguments, calls the library, maps errors to exit codes
 * (0 success, 1 failed run or execution error, 2 usage error, 130 interrupted).
 *
 * @module
 */
import { InterruptedError } from "./lib/system/errors.ts";
import { printErr, printOut } from "./lib/system/output.ts";
import { reportFailure } from "./cli/report_error.ts";
import { VERSION } from "./lib/system/version.ts";
import { enableTiming, mark, timingMarks } from "./lib/system/timing.ts";

const MAIN_HELP = `Usage: mlproject [OPTIONS] COMMAND [ARGS]...

  Run MLflow Projects without Python MLflow.

Options:
  --env-file PATH  Load environment variables from a dotenv file (variables
                   already set are kept).
  --version        Show the version and exit.
  -h, --help       Show this message and exit.

Commands:
  env  List, remove and garbage-collect cached Python environments.
  run  Run an MLflow project from a directory, git repository or archive.
`;

const MAIN_OPTIONS = ["--env-file", "--version", "--help", "-h"];

/**
 * Deno drops one trailing `\r` from each argument; on Linux the kernel's copy of the command line
 * still has it. An argument is taken from there only when it is exactly Deno's plus that `\r`.
 */
function withTrailingCr(args: string[]): string[] {
  let raw: string[];
  try {
    raw = new TextDecoder().decode(Deno.readFileSync("/proc/self/cmdline")).split("\0");
  } catch {
    return args;
  }
  raw.pop(); // the text ends with a NUL
  if (raw.length < args.length) return args;
  const tail = raw.slice(raw.length - args.length);
  return args.map((arg, i) => (tail[i] === `${arg}\r` ? tail[i]! : arg));
}

async function main(argv: string[]): Promise<number> {
  const env = Deno.env.toObject();
  let i = 0;
  while (i < argv.length && argv[i]!.startsWith("-")) {
    const arg = argv[i]!;
    if (arg === "--help" || arg === "-h") {
      printOut(MAIN_HELP.trimEnd());
      return 0;
    }
    if (arg === "--version") {
      printOut(`mlproject ${VERSION}`);
      return 0;
    }
    if (arg === "--env-file" || arg.startsWith("--env-file=")) {
      const path = arg.includes("=") ? arg.slice(arg.indexOf("=") + 1) : argv[++i];
      if (path === undefined) {
        const { usageError } = await import("./cli/usage_errors.ts");
        throw usageError("Option '--env-file' requires an argument.", "mlproject");
      }
      const { loadDotenv } = await import("./lib/system/dotenv.ts");
      loadDotenv(path, env);
      printErr(`Loaded environment variables from: ${path}`);
      i++;
      continue;
    }
    const { noSuchOption } = await import("./cli/usage_errors.ts");
    throw noSuchOption(arg.split("=")[0]!, { known: MAIN_OPTIONS, command: "mlproject" });
  }
  const command = argv[i];
  if (command === undefined) {
    printOut(MAIN_HELP.trimEnd());
    return 0;
  }
  if (command === "run") {
    const { runCommand } = await import("./cli/run_command.ts");
    return await runCommand(argv.slice(i + 1), {
      env,
      onInterrupt: (handler) => onInterrupt = handler,
    });
  }
  if (command === "env") {
    const { envCommand } = await import("./cli/env_command.ts");
    return await envCommand(argv.slice(i + 1), env);
  }
  const { noSuchCommand } = await import("./cli/usage_errors.ts");
  throw noSuchCommand(command, { known: ["env", "run"], command: "mlproject" });
}

/**
 * What SIGINT/SIGTERM do once `run` has started its work; before that (and for the other
 * commands) a signal ends the process at once with exit code 130, as nothing is recorded yet.
 */
let onInterrupt: (() => void) | undefined;

/** Installs the SIGINT/SIGTERM handler, first thing, so no signal meets the default handler. */
function installSignalHandler(): void {
  const handler = () => {
    if (onInterrupt !== undefined) return onInterrupt();
    Deno.exit(reportFailure(new InterruptedError("Interrupted"), { argv: Deno.args }));
  };
  for (const s of ["SIGINT", "SIGTERM"] as const) Deno.addSignalListener(s, handler);
}

if (import.meta.main) {
  if (Deno.env.get("MLPROJECT_TIMING") === "1") {
    enableTiming();
    mark("main.ts loaded");
  }
  installSignalHandler();
  let code: number;
  try {
    code = await main(withTrailingCr(Deno.args));
  } catch (e) {
    const debug = /^(1|true)$/i.test(Deno.env.get("MLPROJECT_DEBUG") ?? "");
    code = reportFailure(e, { argv: Deno.args, debug });
  }
  mark("done");
  if (timingMarks().length > 0) printErr(`mlproject-timing: ${JSON.stringify(timingMarks())}`);
  Deno.exit(code);
}
