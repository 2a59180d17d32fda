/**
 * The cache with environments whose "build" is a symlink to a real Python (no venv, so these
 * tests are fast); real venv builds are in virtualenv_test.ts.
 */
import assert from "node:assert/strict";
import { ExecutionException } from "../../lib/system/errors.ts";
import {
  acquireEnvironment,
  collectGarbage,
  envCacheRoot,
  type Environment,
  environmentKey,
  formatEnvironmentTable,
  listEnvironments,
  removeEnvironment,
} from "../../lib/envs/env_cache.ts";
import { tempDir } from "../_helpers/cli.ts";
import { hostPython } from "../_helpers/components.ts";

const PY = await hostPython();

interface Fake extends Environment {
  builds: number;
}

function fakeEnvironment(
  fingerprint: string[],
  options: { fail?: boolean; delayMs?: number } = {},
): Fake {
  const fake: Fake = {
    manager: "virtualenv",
    python: { version: "3.11.7", path: PY.path, source: "path" }, // version: a label here
    fingerprint,
    builds: 0,
    async build(dir: string): Promise<void> {
      fake.builds++;
      await Deno.mkdir(`${dir}/bin`);
      await Deno.writeTextFile(`${dir}/half-built`, "");
      if (options.delayMs) await new Promise((r) => setTimeout(r, options.delayMs));
      if (options.fail) throw new ExecutionException("pip failed");
      await Deno.symlink(PY.path, `${dir}/bin/python`);
    },
    activate: (dir: string) => ({ VIRTUAL_ENV: dir }),
  };
  return fake;
}

Deno.test("envCacheRoot() is MLFLOW_ENV_ROOT, else MLPROJECT_CACHE_DIR, else the XDG cache dir, else ~/.cache", () => {
  assert.equal(envCacheRoot({ MLFLOW_ENV_ROOT: "/r/", HOME: "/h" }), "/r");
  assert.equal(envCacheRoot({ MLPROJECT_CACHE_DIR: "/c", XDG_CACHE_HOME: "/x" }), "/c/envs");
  assert.equal(envCacheRoot({ XDG_CACHE_HOME: "/x", HOME: "/h" }), "/x/mlproject/envs");
  assert.equal(envCacheRoot({ HOME: "/h" }), "/h/.cache/mlproject/envs");
});

Deno.test("environmentKey() changes with the manager, the interpreter and every fingerprint line", async () => {
  const base = fakeEnvironment(["six", "-r /p/req.txt", "six\n"]);
  const key = await environmentKey(base);
  assert.match(key, /^virtualenv-3\.11\.7-[0-9a-f]{16}$/);
  assert.equal(await environmentKey(fakeEnvironment(["six", "-r /p/req.txt", "six\n"])), key);
  const others = [
    { ...base, manager: "uv" as const },
    { ...base, python: { ...base.python, path: "/other/python" } },
    { ...base, python: { ...base.python, version: "3.11.8" } },
    fakeEnvironment(["six", "-r /p/req.txt", "six==1.17.0\n"]),
    fakeEnvironment(["six", "-r /p/req.txt"]),
  ];
  const keys = new Set([key, ...await Promise.all(others.map((e) => environmentKey(e)))]);
  assert.equal(keys.size, others.length + 1);
});

Deno.test("acquireEnvironment() builds once, then hits the cache and records the last use", async () => {
  await using tmp = await tempDir();
  const env = { MLFLOW_ENV_ROOT: tmp.path };
  const fake = fakeEnvironment(["a"]);
  const first = await acquireEnvironment(fake, { env });
  assert.equal(first.cacheHit, false);
  assert.equal(first.dir, `${tmp.path}/${first.key}`);
  const marker = JSON.parse(await Deno.readTextFile(`${first.dir}/.mlproject-env.json`));
  assert.equal(marker.key, first.key);
  assert.equal(marker.python, "3.11.7");
  await Deno.utime(`${first.dir}/.mlproject-last-used`, 0, 0);
  const second = await acquireEnvironment(fake, { env });
  assert.deepEqual(second, { ...first, cacheHit: true });
  assert.equal(fake.builds, 1);
  const used = (await Deno.stat(`${first.dir}/.mlproject-last-used`)).mtime!;
  assert.ok(Date.now() - used.getTime() < 60_000, "last use updated");
});

Deno.test("acquireEnvironment() removes a failed build entirely and retries on the next call", async () => {
  await using tmp = await tempDir();
  const env = { MLFLOW_ENV_ROOT: tmp.path };
  const failing = fakeEnvironment(["b"], { fail: true });
  const key = await environmentKey(failing);
  await assert.rejects(acquireEnvironment(failing, { env }), /pip failed/);
  await assert.rejects(Deno.stat(`${tmp.path}/${key}`), Deno.errors.NotFound);
  await assert.rejects(acquireEnvironment(failing, { env }), /pip failed/);
  assert.equal(failing.builds, 2);
  assert.deepEqual(listEnvironments({ env }), []);
});

