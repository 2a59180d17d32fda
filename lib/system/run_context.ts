/**
 * `RunContext`: the four settings every stage of a run shares (where relative paths belong, the
 * environment, where progress goes, what stops the work), declared once.
 *
 * @module
 */
import { type Reporter, SILENT_REPORTER } from "./output.ts";

/** What every stage of a run works in. */
export interface RunContext {
  /** Directory relative paths belong to. */
  readonly cwd: string;
  /** The caller's environment: source of `MLFLOW_*` settings and base of the child's. */
  readonly env: Record<string, string>;
  /** Receives progress lines. */
  readonly reporter: Reporter;
  /** Aborting stops the work in progress. */
  readonly signal?: AbortSignal;
}

/**
 * Fills a partial context with the defaults: the process cwd and environment, a silent reporter.
 *
 * @param options Any of the four settings.
 * @returns The complete context.
 *
 * @example
 * ```ts
 * import { runContext } from "./run_context.ts";
 * const ctx = runContext({ cwd: "/tmp" });
 * console.assert(ctx.cwd === "/tmp" && ctx.signal === undefined);
 * ```
 */
export function runContext(options: Partial<RunContext> = {}): RunContext {
  return {
    cwd: options.cwd ?? Deno.cwd(),
    env: options.env ?? Deno.env.toObject(),
    reporter: options.reporter ?? SILENT_REPORTER,
    ...(options.signal !== undefined ? { signal: options.signal } : {}),
  };
}
