// The one module that prints. Everything else reports through a `Reporter`.
/**
 * Progress and error output: MLflow-style log lines on stderr, plain lines on stdout.
 *
 * @module
 */

/** Log levels a {@linkcode Reporter} receives. */
export type LogLevel = "INFO" | "WARNING" | "ERROR";

/** Receives progress messages (`=== Running command … ===`) from the library. */
export interface Reporter {
  /** Reports one message. */
  log(level: LogLevel, message: string): void;
}

const encoder = new TextEncoder();

function writeAll(file: { writeSync(p: Uint8Array): number }, text: string): void {
  const bytes = encoder.encode(text);
  let off = 0;
  while (off < bytes.length) off += file.writeSync(bytes.subarray(off));
}

function timestamp(d = new Date()): string {
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}/${p(d.getMonth() + 1)}/${p(d.getDate())} ${p(d.getHours())}:${
    p(d.getMinutes())
  }:${p(d.getSeconds())}`;
}

/**
 * A reporter that writes MLflow-style lines (`2026/11/27 10:00:00 INFO mlproject: …`) to stderr.
 *
 * @returns The reporter.
 *
 * @example
 * ```ts
 * import { stderrReporter } from "./output.ts";
 * stderrReporter().log("INFO", "=== hello ===");
 * ```
 */
export function stderrReporter(): Reporter {
  return {
    log(level: LogLevel, message: string): void {
      writeAll(Deno.stderr, `${timestamp()} ${level} mlproject: ${message}\n`);
    },
  };
}

/** A reporter that drops every message. */
export const SILENT_REPORTER: Reporter = { log(): void {} };

/**
 * Writes a line to stdout.
 *
 * @param text The line (a newline is added).
 *
 * @example
 * ```ts
 * import { printOut } from "./output.ts";
 * printOut("{}");
 * ```
 */
export function printOut(text: string): void {
  writeAll(Deno.stdout, text + "\n");
}

/**
 * Writes a line to stderr.
 *
 * @param text The line (a newline is added).
 *
 * @example
 * ```ts
 * import { printErr } from "./output.ts";
 * printErr("Error: bad flag");
 * ```
 */
export function printErr(text: string): void {
  writeAll(Deno.stderr, text + "\n");
}

/**
 * Writes text to stdout or stderr as it comes (a remote job's log stream), or drops it.
 *
 * @param target `stdout`, `stderr`, or `null` to drop the text.
 * @param text The text (written as is).
 *
 * @example
 * ```ts
 * import { writeText } from "./output.ts";
 * writeText("null", "dropped\n");
 * ```
 */
export function writeText(target: "stdout" | "stderr" | "null", text: string): void {
  if (target === "stdout") writeAll(Deno.stdout, text);
  else if (target === "stderr") writeAll(Deno.stderr, text);
}
