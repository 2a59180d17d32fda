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

function timer(ms: number): Promise<void> {
  return new Promise((resolve) => {
    AbortSignal.timeout(ms).addEventListener("abort", () => resolve(), { once: true });
  });
}

/**
 * Lets the event loop handle the signals that arrived during synchronous work, so that their
 * listeners have run when this resolves. Deno reads signals only while its event loop waits; a
 * timer that has already expired when the loop looks (a loaded machine) does not make it wait, so
 * a second timer is started once the first fired, and a few promise reactions follow for a signal
 * handled in the same turn (a starved machine may still deliver a signal later). Unlike
 * `setTimeout`, whose first use loads Node's timers (~10 ms), this loads nothing.
 *
 * @returns A promise that resolves once pending signals were handled.
 *
 * @example
 * ```ts
 * import { nextTurn } from "./sleep.ts";
 * await nextTurn();
 * ```
 */
export async function nextTurn(): Promise<void> {
  await timer(1);
  await timer(1);
  for (let i = 0; i < 8; i++) await null;
}
