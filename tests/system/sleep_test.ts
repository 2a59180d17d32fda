import assert from "node:assert/strict";
import { nextTurn, sleep } from "../../lib/system/sleep.ts";

/** Sends this process `signal` and returns a function telling whether its listener ran. */
function raise(signal: Deno.Signal): { seen: () => boolean; [Symbol.dispose](): void } {
  let seen = false;
  const listener = () => {
    seen = true;
  };
  Deno.addSignalListener(signal, listener);
  Deno.kill(Deno.pid, signal);
  return {
    seen: () => seen,
    [Symbol.dispose]: () => Deno.removeSignalListener(signal, listener),
  };
}

Deno.test({
  name: "nextTurn() lets the event loop run the listeners of a signal that arrived meanwhile",
  ignore: Deno.build.os === "windows",
  fn: async () => {
    using raised = raise("SIGUSR2");
    // Promise reactions alone never get the signal read.
    for (let i = 0; i < 50; i++) await Promise.resolve();
    assert.equal(raised.seen(), false);
    // One turn is enough on a machine that is not overloaded; a starved one may need more.
    for (let i = 0; i < 50 && !raised.seen(); i++) await nextTurn();
    assert.equal(raised.seen(), true);
  },
});

Deno.test("sleep() rejects with the signal's reason when aborted", async () => {
  const controller = new AbortController();
  const waiting = sleep(60_000, controller.signal);
  controller.abort(new Error("stop"));
  await assert.rejects(waiting, /stop/);
});
