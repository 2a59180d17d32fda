import assert from "node:assert/strict";
import {
  contextHash,
  contextTar,
  generatedDockerfile,
  scanBuildContext,
} from "../../lib/docker/build_context.ts";
import { runCommand } from "../../lib/system/run_command.ts";
import { tempDir, writeFiles } from "../_helpers/cli.ts";

const DOCKERFILE = generatedDockerfile("base:1");

async function hashOf(dir: string): Promise<string> {
  return contextHash(await scanBuildContext(dir), DOCKERFILE);
}

Deno.test("the context leaves out what .dockerignore excludes, keeps exceptions, and lists parents first", async () => {
  await using d = await tempDir();
  await writeFiles(d.path, {
    ".dockerignore": "data\n!data/keep.txt\n**/*.pyc\n.venv\n",
    "MLproject": "name: p\n",
    "src/train.py": "print(1)\n",
    "src/train.pyc": "x",
    "data/big.bin": "0".repeat(1000),
    "data/keep.txt": "k",
    ".venv/bin/python": "#!",
  });
  await Deno.symlink("src/train.py", `${d.path}/link.py`);
  const ctx = await scanBuildContext(d.path);
  assert.deepEqual(ctx.entries.map((e) => `${e.kind}:${e.path}`), [
    "file:.dockerignore",
    "file:MLproject",
    "file:data/keep.txt",
    "symlink:link.py",
    "dir:src",
    "file:src/train.py",
  ]);
  assert.equal(ctx.entries.find((e) => e.path === "link.py")?.target, "src/train.py");
  assert.equal(ctx.excludedCount, 4); // data (dir), data/big.bin, .venv, src/train.pyc
});

Deno.test("the hash ignores times and excluded files, and changes with content, names, modes and the Dockerfile", async () => {
  await using d = await tempDir();
  await writeFiles(d.path, { ".dockerignore": "*.log\n", "a.py": "1", "run.log": "x" });
  const first = await hashOf(d.path);
  await Deno.utime(`${d.path}/a.py`, 1, 1);
  await Deno.writeTextFile(`${d.path}/run.log`, "changed");
  assert.equal(await hashOf(d.path), first, "mtime and ignored files do not count");
  await Deno.writeTextFile(`${d.path}/a.py`, "2");
  const second = await hashOf(d.path);
  assert.notEqual(second, first);
  await Deno.chmod(`${d.path}/a.py`, 0o755);
  const third = await hashOf(d.path);
  assert.notEqual(third, second);
  await Deno.rename(`${d.path}/a.py`, `${d.path}/b.py`);
  assert.notEqual(await hashOf(d.path), third);
  const ctx = await scanBuildContext(d.path);
  assert.notEqual(contextHash(ctx, generatedDockerfile("base:2")), contextHash(ctx, DOCKERFILE));
});

Deno.test("the streamed tar is a valid archive that GNU tar lists and extracts byte for byte", async () => {
  await using d = await tempDir();
  const long = `${"deep/".repeat(25)}file-with-a-long-name.txt`;
  await writeFiles(d.path, {
    "a.txt": "hello\n",
    "empty": "",
    [long]: "long\n",
    "ünïcode.txt": "u\n",
    "blocks.bin": "b".repeat(1500),
  });
  await Deno.chmod(`${d.path}/a.txt`, 0o755);
  await Deno.symlink("a.txt", `${d.path}/l`);
  const ctx = await scanBuildContext(d.path);
  const report = { changed: [] as string[] };
  await using out = await tempDir();
  const tar = await runCommand("tar", ["-x", "-f", "-", "-C", out.path], {
    input: contextTar(ctx, DOCKERFILE, report),
  });
  assert.equal(tar.code, 0, tar.stderr);
  assert.deepEqual(report.changed, []);
  assert.equal(await Deno.readTextFile(`${out.path}/Dockerfile.mlproject`), DOCKERFILE);
  for (const f of ["a.txt", "empty", long, "ünïcode.txt", "blocks.bin"]) {
    assert.equal(
      await Deno.readTextFile(`${out.path}/project/${f}`),
      await Deno.readTextFile(`${d.path}/${f}`),
      f,
    );
  }
  assert.equal((await Deno.stat(`${out.path}/project/a.txt`)).mode! & 0o777, 0o755);
  assert.equal(await Deno.readLink(`${out.path}/project/l`), "a.txt");
});

Deno.test("a file changed between the scan and the stream is reported", async () => {
  await using d = await tempDir();
  await writeFiles(d.path, { "a.txt": "one" });
  const ctx = await scanBuildContext(d.path);
  await Deno.writeTextFile(`${d.path}/a.txt`, "two");
  const report = { changed: [] as string[] };
  for await (const _ of contextTar(ctx, DOCKERFILE, report)) { /* drain */ }
  assert.deepEqual(report.changed, ["a.txt"]);
});

Deno.test("excludePaths leave the run's own store out of the context (it changes on every run)", async () => {
  await using d = await tempDir();
  await writeFiles(d.path, { "a.py": "1", "mlruns/0/meta.yaml": "x", "mlflow.db": "db" });
  const excludePaths = [
    `${d.path}/mlruns`,
    `${d.path}/mlflow.db`,
    `${d.path}/mlflow.db-wal`,
    "/elsewhere/x",
  ];
  const ctx = await scanBuildContext(d.path, { excludePaths });
  assert.deepEqual(ctx.entries.map((e) => e.path), ["a.py"]);
  const before = contextHash(ctx, DOCKERFILE);
  await Deno.writeTextFile(`${d.path}/mlflow.db`, "db changed");
  await Deno.writeTextFile(`${d.path}/mlruns/0/meta.yaml`, "y");
  assert.equal(contextHash(await scanBuildContext(d.path, { excludePaths }), DOCKERFILE), before);
});
