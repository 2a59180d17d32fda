/**
 * The clone cache: one bare mirror per remote URL under the user cache directory
 * (`$MLPROJECT_CACHE_DIR/git`, else `$XDG_CACHE_HOME/mlproject/git`, else
 * `~/.cache/mlproject/git`). A commit already in a mirror is checked out without any network
 * request; a branch, tag or the default branch costs one `ls-remote` of that ref, and a fetch of
 * only that ref (depth 1) when it moved. Each mirror has a lock file (`flock`), so concurrent runs
 * wait for each other instead of corrupting it, and a mirror that git cannot read is rebuilt.
 *
 * Per-run checkouts are plain repositories whose objects come from the mirror (git alternates):
 * creating one costs two `git` processes and no copy of the history.
 *
 * @module
 */
import { ExecutionException } from "../system/errors.ts";
import { cacheDir } from "../system/home_dir.ts";
import { git, gitErrorLine } from "./_git_command.ts";
import { join } from "../system/paths.ts";
import { stripCredentials } from "../http/url_credentials.ts";
import { pathExists } from "../system/file_checks.ts";

/** Options shared by the cache functions. */
export interface GitCacheOptions {
  /** The caller's environment (cache location, git credentials). */
  env?: Record<string, string> | undefined;
  /** Show git's progress on our stderr (only when it is a terminal). */
  progress?: boolean;
  /** Aborting stops git. */
  signal?: AbortSignal | undefined;
}

/** A commit resolved in (and now present in) a mirror. */
export interface ResolvedCommit {
  /** Full SHA. */
  commit: string;
  /** The branch the version named, if it named one (also the default branch when no version). */
  branch?: string;
  /** Whether the version named a branch on the remote (`mlflow.source.git.branch`). */
  versionIsBranch: boolean;
}

/** A locked mirror, valid while the callback of {@linkcode withMirror} runs. */
export interface Mirror {
  /** The bare repository. */
  dir: string;
  /** The remote URL as given (may carry credentials: never print it). */
  url: string;
  /** The remote URL without credentials. */
  displayUrl: string;
  /** Options of the call. */
  options: GitCacheOptions;
}

/** A version that does not exist on the remote. */
export class UnknownVersionError extends Error {
  /**
   * Creates the error; the message is git's (or our) explanation.
   *
   * @example
   * ```ts
   * import { UnknownVersionError } from "./git_cache.ts";
   * new UnknownVersionError("fatal: couldn't find remote ref v9");
   * ```
   */
  constructor(message: string) {
    super(message);
    this.name = "UnknownVersionError";
  }
}

/** The mirror is unreadable; it is rebuilt once. */
class CorruptMirrorError extends Error {}

const FULL_SHA_RE = /^[0-9a-f]{40}([0-9a-f]{24})?$/i;
const SHORT_SHA_RE = /^[0-9a-f]{4,39}$/i;
const MIRROR_CONFIG = ["-c", "gc.auto=0", "-c", "maintenance.auto=false"];

/**
 * The directory holding the git mirrors.
 *
 * @param env The environment (`MLPROJECT_CACHE_DIR`, `XDG_CACHE_HOME`, `HOME`).
 * @returns `<cache root>/git`.
 *
 * @example
 * ```ts
 * import { gitCacheDir } from "./git_cache.ts";
 * console.assert(gitCacheDir({ MLPROJECT_CACHE_DIR: "/c" }) === "/c/git");
 * ```
 */
export function gitCacheDir(env: Record<string, string>): string {
  return cacheDir(env, "git") ?? join("/tmp", ".cache", "mlproject", "git");
}

