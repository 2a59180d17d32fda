/**
 * An interpreter's import path from files alone: fake venv/install/Debian/pyenv trees built in
 * temp dirs, and the real `python3` on PATH (its `sys.path`) and a real `python3 -m venv`.
 */
import assert from "node:assert/strict";
import { findLocalPython, pythonSitePath, resolvePyenvShim } from "../../lib/envs/python_site.ts";
import { runCommand } from "../../lib/run_command.ts";
import { tempDir } from "../_helpers/cli.ts";
import { fakeInstall, fakePyenvRoot, fakeVenv, writeExecutable } from "./_python_trees.ts";

Deno.test("pythonSitePath() of a venv is its own site-packages; X.Y from pyvenv.cfg `version` or `version_info`", async () => {
  await using tmp = await tempDir();
  const base = await fakeInstall(`${tmp.path}/base`, "3.12");
  for (const versionKey of ["version", "version_info"] as const) {
    const venv = `${tmp.path}/venv-${versionKey}`;
    const python = await fakeVenv(venv, base, { versionKey });
    const site = pythonSitePath(python, { env: { HOME: tmp.path } });
    assert.deepEqual(site, {
      python,
      pythonVersion: "3.12",
      prefix: venv,
      venv: true,
      dirs: [`${venv}/lib/python3.12/site-packages`],
    });
  }
});

Deno.test("pythonSitePath() of a venv with include-system-site-packages adds the user site first and the base's site-packages last", async () => {
  await using tmp = await tempDir();
  const base = await fakeInstall(`${tmp.path}/base`);
  const python = await fakeVenv(`${tmp.path}/venv`, base, { includeSystem: true });
  const userSite = `${tmp.path}/.local/lib/python3.11/site-packages`;
  await Deno.mkdir(userSite, { recursive: true });
  assert.deepEqual(pythonSitePath(python, { env: { HOME: tmp.path } })?.dirs, [
    userSite,
    `${tmp.path}/venv/lib/python3.11/site-packages`,
    `${tmp.path}/base/lib/python3.11/site-packages`,
  ]);
  const excluding = await fakeVenv(`${tmp.path}/venv2`, base);
  assert.deepEqual(pythonSitePath(excluding, { env: { HOME: tmp.path } })?.dirs, [
    `${tmp.path}/venv2/lib/python3.11/site-packages`,
  ]);
});

Deno.test("pythonSitePath() of an install follows symlinks to the prefix; user site honours PYTHONUSERBASE and PYTHONNOUSERSITE; PYTHONPATH comes first", async () => {
  await using tmp = await tempDir();
  const exe = await fakeInstall(`${tmp.path}/opt/py`, "3.10");
  await Deno.mkdir(`${tmp.path}/bin`);
  await Deno.symlink(`${tmp.path}/opt/py/bin/python3`, `${tmp.path}/bin/python`);
  const userBase = `${tmp.path}/userbase`;
  await Deno.mkdir(`${userBase}/lib/python3.10/site-packages`, { recursive: true });
  await Deno.mkdir(`${tmp.path}/cwd/src`, { recursive: true });
  const env = {
    HOME: `${tmp.path}/nohome`,
    PYTHONUSERBASE: userBase,
    PYTHONPATH: `src::${tmp.path}/missing:${tmp.path}/opt`,
  };
  const site = pythonSitePath(`${tmp.path}/bin/python`, { env, cwd: `${tmp.path}/cwd` });
  assert.equal(site?.prefix, `${tmp.path}/opt/py`);
  assert.equal(site?.venv, false);
  assert.equal(site?.pythonVersion, "3.10");
  assert.equal(site?.python, `${tmp.path}/bin/python`);
  assert.deepEqual(site?.dirs, [
    `${tmp.path}/cwd/src`,
    `${tmp.path}/opt`,
    `${userBase}/lib/python3.10/site-packages`,
    `${tmp.path}/opt/py/lib/python3.10/site-packages`,
  ]);
  const noUser = pythonSitePath(exe, { env: { ...env, PYTHONNOUSERSITE: "1", PYTHONPATH: "" } });
  assert.deepEqual(noUser?.dirs, [`${tmp.path}/opt/py/lib/python3.10/site-packages`]);
});

