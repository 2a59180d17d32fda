/**
 * The Databricks project tarball is byte-identical to the one real MLflow builds
 * (`DatabricksJobRunner._upload_project_to_dbfs`, run from a real MLflow venv) for projects with
 * symlinks, hard links, empty dirs, `mlruns` folders, unicode and long names, exec bits, odd
 * owners and megabytes of binary data.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { ExecutionException } from "../../lib/system/errors.ts";
import { projectTarball } from "../../lib/databricks/project_tarball.ts";
import { mlflowVenvRoot, runPython, testMlflowVenvs } from "../_helpers/mlflow_venvs.ts";
import { skipWithout } from "../_helpers/components.ts";

const VENVS = testMlflowVenvs();
const noMlflow = skipWithout(
  "tarball identity with MLflow",
  VENVS.length > 0,
  `no MLflow venv in ${mlflowVenvRoot()} (scripts/install_test_mlflow.sh installs them)`,
);
const isRoot = Deno.uid() === 0;

/**
 * Python run with each `<project> <output>` pair: MLflow's own upload step with the DBFS calls
 * replaced (exists → true), keeping a copy of the archive it built; prints one hash per line.
 * `_get_local_project_dir_size` (a log line only) is bypassed: it crashes on dangling symlinks.
 */
const MLFLOW_TARBALLS = `
import sys, shutil
from mlflow.projects import databricks
from mlflow.utils import file_utils
make_tarfile = file_utils.make_tarfile
for project, output in zip(sys.argv[1::2], sys.argv[2::2]):
    def keep(out, src, name, custom_filter=None, output=output):
        make_tarfile(out, src, name, custom_filter=custom_filter)
        shutil.copyfile(out, output)
    databricks.file_utils.make_tarfile = keep
    databricks.file_utils._get_local_project_dir_size = lambda path: 0
    runner = databricks.DatabricksJobRunner(databricks_profile_uri=None)
    runner._dbfs_path_exists = lambda path: True
    uri = runner._upload_project_to_dbfs(project, "0")
    print(uri.rsplit("/", 1)[1].split(".")[0])
`;
import { pseudoRandom } from "../_helpers/pseudo_random.ts";

async function write(path: string, content: string | Uint8Array, mode?: number): Promise<void> {
  await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
  if (typeof content === "string") await Deno.writeTextFile(path, content);
  else await Deno.writeFile(path, content);
  if (mode !== undefined) await Deno.chmod(path, mode);
}

/** The test projects, by name: each builder fills an empty directory. */
const PROJECTS: Record<string, (dir: string) => Promise<void>> = {
  async basic(dir) {
    await write(
      `${dir}/MLproject`,
      "name: basic\nentry_points:\n  main:\n    command: python t.py\n",
    );
    await write(`${dir}/python_env.yaml`, "python: '3.10'\n");
    await write(`${dir}/src/train.py`, "print('hi')\n", 0o755);
    await write(`${dir}/src/private.txt`, "secret\n", 0o600);
    await write(`${dir}/empty.txt`, "");
    await Deno.mkdir(`${dir}/empty_dir/nested_empty`, { recursive: true });
    await Deno.mkdir(`${dir}/tight_dir`, { mode: 0o700 });
    await Deno.chmod(`${dir}/tight_dir`, 0o700);
  },
  async links(dir) {
    await write(`${dir}/MLproject`, "name: links\n");
    await write(`${dir}/data/values.csv`, "a,b\n1,2\n");
    await Deno.symlink("data/values.csv", `${dir}/file_link`);
    await Deno.symlink("data", `${dir}/dir_link`);
    await Deno.symlink("../missing/target", `${dir}/dangling_link`);
    await Deno.symlink("/etc/hostname", `${dir}/absolute_link`);
    await Deno.link(`${dir}/data/values.csv`, `${dir}/hard_link.csv`);
    await Deno.link(`${dir}/MLproject`, `${dir}/data/MLproject.hard`);
  },
  async mlruns(dir) {
    await write(`${dir}/MLproject`, "name: tracked\n");
    await write(`${dir}/mlruns/0/meta.yaml`, "name: Default\n");
    await write(`${dir}/mlruns/0/abc/metrics/m`, "1 2 3\n");
    await write(`${dir}/nested/mlruns/1/meta.yaml`, "x\n");
    await write(`${dir}/nested/keep.txt`, "kept\n");
    await write(`${dir}/other/mlruns`, "a file named mlruns is left out too\n");
    await write(`${dir}/mlruns2/kept.txt`, "not excluded\n");
    await write(`${dir}/mlruns.txt`, "not excluded\n");
    await write(`${dir}/.git/HEAD`, "ref: refs/heads/main\n");
    await write(`${dir}/.gitignore`, "mlruns/\n");
  },
  async names(dir) {
    await write(`${dir}/MLproject`, "name: names\n");
    await write(`${dir}/ünïcødé/fïlé-ß.txt`, "latin\n");
    await write(`${dir}/данные/файл.txt`, "cyrillic\n");
    await write(`${dir}/数据.csv`, "cjk\n");
    await write(`${dir}/e\u0301-nfd.txt`, "decomposed\n");
    await write(`${dir}/\u{1F600}-astral.txt`, "emoji: sorts after U+FF21 in code point order\n");
    await write(`${dir}/\uFF21-fullwidth.txt`, "fullwidth A\n");
    await write(`${dir}/B.txt`, "upper\n");
    await write(`${dir}/a.txt`, "lower\n");
    await write(`${dir}/a-b.txt`, "dash\n");
    await write(`${dir}/a b.txt`, "space\n");
    const long = "d".repeat(120);
    await write(`${dir}/${long}/${"f".repeat(99)}.txt`, "long path\n");
    await write(
      `${dir}/${"g".repeat(95)}`,
      "name of exactly 100 bytes with the top folder prefix\n",
    );
    await write(`${dir}/${"é".repeat(60)}.txt`, "long non-ASCII name\n");
    await Deno.symlink(`${long}/${"t".repeat(110)}`, `${dir}/long_target_link`);
    await Deno.symlink("цель", `${dir}/unicode_target_link`);
  },
  async binary(dir) {
    await write(`${dir}/MLproject`, "name: binary\n");
    await write(`${dir}/random.bin`, pseudoRandom(3 * 1024 * 1024 + 17, 7));
    const text = new TextEncoder().encode("epoch,loss,accuracy\n".repeat(100_000));
    await write(`${dir}/metrics.csv`, text);
    await write(`${dir}/zeros.bin`, new Uint8Array(1024 * 1024));
    await write(`${dir}/block512.bin`, pseudoRandom(512, 3));
    await write(`${dir}/record10240.bin`, pseudoRandom(10240, 5));
    await write(`${dir}/odd.bin`, pseudoRandom(511, 9));
  },
};

