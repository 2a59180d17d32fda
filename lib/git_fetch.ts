/**
 * Fetching a project from a git remote (`https://`, `http://`, `ssh://`, `git@host:org/repo`,
 * `git://`, `file://`) into a temporary checkout, through the clone cache
 * ({@link ./git_cache.ts}), with submodules checked out recursively (from their own mirrors).
 *
 * @module
 */
import { ExecutionException } from "./errors.ts";
import { git } from "./_git_command.ts";
import { checkoutCommit, resolveVersion, UnknownVersionError, withMirror } from "./git_cache.ts";
import { type Reporter, SILENT_REPORTER } from "./output.ts";
import { isAbsolute, join, normalize } from "./paths.ts";
import { splitCredentials, stripCredentials } from "./url_credentials.ts";

/** Options of {@linkcode fetchGitRepo}. */
export interface GitFetchOptions {
  /** Commit (full or abbreviated SHA), branch or tag; the remote's default branch when unset. */
  version?: string | undefined;
  /** The caller's environment (cache location, git credentials). */
  env?: Record<string, string> | undefined;
  /** Progress lines. */
  reporter?: Reporter | undefined;
  /** Aborting stops git. */
  signal?: AbortSignal | undefined;
  /** The URI as the user wrote it, for messages (credentials are stripped). */
  displayUri?: string;
}

/** A temporary checkout of a remote repository. */
export interface GitCheckout {
  /** The checkout's top directory. */
  dir: string;
  /** The full SHA checked out. */
  commit: string;
  /** The version, when it named a branch of the remote. */
  branch?: string;
  /** Removes the checkout. */
  cleanup(): Promise<void>;
}

const MAX_SUBMODULE_DEPTH = 8;

/**
 * Checks out `version` of the repository at `url` into a new temporary directory, through the
 * clone cache, and initialises submodules recursively.
 *
 * @param url The remote URL (credentials in it are used, never recorded or printed).
 * @param options Version, environment, reporter, abort signal.
 * @returns The checkout.
 * @throws {ExecutionException} For an unknown version, an unreachable remote or a failed
 * submodule.
 *
 * @example
 * ```ts ignore
 * import { fetchGitRepo } from "./git_fetch.ts";
 * const checkout = await fetchGitRepo("https://github.com/mlflow/mlflow-example", { version: "master" });
 * await checkout.cleanup();
 * ```
 */
export async function fetchGitRepo(
  url: string,
  options: GitFetchOptions = {},
): Promise<GitCheckout> {
  const reporter = options.reporter ?? SILENT_REPORTER;
  const display = stripCredentials(options.displayUri ?? url);
  const progress = Deno.stderr.isTerminal();
  const cacheOptions = { env: options.env, signal: options.signal, progress };
  if (splitCredentials(url).droppedPassword) {
    reporter.log(
      "WARNING",
      `The password in the URL of ${display} is not used: ssh authenticates with keys or its agent`,
    );
  }
  let dir: string | undefined;
  try {
    const resolved = await withMirror(url, async (mirror) => {
      const found = await resolveVersion(mirror, options.version);
      const target = await Deno.makeTempDir({ prefix: "mlproject-git-" });
      reporter.log("INFO", `=== Fetching project from ${display} into ${target} ===`);
      try {
        await checkoutCommit(mirror, target, {
          commit: found.commit,
          branch: found.branch,
          originUrl: mirror.displayUrl,
        });
      } catch (e) {
        await Deno.remove(target, { recursive: true }).catch(() => {});
        throw e;
      }
      dir = target;
      return found;
    }, cacheOptions);
    await initSubmodules(dir!, url, { ...options, progress, depth: 0 });
    const checkout: GitCheckout = {
      dir: dir!,
      commit: resolved.commit,
      cleanup: () => Deno.remove(dir!, { recursive: true }).catch(() => {}),
    };
    if (resolved.versionIsBranch && resolved.branch !== undefined) {
      checkout.branch = resolved.branch;
    }
    return checkout;
  } catch (e) {
    if (dir !== undefined) await Deno.remove(dir, { recursive: true }).catch(() => {});
    if (e instanceof UnknownVersionError) {
      if (options.version === undefined) {
        throw new ExecutionException(`Unable to fetch git repo ${display}: ${e.message}`);
      }
      throw new ExecutionException(
        `Unable to checkout version '${options.version}' of git repo ${display}- please ensure that the version exists in the repo. Error: ${
          stripCredentials(e.message)
        }`,
      );
    }
    throw e;
  }
}