async function mirrorName(displayUrl: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(displayUrl));
  const hex = [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
  const slug = displayUrl.replace(/^[a-z+]+:\/\//i, "").replace(/[^A-Za-z0-9._-]+/g, "_")
    .replace(/^[._]+/, "").slice(-60);
  return `${slug}-${hex.slice(0, 16)}`;
}

async function mirrorGit(m: Mirror, args: string[], network = false) {
  return await git(["--git-dir", m.dir, ...MIRROR_CONFIG, ...args], {
    env: m.options.env,
    signal: m.options.signal,
    ...(network ? { remoteUrl: m.url } : {}),
    ...(network && m.options.progress === true ? { progress: true } : {}),
  });
}

async function initMirror(m: Mirror): Promise<void> {
  await Deno.remove(m.dir, { recursive: true }).catch(() => {});
  const init = await git(["init", "--quiet", "--bare", "--template=", m.dir], {
    env: m.options.env,
  });
  if (!init.success) {
    throw new ExecutionException(
      `Cannot create the git cache at '${m.dir}': ${gitErrorLine(init.stderr)}`,
    );
  }
  // For people looking into the cache; never the URL with credentials.
  await mirrorGit(m, ["config", "mlproject.url", m.displayUrl]);
}

async function mirrorIsValid(m: Mirror): Promise<boolean> {
  if (!pathExists(join(m.dir, "HEAD")) || !pathExists(join(m.dir, "objects"))) return false;
  const out = await mirrorGit(m, ["rev-parse", "--is-bare-repository"]);
  return out.success && out.stdout.trim() === "true";
}

/**
 * Locks the mirror of `url` (creating or rebuilding it as needed) and runs `fn` with it. When
 * `fn` finds the mirror unreadable, the mirror is rebuilt from scratch and `fn` runs once more.
 *
 * @param url The remote URL (credentials allowed; they are never written to disk).
 * @param fn What to do while holding the lock.
 * @param options Environment, progress, abort signal.
 * @returns What `fn` returns.
 *
 * @example
 * ```ts ignore
 * import { resolveVersion, withMirror } from "./git_cache.ts";
 * const c = await withMirror("https://h/r.git", (m) => resolveVersion(m, "main"), {});
 * ```
 */
export async function withMirror<T>(
  url: string,
  fn: (mirror: Mirror) => Promise<T>,
  options: GitCacheOptions = {},
): Promise<T> {
  const env = options.env ?? Deno.env.toObject();
  const displayUrl = stripCredentials(url);
  const root = gitCacheDir(env);
  await Deno.mkdir(root, { recursive: true });
  const name = await mirrorName(displayUrl);
  const mirror: Mirror = { dir: join(root, name), url, displayUrl, options: { ...options, env } };
  const lock = await Deno.open(join(root, `${name}.lock`), { create: true, write: true });
  try {
    await lock.lock(true);
    if (!(await mirrorIsValid(mirror))) await initMirror(mirror);
    try {
      return await fn(mirror);
    } catch (e) {
      if (!(e instanceof CorruptMirrorError)) throw e;
      await initMirror(mirror);
      try {
        return await fn(mirror);
      } catch (again) {
        if (again instanceof CorruptMirrorError) {
          throw new ExecutionException(
            `The git cache at '${mirror.dir}' cannot be used: ${again.message}`,
          );
        }
        throw again;
      }
    }
  } finally {
    await lock.unlock().catch(() => {});
    lock.close();
  }
}

async function hasCommit(m: Mirror, sha: string): Promise<boolean> {
  const out = await mirrorGit(m, ["cat-file", "-e", `${sha}^{commit}`]);
  return out.success;
}

async function revParseCommit(m: Mirror, rev: string): Promise<string | undefined> {
  const out = await mirrorGit(m, [
    "rev-parse",
    "--verify",
    "-q",
    "--end-of-options",
    `${rev}^{commit}`,
  ]);
  return out.success ? out.stdout.trim() : undefined;
}

async function pin(m: Mirror, sha: string): Promise<void> {
  // A ref per used commit keeps it safe from any future gc of the mirror.
  await mirrorGit(m, ["update-ref", `refs/mlproject/c/${sha}`, sha]);
}

class UnreachableError extends Error {}

async function fetchRefspecs(m: Mirror, refspecs: string[], depth: boolean) {
  const args = ["fetch", "--quiet", "--no-tags", "--no-write-fetch-head"];
  if (m.options.progress === true) args.splice(1, 1, "--progress");
  if (depth) args.push("--depth", "1");
  return await mirrorGit(m, [...args, "origin", ...refspecs], true);
}

function looksCorrupt(stderr: string): boolean {
  return /corrupt|bad object|loose object|unable to read|missing blob|missing tree|did not send all necessary objects|packfile|not a git repository|bad pack/i
    .test(stderr);
}

async function fetchAll(m: Mirror): Promise<void> {
  const args = ["+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"];
  const shallow = pathExists(join(m.dir, "shallow"));
  const out = await mirrorGit(
    m,
    [
      "fetch",
      m.options.progress === true ? "--progress" : "--quiet",
      ...(shallow ? ["--unshallow"] : []),
      "origin",
      ...args,
    ],
    true,
  );
  if (!out.success) {
    if (looksCorrupt(out.stderr)) throw new CorruptMirrorError(gitErrorLine(out.stderr));
    throw new UnreachableError(gitErrorLine(out.stderr));
  }
}

interface RemoteRef {
  name: string;
  sha: string;
}

async function lsRemote(m: Mirror, patterns: string[], symref: boolean): Promise<{
  refs: RemoteRef[];
  headBranch?: string;
}> {
  const out = await mirrorGit(
    m,
    ["ls-remote", ...(symref ? ["--symref"] : []), "origin", ...patterns],
    true,
  );
  if (!out.success) throw new UnreachableError(gitErrorLine(out.stderr));
  const refs: RemoteRef[] = [];
  let headBranch: string | undefined;
  for (const line of out.stdout.split("\n")) {
    const sym = /^ref: refs\/heads\/(\S+)\tHEAD$/.exec(line);
    if (sym) {
      headBranch = sym[1]!;
      continue;
    }
    const [sha, name] = line.split("\t");
    if (sha !== undefined && name !== undefined && /^[0-9a-f]{40,64}$/.test(sha)) {
      refs.push({ name, sha });
    }
  }
  return headBranch === undefined ? { refs } : { refs, headBranch };
}

function pickRef(
  refs: RemoteRef[],
  version: string,
): { ref: RemoteRef; peeled: string } | undefined {
  const byName = new Map(refs.map((r) => [r.name, r.sha]));
  for (const name of [`refs/heads/${version}`, `refs/tags/${version}`, version]) {
    const sha = byName.get(name);
    if (sha !== undefined) return { ref: { name, sha }, peeled: byName.get(`${name}^{}`) ?? sha };
  }
  return undefined;
}

async function ensureRef(m: Mirror, ref: RemoteRef, peeled: string): Promise<string> {
  if (await hasCommit(m, peeled)) {
    await pin(m, peeled);
    return peeled;
  }
  const local = `refs/mlproject/${ref.name}`;
  const out = await fetchRefspecs(m, [`+${ref.name}:${local}`], true);
  if (!out.success) {
    if (looksCorrupt(out.stderr)) throw new CorruptMirrorError(gitErrorLine(out.stderr));
    throw new UnreachableError(gitErrorLine(out.stderr));
  }
  const sha = await revParseCommit(m, local);
  if (sha === undefined) throw new CorruptMirrorError(`cannot read ${ref.name} after fetching it`);
  await pin(m, sha);
  return sha;
}

async function ensureSha(m: Mirror, sha: string): Promise<string> {
  if (await hasCommit(m, sha)) return sha;
  const out = await fetchRefspecs(m, [`+${sha}:refs/mlproject/c/${sha}`], true);
  if (out.success && await hasCommit(m, sha)) return sha;
  if (!out.success && looksCorrupt(out.stderr)) {
    throw new CorruptMirrorError(gitErrorLine(out.stderr));
  }
  // The server refuses to send a commit by SHA (protocol v0 without allowAnySHA1InWant, or
  // one not at a ref tip): fetch every branch and tag.
  await fetchAll(m);
  if (await hasCommit(m, sha)) return sha;
  throw new UnknownVersionError(
    out.success ? `fatal: commit ${sha} not found` : gitErrorLine(out.stderr),
  );
}

/**
 * Makes sure the mirror holds the commit `version` names and returns it. Full SHAs already in
 * the mirror cost nothing; refs cost one `ls-remote` plus a depth-1 fetch when they moved.
 *
 * @param mirror The locked mirror.
 * @param version A full or abbreviated SHA, a branch, a tag, a full ref name, or `undefined`
 * for the remote's default branch.
 * @returns The commit and, for a branch, its name.
 * @throws {UnknownVersionError} When the remote has no such version.
 * @throws {ExecutionException} When the remote cannot be reached.
 *
 * @example
 * ```ts ignore
 * import { resolveVersion, withMirror } from "./git_cache.ts";
 * const { commit } = await withMirror("git://h/r.git", (m) => resolveVersion(m, "v1.0"), {});
 * ```
 */
export async function resolveVersion(
  mirror: Mirror,
  version: string | undefined,
): Promise<ResolvedCommit> {
  try {
    return await resolveVersionInner(mirror, version);
  } catch (e) {
    if (e instanceof UnreachableError) {
      throw new ExecutionException(
        `Unable to fetch git repo ${mirror.displayUrl}: ${stripCredentials(e.message)}`,
      );
    }
    throw e;
  }
}

async function resolveVersionInner(
  m: Mirror,
  version: string | undefined,
): Promise<ResolvedCommit> {
  if (version !== undefined && (version.startsWith("-") || /[\s\0]/.test(version))) {
    throw new UnknownVersionError(`fatal: invalid version ${JSON.stringify(version)}`);
  }
  if (version === undefined) {
    const { refs, headBranch } = await lsRemote(m, ["HEAD"], true);
    const head = refs.find((r) => r.name === "HEAD");
    if (head === undefined) {
      throw new UnknownVersionError("fatal: the remote has no default branch (HEAD)");
    }
    const ref = headBranch !== undefined
      ? { name: `refs/heads/${headBranch}`, sha: head.sha }
      : head;
    const commit = await ensureRef(m, ref, head.sha);
    return headBranch !== undefined
      ? { commit, branch: headBranch, versionIsBranch: false }
      : { commit, versionIsBranch: false };
  }
  if (FULL_SHA_RE.test(version)) {
    return { commit: await ensureSha(m, version.toLowerCase()), versionIsBranch: false };
  }
  if (SHORT_SHA_RE.test(version) && await hasCommit(m, version)) {
    const commit = await revParseCommit(m, version);
    if (commit !== undefined) {
      await pin(m, commit);
      return { commit, versionIsBranch: false };
    }
  }
  const { refs } = await lsRemote(m, [version], false);
  const picked = pickRef(refs, version);
  if (picked !== undefined) {
    const commit = await ensureRef(m, picked.ref, picked.peeled);
    const isBranch = picked.ref.name === `refs/heads/${version}`;
    return isBranch ? { commit, branch: version, versionIsBranch: true } : {
      commit,
      versionIsBranch: false,
    };
  }
  if (SHORT_SHA_RE.test(version)) {
    // An abbreviated SHA: servers cannot be asked for one, so fetch everything and look.
    await fetchAll(m);
    const commit = await revParseCommit(m, version);
    if (commit !== undefined) {
      await pin(m, commit);
      return { commit, versionIsBranch: false };
    }
  }
  throw new UnknownVersionError(`fatal: couldn't find remote ref ${version}`);
}

/** Options of {@linkcode checkoutCommit}. */
export interface CheckoutOptions {
  /** Check out as this local branch instead of a detached HEAD. */
  branch?: string | undefined;
  /** URL recorded as the checkout's `origin` (must not carry credentials). */
  originUrl: string;
}

function quoteConfigValue(value: string): string {
  return `"${value.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
}

/**
 * Creates a working copy of `commit` in `target` (an empty or missing directory) whose objects
 * come from the mirror. Call it while holding the mirror's lock.
 *
 * @param mirror The locked mirror holding the commit.
 * @param target Directory to create the checkout in.
 * @param options Branch name and the `origin` URL to record.
 * @returns Resolves when the files are in place.
 *
 * @example
 * ```ts ignore
 * await withMirror(url, async (m) => {
 *   const { commit } = await resolveVersion(m, "main");
 *   await checkoutCommit(m, "/tmp/co", { commit, originUrl: m.displayUrl });
 * });
 * ```
 */
export async function checkoutCommit(
  mirror: Mirror,
  target: string,
  options: CheckoutOptions & { commit: string },
): Promise<void> {
  const env = mirror.options.env;
  const init = await git(["init", "--quiet", "--template=", target], { env });
  if (!init.success) {
    throw new ExecutionException(
      `Cannot create a checkout in '${target}': ${gitErrorLine(init.stderr)}`,
    );
  }
  const gitDir = join(target, ".git");
  await Deno.mkdir(join(gitDir, "objects", "info"), { recursive: true });
  await Deno.writeTextFile(
    join(gitDir, "objects", "info", "alternates"),
    `${mirror.dir}/objects\n`,
  );
  if (pathExists(join(mirror.dir, "shallow"))) {
    await Deno.copyFile(join(mirror.dir, "shallow"), join(gitDir, "shallow"));
  }
  await Deno.writeTextFile(
    join(gitDir, "config"),
    `[remote "origin"]\n\turl = ${quoteConfigValue(options.originUrl)}\n` +
      `\tfetch = +refs/heads/*:refs/remotes/origin/*\n`,
    { append: true },
  );
  const how = options.branch !== undefined
    ? ["-B", options.branch, options.commit]
    : ["--detach", options.commit];
  const out = await git(
    ["-c", "advice.detachedHead=false", "checkout", "--quiet", ...how],
    { env, cwd: target },
  );
  if (!out.success) throw new CorruptMirrorError(gitErrorLine(out.stderr));
}
