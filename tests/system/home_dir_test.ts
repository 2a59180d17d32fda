import assert from "node:assert/strict";
import { cacheDir, homeDir } from "../../lib/system/home_dir.ts";
import { gitCacheDir } from "../../lib/fetch/git_cache.ts";
import { envCacheRoot } from "../../lib/envs/env_cache.ts";

Deno.test("homeDir() is HOME, else USERPROFILE, else undefined", () => {
  assert.equal(homeDir({ HOME: "/h", USERPROFILE: "/u" }), "/h");
  assert.equal(homeDir({ USERPROFILE: "/u" }), "/u");
  assert.equal(homeDir({ HOME: "" }), undefined);
});

Deno.test("cacheDir() is MLPROJECT_CACHE_DIR, else XDG_CACHE_HOME/mlproject, else ~/.cache/mlproject", () => {
  const all = { MLPROJECT_CACHE_DIR: "/c", XDG_CACHE_HOME: "/x", HOME: "/h" };
  assert.equal(cacheDir(all, "git"), "/c/git");
  assert.equal(cacheDir({ XDG_CACHE_HOME: "/x", HOME: "/h" }, "git"), "/x/mlproject/git");
  assert.equal(cacheDir({ HOME: "/h" }, "git"), "/h/.cache/mlproject/git");
  assert.equal(cacheDir({}, "git"), undefined);
});

Deno.test("the git mirrors and the environments share the one cache root", () => {
  for (
    const env of <Record<string, string>[]> [
      { MLPROJECT_CACHE_DIR: "/c", HOME: "/h" },
      { XDG_CACHE_HOME: "/x", HOME: "/h" },
      { HOME: "/h" },
    ]
  ) {
    assert.equal(gitCacheDir(env), cacheDir(env, "git"));
    assert.equal(envCacheRoot(env), cacheDir(env, "envs"));
  }
});
