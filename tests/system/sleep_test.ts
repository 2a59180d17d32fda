import assert from "node:assert/strict";
import { nextTurn, sleep } from "../../lib/system/sleep.ts";

Deno.test({
  name: "nextTurn() runs the listeners of a signal that arrived during synchronous work",
  ignore: Deno.build.os === "windows",
  fn: async () => {
    let seen = false;
    const listener = () => {
      seen = true;
    };
    Deno.addSignalListener("SIGUSR2", listener);
    try {
      // Without a turn of the event loop the listener has not run yet.
      Deno.kill(Deno.pid, "SIGUSR2");
      await Promise.resolve();
      assert.equal(seen, false);
      await nextTurn();
      assert.equal(seen, true);
    } finally {
      Deno.removeSignalListener("SIGUSR2", listener);
    }
  },
});

Deno.test("sleep() rejects with the signal's reason when aborted", async () => {
  const controller = new AbortController();
  const waiting = sleep(60_000, controller.signal);
  controller.abort(new Error("stop"));
  await assert.rejects(waiting, /stop/);
});
