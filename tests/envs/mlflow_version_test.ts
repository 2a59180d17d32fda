/**
 * Detecting the MLflow an interpreter imports, from its metadata alone: fake site-packages trees
 * (venv, install, user site, PYTHONPATH, pyenv shims, egg-info/egg-link), a real
 * `python3 -m venv` with a hand-made dist-info, and, when they are installed, real MLflow venvs
 * (`MLPROJECT_TEST_MLFLOW_VENVS`, default `~/.cache/mlproject/test-mlflow/<version>/`).
 */
import assert from "node:assert/strict";
import { detectMlflow } from "../../lib/envs/mlflow_version.ts";
import { findLocalPython } from "../../lib/envs/python_site.ts";
import { runCommand } from "../../lib/system/run_command.ts";
import { tempDir, writeFiles } from "../_helpers/cli.ts";
import { distInfo, fakeInstall, fakePyenvRoot, fakeVenv } from "./_python_trees.ts";

Deno.test("detectMlflow() reads the mlflow dist-info of a venv; mlflow wins over mlflow-skinny", async () => {
  await using tmp = await tempDir();
  const base = await fakeInstall(`${tmp.path}/base`);
  const python = await fakeVenv(`${tmp.path}/venv`, base);
  const site = `${tmp.path}/venv/lib/python3.11/site-packages`;
  await distInfo(site, "mlflow-skinny", "2.17.2");
  await distInfo(site, "mlflow", "2.17.2");
  await distInfo(site, "mlflow-tracing", "3.0.0");
  assert.deepEqual(detectMlflow(python, { env: { HOME: tmp.path } }), {
    version: "2.17.2",
    distribution: "mlflow",
    python,
    sitePackages: site,
  });
});

Deno.test("detectMlflow() reports mlflow-skinny when only it is installed, and undefined without MLflow", async () => {
  await using tmp = await tempDir();
  const base = await fakeInstall(`${tmp.path}/base`);
  const skinny = await fakeVenv(`${tmp.path}/skinny`, base);
  await distInfo(`${tmp.path}/skinny/lib/python3.11/site-packages`, "mlflow-skinny", "3.7.0rc0");
  const found = detectMlflow(skinny, { env: { HOME: tmp.path } });
  assert.equal(found?.distribution, "mlflow-skinny");
  assert.equal(found?.version, "3.7.0rc0");

  const none = await fakeVenv(`${tmp.path}/none`, base);
  await distInfo(`${tmp.path}/none/lib/python3.11/site-packages`, "mlflow-tracing", "3.7.0");
  await distInfo(`${tmp.path}/none/lib/python3.11/site-packages`, "mlflowx", "1.0");
  assert.equal(detectMlflow(none, { env: { HOME: tmp.path } }), undefined);
  assert.equal(detectMlflow(`${tmp.path}/missing/bin/python`, { env: {} }), undefined);
});

Deno.test("detectMlflow() of a plain install reads its site-packages; the user site comes first unless PYTHONNOUSERSITE", async () => {
  await using tmp = await tempDir();
  const exe = await fakeInstall(`${tmp.path}/usr`);
  await distInfo(`${tmp.path}/usr/lib/python3.11/site-packages`, "mlflow", "2.22.5");
  const env = { HOME: `${tmp.path}/home` };
  assert.equal(detectMlflow(exe, { env })?.version, "2.22.5");
  const userSite = `${tmp.path}/home/.local/lib/python3.11/site-packages`;
  await distInfo(userSite, "mlflow", "3.7.0");
  assert.deepEqual(detectMlflow(exe, { env }), {
    version: "3.7.0",
    distribution: "mlflow",
    python: exe,
    sitePackages: userSite,
  });
  assert.equal(detectMlflow(exe, { env: { ...env, PYTHONNOUSERSITE: "1" } })?.version, "2.22.5");
  // A venv that excludes system packages sees neither.
  const venv = await fakeVenv(`${tmp.path}/venv`, exe);
  assert.equal(detectMlflow(venv, { env }), undefined);
  // One that includes them sees the user site first.
  const withSystem = await fakeVenv(`${tmp.path}/venv2`, exe, { includeSystem: true });
  assert.equal(detectMlflow(withSystem, { env })?.version, "3.7.0");
});

