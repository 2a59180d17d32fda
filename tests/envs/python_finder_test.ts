/**
 * The interpreter finder against pyenv/uv directory layouts made of symlinks to the machine's
 * real python3 (pyenv and uv versions come from the directory names, so one real interpreter
 * stands for every version). `pyenv` and `uv` in the install tests are scripts the tests write
 * (neither may install anything offline); the Pythons they "install" are symlinks to python3.
 */
import assert from "node:assert/strict";
import { ExecutionException } from "../../lib/system/errors.ts";
import { findPython, listManagedPythons } from "../../lib/envs/python_finder.ts";
import { tempDir } from "../_helpers/cli.ts";
import { hostPython } from "../_helpers/components.ts";
import { writeExecutable } from "./_env_helpers.ts";

const PY = await hostPython();

async function fakeInstall(dir: string, real: string): Promise<void> {
  await Deno.mkdir(`${dir}/bin`, { recursive: true });
  await Deno.symlink(real, `${dir}/bin/python`);
}

Deno.test("findPython() picks the newest X.Y.Z for X.Y among pyenv and uv Pythons, exact X.Y.Z when given", async () => {
  await using tmp = await tempDir();
  const env = { HOME: tmp.path, PYENV_ROOT: `${tmp.path}/pyenv`, PATH: "/nonexistent" };
  await fakeInstall(`${tmp.path}/pyenv/versions/3.12.1`, PY.path);
  await fakeInstall(`${tmp.path}/pyenv/versions/3.12.0`, PY.path);
  await fakeInstall(`${tmp.path}/pyenv/versions/3.11.7`, PY.path);
  await Deno.mkdir(`${tmp.path}/pyenv/versions/miniconda3-latest`, { recursive: true });
  const uvDir = `${tmp.path}/.local/share/uv/python/cpython-3.12.4-linux-x86_64-gnu`;
  await Deno.mkdir(`${uvDir}/bin`, { recursive: true });
  await Deno.symlink(PY.path, `${uvDir}/bin/python3`);

  assert.deepEqual(
    listManagedPythons(env).map((p) => `${p.source} ${p.version}`),
    ["uv 3.12.4", "pyenv 3.12.1", "pyenv 3.12.0", "pyenv 3.11.7"],
  );
  const newest = await findPython("3.12", { env });
  assert.deepEqual(newest, { version: "3.12.4", path: `${uvDir}/bin/python3`, source: "uv" });
  const exact = await findPython("3.12.0", { env });
  assert.equal(exact.path, `${tmp.path}/pyenv/versions/3.12.0/bin/python`);
  assert.equal((await findPython("3", { env })).version, "3.12.4");
});

Deno.test("findPython() finds pythonX.Y on PATH (skipping pyenv shims) and reads its version", async () => {
  await using tmp = await tempDir();
  await Deno.mkdir(`${tmp.path}/bin`);
  await Deno.symlink(PY.path, `${tmp.path}/bin/python${PY.minor}`);
  const env = { HOME: tmp.path, PATH: `${tmp.path}/bin` };
  assert.deepEqual(await findPython(PY.minor, { env }), {
    version: PY.version,
    path: `${tmp.path}/bin/python${PY.minor}`,
    source: "path",
  });
});

Deno.test("findPython() without a version uses python3 on PATH, resolved to the real executable", async () => {
  await using tmp = await tempDir();
  await Deno.mkdir(`${tmp.path}/bin`);
  await Deno.symlink(PY.path, `${tmp.path}/bin/python3`);
  const py = await findPython(undefined, { env: { HOME: tmp.path, PATH: `${tmp.path}/bin` } });
  assert.equal(py.version, PY.version);
  assert.equal(py.path, await Deno.realPath(PY.path));
});

Deno.test("findPython() lists the available versions when the version is missing and nothing can install it", async () => {
  await using tmp = await tempDir();
  await fakeInstall(`${tmp.path}/pyenv/versions/3.11.7`, PY.path);
  const env = { HOME: tmp.path, PYENV_ROOT: `${tmp.path}/pyenv`, PATH: "/nonexistent" };
  await assert.rejects(findPython("3.5", { env }), (e: unknown) => {
    assert.ok(e instanceof ExecutionException);
    assert.equal(
      e.message,
      "Python 3.5 is not installed and could not be installed (neither pyenv nor uv is available to install it). Available versions: 3.11.7",
    );
    return true;
  });
  await assert.rejects(findPython(">=3.8", { env }), /Invalid Python version '>=3\.8'/);
});

Deno.test("findPython() installs a missing version with pyenv install (newest known X.Y.Z) and uses it", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/pyenv`;
  const log = `${tmp.path}/pyenv.log`;
  await writeExecutable(
    `${root}/bin/pyenv`,
    `#!/bin/bash
echo "pyenv $*" >> ${log}
if [ "$1" = latest ]; then echo 3.10.99; exit 0; fi
if [ "$1" = install ]; then
  mkdir -p ${root}/versions/$3/bin && ln -s ${PY.path} ${root}/versions/$3/bin/python
  echo "installed $3"
fi
`,
  );
  const env = { HOME: tmp.path, PYENV_ROOT: root, PATH: "/usr/bin:/bin" };
  const py = await findPython("3.10", { env });
  assert.equal(py.version, "3.10.99");
  assert.equal(py.source, "pyenv");
  assert.equal(
    await Deno.readTextFile(log),
    "pyenv latest --known 3.10\npyenv install --skip-existing 3.10.99\n",
  );
});

Deno.test("findPython() reports a failed pyenv install, then tries uv python install", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/pyenv`;
  await writeExecutable(
    `${root}/bin/pyenv`,
    "#!/bin/bash\necho 'curl: (6) Could not resolve host' >&2\nexit 1\n",
  );
  const uvPythons = `${tmp.path}/uvpy`;
  await writeExecutable(
    `${tmp.path}/bin/uv`,
    `#!/bin/bash
[ "$1 $2" = "python install" ] || exit 2
mkdir -p ${uvPythons}/cpython-$3.1-linux-x86_64-gnu/bin
ln -s ${PY.path} ${uvPythons}/cpython-$3.1-linux-x86_64-gnu/bin/python3
`,
  );
  const env = {
    HOME: tmp.path,
    PYENV_ROOT: root,
    UV_PYTHON_INSTALL_DIR: uvPythons,
    PATH: `${tmp.path}/bin:/usr/bin:/bin`,
  };
  const py = await findPython("3.8", { env, installers: ["uv", "pyenv"] });
  // uv "installs" 3.8.1 here, which matches 3.8.
  assert.equal(py.version, "3.8.1");
  assert.equal(py.source, "uv");
  await assert.rejects(
    findPython("3.7.1", { env: { ...env, PATH: "/usr/bin:/bin" } }),
    /^ExecutionException: Python 3\.7\.1 is not installed and could not be installed \('pyenv install --skip-existing 3\.7\.1' failed \(exit 1\)\)\. Available versions: .*3\.8\.1/,
  );
});
