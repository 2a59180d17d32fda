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
  name: "nextTurn() runs the listeners of a signal that arrived during synchronous work",
  ignore: Deno.build.os === "windows",
  fn: async () => {
    using raised = raise("SIGUSR2");
    // Without a turn of the event loop the listener has not run yet.
    await Promise.resolve();
    assert.equal(raised.seen(), false);
    await nextTurn();
    assert.equal(raised.seen(), true);
  },
});

Deno.test("sleep() rejects with the signal's reason when aborted", async () => {
  const controller = new AbortController();
  const waiting = sleep(60_000, controller.signal);
  controller.abort(new Error("stop"));
  await assert.rejects(waiting, /stop/);
});