Deno.test("detectMlflow() takes PYTHONPATH entries first; a source checkout without metadata reads mlflow/version.py", async () => {
  await using tmp = await tempDir();
  const exe = await fakeInstall(`${tmp.path}/usr`);
  await distInfo(`${tmp.path}/usr/lib/python3.11/site-packages`, "mlflow", "2.22.5");
  await writeFiles(`${tmp.path}/checkout`, {
    "mlflow/__init__.py": "",
    "mlflow/version.py": '# Copyright\nimport re\n\nVERSION = "3.8.0.dev0"\n',
  });
  const found = detectMlflow(exe, {
    env: { HOME: tmp.path, PYTHONPATH: `../checkout` },
    cwd: `${tmp.path}/usr`,
  });
  assert.deepEqual(found, {
    version: "3.8.0.dev0",
    distribution: "mlflow",
    python: exe,
    sitePackages: `${tmp.path}/checkout`,
  });
});

Deno.test("detectMlflow() reads egg-info directories and files, eggs and egg-links of `setup.py develop`", async () => {
  await using tmp = await tempDir();
  const exe = await fakeInstall(`${tmp.path}/usr`);
  const site = `${tmp.path}/usr/lib/python3.11/site-packages`;
  const env = { HOME: tmp.path };
  const pkgInfo = (v: string) => `Metadata-Version: 1.0\nName: mlflow\nVersion: ${v}\n`;

  await writeFiles(site, { "mlflow-1.30.1-py3.11.egg-info/PKG-INFO": pkgInfo("1.30.1") });
  assert.equal(detectMlflow(exe, { env })?.version, "1.30.1");
  await Deno.remove(`${site}/mlflow-1.30.1-py3.11.egg-info`, { recursive: true });

  await writeFiles(site, { "mlflow-1.20.0-py3.11.egg-info": pkgInfo("1.20.0") });
  assert.equal(detectMlflow(exe, { env })?.version, "1.20.0");
  await Deno.remove(`${site}/mlflow-1.20.0-py3.11.egg-info`);

  await writeFiles(site, { "mlflow-1.10.0-py3.11.egg/EGG-INFO/PKG-INFO": pkgInfo("1.10.0") });
  assert.equal(detectMlflow(exe, { env })?.version, "1.10.0");
  await Deno.remove(`${site}/mlflow-1.10.0-py3.11.egg`, { recursive: true });

  await writeFiles(`${tmp.path}/src/mlflow`, {
    "mlflow.egg-info/PKG-INFO": pkgInfo("2.0.0.dev0"),
    "mlflow/version.py": 'VERSION = "2.0.0.dev0"\n',
  });
  await writeFiles(site, { "mlflow.egg-link": `${tmp.path}/src/mlflow\n.\n` });
  assert.deepEqual(detectMlflow(exe, { env }), {
    version: "2.0.0.dev0",
    distribution: "mlflow",
    python: exe,
    sitePackages: site,
  });
});

Deno.test("detectMlflow() reads skinny egg-info names with hyphens or underscores, and falls back to the version in a name without metadata", async () => {
  await using tmp = await tempDir();
  const exe = await fakeInstall(`${tmp.path}/usr`);
  const site = `${tmp.path}/usr/lib/python3.11/site-packages`;
  const env = { HOME: tmp.path };
  const pkgInfo = (v: string) => `Metadata-Version: 1.0\nName: mlflow-skinny\nVersion: ${v}\n`;
  for (
    const [entry, version] of [
      ["mlflow_skinny-1.27.0-py3.11.egg-info", "1.27.0"],
      ["mlflow-skinny-1.26.1.egg-info", "1.26.1"],
      ["mlflow_skinny.egg-info", "1.25.0"],
    ]
  ) {
    await writeFiles(site, { [`${entry}/PKG-INFO`]: pkgInfo(version!) });
    assert.deepEqual(detectMlflow(exe, { env, cache: false }), {
      version,
      distribution: "mlflow-skinny",
      python: exe,
      sitePackages: site,
    });
    await Deno.remove(`${site}/${entry}`, { recursive: true });
  }
  await Deno.mkdir(`${site}/MLflow-2.9.2.dist-info`);
  assert.equal(detectMlflow(exe, { env, cache: false })?.version, "2.9.2");
  await writeFiles(site, { "mlflow_tracing-3.1.0.dist-info/METADATA": "Version: 3.1.0\n" });
  await writeFiles(site, { "mlflowx-1.0.dist-info/METADATA": "Version: 1.0\n" });
  assert.equal(detectMlflow(exe, { env, cache: false })?.version, "2.9.2");
});

