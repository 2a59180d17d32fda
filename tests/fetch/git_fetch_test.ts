import assert from "node:assert/strict";
import { ExecutionException } from "../../lib/system/errors.ts";
import { fetchProject } from "../../lib/fetch/fetch_project.ts";
import { fetchGitRepo, resolveSubmoduleUrl } from "../../lib/fetch/git_fetch.ts";
import { run } from "../../lib/run/run.ts";
import { sqliteRows, tempDir, writeFiles } from "../_helpers/cli.ts";
import { git, GIT_ENV, makeTestRepo } from "../_helpers/git_repos.ts";
import { startGitDaemon, startGitHttpServer } from "../_helpers/git_servers.ts";

function envWithCache(cache: string, extra: Record<string, string> = {}): Record<string, string> {
  return { ...GIT_ENV, MLPROJECT_CACHE_DIR: cache, ...extra };
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}

async function read(path: string): Promise<string> {
  return (await Deno.readTextFile(path)).trim();
}

Deno.test("fetchProject() checks out the remote's default branch over smart HTTP and cleans up", async () => {
  await using root = await tempDir();
  await using cache = await tempDir();
  const repo = await makeTestRepo(root.path, "repo");
  await using server = startGitHttpServer(root.path);
  const uri = `${server.url}repo.git`;
  const project = await fetchProject(uri, { env: envWithCache(cache.path) });
  assert.equal(await read(`${project.workDir}/BRANCH.txt`), "main");
  assert.equal(await git(project.workDir, "rev-parse", "HEAD"), repo.mainSha);
  assert.deepEqual(project.source, { name: uri, commit: repo.mainSha, repoUrl: uri });
  assert.equal(project.localDir, undefined);
  assert.ok(!project.workDir.startsWith(cache.path), "the run does not happen in the cache");
  await project.cleanup();
  assert.equal(await exists(project.workDir), false);
});

Deno.test("fetchProject() checks out a branch over git:// and records it as mlflow.source.git.branch", async () => {
  await using root = await tempDir();
  await using cache = await tempDir();
  const repo = await makeTestRepo(root.path, "repo");
  await using daemon = await startGitDaemon(root.path);
  const uri = `${daemon.url}repo.git`;
  const project = await fetchProject(uri, { version: "feature-x", env: envWithCache(cache.path) });
  try {
    assert.equal(await read(`${project.workDir}/BRANCH.txt`), "feature-x");
    assert.deepEqual(project.source, {
      name: uri,
      commit: repo.featureSha,
      repoUrl: uri,
      branch: "feature-x",
    });
    assert.equal(await git(project.workDir, "rev-parse", "--abbrev-ref", "HEAD"), "feature-x");
  } finally {
    await project.cleanup();
  }
});

Deno.test("fetchProject() checks out a tag, a full SHA and an abbreviated SHA (no branch tag)", async () => {
  await using root = await tempDir();
  const repo = await makeTestRepo(root.path, "repo");
  await using server = startGitHttpServer(root.path);
  const uri = `${server.url}repo.git`;
  for (
    const [version, sha, text] of [
      ["v1.0", repo.firstSha, "first"],
      [repo.featureSha, repo.featureSha, "feature-x"],
      [repo.firstSha.slice(0, 9), repo.firstSha, "first"],
    ] as const
  ) {
    // A fresh cache each time, so every kind of version is fetched from the server.
    await using cache = await tempDir();
    const project = await fetchProject(uri, { version, env: envWithCache(cache.path) });
    try {
      assert.equal(await read(`${project.workDir}/BRANCH.txt`), text, version);
      assert.deepEqual(project.source, { name: uri, commit: sha, repoUrl: uri }, version);
    } finally {
      await project.cleanup();
    }
  }
});

Deno.test("fetchProject() runs the #subdir of a remote repository and names it in the source", async () => {
  await using root = await tempDir();
  await using cache = await tempDir();
  const repo = await makeTestRepo(root.path, "repo");
  await using daemon = await startGitDaemon(root.path);
  const uri = `${daemon.url}repo.git#sub`;
  const project = await fetchProject(uri, { version: "main", env: envWithCache(cache.path) });
  try {
    assert.ok(project.workDir.endsWith("/sub"));
    assert.equal(project.subdirectory, "sub");
    assert.match(await Deno.readTextFile(`${project.workDir}/MLproject`), /name: sub/);
    assert.equal(project.source.name, uri);
    assert.equal(project.source.repoUrl, `${daemon.url}repo.git`);
    assert.equal(project.source.commit, repo.mainSha);
  } finally {
    await project.cleanup();
  }
  await assert.rejects(
    fetchProject(`${daemon.url}repo.git#nosuch`, { env: envWithCache(cache.path) }),
    (e: unknown) =>
      e instanceof ExecutionException &&
      e.message === `Could not find subdirectory nosuch of ${daemon.url}repo.git`,
  );
});

