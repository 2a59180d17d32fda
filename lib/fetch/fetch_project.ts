/**
 * Turning a project URI into a directory to run in. Local directories run in place; a local git
 * repository with a version is checked out into a separate temporary clone so the user's own
 * working copy is never touched. Remote git repositories (and local bare ones) are checked out
 * from the clone cache (`lib/fetch/git_cache.ts`) into a temporary directory; archives (`.zip`,
 * `.tar`, `.tar.gz`, `.tgz`; local, `file://` or `http(s)://`) are unpacked into one.
 *
 * @module
 */
import { fileUrlToPath, isAbsolute, join, normalize, relative, resolve } from "../system/paths.ts";
import { archiveKind } from "./archive_kind.ts";
import { ExecutionException } from "../system/errors.ts";
import { isDirectory, isFile, pathProblem } from "../system/file_checks.ts";
import { isLocalBranch, localSourceName, readGitInfo } from "./git_info.ts";
import { type Reporter, SILENT_REPORTER } from "../system/output.ts";
import { runCommand } from "../system/run_command.ts";
import { stripCredentials } from "../http/url_credentials.ts";

/** What MLflow records about where a project came from (the `mlflow.source.*` tags). */
export interface ProjectSource {
  /** `mlflow.source.name`. */
  name: string;
  /** `mlflow.source.git.commit`: the full SHA that runs. */
  commit?: string;
  /** `mlflow.source.git.repoURL`. */
  repoUrl?: string;
  /** `mlflow.source.git.branch`, when the version names a branch. */
  branch?: string;
}

/** A fetched project. */
export interface FetchedProject {
  /** Directory the entry point runs in (project root plus `#subdir`). */
  workDir: string;
  /** The local directory the URI names (before the subdirectory), when it is local. */
  localDir: string | undefined;
  /** The subdirectory after `#`, or `""`. */
  subdirectory: string;
  /** Where the project came from, for the run's tags. */
  source: ProjectSource;
  /** Removes temporary checkouts; a no-op for projects run in place. */
  cleanup(): Promise<void>;
}

/**
 * Splits `uri#subdir`, stripping quote characters from both ends as MLflow does, and refuses
 * subdirectories that leave the project.
 *
 * @param uri The project URI.
 * @returns The URI without the fragment and the subdirectory.
 *
 * @example
 * ```ts
 * import { parseSubdirectory } from "./fetch_project.ts";
 * console.assert(parseSubdirectory("repo#sub/v1.2").subdirectory === "sub/v1.2");
 * ```
 */
