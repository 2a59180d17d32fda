import assert from "node:assert/strict";
import { join } from "node:path";
import { isLocalBranch, readGitInfo } from "../../lib/fetch/git_info.ts";
import { tempDir, writeFiles } from "../_helpers/cli.ts";

const GIT_ENV = {
  GIT_AUTHOR_NAME: "t",
  GIT_AUTHOR_EMAIL: "t@e",
  GIT_COMMITTER_NAME: "t",
  GIT_COMMITTER_EMAIL: "t@e",
};

async function git(cwd: string, ...args: string[]): Promise<string> {
  const out = await new Deno.Command("git", { args, cwd, env: GIT_ENV }).output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  return new TextDecoder().decode(out.stdout).trim();
}

async function repo(dir: string): Promise<string> {
  await writeFiles(dir, { "a/b/file.txt": "x" });
  await git(dir, "init", "-q", "-b", "main");
  await git(dir, "add", ".");
  await git(dir, "commit", "-q", "-m", "one");
  return await git(dir, "rev-parse", "HEAD");
}

Deno.test("readGitInfo() reads toplevel, HEAD and the first remote like git does", async () => {
  await using tmp = await tempDir();
  const sha = await repo(tmp.path);
  await git(tmp.path, "remote", "add", "upstream", "https://example.com/up.git");
  await git(tmp.path, "remote", "add", "origin", "git@example.com:org/repo.git");
  const info = await readGitInfo(join(tmp.path, "a", "b"));
  assert.deepEqual(info, {
    toplevel: tmp.path,
    commit: sha,
    repoUrl: "https://example.com/up.git",
  });
});

Deno.test("readGitInfo() follows packed refs, detached HEADs and worktrees", async () => {
  await using tmp = await tempDir();
  const main = join(tmp.path, "main");
  const sha = await repo(main);
  await git(main, "pack-refs", "--all");
  assert.equal((await readGitInfo(main))?.commit, sha);
  await git(main, "checkout", "-q", "--detach");
  assert.equal((await readGitInfo(main))?.commit, sha);
  await git(main, "checkout", "-q", "main");
  await git(main, "worktree", "add", "-q", "-b", "other", join(tmp.path, "wt"));
  const wt = await readGitInfo(join(tmp.path, "wt", "a"));
  assert.equal(wt?.toplevel, join(tmp.path, "wt"));
  assert.equal(wt?.commit, sha);
  assert.equal(await isLocalBranch(join(tmp.path, "wt"), "other"), true);
  assert.equal(await isLocalBranch(main, "main"), true);
  assert.equal(await isLocalBranch(main, "nope"), false);
});

Deno.test("readGitInfo() gives no commit for a repository without commits, and undefined outside git", async () => {
  await using tmp = await tempDir();
  await git(tmp.path, "init", "-q");
  const info = await readGitInfo(tmp.path);
  assert.equal(info?.commit, undefined);
  assert.equal(info?.repoUrl, undefined);
  assert.equal(await readGitInfo("/"), undefined);
});