Deno.test("fetchProject() refuses a #subdir that is a symlink out of the checkout", async () => {
  await using root = await tempDir();
  await using cache = await tempDir();
  await makeTestRepo(root.path, "repo");
  const work = `${root.path}/repo-work`;
  await Deno.symlink("/tmp", `${work}/out`);
  await git(work, "add", "out");
  await git(work, "commit", "-q", "-m", "link");
  await git(work, "push", "-q", `${root.path}/repo.git`, "HEAD:main");
  await assert.rejects(
    fetchProject(`file://${root.path}/repo.git#out`, { env: envWithCache(cache.path) }),
    (e: unknown) =>
      e instanceof ExecutionException &&
      e.message === "Project subdirectory 'out' is not allowed: it leaves the project directory",
  );
});

Deno.test("fetchProject() fetches a local bare repository (path or file://) through git", async () => {
  await using root = await tempDir();
  await using cache = await tempDir();
  const repo = await makeTestRepo(root.path, "repo");
  for (const uri of [repo.bare, `file://${repo.bare}`]) {
    const project = await fetchProject(uri, {
      version: "feature-x",
      env: envWithCache(cache.path),
    });
    try {
      assert.equal(await read(`${project.workDir}/BRANCH.txt`), "feature-x");
      assert.equal(project.source.commit, repo.featureSha);
      assert.equal(project.source.branch, "feature-x");
    } finally {
      await project.cleanup();
    }
  }
});

Deno.test("fetchProject() reports an unknown version of a remote repository with MLflow's text", async () => {
  await using root = await tempDir();
  await using cache = await tempDir();
  await makeTestRepo(root.path, "repo");
  await using server = startGitHttpServer(root.path);
  const uri = `${server.url}repo.git`;
  for (const version of ["no-such-branch", "0123456789abcdef0123456789abcdef01234567", "abc1234"]) {
    await assert.rejects(
      fetchProject(uri, { version, env: envWithCache(cache.path) }),
      (e: unknown) => {
        assert.ok(e instanceof ExecutionException);
        const prefix =
          `Unable to checkout version '${version}' of git repo ${uri}- please ensure that the version exists in the repo. Error: `;
        assert.ok(e.message.startsWith(prefix), e.message);
        assert.ok(e.message.length > prefix.length);
        assert.ok(!e.message.includes("\n"));
        return true;
      },
    );
  }
});

Deno.test("fetchProject() reports an unreachable remote clearly, without credentials", async () => {
  await using cache = await tempDir();
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const cases: [string, string][] = [
    [`git://127.0.0.1:${port}/repo.git`, `git://127.0.0.1:${port}/repo.git`],
    [`http://user:s3cr3t-token@127.0.0.1:${port}/repo.git`, `http://127.0.0.1:${port}/repo.git`],
  ];
  for (const [uri, shown] of cases) {
    await assert.rejects(fetchProject(uri, { env: envWithCache(cache.path) }), (e: unknown) => {
      assert.ok(e instanceof ExecutionException);
      assert.ok(e.message.startsWith(`Unable to fetch git repo ${shown}: `), e.message);
      assert.ok(!e.message.includes("s3cr3t"), e.message);
      return true;
    });
  }
});

Deno.test("fetchProject() uses credentials in the URL but records and stores them nowhere", async () => {
  await using root = await tempDir();
  await using cache = await tempDir();
  const repo = await makeTestRepo(root.path, "repo");
  const seen: string[] = [];
  await using server = startGitHttpServer(root.path, {
    onRequest: (req) => {
      seen.push(req.headers.get("authorization") ?? "");
      return undefined;
    },
  });
  const host = server.url.replace("http://", "");
  const uri = `http://alice:s3cr3t-token@${host}repo.git#sub`;
  const messages: string[] = [];
  const project = await fetchProject(uri, {
    env: envWithCache(cache.path),
    reporter: { log: (_level, message) => messages.push(message) },
  });
  try {
    assert.deepEqual(project.source, {
      name: `http://${host}repo.git#sub`,
      commit: repo.mainSha,
      repoUrl: `http://${host}repo.git`,
    });
    assert.ok(messages.every((m) => !m.includes("s3cr3t")), messages.join("\n"));
    const top = project.workDir.replace(/\/sub$/, "");
    assert.equal(await git(top, "config", "remote.origin.url"), `http://${host}repo.git`);
  } finally {
    await project.cleanup();
  }
  const grep = await new Deno.Command("grep", { args: ["-r", "-l", "s3cr3t", cache.path] })
    .output();
  assert.equal(new TextDecoder().decode(grep.stdout), "", "the token is not written to the cache");
});