Deno.test("pythonSitePath() reads X.Y from lib/pythonX.Y when the executable is only `python3`", async () => {
  await using tmp = await tempDir();
  await writeExecutable(`${tmp.path}/p/bin/python3`, "#!/bin/sh\n");
  await Deno.mkdir(`${tmp.path}/p/lib/python3.9/site-packages`, { recursive: true });
  await Deno.writeTextFile(`${tmp.path}/p/lib/python3.9/os.py`, "");
  await Deno.mkdir(`${tmp.path}/p/lib/python3.13`, { recursive: true }); // no os.py: not a stdlib
  const site = pythonSitePath(`${tmp.path}/p/bin/python3`, { env: { HOME: tmp.path } });
  assert.equal(site?.pythonVersion, "3.9");
  assert.deepEqual(site?.dirs, [`${tmp.path}/p/lib/python3.9/site-packages`]);
});

Deno.test("pythonSitePath() uses Debian's dist-packages layout: /usr/local/lib/python3.X, /usr/lib/python3, /usr/lib/python3.X", async () => {
  await using tmp = await tempDir();
  const usr = `${tmp.path}/usr`;
  await writeExecutable(`${usr}/bin/python3.11`, "#!/bin/sh\n");
  await Deno.symlink("python3.11", `${usr}/bin/python3`);
  for (
    const dir of [
      "local/lib/python3.11/dist-packages",
      "lib/python3/dist-packages",
      "lib/python3.11/dist-packages",
    ]
  ) await Deno.mkdir(`${usr}/${dir}`, { recursive: true });
  const site = pythonSitePath(`${usr}/bin/python3`, { env: { HOME: tmp.path } });
  assert.deepEqual(site?.dirs, [
    `${usr}/local/lib/python3.11/dist-packages`,
    `${usr}/lib/python3/dist-packages`,
    `${usr}/lib/python3.11/dist-packages`,
  ]);
  // A venv over Debian's Python: site-packages of its own, dist-packages of the base.
  const venv = await fakeVenv(`${tmp.path}/venv`, `${usr}/bin/python3.11`, { includeSystem: true });
  assert.deepEqual(pythonSitePath(venv, { env: { HOME: tmp.path } })?.dirs, [
    `${tmp.path}/venv/lib/python3.11/site-packages`,
    `${usr}/local/lib/python3.11/dist-packages`,
    `${usr}/lib/python3/dist-packages`,
    `${usr}/lib/python3.11/dist-packages`,
  ]);
});

Deno.test("pythonSitePath() of a conda env is <env>/lib/pythonX.Y/site-packages", async () => {
  await using tmp = await tempDir();
  const env = `${tmp.path}/miniconda/envs/mlflow-abc`;
  await fakeInstall(env, "3.10");
  await Deno.symlink("python3.10", `${env}/bin/python`);
  assert.deepEqual(pythonSitePath(`${env}/bin/python`, { env: { HOME: tmp.path } })?.dirs, [
    `${env}/lib/python3.10/site-packages`,
  ]);
});

Deno.test("pythonSitePath() is undefined for a missing interpreter", async () => {
  await using tmp = await tempDir();
  assert.equal(pythonSitePath(`${tmp.path}/nope/bin/python`, { env: {} }), undefined);
});

async function pyenvTree(root: string): Promise<void> {
  await fakePyenvRoot(root);
  for (const v of ["3.11.7", "3.12.1", "3.12.10", "3.12.11rc1"]) {
    await fakeInstall(`${root}/versions/${v}`, v.split(".").slice(0, 2).join("."));
    await Deno.symlink(
      `python${v.split(".").slice(0, 2).join(".")}`,
      `${root}/versions/${v}/bin/python`,
    );
  }
}

