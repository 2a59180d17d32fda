/**
 * Startup timing marks: where a `mlproject` invocation spends its time, phase by phase.
 *
 * Off by default ({@linkcode mark} then does nothing). The CLI turns it on when
 * `MLPROJECT_TIMING=1` and prints the marks at exit (`scripts/bench.ts` reads them). Times are
 * `performance.now()`: milliseconds since the runtime started.
 *
 * @module
 */

let marks: [string, number][] | undefined;

/**
 * Starts recording marks (and forgets earlier ones).
 *
 * @example
 * ```ts
 * import { enableTiming, mark, timingMarks } from "./timing.ts";
 * enableTiming();
 * mark("start");
 * console.assert(timingMarks()[0]![0] === "start");
 * ```
 */
export function enableTiming(): void {
  marks = [];
}

/**
 * Records that a phase ended now (nothing when timing is off).
 *
 * @param name The phase.
 *
 * @example
 * ```ts
 * import { mark } from "./timing.ts";
 * mark("plan");
 * ```
 */
export function mark(name: string): void {
  marks?.push([name, performance.now()]);
}

/**
 * The marks recorded so far, in order: `[phase, ms since the runtime started]`.
 *
 * @returns The marks (empty when timing is off).
 *
 * @example
 * ```ts
 * import { timingMarks } from "./timing.ts";
 * console.assert(Array.isArray(timingMarks()));
 * ```
 */
export function timingMarks(): readonly (readonly [string, number])[] {
  return marks ?? [];
}
