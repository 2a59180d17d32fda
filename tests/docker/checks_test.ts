import assert from "node:assert/strict";
import { checkDockerEngine, validateDockerProject } from "../../lib/docker/checks.ts";
import { ExecutionException } from "../../lib/system/errors.ts";
import { findExecutable } from "../_helpers/components.ts";
import { tempDir } from "../_helpers/cli.ts";

Deno.test("no docker executable on PATH gives MLflow's message", async () => {
  await using d = await tempDir();
  await assert.rejects(
    checkDockerEngine({ env: { PATH: d.path } }),
    (e: unknown) =>
      e instanceof ExecutionException &&
      e.message ===
        "Could not find Docker executable. Ensure Docker is installed as per the instructions at https://docs.docker.com/install/overview/.",
  );
});

/** Every distinct `docker` CLI on PATH (a machine may have Debian's 20.10 and a newer one). */
function dockerClis(): string[] {
  const found = new Map<string, string>();
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    const cli = dir === "" ? undefined : findExecutable("docker", { path: dir });
    if (cli !== undefined && !found.has(Deno.realPathSync(cli))) {
      found.set(Deno.realPathSync(cli), cli);
    }
  }
  return [...found.values()];
}

Deno.test({
  name:
    "an engine that does not answer gives MLflow's `docker info` message with the CLI's error line",
  ignore: findExecutable("docker") === undefined,
  fn: async (t) => {
    for (const cli of dockerClis()) {
      await t.step(cli, async () => {
        await using d = await tempDir();
        const env = {
          PATH: cli.slice(0, cli.lastIndexOf("/")),
          HOME: d.path,
          DOCKER_HOST: `unix://${d.path}/no-engine.sock`,
        };
        await assert.rejects(checkDockerEngine({ env }), (e: unknown) => {
          assert.ok(e instanceof ExecutionException);
          const [first, second, ...rest] = e.message.split("\n");
          assert.equal(
            first,
            "Ran `docker info` to ensure docker daemon is running but it failed with the following output:",
          );
          assert.match(second!, /no-engine\.sock/);
          assert.deepEqual(rest, []);
          return true;
        });
      });
    }
  },
});

Deno.test("docker projects need a name and an image (MLflow's messages)", () => {
  assert.throws(
    () => validateDockerProject({ name: undefined, dockerEnv: { image: "x" } }),
    new ExecutionException(
      "Project name in MLProject must be specified when using docker for image tagging.",
    ),
  );
  assert.throws(
    () => validateDockerProject({ name: "p", dockerEnv: { image: "" } }),
    new ExecutionException(
      "Project with docker environment must specify the docker image to use via an 'image' field under the 'docker_env' field.",
    ),
  );
  validateDockerProject({ name: "p", dockerEnv: { image: "x" } });
});
