/**
 * Waiting that an `AbortSignal` can cut short.
 *
 * @module
 */

/**
 * Resolves after `ms` milliseconds, or rejects with the signal's reason when it aborts first.
 *
 * @param ms Milliseconds to wait.
 * @param signal Aborting stops the wait.
 * @returns A promise that resolves when the time is up.
 *
 * @example
 * ```ts
 * import { sleep } from "./sleep.ts";
 * await sleep(1);
 * ```
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * Lets the event loop turn once, as `setTimeout(resolve, 1)` does, so that a signal that arrived
 * during synchronous work has its listeners run first (Deno reads signals while its event loop
 * waits; a starved machine may deliver one later still). A few promise reactions follow, for a
 * signal handled in the same turn as the timer. Unlike `setTimeout`, whose first use loads Node's
 * timers (~10 ms), this loads nothing.
 *
 * @returns A promise that resolves after the turn.
 *
 * @example
 * ```ts
 * import { nextTurn } from "./sleep.ts";
 * await nextTurn();
 * ```
 */
export async function nextTurn(): Promise<void> {
  await new Promise<void>((resolve) => {
    AbortSignal.timeout(1).addEventListener("abort", () => resolve(), { once: true });
  });
  for (let i = 0; i < 8; i++) await null;
}
