/**
 * What MLflow records about the git work tree a project lives in. Read straight from the `.git`
 * directory (HEAD, refs, packed-refs, config) so a run costs no `git` process; unusual layouts
 * (reftable, missing objects) fall back to the `git` executable.
 *
 * @module
 */
import { dirname, isAbsolute, join, relative, resolve } from "../system/paths.ts";
import { runCommand } from "../system/run_command.ts";

// packed-refs of a large repository can be big; anything larger is not read.
const GIT_FILE_MAX_BYTES = 256 * 1024 * 1024;

/** Git facts of a directory. */
export interface GitInfo {
  /** Top level of the work tree. */
  toplevel: string;
  /** HEAD commit SHA. */
  commit: string | undefined;
  /** URL of the first remote, if any. */
  repoUrl: string | undefined;
}

interface GitDirs {
  toplevel: string;
  gitDir: string;
  commonDir: string;
}

/** Strict UTF-8 (a leading BOM dropped): a file that is not text reads as missing. */
const UTF8 = new TextDecoder("utf-8", { fatal: true });

/**
 * A regular file's text, or `undefined` (missing, not a regular file, too big, not UTF-8). One
 * stat and one read: a run reads several of these, most of them missing.
 */
function readText(path: string): string | undefined {
  try {
    const stat = Deno.statSync(path);
    if (!stat.isFile || stat.size > GIT_FILE_MAX_BYTES) return undefined;
    const bytes = Deno.readFileSync(path);
    return bytes.length > GIT_FILE_MAX_BYTES ? undefined : UTF8.decode(bytes);
  } catch {
    return undefined;
  }
}

function findGitDirs(dir: string): GitDirs | undefined {
  let current = resolve(dir);
  while (true) {
    const dotGit = join(current, ".git");
    let stat: Deno.FileInfo | undefined;
    try {
      stat = Deno.statSync(dotGit);
    } catch { /* keep walking */ }
    if (stat !== undefined) {
      let gitDir = dotGit;
      if (stat.isFile) {
        const m = /^gitdir:\s*(.+?)\s*$/m.exec(readText(dotGit) ?? "");
        if (!m) return undefined;
        gitDir = isAbsolute(m[1]!) ? m[1]! : resolve(current, m[1]!);
      }
      const common = readText(join(gitDir, "commondir"))?.trim();
      const commonDir = common ? resolve(gitDir, common) : gitDir;
      return { toplevel: current, gitDir, commonDir };
    }
    const parent = dirname(current);
    if (parent === current) return undefined;
    current = parent;
  }
}

function resolveRef(dirs: GitDirs, ref: string): string | undefined {
  for (const base of [dirs.gitDir, dirs.commonDir]) {
    const loose = readText(join(base, ref))?.trim();
    if (loose !== undefined && loose !== "") {
      if (loose.startsWith("ref: ")) return resolveRef(dirs, loose.slice(5).trim());
      return /^[0-9a-f]{40,64}$/.test(loose) ? loose : undefined;
    }
  }
  const packed = readText(join(dirs.commonDir, "packed-refs")) ?? "";
  for (const line of packed.split("\n")) {
    const [sha, name] = line.split(" ");
    if (name === ref && sha !== undefined && /^[0-9a-f]{40,64}$/.test(sha)) return sha;
  }
  return undefined;
}

function usesReftable(config: string): boolean {
  return /refstorage\s*=\s*reftable/i.test(config);
}

function readConfig(dirs: GitDirs): string {
  return readText(join(dirs.commonDir, "config")) ?? "";
}

function firstRemoteUrl(config: string): string | undefined {
  let inRemote = false;
  for (const raw of config.split("\n")) {
    const line = raw.trim();
    if (line.startsWith("[")) {
      inRemote = /^\[remote\s+"[^"]*"\]$/.test(line);
      continue;
    }
    if (!inRemote) continue;
    const m = /^url\s*=\s*(.*)$/.exec(line);
    if (m) {
      let url = m[1]!.trim();
      if (url.startsWith('"') && url.endsWith('"')) url = url.slice(1, -1);
      return url;
    }
  }
  return undefined;
}

async function readGitInfoWithGit(dir: string): Promise<GitInfo | undefined> {
  const top = await runCommand("git", ["rev-parse", "--show-toplevel"], { cwd: dir });
  if (!top.success) return undefined;
  const [head, remotes] = await Promise.all([
    runCommand("git", ["rev-parse", "--verify", "-q", "HEAD"], { cwd: dir }),
    runCommand("git", ["config", "--get-regexp", "^remote\\..*\\.url$"], { cwd: dir }),
  ]);
  const firstRemote = remotes.success ? remotes.stdout.split("\n")[0] ?? "" : "";
  const space = firstRemote.indexOf(" ");
  return {
    toplevel: top.stdout.trim(),
    commit: head.success ? head.stdout.trim() || undefined : undefined,
    repoUrl: space > 0 ? firstRemote.slice(space + 1) : undefined,
  };
}

/**
 * Reads the work tree, HEAD commit and first remote of the repository containing `dir`.
 *
 * @param dir A directory.
 * @returns The facts, or `undefined` outside a git work tree.
 *
 * @example
 * ```ts ignore
 * import { readGitInfo } from "./git_info.ts";
 * const info = await readGitInfo(".");
 * ```
 */
export async function readGitInfo(dir: string): Promise<GitInfo | undefined> {
  const dirs = findGitDirs(dir);
  if (dirs === undefined) return undefined;
  const config = readConfig(dirs);
  if (usesReftable(config)) return await readGitInfoWithGit(dir);
  const head = readText(join(dirs.gitDir, "HEAD"))?.trim();
  if (head === undefined) return await readGitInfoWithGit(dir);
  const commit = head.startsWith("ref: ")
    ? resolveRef(dirs, head.slice(5).trim())
    : /^[0-9a-f]{40,64}$/.test(head)
    ? head
    : undefined;
  return {
    toplevel: dirs.toplevel,
    commit,
    repoUrl: firstRemoteUrl(config),
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
  const dirs = findGitDirs(dir);
  if (dirs === undefined) return false;
  if (!usesReftable(readConfig(dirs)) && !name.includes("..")) {
    return resolveRef(dirs, `refs/heads/${name}`) !== undefined;
  }
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
