/**
 * What MLflow records about the git work tree a project lives in.
 *
 * @module
 */
import { relative } from "node:path";
import { runCommand } from "./run_command.ts";

/** Git facts of a directory. */
export interface GitInfo {
  /** Top level of the work tree. */
  toplevel: string;
  /** HEAD commit SHA. */
  commit: string | undefined;
  /** URL of the first remote, if any. */
  repoUrl: string | undefined;
}

/**
 * Reads the work tree, HEAD commit and first remote of the repository containing `dir`.
 *
 * @param dir A directory.
 * @returns The facts, or `undefined` outside a git work tree (or without git).
 *
 * @example
 * ```ts ignore
 * import { readGitInfo } from "./git_info.ts";
 * const info = await readGitInfo(".");
 * ```
 */
export async function readGitInfo(dir: string): Promise<GitInfo | undefined> {
  const top = await runCommand("git", ["rev-parse", "--show-toplevel"], { cwd: dir });
  if (!top.success) return undefined;
  const toplevel = top.stdout.trim();
  const [head, remotes] = await Promise.all([
    runCommand("git", ["rev-parse", "--verify", "-q", "HEAD"], { cwd: dir }),
    runCommand("git", ["config", "--get-regexp", "^remote\\..*\\.url$"], { cwd: dir }),
  ]);
  const firstRemote = remotes.success ? remotes.stdout.split("\n")[0] ?? "" : "";
  const space = firstRemote.indexOf(" ");
  return {
    toplevel,
    commit: head.success ? head.stdout.trim() || undefined : undefined,
    repoUrl: space > 0 ? firstRemote.slice(space + 1) : undefined,
  };
}

/**
 * Whether `name` is a local branch of the repository containing `dir`.
 *
 * @param dir A directory in the repository.
 * @param name A branch name.
 * @returns `true` when `refs/heads/<name>` exists.
 *
 * @example
 * ```ts ignore
 * import { isLocalBranch } from "./git_info.ts";
 * await isLocalBranch(".", "main");
 * ```
 */
export async function isLocalBranch(dir: string, name: string): Promise<boolean> {
  const out = await runCommand("git", ["rev-parse", "--verify", "-q", `refs/heads/${name}`], {
    cwd: dir,
  });
  return out.success;
}

/**
 * MLflow's `mlflow.source.name` for a local directory: `file://<toplevel>` (plus `#<subdir>`)
 * inside a git work tree, else the absolute path.
 *
 * @param dir Absolute project directory.
 * @param git Its git facts, if any.
 * @returns The source name.
 *
 * @example
 * ```ts
 * import { localSourceName } from "./git_info.ts";
 * console.assert(localSourceName("/r/sub", { toplevel: "/r", commit: undefined, repoUrl: undefined }) === "file:///r#sub");
 * ```
 */
export function localSourceName(dir: string, git: GitInfo | undefined): string {
  if (git === undefined) return dir;
  const rel = relative(git.toplevel, dir);
  return `file://${git.toplevel}${rel === "" ? "" : `#${rel}`}`;
}
