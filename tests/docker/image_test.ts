import assert from "node:assert/strict";
import { dockerImageTags, resolveDockerImage } from "../../lib/docker/image.ts";
import { ExecutionException } from "../../lib/system/errors.ts";
import type { LogLevel, Reporter } from "../../lib/system/output.ts";
import { tempDir, writeFiles } from "../_helpers/cli.ts";
import { findExecutable } from "../_helpers/components.ts";
import { BUSYBOX, dockerOut, NO_ENGINE, removeRepository } from "./_engine.ts";

function recorder(): Reporter & { lines: string[] } {
  const lines: string[] = [];
  return { lines, log: (level: LogLevel, m: string) => void lines.push(`${level} ${m}`) };
}

function uniqueName(): string {
  return `mlproject-test-${crypto.randomUUID().slice(0, 8)}`;
}

Deno.test({
  name: "a prebuilt image is used as is: one docker image inspect, its id recorded",
  ignore: NO_ENGINE,
  fn: async () => {
    await using d = await tempDir();
    const reporter = recorder();
    const image = await resolveDockerImage(
      { name: "p", dir: d.path, dockerEnv: { image: BUSYBOX } },
      { reporter },
    );
    assert.equal(image.uri, BUSYBOX);
    assert.equal(image.id, await dockerOut(["image", "inspect", "--format", "{{.Id}}", BUSYBOX]));
    assert.deepEqual(image.commands, ["image inspect"]);
    assert.equal(image.built, false);
    assert.deepEqual(reporter.lines, [`INFO ${BUSYBOX} already exists`]);
    assert.deepEqual(dockerImageTags(image), {
      "mlflow.docker.image.uri": BUSYBOX,
      "mlflow.docker.image.id": image.id,
      "mlflow.project.env": "docker",
    });
  },
});

Deno.test({
  name: "a missing image is pulled; a pull that fails is one line naming the image",
  ignore: NO_ENGINE,
  fn: async () => {
    await using d = await tempDir();
    const reporter = recorder();
    const missing = "127.0.0.1:9/mlproject-test/missing:1";
    await assert.rejects(
      resolveDockerImage({ name: "p", dir: d.path, dockerEnv: { image: missing } }, { reporter }),
      (e: unknown) =>
        e instanceof ExecutionException &&
        e.message.startsWith(`Pulling docker image '${missing}' failed: `) &&
        !e.message.includes("\n"),
    );
    assert.equal(reporter.lines[0], `INFO Pulling ${missing}`);
  },
});

Deno.test({
  name:
    "--build-image: built once, then reused with 0 builds; an ignored change reuses it, a real change builds once",
  ignore: NO_ENGINE,
  fn: async () => {
    await using d = await tempDir();
    const name = uniqueName();
    await writeFiles(d.path, {
      "MLproject": `name: ${name}\ndocker_env:\n  image: ${BUSYBOX}\n`,
      ".dockerignore": "data\n*.log\n",
      "src/a.txt": "one\n",
      "data/big.bin": "x".repeat(10_000),
      "run.log": "log\n",
    });
    const project = { name, dir: d.path, dockerEnv: { image: BUSYBOX } };
    try {
      const reporter = recorder();
      const first = await resolveDockerImage(project, { buildImage: true, reporter });
      assert.equal(first.built, true);
      assert.match(first.uri, new RegExp(`^${name}:[0-9a-f]{16}$`));
      assert.match(first.id, /^sha256:[0-9a-f]{64}$/);
      assert.ok(reporter.lines.includes(`INFO === Building docker image ${first.uri} ===`));
      assert.ok(
        reporter.lines.some((l) =>
          l.startsWith(`INFO docker build step 1/`) && l.endsWith(`FROM ${BUSYBOX}`)
        ),
        reporter.lines.join("\n"),
      );
      const listing = await dockerOut([
        "run",
        "--rm",
        first.uri,
        "sh",
        "-c",
        "pwd; find . -type f | sort; cat src/a.txt",
      ]);
      assert.deepEqual(listing.split("\n"), [
        "/mlflow/projects/code",
        "./.dockerignore",
        "./MLproject",
        "./src/a.txt",
        "one",
      ]);

      const second = await resolveDockerImage(project, { buildImage: true });
      assert.equal(second.built, false);
      assert.deepEqual(second.commands, ["image inspect"]);
      assert.equal(second.id, first.id);

      await Deno.writeTextFile(`${d.path}/run.log`, "more log\n");
      await Deno.writeTextFile(`${d.path}/data/big.bin`, "y");
      await Deno.utime(`${d.path}/src/a.txt`, 5, 5);
      const ignored = await resolveDockerImage(project, { buildImage: true });
      assert.equal(ignored.built, false);
      assert.equal(ignored.uri, first.uri);

      await Deno.writeTextFile(`${d.path}/src/a.txt`, "two\n");
      const changed = await resolveDockerImage(project, { buildImage: true });
      assert.equal(changed.built, true);
      assert.notEqual(changed.uri, first.uri);
      assert.equal(changed.commands.filter((c) => c === "build").length, 1);
      assert.equal(await dockerOut(["run", "--rm", changed.uri, "cat", "src/a.txt"]), "two");
    } finally {
      await removeRepository(name);
    }
  },
});

Deno.test({
  name: "concurrent runs of the same project build its image once",
  ignore: NO_ENGINE,
  fn: async () => {
    await using d = await tempDir();
    const name = uniqueName();
    await writeFiles(d.path, { "a.txt": crypto.randomUUID() });
    const project = { name, dir: d.path, dockerEnv: { image: BUSYBOX } };
    try {
      const images = await Promise.all(
        [1, 2, 3].map(() => resolveDockerImage(project, { buildImage: true })),
      );
      assert.equal(images.filter((i) => i.built).length, 1);
      assert.equal(new Set(images.map((i) => i.id)).size, 1);
    } finally {
      await removeRepository(name);
    }
  },
});

Deno.test({
  name: "an engine that cannot be reached is an error naming the command, not a missing image",
  ignore: findExecutable("docker") === undefined,
  fn: async () => {
    await using d = await tempDir();
    const env = {
      PATH: Deno.env.get("PATH") ?? "",
      HOME: d.path,
      DOCKER_HOST: `unix://${d.path}/x.sock`,
    };
    await assert.rejects(
      resolveDockerImage({ name: "p", dir: d.path, dockerEnv: { image: BUSYBOX } }, { env }),
      (e: unknown) =>
        e instanceof ExecutionException &&
        e.message.startsWith(`docker image inspect ${BUSYBOX} failed: Cannot connect`),
    );
  },
});