Deno.test("resolvePyenvShim() picks the version as pyenv does: PYENV_VERSION, then .python-version upward from the cwd, then $PYENV_ROOT/version, else system", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/pyenv`;
  await pyenvTree(root);
  const system = `${tmp.path}/usr/bin`;
  await fakeInstall(`${tmp.path}/usr`, "3.9");
  await Deno.symlink("python3.9", `${system}/python`);
  const project = `${tmp.path}/work/project/sub`;
  await Deno.mkdir(project, { recursive: true });
  const env = { HOME: tmp.path, PATH: `${root}/shims:${system}` };
  const shim = `${root}/shims/python`;
  const opts = (extra: Record<string, string> = {}) => ({
    env: { ...env, ...extra },
    cwd: project,
  });

  // Nothing selects a version: system, found on PATH without the shims.
  assert.equal(resolvePyenvShim(shim, opts()), `${system}/python`);
  // The global version file.
  await Deno.writeTextFile(`${root}/version`, "3.11.7\n");
  assert.equal(resolvePyenvShim(shim, opts()), `${root}/versions/3.11.7/bin/python`);
  // A .python-version above the cwd wins over the global one; comments and blanks skipped.
  await Deno.writeTextFile(`${tmp.path}/work/.python-version`, "# pinned\n\n3.12.1\n");
  assert.equal(resolvePyenvShim(shim, opts()), `${root}/versions/3.12.1/bin/python`);
  // PYENV_VERSION wins over files; a prefix picks the newest final release; python- is dropped.
  assert.equal(
    resolvePyenvShim(shim, opts({ PYENV_VERSION: "3.12" })),
    `${root}/versions/3.12.10/bin/python`,
  );
  assert.equal(
    resolvePyenvShim(shim, opts({ PYENV_VERSION: "python-3.11.7" })),
    `${root}/versions/3.11.7/bin/python`,
  );
  // A list: the first version that has the program; an uninstalled one is skipped.
  assert.equal(
    resolvePyenvShim(`${root}/shims/python3`, opts({ PYENV_VERSION: "2.7.18:3.11.7" })),
    `${root}/versions/3.11.7/bin/python3`,
  );
  // Only uninstalled versions: pyenv falls back to system.
  assert.equal(resolvePyenvShim(shim, opts({ PYENV_VERSION: "3.8" })), `${system}/python`);
  // PYENV_DIR is searched before the cwd.
  await Deno.mkdir(`${tmp.path}/other`);
  await Deno.writeTextFile(`${tmp.path}/other/.python-version`, "3.11.7\n");
  assert.equal(
    resolvePyenvShim(shim, opts({ PYENV_DIR: `${tmp.path}/other` })),
    `${root}/versions/3.11.7/bin/python`,
  );
});

Deno.test("resolvePyenvShim() is undefined for anything but a pyenv shim", async () => {
  await using tmp = await tempDir();
  const exe = await fakeInstall(`${tmp.path}/p`);
  await writeExecutable(`${tmp.path}/script`, '#!/bin/sh\nexec python3 "$@"\n');
  for (const path of [exe, `${tmp.path}/script`, `${tmp.path}/missing`]) {
    assert.equal(resolvePyenvShim(path, { env: {} }), undefined, path);
  }
});

Deno.test("pythonSitePath() through a pyenv shim is the selected version's site-packages", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/pyenv`;
  await pyenvTree(root);
  const site = pythonSitePath(`${root}/shims/python3`, {
    env: { HOME: tmp.path, PATH: `${root}/shims`, PYENV_VERSION: "3.12.1" },
  });
  assert.equal(site?.python, `${root}/versions/3.12.1/bin/python3`);
  assert.deepEqual(site?.dirs, [`${root}/versions/3.12.1/lib/python3.12/site-packages`]);
});

