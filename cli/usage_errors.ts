/**
 * The command line's usage errors, worded as click words them for `mlflow` (an unknown option or
 * command suggests the close ones) and pointing to the command's `--help`, on one line.
 *
 * @module
 */
import { UsageError } from "../lib/system/errors.ts";
import { closeMatches } from "./close_matches.ts";

/**
 * A usage error of `command` whose message ends with `Try '<command> --help' for help.`
 *
 * @param message What is wrong (a sentence ending with a period).
 * @param command The command as typed, e.g. `mlproject run`.
 * @returns The error (exit code 2).
 *
 * @example
 * ```ts
 * import { usageError } from "./usage_errors.ts";
 * const e = usageError("Missing argument 'URI'.", "mlproject run");
 * console.assert(e.message === "Missing argument 'URI'. Try 'mlproject run --help' for help.");
 * ```
 */
export function usageError(message: string, command: string): UsageError {
  return new UsageError(`${message} Try '${command} --help' for help.`);
}

/** click's `Did you mean 'x'?` / `(Did you mean one of: 'x', 'y'?)`, or "" without candidates. */
function didYouMean(word: string, candidates: readonly string[]): string {
  const close = closeMatches(word, candidates).sort();
  if (close.length === 0) return "";
  const quoted = close.map((c) => `'${c}'`).join(", ");
  return close.length === 1 ? ` Did you mean ${quoted}?` : ` (Did you mean one of: ${quoted}?)`;
}

/**
 * `No such option '--x'.`, with the close long options (click suggests long options only).
 *
 * @param option The option as typed (without an `=value`).
 * @param options `known`: the command's options; `command`: the command, e.g. `mlproject run`.
 * @returns The error (exit code 2).
 *
 * @example
 * ```ts
 * import { noSuchOption } from "./usage_errors.ts";
 * const e = noSuchOption("--env-manger", {
 *   known: ["--env-manager", "--json"],
 *   command: "mlproject run",
 * });
 * console.assert(e.message.startsWith("No such option '--env-manger'. Did you mean '--env-manager'?"));
 * ```
 */
export function noSuchOption(
  option: string,
  options: { known: readonly string[]; command: string },
): UsageError {
  const long = options.known.filter((o) => o.startsWith("--"));
  const hint = option.startsWith("--") ? didYouMean(option, long) : "";
  return usageError(`No such option '${option}'.${hint}`, options.command);
}

/**
 * `No such command 'x'.`, with the close commands.
 *
 * @param name The command as typed.
 * @param options `known`: the valid commands; `command`: the parent command, e.g. `mlproject`.
 * @returns The error (exit code 2).
 *
 * @example
 * ```ts
 * import { noSuchCommand } from "./usage_errors.ts";
 * const e = noSuchCommand("rnu", { known: ["env", "run"], command: "mlproject" });
 * console.assert(e.message.startsWith("No such command 'rnu'. Did you mean 'run'?"));
 * ```
 */
export function noSuchCommand(
  name: string,
  options: { known: readonly string[]; command: string },
): UsageError {
  return usageError(
    `No such command '${name}'.${didYouMean(name, options.known)}`,
    options.command,
  );
}