export function parseSubdirectory(uri: string): { base: string; subdirectory: string } {
  const stripped = uri.replace(/^['"]+|['"]+$/g, "");
  const hash = stripped.indexOf("#");
  if (hash === -1) return { base: stripped, subdirectory: "" };
  const subdirectory = stripped.slice(hash + 1);
  const norm = normalize(subdirectory);
  if (isAbsolute(subdirectory) || norm === ".." || norm.startsWith("../")) {
    throw new ExecutionException(
      `Project subdirectory '${subdirectory}' is not allowed: it leaves the project directory`,
    );
  }
  return { base: stripped.slice(0, hash), subdirectory };
}

function localPathOf(base: string): string | undefined {
  if (base.startsWith("file://")) {
    try {
      return fileUrlToPath(base);
    } catch {
      return undefined;
    }
  }
  return base;
}

const GIT_URI_RE = /^(?:https?|ssh|git|git\+ssh):\/\/|^[\w.-]+@[\w.-]+:/;

async function checkoutVersion(
  dir: string,
  version: string,
  uri: string,
): Promise<{ clone: string; dir: string }> {
  const top = await runCommand("git", ["rev-parse", "--show-toplevel"], { cwd: dir });
  if (!top.success) {
    throw new ExecutionException("Setting a version is only supported for Git project URIs");
  }
  const toplevel = top.stdout.trim();
  const tmp = await Deno.makeTempDir({ prefix: "mlproject-checkout-" });
  const clone = await runCommand("git", [
    "clone",
    "--quiet",
    "--shared",
    "--no-checkout",
    toplevel,
    tmp,
  ]);
  let checkout = clone;
  if (clone.success) {
    // A branch of the user's repo is a remote-tracking branch of the clone.
    let sha = await runCommand("git", ["rev-parse", "--verify", "-q", `${version}^{commit}`], {
      cwd: tmp,
    });
    if (!sha.success) {
      sha = await runCommand("git", ["rev-parse", "--verify", "-q", `origin/${version}^{commit}`], {
        cwd: tmp,
      });
    }
    checkout = sha.success
      ? await runCommand("git", ["checkout", "--quiet", "--detach", sha.stdout.trim()], {
        cwd: tmp,
      })
      : { ...sha, stderr: `fatal: no commit, branch or tag named '${version}'` };
  }
  if (!checkout.success) {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    throw new ExecutionException(
      `Unable to checkout version '${version}' of git repo ${uri}- please ensure that the version exists in the repo. Error: ${
        checkout.stderr.trim().split("\n")[0] ?? ""
      }`,
    );
  }
  await runCommand("git", ["submodule", "update", "--init", "--recursive", "--quiet"], {
    cwd: tmp,
  });
  return { clone: tmp, dir: join(tmp, relative(toplevel, dir)) };
}

/** Options of {@linkcode fetchProject}. */
export interface FetchOptions {
  /** Git commit (full or abbreviated SHA), branch or tag. */
  version?: string | undefined;
  /** Directory relative paths belong to (default the process cwd). */
  cwd?: string;
  /** Keep temporary checkouts after `cleanup()` (for debugging). */
  keepWorkDir?: boolean;
  /** The caller's environment: git credentials, `MLPROJECT_CACHE_DIR`, `MLFLOW_HTTP_REQUEST_*`. */
  env?: Record<string, string>;
  /** Progress lines. */
  reporter?: Reporter;
  /** Aborting stops fetches. */
  signal?: AbortSignal;
}

/**
 * Fetches the project a URI names.
 *
 * @param uri Local path, `file://` URI, git URI (`https://`, `ssh://`, `git@host:org/repo`,
 * `git://`, a bare repository path) or archive (`.zip`, `.tar`, `.tar.gz`, `.tgz`), with an
 * optional `#subdir`.
 * @param options `version` to check out (git only); `cwd` for relative paths; `env`, `reporter`,
 * `signal`, `keepWorkDir`.
 * @returns The directory to run in.
 * @throws {ExecutionException} For a missing directory or subdirectory, a version on a non-git
 * directory, an unknown version, an unreachable remote, an unsafe or unreadable archive.
 *
 * @example
 * ```ts ignore
 * import { fetchProject } from "./fetch_project.ts";
 * const project = await fetchProject("examples#demo", {});
 * await project.cleanup();
 * ```
 */
export async function fetchProject(
  uri: string,
  options: FetchOptions = {},
): Promise<FetchedProject> {
  const { base, subdirectory } = parseSubdirectory(uri);
  const cwd = options.cwd ?? Deno.cwd();
  const path = localPathOf(base);
  const localDir = path === undefined ? undefined : resolve(cwd, path);
  const version = options.version === "" ? undefined : options.version;
  const kind = archiveKind(base);
  // One stat of the directory serves every check below.
  const isDir = localDir !== undefined && isDirectory(localDir);
  if (kind !== undefined && !isDir) {
    if (version !== undefined) {
      throw new ExecutionException("Setting a version is only supported for Git project URIs");
    }
    if (localDir !== undefined && isFile(localDir)) {
      return await fetchArchive(localDir, { ...options, kind, uri, base, subdirectory });
    }
    if (/^https?:\/\//i.test(base)) {
      return await fetchArchive(base, { ...options, kind, uri, base, subdirectory });
    }
    throw new ExecutionException(`No such project directory or git repository: '${base}'`);
  }
  if (localDir !== undefined && isDir && isBareRepository(localDir)) {
    return await fetchRemoteGit(`file://${localDir}`, { ...options, uri, base, subdirectory });
  }
  if (localDir === undefined || !isDir) {
    if (GIT_URI_RE.test(base)) {
      return await fetchRemoteGit(base, { ...options, uri, base, subdirectory });
    }
    const problem = localDir === undefined ? undefined : pathProblem(localDir);
    if (problem !== undefined) {
      throw new ExecutionException(`Cannot use project directory '${base}': ${problem}`);
    }
    throw new ExecutionException(`No such project directory or git repository: '${base}'`);
  }
  let root = localDir;
  let temp: string | undefined;
  if (version !== undefined) {
    const checkout = await checkoutVersion(localDir, version, base);
    root = checkout.dir;
    temp = checkout.clone;
  }
  const removeTemp = () =>
    temp === undefined ? Promise.resolve() : Deno.remove(temp, { recursive: true }).catch(() => {});
  let workDir: string;
  try {
    workDir = resolveWorkDir(root, subdirectory, base);
  } catch (e) {
    await removeTemp();
    throw e;
  }
  const source = await describeLocalSource(
    localDir,
    workDir,
    subdirectory,
    version,
    base.startsWith("file:") ? base : localDir,
  );
  const keep = options.keepWorkDir === true;
  return {
    workDir,
    localDir,
    subdirectory,
    source,
    cleanup: () => keep ? Promise.resolve() : removeTemp(),
  };
}

/** A bare repository (or a `.git` directory) is fetched like a remote. */
function isBareRepository(dir: string): boolean {
  // `HEAD` first: a plain project directory has none, so this costs it one stat.
  if (!isFile(join(dir, "HEAD"))) return false;
  if (isDirectory(join(dir, ".git"))) return false;
  return isDirectory(join(dir, "objects")) && isDirectory(join(dir, "refs"));
}

/** `root/subdirectory`, which must exist and (after symlinks) stay inside `root`. */
function resolveWorkDir(root: string, subdirectory: string, base: string): string {
  const workDir = resolve(root, subdirectory);
  if (!isDirectory(workDir)) {
    const problem = pathProblem(workDir);
    throw new ExecutionException(
      `Could not find subdirectory ${subdirectory} of ${base}${problem ? `: ${problem}` : ""}`,
    );
  }
  if (subdirectory !== "") {
    const realRoot = Deno.realPathSync(root);
    const real = Deno.realPathSync(workDir);
    if (real !== realRoot && !real.startsWith(`${realRoot}/`)) {
      throw new ExecutionException(
        `Project subdirectory '${subdirectory}' is not allowed: it leaves the project directory`,
      );
    }
  }
  return workDir;
}

interface RemoteRequest extends FetchOptions {
  /** The URI as given (quotes stripped, with `#subdir`). */
  uri: string;
  /** The URI without `#subdir`. */
  base: string;
  subdirectory: string;
}

async function fetchRemoteGit(url: string, request: RemoteRequest): Promise<FetchedProject> {
  const displayBase = stripCredentials(request.base);
  // Loaded only for remote projects: local runs do not pay for the git and archive code.
  const { fetchGitRepo } = await import("./git_fetch.ts");
  const checkout = await fetchGitRepo(url, {
    version: request.version === "" ? undefined : request.version,
    env: request.env,
    reporter: request.reporter,
    signal: request.signal,
    displayUri: request.base,
  });
  let workDir: string;
  try {
    workDir = resolveWorkDir(checkout.dir, request.subdirectory, displayBase);
  } catch (e) {
    await checkout.cleanup();
    throw e;
  }
  const source: ProjectSource = {
    name: stripCredentials(request.uri.replace(/^['"]+|['"]+$/g, "")),
    commit: checkout.commit,
    repoUrl: displayBase,
  };
  if (checkout.branch !== undefined) source.branch = checkout.branch;
  const keep = request.keepWorkDir === true;
  return {
    workDir,
    localDir: undefined,
    subdirectory: request.subdirectory,
    source,
    cleanup: () => keep ? Promise.resolve() : checkout.cleanup(),
  };
}

async function fetchArchive(
  location: string,
  request: RemoteRequest & { kind: "zip" | "tar" },
): Promise<FetchedProject> {
  const reporter = request.reporter ?? SILENT_REPORTER;
  const env = request.env ?? Deno.env.toObject();
  const display = stripCredentials(request.base);
  const [
    { DEFAULT_MAX_ARCHIVE_BYTES, extractArchive },
    { DownloadError, downloadToFile, urlBasename },
  ] = await Promise.all([import("./archive.ts"), import("../http/http_download.ts")]);
  const target = await Deno.makeTempDir({ prefix: "mlproject-archive-" });
  const remove = () => Deno.remove(target, { recursive: true }).catch(() => {});
  reporter.log("INFO", `=== Fetching project from ${display} into ${target} ===`);
  let download: string | undefined;
  try {
    let file = location;
    if (/^https?:\/\//i.test(location)) {
      download = await Deno.makeTempDir({ prefix: "mlproject-download-" });
      file = join(download, urlBasename(location));
      try {
        await downloadToFile(location, file, {
          env,
          reporter,
          ...(request.signal !== undefined ? { signal: request.signal } : {}),
        });
      } catch (e) {
        if (!(e instanceof DownloadError)) throw e;
        throw new ExecutionException(
          `Unable to retrieve ${request.kind === "zip" ? "ZIP" : "TAR"} file. Reason: ${e.message}`,
        );
      }
    }
    const maxBytes = Number(env.MLPROJECT_ARCHIVE_MAX_BYTES) || DEFAULT_MAX_ARCHIVE_BYTES;
    const root = await extractArchive(file, target, {
      kind: request.kind,
      maxBytes,
      displayName: display,
    });
    const workDir = resolveWorkDir(root, request.subdirectory, display);
    const keep = request.keepWorkDir === true;
    const localArchive = download === undefined;
    return {
      workDir,
      localDir: undefined,
      subdirectory: request.subdirectory,
      source: {
        name: localArchive
          ? `${location}${request.subdirectory !== "" ? `#${request.subdirectory}` : ""}`
          : stripCredentials(request.uri.replace(/^['"]+|['"]+$/g, "")),
      },
      cleanup: () => keep ? Promise.resolve() : remove(),
    };
  } catch (e) {
    await remove();
    throw e;
  } finally {
    if (download !== undefined) await Deno.remove(download, { recursive: true }).catch(() => {});
  }
}

async function describeLocalSource(
  localDir: string,
  workDir: string,
  subdirectory: string,
  version: string | undefined,
  givenUri: string,
): Promise<ProjectSource> {
  const origin = await readGitInfo(localDir);
  const git = workDir === localDir ? origin : await readGitInfo(workDir);
  let name = localSourceName(localDir, origin);
  if (subdirectory !== "") {
    name = origin === undefined
      ? `${localDir}#${subdirectory}`
      : localSourceName(resolve(localDir, subdirectory), origin);
  }
  const source: ProjectSource = { name };
  if (git?.commit) source.commit = git.commit;
  // MLflow fetches a version of a repository without remotes through a remote it names after
  // the URI, so that URI becomes the repo URL.
  const repoUrl = origin?.repoUrl ?? (version && origin ? givenUri : git?.repoUrl);
  // MLflow records the remote as configured, token included; secrets never go into tags here.
  if (repoUrl) source.repoUrl = stripCredentials(repoUrl);
  if (version && origin && await isLocalBranch(localDir, version)) source.branch = version;
  return source;
}
