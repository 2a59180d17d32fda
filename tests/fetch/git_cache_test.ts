import assert from "node:assert/strict";
import { fetchProject } from "../../lib/fetch/fetch_project.ts";
import { gitCacheDir } from "../../lib/fetch/git_cache.ts";
import { tempDir } from "../_helpers/cli.ts";
import { git, GIT_ENV, makeTestRepo, pushCommit } from "../_helpers/git_repos.ts";
import { startGitDaemon, startGitHttpServer } from "../_helpers/git_servers.ts";

function envWithCache(cache: string, extra: Record<string, string> = {}): Record<string, string> {
  return { ...GIT_ENV, MLPROJECT_CACHE_DIR: cache, ...extra };
}

async function read(path: string): Promise<string> {
  return (await Deno.readTextFile(path)).trim();
}

function mirrors(cache: string): string[] {
  return [...Deno.readDirSync(`${cache}/git`)].filter((e) => e.isDirectory).map((e) =>
    `${cache}/git/${e.name}`
  );
}

Deno.test("gitCacheDir() uses MLPROJECT_CACHE_DIR, then XDG_CACHE_HOME, then ~/.cache", () => {
  assert.equal(gitCacheDir({ MLPROJECT_CACHE_DIR: "/c", XDG_CACHE_HOME: "/x" }), "/c/git");
  assert.equal(gitCacheDir({ XDG_CACHE_HOME: "/x", HOME: "/h" }), "/x/mlproject/git");
  assert.equal(gitCacheDir({ HOME: "/h" }), "/h/.cache/mlproject/git");
});

Deno.test("a second run of a cached commit makes no network request", async () => {
  await using root = await tempDir();
  await using cache = await tempDir();
  const repo = await makeTestRepo(root.path, "repo");
  await using server = startGitHttpServer(root.path);
  const uri = `${server.url}repo.git`;
  const env = envWithCache(cache.path);
  const first = await fetchProject(uri, { version: repo.featureSha, env });
  await first.cleanup();
  assert.ok(server.requests() > 0);
  const before = server.requests();
  const second = await fetchProject(uri, { version: repo.featureSha, env });
  try {
    assert.equal(server.requests(), before, "no request for a cached commit");
    assert.equal(await read(`${second.workDir}/BRANCH.txt`), "feature-x");
    assert.equal(second.source.commit, repo.featureSha);
  } finally {
    await second.cleanup();
  }
  // Also with the short SHA, and with the server gone.
  await server.stop();
  const third = await fetchProject(uri, { version: repo.featureSha.slice(0, 10), env });
  try {
    assert.equal(third.source.commit, repo.featureSha);
  } finally {
    await third.cleanup();
  }
});

Deno.test("a branch run on a warm cache only asks the remote for that ref, and sees new commits", async () => {
  await using root = await tempDir();
  await using cache = await tempDir();
  await makeTestRepo(root.path, "repo");
  await using daemon = await startGitDaemon(root.path);
  const uri = `${daemon.url}repo.git`;
  const env = envWithCache(cache.path);
  await (await fetchProject(uri, { version: "main", env })).cleanup();
  const before = daemon.requests();
  const same = await fetchProject(uri, { version: "main", env });
  await same.cleanup();
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(daemon.requests() - before, 1, "one ls-remote, no fetch");
  const newSha = await pushCommit(root.path, "repo", { "BRANCH.txt": "main3\n" });
  const moved = await fetchProject(uri, { env });
  try {
    assert.equal(moved.source.commit, newSha);
    assert.equal(await read(`${moved.workDir}/BRANCH.txt`), "main3");
  } finally {
    await moved.cleanup();
  }
});

Deno.test("a commit the server refuses to send by SHA falls back to a full fetch", async () => {
  await using root = await tempDir();
  await using cache = await tempDir();
  const repo = await makeTestRepo(root.path, "repo");
  await pushCommit(root.path, "repo", { "BRANCH.txt": "later\n" });
  await using daemon = await startGitDaemon(root.path);
  // Protocol v0 without uploadpack.allowReachableSHA1InWant: no fetch of an unadvertised SHA.
  const env = envWithCache(cache.path, {
    GIT_CONFIG_COUNT: "1",
    GIT_CONFIG_KEY_0: "protocol.version",
    GIT_CONFIG_VALUE_0: "0",
  });
  const project = await fetchProject(`${daemon.url}repo.git`, { version: repo.mainSha, env });
  try {
    assert.equal(await read(`${project.workDir}/BRANCH.txt`), "main");
    assert.equal(project.source.commit, repo.mainSha);
  } finally {
    await project.cleanup();
  }
});

