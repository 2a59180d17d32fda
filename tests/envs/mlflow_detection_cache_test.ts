/**
 * The persistent cache of MLflow detection: a stored answer is reused while nothing it looked at
 * changed, and a new MLflow installed, another interpreter, another environment give a fresh one.
 */
import assert from "node:assert/strict";
import { detectMlflowCached } from "../../lib/envs/mlflow_detection_cache.ts";
import { pathExists } from "../../lib/system/file_checks.ts";
import { tempDir } from "../_helpers/cli.ts";
import { distInfo, fakeInstall, fakeVenv } from "./_python_trees.ts";

/** Rewrites every stored answer's version: what a later call returns then shows a cache hit. */
function tamper(cacheFile: string, version: string): void {
  const data = JSON.parse(Deno.readTextFileSync(cacheFile));
  for (const e of data.entries) if (e.value) e.value.version = version;
  Deno.writeTextFileSync(cacheFile, JSON.stringify(data));
}

Deno.test("detectMlflowCached() reuses a stored answer while nothing changed, and detects a newly installed MLflow", async () => {
  await using tmp = await tempDir();
  const cacheFile = `${tmp.path}/cache/mlflow-detection.json`;
  const base = await fakeInstall(`${tmp.path}/base`);
  const python = await fakeVenv(`${tmp.path}/venv`, base);
  const site = `${tmp.path}/venv/lib/python3.11/site-packages`;
  await distInfo(site, "mlflow", "2.17.2");
  const options = { env: { HOME: tmp.path }, cwd: tmp.path, cacheFile, racyMs: 0 };
  assert.equal(detectMlflowCached(python, options)?.version, "2.17.2");
  assert.ok(pathExists(cacheFile));
  tamper(cacheFile, "0.0.0-cached");
  assert.equal(detectMlflowCached(python, options)?.version, "0.0.0-cached");

  // pip replaces the dist-info of the old version by the new one's.
  await Deno.remove(`${site}/mlflow-2.17.2.dist-info`, { recursive: true });
  await distInfo(site, "mlflow", "3.7.0");
  assert.equal(detectMlflowCached(python, options)?.version, "3.7.0");
  // An edited METADATA (same directory entries) is seen too.
  tamper(cacheFile, "0.0.0-cached");
  const metadata = `${site}/mlflow-3.7.0.dist-info/METADATA`;
  await Deno.writeTextFile(metadata, "Metadata-Version: 2.1\nName: mlflow\nVersion: 3.7.10\n\n");
  assert.equal(detectMlflowCached(python, options)?.version, "3.7.10");
});

Deno.test("detectMlflowCached() keys answers by the environment: PYTHONPATH with another MLflow gives its answer", async () => {
  await using tmp = await tempDir();
  const cacheFile = `${tmp.path}/mlflow-detection.json`;
  const base = await fakeInstall(`${tmp.path}/base`);
  const python = await fakeVenv(`${tmp.path}/venv`, base);
  await distInfo(`${tmp.path}/venv/lib/python3.11/site-packages`, "mlflow", "2.17.2");
  await distInfo(`${tmp.path}/extra`, "mlflow", "3.0.0");
  const env = { HOME: tmp.path };
  assert.equal(detectMlflowCached(python, { env, cacheFile, racyMs: 0 })?.version, "2.17.2");
  const withPath = { env: { ...env, PYTHONPATH: `${tmp.path}/extra` }, cacheFile, racyMs: 0 };
  assert.equal(detectMlflowCached(python, withPath)?.sitePackages, `${tmp.path}/extra`);
  assert.equal(detectMlflowCached(python, withPath)?.version, "3.0.0");
});

Deno.test("detectMlflowCached() stores nothing until storeLater's function is called, nor an answer that saw a path just modified", async () => {
  await using tmp = await tempDir();
  const cacheFile = `${tmp.path}/mlflow-detection.json`;
  const base = await fakeInstall(`${tmp.path}/base`);
  const python = await fakeVenv(`${tmp.path}/venv`, base);
  await distInfo(`${tmp.path}/venv/lib/python3.11/site-packages`, "mlflow", "2.17.2");
  const env = { HOME: tmp.path };
  // Every file here was just written: nothing is stored with the default racy window.
  assert.equal(detectMlflowCached(python, { env, cacheFile })?.version, "2.17.2");
  assert.equal(pathExists(cacheFile), false);
  let store: (() => void) | undefined;
  const later = { env, cacheFile, racyMs: 0, storeLater: (s: () => void) => store = s };
  assert.equal(detectMlflowCached(python, later)?.version, "2.17.2");
  assert.equal(pathExists(cacheFile), false);
  store!();
  assert.ok(pathExists(cacheFile));
});