/**
 * Resolves a submodule URL from `.gitmodules` against the superproject's URL, as git does
 * (`./x` and `../x` are relative to the superproject's remote).
 *
 * @param base The superproject's remote URL.
 * @param url The submodule URL.
 * @returns The absolute URL.
 *
 * @example
 * ```ts
 * import { resolveSubmoduleUrl } from "./git_fetch.ts";
 * console.assert(resolveSubmoduleUrl("git://h/org/a.git", "../b.git") === "git://h/org/b.git");
 * ```
 */
export function resolveSubmoduleUrl(base: string, url: string): string {
  if (isAbsolute(url)) return `file://${url}`;
  if (!url.startsWith("./") && !url.startsWith("../")) return url;
  let b = base.replace(/\/+$/, "");
  let rest = url;
  const schemeEnd = /^[a-z][a-z0-9+.-]*:\/\/[^/]*/i.exec(b)?.[0].length ?? 0;
  while (true) {
    if (rest.startsWith("./")) rest = rest.slice(2);
    else if (rest.startsWith("../")) {
      rest = rest.slice(3);
      const slash = b.lastIndexOf("/");
      const colon = schemeEnd === 0 ? b.lastIndexOf(":") : -1;
      if (slash >= schemeEnd && slash > colon) b = b.slice(0, slash);
      else if (colon >= 0) b = b.slice(0, colon + 1);
    } else break;
  }
  return b.endsWith(":") ? `${b}${rest}` : `${b}/${rest}`;
}

async function initSubmodules(
  dir: string,
  superUrl: string,
  ctx: GitFetchOptions & { progress: boolean; depth: number },
): Promise<void> {
  try {
    Deno.statSync(join(dir, ".gitmodules"));
  } catch {
    return;
  }
  const display = stripCredentials(superUrl);
  if (ctx.depth >= MAX_SUBMODULE_DEPTH) {
    throw new ExecutionException(`Submodules of git repo ${display} are nested too deeply`);
  }
  const cfg = await git(
    ["config", "-f", ".gitmodules", "--get-regexp", "^submodule\\..*\\.(path|url)$"],
    { cwd: dir, env: ctx.env },
  );
  const modules = new Map<string, { path?: string; url?: string }>();
  for (const line of cfg.stdout.split("\n")) {
    const m = /^submodule\.(.+)\.(path|url) (.*)$/.exec(line);
    if (!m) continue;
    const entry = modules.get(m[1]!) ?? {};
    entry[m[2] as "path" | "url"] = m[3]!;
    modules.set(m[1]!, entry);
  }
  const ls = await git(["ls-files", "--stage"], { cwd: dir, env: ctx.env });
  for (const line of ls.stdout.split("\n")) {
    const m = /^160000 ([0-9a-f]{40,64}) \d+\t(.+)$/.exec(line);
    if (!m) continue;
    const [, sha, path] = m as unknown as [string, string, string];
    const norm = normalize(path);
    if (isAbsolute(norm) || norm === ".." || norm.startsWith("../")) continue;
    const declared = [...modules.values()].find((e) =>
      e.path !== undefined && normalize(e.path) === norm
    );
    if (declared?.url === undefined) {
      throw new ExecutionException(
        `Unable to fetch submodule '${path}' of git repo ${display}: no URL for it in .gitmodules`,
      );
    }
    const subUrl = resolveSubmoduleUrl(superUrl, declared.url);
    const target = join(dir, norm);
    try {
      await withMirror(subUrl, async (mirror) => {
        const found = await resolveVersion(mirror, sha);
        await Deno.remove(target, { recursive: true }).catch(() => {});
        await Deno.mkdir(target, { recursive: true });
        await checkoutCommit(mirror, target, {
          commit: found.commit,
          originUrl: mirror.displayUrl,
        });
      }, { env: ctx.env, signal: ctx.signal, progress: ctx.progress });
    } catch (e) {
      const detail = e instanceof Error ? e.message : String(e);
      throw new ExecutionException(
        `Unable to fetch submodule '${path}' of git repo ${display}: ${stripCredentials(detail)}`,
      );
    }
    await initSubmodules(target, subUrl, { ...ctx, depth: ctx.depth + 1 });
  }
}
