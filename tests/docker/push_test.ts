/**
 * Pushing to a real registry (Debian's docker-registry) with the docker CLI: digest read from the
 * push, no second push while the registry has the tag with that digest, a push again when the
 * registry lost it, MLflow's message for a failed push.
 */
import assert from "node:assert/strict";
import { pushDockerImage } from "../../lib/docker/push.ts";
import { skipWithoutRegistry, startRegistry } from "../_helpers/registry.ts";
import { BUSYBOX, dockerOut, NO_ENGINE } from "./_engine.ts";

const ignore = NO_ENGINE || await skipWithoutRegistry("docker push tests");

Deno.test({
  name:
    "an image is pushed once: the digest comes from the push, a second call finds it in the registry",
  ignore,
  fn: async () => {
    await using registry = await startRegistry();
    const target = `${registry.host}/push-test/bb:${crypto.randomUUID().slice(0, 8)}`;
    try {
      const first = await pushDockerImage(BUSYBOX, target);
      assert.equal(first.pushed, true);
      assert.match(first.digest, /^sha256:[0-9a-f]{64}$/);
      assert.deepEqual(first.commands.filter((c) => c === "push"), ["push"]);
      const again = await pushDockerImage(BUSYBOX, target);
      assert.equal(again.pushed, false);
      assert.equal(again.digest, first.digest);
      assert.ok(!again.commands.includes("push"));
      // The registry loses the manifest: pushed again.
      const res = await fetch(
        `http://${registry.host}/v2/push-test/bb/manifests/${first.digest}`,
        { method: "DELETE" },
      );
      await res.body?.cancel();
      assert.equal(res.status, 202);
      const third = await pushDockerImage(BUSYBOX, target);
      assert.equal(third.pushed, true);
      assert.equal(third.digest, first.digest);
    } finally {
      await dockerOut(["image", "rm", target]).catch(() => {});
    }
  },
});

Deno.test({
  name: "a push the registry refuses fails with MLflow's message",
  ignore,
  fn: async () => {
    await using registry = await startRegistry();
    const host = registry.host;
    await registry.close();
    const target = `${host}/push-test/gone:1`;
    try {
      await assert.rejects(
        pushDockerImage(BUSYBOX, target),
        /^ExecutionException: Error while pushing to docker registry: /,
      );
    } finally {
      await dockerOut(["image", "rm", target]).catch(() => {});
    }
  },
});
