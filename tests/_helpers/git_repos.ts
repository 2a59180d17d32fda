/** Real git repositories for fetch tests. */
import assert from "node:assert/strict";
import { writeFiles } from "./cli.ts";

/** Environment for git commands of the tests (no system/global config, fixed identity). */
export const GIT_ENV: Record<string, string> = {
  GIT_AUTHOR_NAME: "Test",
  GIT_AUTHOR_EMAIL: "test@example.com",
  GIT_COMMITTER_NAME: "Test",
  GIT_COMMITTER_EMAIL: "test@example.com",
  GIT_CONFIG_NOSYSTEM: "1",
  GIT_CONFIG_GLOBAL: "/dev/null",
  PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
  HOME: Deno.env.get("HOME") ?? "/tmp",
};

/** Runs git and returns its trimmed stdout; fails the test on a non-zero exit. */
export async function git(cwd: string, ...args: string[]): Promise<string> {
  const out = await new Deno.Command("git", {
    args: ["-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false", ...args],
    cwd,
    env: GIT_ENV,
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).output();
  const dec = new TextDecoder();
  assert.equal(out.code, 0, `git ${args.join(" ")}: ${dec.decode(out.stderr)}`);
  return dec.decode(out.stdout).trim();
}

/** SHAs of the standard test repository. */
export interface TestRepo {
  /** Path of the bare repository. */
  bare: string;
  /** main~1, tagged `v1.0` (annotated). */
  firstSha: string;
  /** main's tip. */
  mainSha: string;
  /** feature-x's tip (branched from the first commit). */
  featureSha: string;
}

/**
 * Creates `<root>/<name>.git` (bare), pushed from a work tree in `<root>/<name>-work`:
 * main: first (tag v1.0) → second; feature-x: first → feature. Every commit has `MLproject`,
 * `BRANCH.txt` and `sub/MLproject`.
 */
export async function makeTestRepo(root: string, name: string): Promise<TestRepo> {
  const work = `${root}/${name}-work`;
  const bare = `${root}/${name}.git`;
  await Deno.mkdir(work, { recursive: true });
  await git(work, "init", "-q");
  await writeFiles(work, {
    MLproject: "name: first\nentry_points:\n  main:\n    command: cat BRANCH.txt\n",
    "BRANCH.txt": "first\n",
    "sub/MLproject": "name: sub\nentry_points:\n  main:\n    command: echo sub\n",
  });
  await git(work, "add", "-A");
  await git(work, "commit", "-q", "-m", "first");
  const firstSha = await git(work, "rev-parse", "HEAD");
  await git(work, "tag", "-a", "v1.0", "-m", "release 1.0");
  await git(work, "checkout", "-q", "-b", "feature-x");
  await writeFiles(work, { "BRANCH.txt": "feature-x\n" });
  await git(work, "commit", "-q", "-am", "feature");
  const featureSha = await git(work, "rev-parse", "HEAD");
  await git(work, "checkout", "-q", "main");
  await writeFiles(work, { "BRANCH.txt": "main\n" });
  await git(work, "commit", "-q", "-am", "second");
  const mainSha = await git(work, "rev-parse", "HEAD");
  await git(root, "clone", "-q", "--bare", work, bare);
  return { bare, firstSha, mainSha, featureSha };
}

/** Adds a commit to `branch` of the bare repo (through its work tree) and returns its SHA. */
export async function pushCommit(
  root: string,
  name: string,
  files: Record<string, string>,
): Promise<string> {
  const work = `${root}/${name}-work`;
  await writeFiles(work, files);
  await git(work, "add", "-A");
  await git(work, "commit", "-q", "-m", "more");
  await git(work, "push", "-q", `${root}/${name}.git`, "HEAD:main");
  return await git(work, "rev-parse", "HEAD");
}