Deno.test("fetchProject() checks out submodules recursively, from their own cached mirrors", async () => {
  await using root = await tempDir();
  await using cache = await tempDir();
  // leaf <- middle (submodule ../leaf.git) <- top (submodule ../middle.git)
  const mk = async (name: string, files: Record<string, string>) => {
    const work = `${root.path}/${name}-work`;
    await Deno.mkdir(work, { recursive: true });
    await git(work, "init", "-q");
    await writeFiles(work, files);
    await git(work, "add", "-A");
    await git(work, "commit", "-q", "-m", name);
    return work;
  };
  const leaf = await mk("leaf", { "leaf.txt": "leaf\n" });
  await git(root.path, "clone", "-q", "--bare", leaf, `${root.path}/leaf.git`);
  await using daemon = await startGitDaemon(root.path);
  const middle = await mk("middle", { "middle.txt": "middle\n" });
  await git(
    middle,
    "-c",
    "protocol.file.allow=always",
    "submodule",
    "add",
    "-q",
    `${root.path}/leaf.git`,
    "deps/leaf",
  );
  await git(middle, "config", "-f", ".gitmodules", "submodule.deps/leaf.url", "../leaf.git");
  await git(middle, "commit", "-q", "-am", "add leaf");
  await git(root.path, "clone", "-q", "--bare", middle, `${root.path}/middle.git`);
  const top = await mk("top", { MLproject: "name: top\n" });
  await git(
    top,
    "-c",
    "protocol.file.allow=always",
    "submodule",
    "add",
    "-q",
    `${root.path}/middle.git`,
    "middle",
  );
  await git(top, "config", "-f", ".gitmodules", "submodule.middle.url", "../middle.git");
  await git(top, "commit", "-q", "-am", "add middle");
  await git(root.path, "clone", "-q", "--bare", top, `${root.path}/top.git`);

  const env = envWithCache(cache.path);
  const project = await fetchProject(`${daemon.url}top.git`, { env });
  try {
    assert.equal(await read(`${project.workDir}/middle/middle.txt`), "middle");
    assert.equal(await read(`${project.workDir}/middle/deps/leaf/leaf.txt`), "leaf");
    assert.equal(await git(project.workDir, "status", "--porcelain"), "");
  } finally {
    await project.cleanup();
  }
  const mirrors = [...Deno.readDirSync(`${cache.path}/git`)].filter((e) => e.isDirectory);
  assert.equal(mirrors.length, 3, "one mirror per repository");
  // Everything is cached now: a run by SHA works with the server gone.
  const sha = await git(`${root.path}/top.git`, "rev-parse", "HEAD");
  await daemon.stop();
  const again = await fetchGitRepo(`${daemon.url}top.git`, { version: sha, env });
  try {
    assert.equal(await read(`${again.dir}/middle/deps/leaf/leaf.txt`), "leaf");
  } finally {
    await again.cleanup();
  }
});

Deno.test("fetchProject() keeps the checkout with keepWorkDir", async () => {
  await using root = await tempDir();
  await using cache = await tempDir();
  const repo = await makeTestRepo(root.path, "repo");
  const project = await fetchProject(`file://${repo.bare}`, {
    env: envWithCache(cache.path),
    keepWorkDir: true,
  });
  await project.cleanup();
  assert.equal(await exists(`${project.workDir}/MLproject`), true);
  await Deno.remove(project.workDir, { recursive: true });
});

Deno.test("run() of a remote git URI records MLflow's source tags and removes the checkout", async () => {
  await using root = await tempDir();
  await using cache = await tempDir();
  await using out = await tempDir();
  const repo = await makeTestRepo(root.path, "repo");
  await using server = startGitHttpServer(root.path);
  const uri = `${server.url}repo.git`;
  const messages: string[] = [];
  const submitted = await run(uri, {
    version: "feature-x",
    envManager: "local",
    trackingUri: `sqlite:///${out.path}/mlflow.db`,
    cwd: out.path,
    env: envWithCache(cache.path, { USER: "tester" }),
    stdout: "null",
    reporter: { log: (_level, message) => void messages.push(message) },
  });
  const rows = await sqliteRows(
    `${out.path}/mlflow.db`,
    "SELECT key, value FROM tags WHERE run_uuid = ?",
    submitted.runId,
  );
  const tags = Object.fromEntries(rows.map((r) => [r.key, r.value]));
  assert.equal(tags["mlflow.source.name"], uri);
  assert.equal(tags["mlflow.source.git.commit"], repo.featureSha);
  assert.equal(tags["mlflow.source.git.repoURL"], uri);
  assert.equal(tags["mlflow.source.git.branch"], "feature-x");
  const fetched = messages.map((m) => / into (\S+) ===$/.exec(m)?.[1]).find((d) => d);
  assert.ok(fetched !== undefined, messages.join("\n"));
  assert.equal(await exists(fetched), false, "the checkout is removed when the run ends");
});

Deno.test("resolveSubmoduleUrl() resolves relative URLs as git does", () => {
  assert.equal(resolveSubmoduleUrl("git://h:1/org/a.git", "../b.git"), "git://h:1/org/b.git");
  assert.equal(resolveSubmoduleUrl("https://h/org/a.git/", "./b"), "https://h/org/a.git/b");
  assert.equal(resolveSubmoduleUrl("git@h:org/a.git", "../b.git"), "git@h:org/b.git");
  assert.equal(resolveSubmoduleUrl("git@h:org/a.git", "../../x/b.git"), "git@h:x/b.git");
  assert.equal(resolveSubmoduleUrl("https://h/a.git", "https://o/b.git"), "https://o/b.git");
  assert.equal(resolveSubmoduleUrl("https://h/a.git", "/srv/b.git"), "file:///srv/b.git");
});
