/**
 * Error types of mlproject. Every error a user can cause carries the exit code the CLI uses.
 *
 * @module
 */

/** Base class of the errors mlproject raises on purpose; `exitCode` is what the CLI exits with. */
export class MlprojectError extends Error {
  /** Exit code for the CLI: 1 for a failed run or execution error, 2 for a usage error. */
  readonly exitCode: number;

  /**
   * Creates an error with a message and an exit code.
   *
   * @example Raise an execution error
   * ```ts
   * import { MlprojectError } from "./errors.ts";
   * const e = new MlprojectError("Cannot run", 1);
   * console.assert(e.exitCode === 1);
   * ```
   */
  constructor(message: string, exitCode = 1, options?: ErrorOptions) {
    super(message, options);
    this.name = "MlprojectError";
    this.exitCode = exitCode;
  }
}

/** Thrown when executing a project fails, as `mlflow.projects.ExecutionException`. */
export class ExecutionException extends MlprojectError {
  /**
   * Creates an execution error (exit code 1).
   *
   * @example
   * ```ts
   * import { ExecutionException } from "./errors.ts";
   * const e = new ExecutionException("Run (ID 'abc') failed");
   * console.assert(e.exitCode === 1);
   * ```
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, 1, options);
    this.name = "ExecutionException";
  }
}

/** Thrown for a mistake on the command line or in options (exit code 2). */
export class UsageError extends MlprojectError {
  /**
   * Creates a usage error (exit code 2).
   *
   * @example
   * ```ts
   * import { UsageError } from "./errors.ts";
   * const e = new UsageError("Repeated parameter: 'name'");
   * console.assert(e.exitCode === 2);
   * ```
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, 2, options);
    this.name = "UsageError";
  }
}

/** Thrown when the run was interrupted by a signal or `cancel()` (exit code 130). */
export class InterruptedError extends MlprojectError {
  /**
   * Creates an interruption error (exit code 130).
   *
   * @example
   * ```ts
   * import { InterruptedError } from "./errors.ts";
   * const e = new InterruptedError("Run (ID 'abc') was killed");
   * console.assert(e.exitCode === 130);
   * ```
   */
  constructor(message: string) {
    super(message, 130);
    this.name = "InterruptedError";
  }
}

/**
 * Escapes line breaks and other control characters so a file name, key or value embedded in an
 * error message keeps it on one line (`a\nb` is shown as `a\nb`, not two lines).
 *
 * @param text Any text.
 * @returns The text with control characters written as escapes.
 *
 * @example
 * ```ts
 * import { escapeForMessage } from "./errors.ts";
 * console.assert(escapeForMessage("a\nb") === "a\\nb");
 * ```
 */
export function escapeForMessage(text: string): string {
  // deno-lint-ignore no-control-regex
  return text.replace(/[\x00-\x1f\x7f\u2028\u2029]/g, (c) => {
    if (c === "\n") return "\\n";
    if (c === "\r") return "\\r";
    if (c === "\t") return "\\t";
    return `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`;
  });
}
