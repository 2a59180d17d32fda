/**
 * How the CLI prints an error.
 *
 * @module
 */
import { escapeForMessage, type MlprojectError, UsageError } from "../lib/system/errors.ts";
import { printErr, stderrReporter } from "../lib/system/output.ts";

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