Deno.test("detectMlflow() caches per directory stamp: a new modification time is re-read, cache: false always re-reads", async () => {
  await using tmp = await tempDir();
  const base = await fakeInstall(`${tmp.path}/base`);
  const python = await fakeVenv(`${tmp.path}/venv`, base);
  const site = `${tmp.path}/venv/lib/python3.11/site-packages`;
  await distInfo(site, "mlflow", "2.17.2");
  assert.equal(detectMlflow(python, { env: {} })?.version, "2.17.2");
  assert.equal(detectMlflow(python, { env: {} })?.version, "2.17.2");
  // An upgrade: the old dist-info replaced by a new one.
  await Deno.remove(`${site}/mlflow-2.17.2.dist-info`, { recursive: true });
  await distInfo(site, "mlflow", "3.7.0");
  const later = new Date(Date.now() + 5_000);
  await Deno.utime(site, later, later);
  assert.equal(detectMlflow(python, { env: {} })?.version, "3.7.0");
  // The same change with the modification time put back: the cache cannot see it, a fresh
  // read (cache: false) does.
  await Deno.remove(`${site}/mlflow-3.7.0.dist-info`, { recursive: true });
  await distInfo(site, "mlflow", "3.8.0");
  await Deno.utime(site, later, later);
  assert.equal(detectMlflow(python, { env: {} })?.version, "3.7.0");
  assert.equal(detectMlflow(python, { env: {}, cache: false })?.version, "3.8.0");
});

Deno.test("detectMlflow() through pyenv shims: PYENV_VERSION, .python-version above the cwd, the global version", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/pyenv`;
  await fakePyenvRoot(root);
  for (const [v, mlflow] of [["3.10.4", "2.17.2"], ["3.11.7", "2.22.5"], ["3.12.1", "3.7.0"]]) {
    const xy = v!.split(".").slice(0, 2).join(".");
    await fakeInstall(`${root}/versions/${v}`, xy);
    await distInfo(`${root}/versions/${v}/lib/python${xy}/site-packages`, "mlflow", mlflow!);
  }
  await Deno.writeTextFile(`${root}/version`, "3.10.4\n");
  const project = `${tmp.path}/repo/project`;
  await Deno.mkdir(project, { recursive: true });
  const shim = `${root}/shims/python3`;
  const env = { HOME: tmp.path, PATH: `${root}/shims:/nonexistent` };
  assert.equal(detectMlflow(shim, { env, cwd: project })?.version, "2.17.2");
  await Deno.writeTextFile(`${tmp.path}/repo/.python-version`, "3.11.7\n");
  const local = detectMlflow(shim, { env, cwd: project });
  assert.equal(local?.version, "2.22.5");
  assert.equal(local?.python, `${root}/versions/3.11.7/bin/python3`);
  assert.equal(
    detectMlflow(shim, { env: { ...env, PYENV_VERSION: "3.12" }, cwd: project })?.version,
    "3.7.0",
  );
});

Deno.test("detectMlflow() reads a hand-made dist-info in a real `python3 -m venv`, as importlib.metadata does", async () => {
  const python3 = findLocalPython(Deno.env.toObject(), { command: "python3" });
  if (python3 === undefined) {
    // deno-lint-ignore no-console
    console.log("skipped: no python3 on PATH");
    return;
  }
  await using tmp = await tempDir();
  const env = { HOME: tmp.path, PATH: Deno.env.get("PATH") ?? "" };
  const made = await runCommand(python3, ["-m", "venv", "--without-pip", `${tmp.path}/venv`], {
    env,
  });
  assert.ok(made.success, made.stderr);
  const python = `${tmp.path}/venv/bin/python`;
  assert.equal(detectMlflow(python, { env }), undefined);
  const site = (await runCommand(python, ["-c", "import site;print(site.getsitepackages()[0])"], {
    env,
  })).stdout.trim();
  await distInfo(site, "mlflow", "9.9.9");
  const found = detectMlflow(python, { env });
  assert.deepEqual(found, { version: "9.9.9", distribution: "mlflow", python, sitePackages: site });
  const seen = await runCommand(python, [
    "-c",
    "import importlib.metadata as m;print(m.version('mlflow'))",
  ], { env });
  assert.equal(seen.stdout.trim(), found?.version);
});