Deno.test("findLocalPython() finds the entry point's own pythonX.Y, else python, else python3, on PATH", async () => {
  await using tmp = await tempDir();
  await writeExecutable(`${tmp.path}/a/python3`, "#!/bin/sh\n");
  await writeExecutable(`${tmp.path}/b/python`, "#!/bin/sh\n");
  await writeExecutable(`${tmp.path}/b/python3.12`, "#!/bin/sh\n");
  const env = { PATH: `${tmp.path}/a:${tmp.path}/b` };
  assert.equal(findLocalPython(env), `${tmp.path}/b/python`);
  assert.equal(findLocalPython({ PATH: `${tmp.path}/a` }), `${tmp.path}/a/python3`);
  assert.equal(
    findLocalPython(env, { command: "python3.12 train.py --x 1" }),
    `${tmp.path}/b/python3.12`,
  );
  assert.equal(findLocalPython(env, { command: "bash run.sh" }), `${tmp.path}/b/python`);
  assert.equal(findLocalPython({ PATH: `${tmp.path}/none` }), undefined);
});

// ---------------------------------------------------------------------------------------------
// Real interpreters: what we compute equals what Python puts on sys.path.

const SITE_DIRS = "import sys,os;print('\\n'.join(p for p in sys.path if " +
  "os.path.basename(p) in ('site-packages','dist-packages') and os.path.isdir(p)))";

async function realSiteDirs(python: string, env: Record<string, string>, cwd: string) {
  const out = await runCommand(python, ["-c", SITE_DIRS], { env, cwd });
  assert.ok(out.success, out.stderr);
  return out.stdout.trim().split("\n").filter(Boolean);
}

/** Every distinct `python3` on PATH (a pyenv shim, /usr/bin, …). */
function pythonsOnPath(): string[] {
  const found: string[] = [];
  const seen = new Set<string>();
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    if (dir === "") continue;
    const path = findLocalPython({ PATH: dir }, { command: "python3" });
    if (path === undefined || path.endsWith("/python")) continue;
    const real = Deno.realPathSync(path);
    if (!seen.has(real)) {
      seen.add(real);
      found.push(path);
    }
  }
  return found;
}

Deno.test("pythonSitePath() of each python3 on PATH and of a real venv equals the site dirs on their sys.path", async () => {
  const pythons = pythonsOnPath();
  if (pythons.length === 0) {
    // deno-lint-ignore no-console
    console.log("skipped: no python3 on PATH");
    return;
  }
  await using tmp = await tempDir();
  const userSite = `${tmp.path}/home/.local/lib`;
  const env: Record<string, string> = {
    HOME: `${tmp.path}/home`,
    PATH: Deno.env.get("PATH") ?? "",
  };
  for (const k of ["PYENV_ROOT", "PYENV_VERSION"]) {
    const v = Deno.env.get(k);
    if (v !== undefined) env[k] = v;
  }
  for (const [i, python3] of pythons.entries()) {
    const site = pythonSitePath(python3, { env, cwd: tmp.path });
    assert.ok(site !== undefined, python3);
    await Deno.mkdir(`${userSite}/python${site.pythonVersion}/site-packages`, { recursive: true });
    const again = pythonSitePath(python3, { env, cwd: tmp.path });
    assert.deepEqual(again?.dirs, await realSiteDirs(python3, env, tmp.path), python3);
    assert.equal(again?.dirs[0], `${userSite}/python${site.pythonVersion}/site-packages`);

    const venv = `${tmp.path}/venv${i}`;
    const made = await runCommand(python3, ["-m", "venv", "--without-pip", venv], {
      env,
      cwd: tmp.path,
    });
    if (!made.success) {
      // deno-lint-ignore no-console
      console.log(`skipped the venv of ${python3}: python3 -m venv failed (${made.stderr.trim()})`);
      continue;
    }
    const venvSite = pythonSitePath(`${venv}/bin/python`, { env, cwd: tmp.path });
    assert.equal(venvSite?.venv, true);
    assert.deepEqual(venvSite?.dirs, await realSiteDirs(`${venv}/bin/python`, env, tmp.path));
  }
});