/** Needs root (chown): owners without names, a uid beyond the octal field, a FIFO, special bits. */
async function owners(dir: string): Promise<void> {
  await write(`${dir}/MLproject`, "name: owners\n");
  await write(`${dir}/nobody_known.txt`, "uid and gid without a name\n");
  await Deno.chown(`${dir}/nobody_known.txt`, 12345, 54321);
  await write(`${dir}/huge_uid.txt`, "uid beyond 8^7 goes to a PAX record\n");
  await Deno.chown(`${dir}/huge_uid.txt`, 3_000_000, 3_000_001);
  await write(`${dir}/setuid.sh`, "#!/bin/sh\n", 0o4755);
  await Deno.mkdir(`${dir}/sticky`);
  await Deno.chmod(`${dir}/sticky`, 0o1777);
  const fifo = await new Deno.Command("mkfifo", { args: [`${dir}/pipe`] }).output();
  assert(fifo.success, "mkfifo");
}

async function sha256Of(path: string): Promise<string> {
  return createHash("sha256").update(await Deno.readFile(path)).digest("hex");
}

async function withTemp(fn: (root: string) => Promise<void>): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "mlproject-tarball-test-" });
  try {
    await fn(root);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

/** Builds the projects, asks MLflow for its archives, returns `name → { dir, hash, path }`. */
async function mlflowArchives(
  venv: (typeof VENVS)[number],
  root: string,
  builders: Record<string, (dir: string) => Promise<void>>,
): Promise<Record<string, { dir: string; hash: string; path: string }>> {
  const out: Record<string, { dir: string; hash: string; path: string }> = {};
  const args: string[] = [];
  for (const [name, build] of Object.entries(builders)) {
    const dir = `${root}/${name}`;
    await Deno.mkdir(dir);
    await build(dir);
    out[name] = { dir, hash: "", path: `${root}/${name}.mlflow.tar.gz` };
    args.push(dir, out[name].path);
  }
  const result = await runPython(venv, MLFLOW_TARBALLS, { args });
  assert.equal(result.code, 0, result.stderr);
  const hashes = result.stdout.trim().split("\n");
  Object.values(out).forEach((entry, i) => entry.hash = hashes[i]!);
  return out;
}

for (const venv of VENVS.slice(0, 1)) {
  Deno.test({
    name:
      `tarball: byte-identical to MLflow ${venv.version}'s for symlinks, hard links, empty dirs, mlruns, unicode/long names, binary data`,
    ignore: noMlflow,
    fn: () =>
      withTemp(async (root) => {
        const archives = await mlflowArchives(venv, root, {
          ...PROJECTS,
          ...(isRoot ? { owners } : {}),
        });
        for (const [name, mlflow] of Object.entries(archives)) {
          const ours = await projectTarball(mlflow.dir, { outputPath: `${root}/${name}.ours.tgz` });
          assert.equal(await sha256Of(mlflow.path), mlflow.hash, `${name}: MLflow's own hash`);
          assert.equal(ours.sha256, mlflow.hash, `${name}: sha256 differs from MLflow's`);
          assert.equal(ours.size, (await Deno.stat(mlflow.path)).size, name);
          assert.equal(await sha256Of(ours.path), ours.sha256, `${name}: reported hash`);
        }
      }),
  });
}

Deno.test({
  name: "tarball: every installed MLflow release builds the same archive as ours",
  ignore: noMlflow || VENVS.length < 2,
  fn: () =>
    withTemp(async (root) => {
      const dir = `${root}/project`;
      await Deno.mkdir(dir);
      await PROJECTS.links!(dir);
      await PROJECTS.mlruns!(`${dir}/inner`);
      const ours = await projectTarball(dir, { outputPath: `${root}/ours.tgz` });
      for (const venv of VENVS) {
        const result = await runPython(venv, MLFLOW_TARBALLS, {
          args: [dir, `${root}/${venv.version}.tgz`],
        });
        assert.equal(result.code, 0, result.stderr);
        assert.equal(result.stdout.trim(), ours.sha256, `MLflow ${venv.version}`);
      }
    }),
});

Deno.test("tarball: mtimes do not change the hash; content, names and modes do", () =>
  withTemp(async (root) => {
    const dir = `${root}/p`;
    await Deno.mkdir(dir);
    await PROJECTS.basic!(dir);
    const first = await projectTarball(dir, { outputPath: `${root}/1.tgz` });
    await Deno.utime(`${dir}/MLproject`, 1_000_000, 1_000_000);
    await Deno.utime(dir, 2_000_000, 2_000_000);
    const touched = await projectTarball(dir, { outputPath: `${root}/2.tgz` });
    assert.equal(touched.sha256, first.sha256);
    await Deno.chmod(`${dir}/empty.txt`, 0o755);
    const chmodded = await projectTarball(dir, { outputPath: `${root}/3.tgz` });
    assert(chmodded.sha256 !== first.sha256, "mode change must change the hash");
    await Deno.writeTextFile(`${dir}/empty.txt`, "x");
    const edited = await projectTarball(dir, { outputPath: `${root}/4.tgz` });
    assert(edited.sha256 !== chmodded.sha256, "content change must change the hash");
  }));

Deno.test("tarball: gzip header has no name and mtime 0; tar lists mlflow-project/ without mlruns", () =>
  withTemp(async (root) => {
    const dir = `${root}/p`;
    await Deno.mkdir(dir);
    await PROJECTS.mlruns!(dir);
    const tarball = await projectTarball(dir);
    try {
      const bytes = await Deno.readFile(tarball.path);
      assert.deepEqual([...bytes.subarray(0, 10)], [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 2, 0xff]);
      const list = await new Deno.Command("tar", { args: ["tzf", tarball.path] }).output();
      assert(list.success, new TextDecoder().decode(list.stderr));
      const names = new TextDecoder().decode(list.stdout).trim().split("\n");
      assert.equal(names[0], "mlflow-project/");
      assert(names.every((n) => n.startsWith("mlflow-project/")));
      assert(!names.some((n) => n.split("/").includes("mlruns")), names.join(", "));
      assert(names.includes("mlflow-project/mlruns2/kept.txt"));
      assert(names.includes("mlflow-project/.git/HEAD"));
      assert.equal(tarball.members, names.length);
    } finally {
      await Deno.remove(tarball.path);
    }
  }));

Deno.test("tarball: a missing project directory is a one-line ExecutionException, no file left", () =>
  withTemp(async (root) => {
    const out = `${root}/out.tgz`;
    await assert.rejects(() => projectTarball(`${root}/nope`, { outputPath: out }), (e) => {
      assert(e instanceof ExecutionException);
      assert.match(e.message, /^Cannot archive project directory '.*\/nope': [^\n]+$/);
      return true;
    });
    await assert.rejects(() => Deno.stat(out), Deno.errors.NotFound);
  }));

Deno.test("tarball: aborting removes the partial archive", () =>
  withTemp(async (root) => {
    const dir = `${root}/p`;
    await Deno.mkdir(dir);
    await PROJECTS.binary!(dir);
    const controller = new AbortController();
    const out = `${root}/out.tgz`;
    await assert.rejects(() =>
      projectTarball(dir, {
        outputPath: out,
        signal: controller.signal,
        onProgress: (p) => p.bytesRead > 0 && controller.abort(),
      })
    );
    await assert.rejects(() => Deno.stat(out), Deno.errors.NotFound);
  }));

Deno.test("tarball: a file name that is not UTF-8 is a one-line error naming it", () =>
  withTemp(async (root) => {
    const dir = `${root}/p`;
    await Deno.mkdir(dir);
    // Deno cannot create such a name; the shell can (printf writes the byte 0xE9).
    const made = await new Deno.Command("sh", {
      args: ["-c", `touch "$(printf '${dir}/caf\\351.txt')"`],
    }).output();
    assert(made.success);
    await assert.rejects(() => projectTarball(dir, { outputPath: `${root}/o.tgz` }), (e) => {
      assert(e instanceof ExecutionException);
      assert.match(e.message, /^Cannot archive '.*caf\uFFFD\.txt': its name is not valid UTF-8$/);
      return true;
    });
  }));
