/**
 * The project tarball cache: an unchanged project is a hit (nothing compressed), any change that
 * alters the tarball is a miss whose sha256 equals a fresh build's, concurrent runs build once,
 * corrupt entries and tarballs are rebuilt, and the cache stays bounded.
 */
import assert from "node:assert/strict";
import { projectTarball } from "../../lib/databricks/project_tarball.ts";
import {
  cachedProjectTarball,
  type CachedProjectTarballOptions,
} from "../../lib/databricks/project_tarball_cache.ts";

async function withTemp(fn: (root: string) => Promise<void>): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "mlproject-tarcache-" });
  try {
    await fn(root);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

async function makeProject(dir: string): Promise<void> {
  await Deno.mkdir(`${dir}/src/pkg`, { recursive: true });
  await Deno.mkdir(`${dir}/mlruns/0`, { recursive: true });
  await Deno.writeTextFile(`${dir}/MLproject`, "name: p\nentry_points:\n  main:\n    command: x\n");
  await Deno.writeTextFile(`${dir}/src/pkg/train.py`, "print('train')\n".repeat(100));
  await Deno.writeTextFile(`${dir}/mlruns/0/meta.yaml`, "x: 1\n");
  await Deno.symlink("src/pkg/train.py", `${dir}/link.py`);
}

/** A digest and how many members were compressed to get it. */
async function digest(
  dir: string,
  options: CachedProjectTarballOptions,
): Promise<{ sha256: string; size: number; hit: boolean; compressed: number }> {
  let compressed = 0;
  await using t = await cachedProjectTarball(dir, {
    ...options,
    onProgress: () => compressed++,
  });
  return { sha256: t.sha256, size: t.size, hit: t.hit, compressed };
}

async function fresh(dir: string, root: string): Promise<string> {
  const out = `${root}/fresh-${crypto.randomUUID()}.tgz`;
  const t = await projectTarball(dir, { outputPath: out });
  await Deno.remove(out);
  return t.sha256;
}

Deno.test("tarball cache: a second call on an unchanged project is a hit that compresses nothing", () =>
  withTemp(async (root) => {
    const dir = `${root}/p`;
    await makeProject(dir);
    const cacheDir = `${root}/cache`;
    const first = await digest(dir, { cacheDir });
    assert.equal(first.hit, false);
    assert(first.compressed > 0);
    assert.equal(first.sha256, await fresh(dir, root));
    const second = await digest(dir, { cacheDir });
    assert.deepEqual(second, { ...first, hit: true, compressed: 0 });
    // The files were just written (racy): the entry holds their hashes and still hits.
    const entries = [...Deno.readDirSync(`${cacheDir}/entries`)];
    assert.equal(entries.length, 1);
    const entry = JSON.parse(Deno.readTextFileSync(`${cacheDir}/entries/${entries[0]!.name}`));
    assert(Object.keys(entry.racy).includes("mlflow-project/src/pkg/train.py"));
    assert(!Object.keys(entry.racy).some((n) => n.includes("mlruns")));
  }));

Deno.test("tarball cache: the cached tarball is the fresh tarball's bytes", () =>
  withTemp(async (root) => {
    const dir = `${root}/p`;
    await makeProject(dir);
    const cacheDir = `${root}/cache`;
    await (await cachedProjectTarball(dir, { cacheDir }))[Symbol.asyncDispose]();
    await using again = await cachedProjectTarball(dir, { cacheDir });
    assert(again.hit);
    const opened = await again.open();
    const bytes = new Uint8Array(opened.size);
    for (let at = 0; at < bytes.length;) at += (await opened.file.read(bytes.subarray(at)))!;
    opened.file.close();
    assert.equal(opened.rebuilt, false);
    const out = `${root}/fresh.tgz`;
    await projectTarball(dir, { outputPath: out });
    assert.deepEqual(bytes, await Deno.readFile(out));
  }));

const CHANGES: Record<string, (dir: string) => Promise<void>> = {
  "same-size content": (dir) =>
    Deno.writeTextFile(`${dir}/MLproject`, "name: q\nentry_points:\n  main:\n    command: x\n"),
  "content with mtime restored": async (dir) => {
    const before = await Deno.stat(`${dir}/src/pkg/train.py`);
    await Deno.writeTextFile(`${dir}/src/pkg/train.py`, "print('TRAIN')\n".repeat(100));
    await Deno.utime(`${dir}/src/pkg/train.py`, before.atime!, before.mtime!);
  },
  "mode": (dir) => Deno.chmod(`${dir}/MLproject`, 0o600),
  "new file": (dir) => Deno.writeTextFile(`${dir}/src/new.py`, ""),
  "new empty dir": (dir) => Deno.mkdir(`${dir}/data`),
  "removed file": (dir) => Deno.remove(`${dir}/src/pkg/train.py`),
  "renamed file": (dir) => Deno.rename(`${dir}/src/pkg/train.py`, `${dir}/src/pkg/train2.py`),
  "symlink target": async (dir) => {
    await Deno.remove(`${dir}/link.py`);
    await Deno.symlink("MLproject", `${dir}/link.py`);
  },
  "hard link": (dir) => Deno.link(`${dir}/MLproject`, `${dir}/MLproject2`),
};

for (const [name, change] of Object.entries(CHANGES)) {
  Deno.test(`tarball cache: changed ${name} is a miss whose sha256 is a fresh build's`, () =>
    withTemp(async (root) => {
      const dir = `${root}/p`;
      await makeProject(dir);
      const cacheDir = `${root}/cache`;
      const first = await digest(dir, { cacheDir });
      await change(dir);
      const second = await digest(dir, { cacheDir });
      assert.equal(second.hit, false);
      assert(second.compressed > 0);
      assert.notEqual(second.sha256, first.sha256);
      assert.equal(second.sha256, await fresh(dir, root));
      assert.equal((await digest(dir, { cacheDir })).hit, true);
    }));
}

Deno.test("tarball cache: a change under mlruns is still a hit (mlruns is not archived)", () =>
  withTemp(async (root) => {
    const dir = `${root}/p`;
    await makeProject(dir);
    const cacheDir = `${root}/cache`;
    const first = await digest(dir, { cacheDir });
    await Deno.writeTextFile(`${dir}/mlruns/0/meta.yaml`, "x: 2\n");
    const second = await digest(dir, { cacheDir });
    assert.deepEqual(second, { ...first, hit: true, compressed: 0 });
  }));

Deno.test("tarball cache: two concurrent runs of one project build once and agree", () =>
  withTemp(async (root) => {
    const dir = `${root}/p`;
    await makeProject(dir);
    const cacheDir = `${root}/cache`;
    const [a, b] = await Promise.all([digest(dir, { cacheDir }), digest(dir, { cacheDir })]);
    assert.equal(a.sha256, b.sha256);
    assert.equal([a.hit, b.hit].filter((h) => h).length, 1, "one builds, the other waits and hits");
    assert.equal(a.sha256, await fresh(dir, root));
    const left = [...Deno.readDirSync(`${cacheDir}/tarballs`)].map((e) => e.name);
    assert.deepEqual(left, [`${a.sha256}.tar.gz`]);
  }));

Deno.test("tarball cache: two concurrent processes build once and agree", () =>
  withTemp(async (root) => {
    const dir = `${root}/p`;
    await makeProject(dir);
    const cacheDir = `${root}/cache`;
    const module = new URL("../../lib/databricks/project_tarball_cache.ts", import.meta.url).href;
    const code = `import { cachedProjectTarball } from ${JSON.stringify(module)};
      await using t = await cachedProjectTarball(Deno.args[0], { cacheDir: Deno.args[1] });
      console.log(JSON.stringify({ sha256: t.sha256, hit: t.hit }));`;
    const child = () =>
      new Deno.Command(Deno.execPath(), {
        args: ["eval", "--no-check", code, dir, cacheDir],
        stdout: "piped",
        stderr: "piped",
      }).output();
    const outs = await Promise.all([child(), child()]);
    const results = outs.map((o) => {
      assert(o.success, new TextDecoder().decode(o.stderr));
      return JSON.parse(new TextDecoder().decode(o.stdout)) as { sha256: string; hit: boolean };
    });
    assert.equal(results[0]!.sha256, results[1]!.sha256);
    assert.equal(results[0]!.sha256, await fresh(dir, root));
    assert.equal(results.filter((r) => r.hit).length, 1, "one builds, the other waits and hits");
  }));

Deno.test("tarball cache: a corrupt entry is ignored and rebuilt", () =>
  withTemp(async (root) => {
    const dir = `${root}/p`;
    await makeProject(dir);
    const cacheDir = `${root}/cache`;
    const first = await digest(dir, { cacheDir });
    const [entry] = [...Deno.readDirSync(`${cacheDir}/entries`)];
    const path = `${cacheDir}/entries/${entry!.name}`;
    for (const bad of ["{not json", JSON.stringify({ sha256: "0".repeat(64) }), ""]) {
      await Deno.writeTextFile(path, bad);
      const again = await digest(dir, { cacheDir });
      assert.equal(again.hit, false, bad);
      assert.equal(again.sha256, first.sha256);
    }
    assert.equal((await digest(dir, { cacheDir })).hit, true);
  }));

Deno.test("tarball cache: a corrupt or missing cached tarball is rebuilt on open", () =>
  withTemp(async (root) => {
    const dir = `${root}/p`;
    await makeProject(dir);
    const cacheDir = `${root}/cache`;
    const first = await digest(dir, { cacheDir });
    const tarball = `${cacheDir}/tarballs/${first.sha256}.tar.gz`;
    const good = await Deno.readFile(tarball);
    for (
      const damage of [
        () => Deno.writeFile(tarball, good.slice(0, -1).reverse()),
        () => Deno.remove(tarball),
      ]
    ) {
      await damage();
      let compressed = 0;
      await using t = await cachedProjectTarball(dir, { cacheDir, onProgress: () => compressed++ });
      assert.equal(t.hit, true);
      assert.equal(compressed, 0);
      const opened = await t.open();
      opened.file.close();
      assert.equal(opened.rebuilt, true);
      assert(compressed > 0);
      assert.equal(opened.sha256, first.sha256);
      assert.deepEqual(await Deno.readFile(tarball), good);
    }
  }));

Deno.test("tarball cache: without a cache directory every call builds", () =>
  withTemp(async (root) => {
    const dir = `${root}/p`;
    await makeProject(dir);
    const a = await digest(dir, {});
    const b = await digest(dir, {});
    assert.equal(a.hit || b.hit, false);
    assert.equal(a.sha256, b.sha256);
  }));

Deno.test("tarball cache: a cache directory inside the project is not used", () =>
  withTemp(async (root) => {
    const dir = `${root}/p`;
    await makeProject(dir);
    await using t = await cachedProjectTarball(dir, { cacheDir: `${dir}/.cache` });
    assert.equal(t.hit, false);
    assert.match(t.notStored ?? "", /inside the project/);
  }));

Deno.test("tarball cache: entries and tarballs are pruned to the configured bounds", () =>
  withTemp(async (root) => {
    const cacheDir = `${root}/cache`;
    const bounds = { cacheDir, maxEntries: 3, maxTarballs: 2 };
    const shas: string[] = [];
    for (let i = 0; i < 5; i++) {
      const dir = `${root}/p${i}`;
      await Deno.mkdir(dir);
      await Deno.writeTextFile(`${dir}/f.txt`, `project ${i}\n`);
      shas.push((await digest(dir, bounds)).sha256);
      // Distinct last-use times without waiting: entries are ordered by their mtime.
      for (const e of Deno.readDirSync(`${cacheDir}/entries`)) {
        const t = new Date(Date.now() - 60_000 * (10 - i));
        if (e.name.endsWith(".json") && !e.name.startsWith("_")) {
          const path = `${cacheDir}/entries/${e.name}`;
          if (JSON.parse(Deno.readTextFileSync(path)).sha256 === shas[i]) {
            Deno.utimeSync(path, t, t);
          }
        }
      }
    }
    assert.equal([...Deno.readDirSync(`${cacheDir}/entries`)].length, 3);
    const tarballs = [...Deno.readDirSync(`${cacheDir}/tarballs`)].map((e) => e.name).sort();
    assert.deepEqual(tarballs, [`${shas[3]}.tar.gz`, `${shas[4]}.tar.gz`].sort());
    // The newest projects still hit; the oldest was dropped.
    assert.equal((await digest(`${root}/p4`, bounds)).hit, true);
    assert.equal((await digest(`${root}/p0`, bounds)).hit, false);
  }));