Deno.test("a corrupt mirror is rebuilt instead of failing the run", async () => {
  await using root = await tempDir();
  await using cache = await tempDir();
  const repo = await makeTestRepo(root.path, "repo");
  const uri = `file://${repo.bare}`;
  const env = envWithCache(cache.path);
  await (await fetchProject(uri, { version: "feature-x", env })).cleanup();
  const [mirror] = mirrors(cache.path);
  assert.ok(mirror !== undefined);

  // 1. Not a repository any more.
  await Deno.writeTextFile(`${mirror}/HEAD`, "garbage\n");
  await Deno.remove(`${mirror}/objects`, { recursive: true });
  const a = await fetchProject(uri, { version: repo.featureSha, env });
  try {
    assert.equal(await read(`${a.workDir}/BRANCH.txt`), "feature-x");
  } finally {
    await a.cleanup();
  }

  // 2. Objects damaged while the repository still looks fine.
  for (const dir of ["objects/pack", "objects"]) {
    for (const entry of Deno.readDirSync(`${mirror}/${dir}`)) {
      if (entry.isFile && /\.pack$/.test(entry.name)) {
        await Deno.writeTextFile(`${mirror}/${dir}/${entry.name}`, "PACK broken");
      }
    }
  }
  for (const entry of Deno.readDirSync(`${mirror}/objects`)) {
    if (entry.isDirectory && /^[0-9a-f]{2}$/.test(entry.name)) {
      for (const obj of Deno.readDirSync(`${mirror}/objects/${entry.name}`)) {
        await Deno.chmod(`${mirror}/objects/${entry.name}/${obj.name}`, 0o644);
        await Deno.writeTextFile(`${mirror}/objects/${entry.name}/${obj.name}`, "broken");
      }
    }
  }
  const b = await fetchProject(uri, { version: repo.featureSha, env });
  try {
    assert.equal(await read(`${b.workDir}/BRANCH.txt`), "feature-x");
    assert.equal(await git(b.workDir, "rev-parse", "HEAD"), repo.featureSha);
  } finally {
    await b.cleanup();
  }
});

Deno.test("two concurrent runs of the same remote share one mirror safely", async () => {
  await using root = await tempDir();
  await using cache = await tempDir();
  const repo = await makeTestRepo(root.path, "repo");
  await using server = startGitHttpServer(root.path);
  const uri = `${server.url}repo.git`;
  const env = envWithCache(cache.path);
  const [a, b, c] = await Promise.all([
    fetchProject(uri, { version: "feature-x", env }),
    fetchProject(uri, { version: "main", env }),
    fetchProject(uri, { version: "feature-x", env }),
  ]);
  try {
    assert.equal(await read(`${a.workDir}/BRANCH.txt`), "feature-x");
    assert.equal(await read(`${b.workDir}/BRANCH.txt`), "main");
    assert.equal(await read(`${c.workDir}/BRANCH.txt`), "feature-x");
    assert.notEqual(a.workDir, c.workDir);
    assert.equal(b.source.commit, repo.mainSha);
  } finally {
    await Promise.all([a.cleanup(), b.cleanup(), c.cleanup()]);
  }
  assert.equal(mirrors(cache.path).length, 1);
  const [mirror] = mirrors(cache.path);
  await git(mirror!, "fsck", "--no-progress");
});

Deno.test("two concurrent CLI processes fetching the same remote both succeed", async () => {
  await using root = await tempDir();
  await using cache = await tempDir();
  await makeTestRepo(root.path, "repo");
  await using daemon = await startGitDaemon(root.path);
  const script = `
    import { fetchProject } from "${
    new URL("../../lib/fetch/fetch_project.ts", import.meta.url).href
  }";
    const p = await fetchProject(Deno.args[0], { version: Deno.args[1] });
    const text = Deno.readTextFileSync(p.workDir + "/BRANCH.txt").trim();
    await p.cleanup();
    Deno.stdout.writeSync(new TextEncoder().encode(text));
  `;
  const run = (version: string) =>
    new Deno.Command(Deno.execPath(), {
      args: ["eval", "--quiet", script, `${daemon.url}repo.git`, version],
      env: envWithCache(cache.path),
      clearEnv: true,
      stdout: "piped",
      stderr: "piped",
    }).output();
  const outs = await Promise.all([run("main"), run("feature-x"), run("main")]);
  const dec = new TextDecoder();
  assert.deepEqual(
    outs.map((o) => [o.code, dec.decode(o.stdout)]),
    [[0, "main"], [0, "feature-x"], [0, "main"]],
    outs.map((o) => dec.decode(o.stderr)).join("\n"),
  );
});
