/**
 * How the CLI prints an error: one line on stderr, and with `run --json` also one JSON object
 * on stdout, so a script reading stdout never gets an empty answer.
 *
 * @module
 */
import { escapeForMessage, MlprojectError, UsageError } from "../lib/system/errors.ts";
import { printErr, printOut, stderrReporter } from "../lib/system/output.ts";
import { runArgsWantJson } from "./run_args.ts";

/**
 * Prints an error as the CLI does: `Error: …` for usage errors, an MLflow-style `ERROR` line for
 * the others; always one line.
 *
 * @param e The error.
 *
 * @example
 * ```ts
 * import { reportError } from "./report_error.ts";
 * import { UsageError } from "../lib/system/errors.ts";
 * reportError(new UsageError("bad"));
 * ```
 */
export function reportError(e: MlprojectError): void {
  // One line whatever a file name, key or value in the message holds.
  const message = escapeForMessage(e.message);
  if (e instanceof UsageError) printErr(`Error: ${message}`);
  else stderrReporter().log("ERROR", `=== ${message} ===`);
}

/**
 * Whether the command line asks for JSON output (`mlproject [--env-file F] run … --json …`).
 *
 * @param argv The whole command line (`Deno.args`).
 * @returns `true` for a `run` with `--json`.
 *
 * @example
 * ```ts
 * import { jsonRequested } from "./report_error.ts";
 * console.assert(jsonRequested(["--env-file", ".env", "run", "proj", "--json"]));
 * console.assert(!jsonRequested(["env", "list", "--json"]));
 * ```
 */
export function jsonRequested(argv: string[]): boolean {
  let i = 0;
  while (i < argv.length && argv[i]!.startsWith("-")) i += argv[i] === "--env-file" ? 2 : 1;
  return argv[i] === "run" && runArgsWantJson(argv.slice(i + 1));
}

/**
 * Reports an error that ends the command and returns its exit code: a {@linkcode MlprojectError}
 * as {@linkcode reportError} does (its exit code), anything else as `Error: unexpected failure: …`
 * (exit 1; the stack trace only with `MLPROJECT_DEBUG=1`). With `run --json` it also prints
 * `{"error": …, "exit_code": …}` on stdout.
 *
 * @param e What was thrown.
 * @param options `argv`: the whole command line (decides JSON); `debug`: print stack traces.
 * @returns The exit code.
 *
 * @example
 * ```ts
 * import { reportFailure } from "./report_error.ts";
 * import { UsageError } from "../lib/system/errors.ts";
 * const code = reportFailure(new UsageError("bad"), { argv: ["run", "p", "--json"] });
 * console.assert(code === 2);
 * ```
 */
export function reportFailure(e: unknown, options: { argv: string[]; debug?: boolean }): number {
  let message: string;
  let code: number;
  if (e instanceof MlprojectError) {
    reportError(e);
    message = e.message;
    code = e.exitCode;
  } else {
    const debug = options.debug ?? false;
    const detail = e instanceof Error ? (debug ? e.stack ?? e.message : e.message) : String(e);
    message = `unexpected failure: ${detail.split("\n")[0]}`;
    printErr(
      `Error: ${debug ? `unexpected failure: ${detail}` : message}${
        debug ? "" : " (set MLPROJECT_DEBUG=1 for a stack trace)"
      }`,
    );
    code = 1;
  }
  if (jsonRequested(options.argv)) printOut(JSON.stringify({ error: message, exit_code: code }));
  return code;
}