Deno.test("acquireEnvironment() never uses a half-built or corrupt env: it is removed and rebuilt", async () => {
  await using tmp = await tempDir();
  const env = { MLFLOW_ENV_ROOT: tmp.path };
  const fake = fakeEnvironment(["c"]);
  const key = await environmentKey(fake);
  const dir = `${tmp.path}/${key}`;
  // A build killed half-way: no marker.
  await Deno.mkdir(`${dir}/bin`, { recursive: true });
  await Deno.writeTextFile(`${dir}/leftover`, "");
  assert.equal(listEnvironments({ env })[0]?.state, "broken");
  assert.equal((await acquireEnvironment(fake, { env })).cacheHit, false);
  await assert.rejects(Deno.stat(`${dir}/leftover`), Deno.errors.NotFound);
  // A marker for another key, and an env whose interpreter vanished.
  await Deno.writeTextFile(`${dir}/.mlproject-env.json`, '{"key":"other"}');
  assert.equal((await acquireEnvironment(fake, { env })).cacheHit, false);
  await Deno.remove(`${dir}/bin/python`);
  await Deno.symlink("/nonexistent/python", `${dir}/bin/python`);
  assert.equal((await acquireEnvironment(fake, { env })).cacheHit, false);
  assert.equal((await acquireEnvironment(fake, { env })).cacheHit, true);
  assert.equal(fake.builds, 3);
});

Deno.test("acquireEnvironment() called 8 times at once builds once; the others wait and reuse it", async () => {
  await using tmp = await tempDir();
  const env = { MLFLOW_ENV_ROOT: tmp.path };
  const fake = fakeEnvironment(["d"], { delayMs: 300 });
  const results = await Promise.all(
    Array.from({ length: 8 }, () => acquireEnvironment(fake, { env })),
  );
  assert.equal(fake.builds, 1);
  assert.equal(results.filter((r) => !r.cacheHit).length, 1);
  assert.equal(new Set(results.map((r) => r.dir)).size, 1);
});

Deno.test("acquireEnvironment() removes what an aborted build left", async () => {
  await using tmp = await tempDir();
  const env = { MLFLOW_ENV_ROOT: tmp.path };
  const fake = fakeEnvironment(["e"], { delayMs: 200 });
  const controller = new AbortController();
  setTimeout(() => controller.abort(), 50);
  await assert.rejects(
    acquireEnvironment(fake, { env, signal: controller.signal }),
    /Creating environment .* was interrupted/,
  );
  assert.deepEqual(listEnvironments({ env }), []);
});

Deno.test("listEnvironments(), removeEnvironment() and collectGarbage() manage only our entries", async () => {
  await using tmp = await tempDir();
  const env = { MLFLOW_ENV_ROOT: tmp.path };
  const used = await acquireEnvironment(fakeEnvironment(["f"]), { env });
  const old = await acquireEnvironment(fakeEnvironment(["g"]), { env });
  const gone = await acquireEnvironment(fakeEnvironment(["h"]), { env });
  await Deno.utime(`${old.dir}/.mlproject-last-used`, 0, new Date(Date.now() - 40 * 86_400_000));
  await Deno.mkdir(`${tmp.path}/mlflow-0123abcd`); // MLflow's own env in a shared root
  await Deno.mkdir(`${tmp.path}/virtualenv-3.11.7-00000000000000ff`); // killed build
  const keys = listEnvironments({ env }).map((e) => `${e.key} ${e.state}`).sort();
  assert.deepEqual(
    keys,
    [
      `${gone.key} ready`,
      `${old.key} ready`,
      `${used.key} ready`,
      "virtualenv-3.11.7-00000000000000ff broken",
    ].sort(),
  );
  const table = formatEnvironmentTable(listEnvironments({ env }));
  assert.match(table[0]!, /^KEY\s+MANAGER\s+PYTHON\s+SIZE\s+LAST USED\s+PATH$/);
  assert.match(
    table.find((l) => l.startsWith(old.key))!,
    /virtualenv\s+3\.11\.7\s+\S+ \S+\s+40 days ago/,
  );

  assert.equal(await removeEnvironment(gone.key, { env }), gone.dir);
  await assert.rejects(removeEnvironment(gone.key, { env }), /^ExecutionException: No environment/);
  await assert.rejects(removeEnvironment("mlflow-0123abcd", { env }), /No environment/);
  assert.deepEqual(await collectGarbage({ env }), ["virtualenv-3.11.7-00000000000000ff"]);
  assert.deepEqual(await collectGarbage({ env, olderThanDays: 30 }), [old.key]);
  assert.deepEqual(listEnvironments({ env }).map((e) => e.key), [used.key]);
  await Deno.stat(`${tmp.path}/mlflow-0123abcd`);
});
