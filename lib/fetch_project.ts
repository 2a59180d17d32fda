/**
 * Turning a project URI into a directory to run in. Local directories run in place; a local git
 * repository with a version is checked out into a separate temporary clone so the user's own
 * working copy is never touched.
 *
 * @module
 */
import { fileUrlToPath, isAbsolute, join, normalize, relative, resolve } from "./paths.ts";
import { ExecutionException } from "./errors.ts";
import { isLocalBranch, localSourceName, readGitInfo } from "./git_info.ts";
import { runCommand } from "./run_command.ts";

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

function isDirectory(path: string): boolean {
  try {
    return Deno.statSync(path).isDirectory;
  } catch {
    return false;
  }
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

/**
 * Fetches the project a URI names.
 *
 * @param uri Local path, `file://` URI, with an optional `#subdir`.
 * @param options `version` to check out (git only); `cwd` for relative paths.
 * @returns The directory to run in.
 * @throws {ExecutionException} For a missing directory or subdirectory, a version on a non-git
 * directory, an unknown version, and remote URIs this version cannot fetch yet.
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
  options: { version?: string | undefined; cwd?: string; keepWorkDir?: boolean },
): Promise<FetchedProject> {
  const { base, subdirectory } = parseSubdirectory(uri);
  const cwd = options.cwd ?? Deno.cwd();
  const path = localPathOf(base);
  const localDir = path === undefined ? undefined : resolve(cwd, path);
  if (localDir === undefined || !isDirectory(localDir)) {
    if (/\.(zip|tar|tar\.gz|tgz)$/i.test(base)) {
      throw new ExecutionException(
        `Project archive '${base}' cannot be fetched: archive projects are not supported yet`,
      );
    }
    if (GIT_URI_RE.test(base)) {
      throw new ExecutionException(
        `Project '${base}' cannot be fetched: git repositories are not supported yet; clone it and run the local directory`,
      );
    }
    throw new ExecutionException(`No such project directory or git repository: '${base}'`);
  }
  let root = localDir;
  let temp: string | undefined;
  if (options.version !== undefined && options.version !== "") {
    const checkout = await checkoutVersion(localDir, options.version, base);
    root = checkout.dir;
    temp = checkout.clone;
  }
  const workDir = resolve(root, subdirectory);
  if (!isDirectory(workDir)) {
    if (temp !== undefined) await Deno.remove(temp, { recursive: true }).catch(() => {});
    throw new ExecutionException(`Could not find subdirectory ${subdirectory} of ${base}`);
  }
  const source = await describeLocalSource(localDir, workDir, subdirectory, options.version);
  const keep = options.keepWorkDir === true;
  return {
    workDir,
    localDir,
    subdirectory,
    source,
    cleanup: () =>
      temp === undefined || keep
        ? Promise.resolve()
        : Deno.remove(temp, { recursive: true }).catch(() => {}),
  };
}

async function describeLocalSource(
  localDir: string,
  workDir: string,
  subdirectory: string,
  version: string | undefined,
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
  const repoUrl = origin?.repoUrl ?? git?.repoUrl;
  if (repoUrl) source.repoUrl = repoUrl;
  if (version && origin && await isLocalBranch(localDir, version)) source.branch = version;
  return source;
}
