/**
 * The environment cache: one directory per environment, named by a key that hashes everything
 * that decides its content. An environment is built in place (a venv is not relocatable) while
 * holding a lock; a success marker is written last, so an environment without a valid marker is
 * half-built or corrupt and is removed and rebuilt, never used. Concurrent runs needing the same
 * environment wait on the lock and reuse the one build.
 *
 * Layout of the cache root (`MLFLOW_ENV_ROOT`, else `$XDG_CACHE_HOME/mlproject/envs`, else
 * `~/.cache/mlproject/envs`):
 *
 * - `<key>/` the environment; `<key>/.mlproject-env.json` the success marker;
 *   `<key>/.mlproject-building` the pid of the process building it; `<key>/.mlproject-last-used`
 *   touched on every use;
 * - `.locks/<key>.lock` the lock files (flock: released by the OS when a process dies).
 *
 * Directories without our key shape (e.g. MLflow's own `mlflow-<sha>` envs when the root is
 * shared through `MLFLOW_ENV_ROOT`) are never listed or removed.
 *
 * @module
 */
import { ExecutionException } from "../system/errors.ts";
import { type Reporter, SILENT_REPORTER } from "../system/output.ts";
import { runCommand } from "../system/run_command.ts";
import { cacheDir } from "../system/home_dir.ts";
import { withFileLock } from "../system/file_lock.ts";
import type { PythonInterpreter } from "./python_finder.ts";

/** Managers whose environments live in the cache. */
export type CachedManager = "virtualenv" | "uv";

/** Options a build receives. */
export interface BuildOptions {
  /** The caller's environment. */
  env: Record<string, string>;
  /** Progress lines. */
  reporter: Reporter;
  /** Aborting stops the build (it is then removed). */
  signal?: AbortSignal;
}

/** A Python environment a manager can build into a directory of the cache. */
export interface Environment {
  /** The manager (part of the key). */
  readonly manager: CachedManager;
  /** The base interpreter (its version and path are part of the key). */
  readonly python: PythonInterpreter;
  /** Every other fact that decides the content: tool, requirement lines, file contents. */
  readonly fingerprint: readonly string[];
  /** Builds the environment in `dir` (its final location, which exists and is empty). */
  build(dir: string, options: BuildOptions): Promise<void>;
  /** Variables that put the built environment first (`PATH`, `VIRTUAL_ENV`). */
  activate(dir: string, env: Record<string, string>): Record<string, string>;
}

/** The success marker of a built environment. */
export interface EnvMarker {
  /** Cache key. */
  key: string;
  /** Manager that built it. */
  manager: CachedManager;
  /** Python version `X.Y.Z`. */
  python: string;
  /** Base interpreter path. */
  pythonPath: string;
  /** ISO time the build completed. */
  created: string;
  /** Milliseconds the build took. */
  buildMs: number;
}

/** A cached environment as `mlproject env list` shows it. */
export interface CachedEnvInfo {
  /** Cache key (directory name). */
  key: string;
  /** Absolute path. */
  path: string;
  /** Marker, or `undefined` for a half-built or corrupt environment. */
  marker: EnvMarker | undefined;
  /** `ready`, `building` (a live process builds it) or `broken`. */
  state: "ready" | "building" | "broken";
  /** Last use (or last change) time. */
  lastUsed: Date;
}

/** What {@linkcode acquireEnvironment} returns. */
export interface AcquiredEnvironment {
  /** Cache key. */
  key: string;
  /** Directory of the environment. */
  dir: string;
  /** `true` when an existing build was reused. */
  cacheHit: boolean;
}

const MARKER = ".mlproject-env.json";
const BUILDING = ".mlproject-building";
const LAST_USED = ".mlproject-last-used";
const KEY_SHAPE = /^(virtualenv|uv)-\d+\.\d+\.\d+-[0-9a-f]{16}$/;

/**
 * The cache root: `MLFLOW_ENV_ROOT`, else the `envs` directory of mlproject's cache
 * (`$MLPROJECT_CACHE_DIR/envs`, `$XDG_CACHE_HOME/mlproject/envs`, `~/.cache/mlproject/envs`).
 *
 * @param env The environment.
 * @returns The absolute root directory.
 *
 * @example
 * ```ts
 * import { envCacheRoot } from "./env_cache.ts";
 * console.assert(envCacheRoot({ MLFLOW_ENV_ROOT: "/x" }) === "/x");
 * ```
 */
export function envCacheRoot(env: Record<string, string>): string {
  if (env.MLFLOW_ENV_ROOT) return env.MLFLOW_ENV_ROOT.replace(/(.)\/+$/, "$1");
  return cacheDir(env, "envs") ?? "/.cache/mlproject/envs";
}

/**
 * Whether a name has the shape of one of our keys.
 *
 * @param name A directory name.
 * @returns `true` for `<manager>-<X.Y.Z>-<16 hex>`.
 *
 * @example
 * ```ts
 * import { isEnvKey } from "./env_cache.ts";
 * console.assert(isEnvKey("uv-3.11.7-0123456789abcdef"));
 * ```
 */
export function isEnvKey(name: string): boolean {
  return KEY_SHAPE.test(name);
}

/**
 * Computes the key of an environment from everything that decides its content.
 *
 * @param environment The environment.
 * @returns `<manager>-<python version>-<16 hex of a SHA-256>`.
 *
 * @example
 * ```ts ignore
 * import { environmentKey } from "./env_cache.ts";
 * await environmentKey(environment); // "virtualenv-3.11.7-1f0c…"
 * ```
 */
export async function environmentKey(environment: Environment): Promise<string> {
  const material = JSON.stringify([
    "mlproject-env-v1",
    environment.manager,
    environment.python.version,
    environment.python.path,
    ...environment.fingerprint,
  ]);
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(material));
  const hex = [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
  return `${environment.manager}-${environment.python.version}-${hex.slice(0, 16)}`;
}

function readMarker(dir: string, key: string): EnvMarker | undefined {
  try {
    const marker = JSON.parse(Deno.readTextFileSync(`${dir}/${MARKER}`)) as EnvMarker;
    if (marker.key !== key) return undefined;
    // The interpreter a venv links to must still be there.
    Deno.statSync(`${dir}/bin/python`);
    return marker;
  } catch {
    return undefined;
  }
}

function touch(path: string): void {
  try {
    const now = new Date();
    Deno.utimeSync(path, now, now);
  } catch {
    try {
      Deno.writeTextFileSync(path, "");
    } catch { /* a read-only cache still works */ }
  }
}

async function removeDir(path: string): Promise<void> {
  await Deno.remove(path, { recursive: true }).catch((e) => {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  });
}

function withLock<T>(root: string, key: string, fn: () => Promise<T>): Promise<T> {
  return withFileLock(root, key, fn);
}

/**
 * Where an environment lives in the cache and whether a ready build is there, without writing
 * anything (for plans and `--dry-run`).
 *
 * @param environment What would be built.
 * @param options Environment (for the cache root).
 * @returns The key, directory, and `cacheHit: true` when a ready build exists.
 *
 * @example
 * ```ts ignore
 * import { lookupEnvironment } from "./env_cache.ts";
 * const { key, cacheHit } = await lookupEnvironment(environment, { env: Deno.env.toObject() });
 * ```
 */
export async function lookupEnvironment(
  environment: Environment,
  options: { env: Record<string, string> },
): Promise<AcquiredEnvironment> {
  const key = await environmentKey(environment);
  const dir = `${envCacheRoot(options.env)}/${key}`;
  return { key, dir, cacheHit: readMarker(dir, key) !== undefined };
}

/**
 * Returns a ready environment from the cache, building it first when needed. Only a directory
 * with a valid success marker is used; anything else under the key is removed and rebuilt. A
 * failed or aborted build is removed, so nothing half-built stays.
 *
 * @param environment What to build.
 * @param options Environment (for the cache root), reporter, abort signal.
 * @returns The key, directory and whether the cache was hit.
 * @throws {ExecutionException} When the build fails (the error of the build).
 *
 * @example
 * ```ts ignore
 * import { acquireEnvironment } from "./env_cache.ts";
 * const { dir, cacheHit } = await acquireEnvironment(environment, { env: Deno.env.toObject() });
 * ```
 */
export async function acquireEnvironment(
  environment: Environment,
  options: { env: Record<string, string>; reporter?: Reporter; signal?: AbortSignal },
): Promise<AcquiredEnvironment> {
  const reporter = options.reporter ?? SILENT_REPORTER;
  const root = envCacheRoot(options.env);
  const key = await environmentKey(environment);
  const dir = `${root}/${key}`;
  if (readMarker(dir, key) !== undefined) {
    touch(`${dir}/${LAST_USED}`);
    return { key, dir, cacheHit: true };
  }
  try {
    await Deno.mkdir(root, { recursive: true });
  } catch (e) {
    throw new ExecutionException(
      `Cannot create the environment cache '${root}': ${e instanceof Error ? e.message : e}`,
    );
  }
  return await withLock(root, key, async () => {
    if (readMarker(dir, key) !== undefined) {
      reporter.log("INFO", `=== Reusing environment ${key} (built by a concurrent run) ===`);
      touch(`${dir}/${LAST_USED}`);
      return { key, dir, cacheHit: true };
    }
    // We hold the lock: whatever is there is a leftover of a failed or killed build.
    await removeDir(dir);
    await Deno.mkdir(dir, { recursive: true });
    await Deno.writeTextFile(`${dir}/${BUILDING}`, String(Deno.pid));
    const started = Date.now();
    reporter.log(
      "INFO",
      `=== Creating ${environment.manager} environment ${key} (Python ${environment.python.version} from ${environment.python.path}) in ${dir} ===`,
    );
    try {
      options.signal?.throwIfAborted();
      await environment.build(dir, {
        env: options.env,
        reporter,
        ...(options.signal !== undefined ? { signal: options.signal } : {}),
      });
      options.signal?.throwIfAborted();
      const check = await runCommand(`${dir}/bin/python`, ["-c", "import sys"], {
        env: { ...options.env, ...environment.activate(dir, options.env) },
      });
      if (!check.success) {
        throw new ExecutionException(
          `The environment built in '${dir}' does not work: ${dir}/bin/python exited with ${check.code}: ${check.stderr.trim()}`,
        );
      }
      const marker: EnvMarker = {
        key,
        manager: environment.manager,
        python: environment.python.version,
        pythonPath: environment.python.path,
        created: new Date().toISOString(),
        buildMs: Date.now() - started,
      };
      await Deno.writeTextFile(`${dir}/${LAST_USED}`, "");
      await Deno.writeTextFile(`${dir}/${MARKER}.tmp`, JSON.stringify(marker, null, 2) + "\n");
      await Deno.rename(`${dir}/${MARKER}.tmp`, `${dir}/${MARKER}`);
      await Deno.remove(`${dir}/${BUILDING}`).catch(() => {});
    } catch (e) {
      await removeDir(dir).catch(() => {});
      if (options.signal?.aborted) {
        throw new ExecutionException(`Creating environment ${key} was interrupted`);
      }
      throw e;
    }
    reporter.log(
      "INFO",
      `=== Environment ${key} ready (${((Date.now() - started) / 1000).toFixed(1)} s) ===`,
    );
    return { key, dir, cacheHit: false };
  });
}

function builderAlive(dir: string): boolean {
  try {
    const pid = Number(Deno.readTextFileSync(`${dir}/${BUILDING}`).trim());
    if (!Number.isInteger(pid) || pid <= 0) return false;
    if (pid === Deno.pid) return true;
    Deno.statSync(`/proc/${pid}`);
    return true;
  } catch {
    return false;
  }
}

/**
 * Lists the environments of the cache (ready, being built, or broken).
 *
 * @param options The environment (for the cache root).
 * @returns The environments, most recently used first.
 *
 * @example
 * ```ts
 * import { listEnvironments } from "./env_cache.ts";
 * console.assert(listEnvironments({ env: { MLFLOW_ENV_ROOT: "/nonexistent" } }).length === 0);
 * ```
 */
export function listEnvironments(options: { env: Record<string, string> }): CachedEnvInfo[] {
  const root = envCacheRoot(options.env);
  const out: CachedEnvInfo[] = [];
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(root)];
  } catch {
    return [];
  }
  for (const entry of entries) {
    if (!entry.isDirectory || !isEnvKey(entry.name)) continue;
    const path = `${root}/${entry.name}`;
    const marker = readMarker(path, entry.name);
    let lastUsed: Date;
    try {
      lastUsed = Deno.statSync(`${path}/${marker ? LAST_USED : ""}`).mtime ?? new Date(0);
    } catch {
      lastUsed = new Date(0);
    }
    const state = marker !== undefined ? "ready" : builderAlive(path) ? "building" : "broken";
    out.push({ key: entry.name, path, marker, state, lastUsed });
  }
  return out.sort((a, b) => b.lastUsed.getTime() - a.lastUsed.getTime());
}

/**
 * Total size in bytes of the files under a directory (symlinks not followed).
 *
 * @param path The directory.
 * @returns Bytes.
 *
 * @example
 * ```ts
 * import { directorySize } from "./env_cache.ts";
 * console.assert(directorySize("/nonexistent") === 0);
 * ```
 */
export function directorySize(path: string): number {
  let total = 0;
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(path)];
  } catch {
    return 0;
  }
  for (const entry of entries) {
    const child = `${path}/${entry.name}`;
    if (entry.isDirectory) total += directorySize(child);
    else if (entry.isFile) {
      try {
        total += Deno.lstatSync(child).size;
      } catch { /* vanished */ }
    }
  }
  return total;
}

/**
 * Removes one environment from the cache (waiting for a build of it to end first).
 *
 * @param key The key, as `mlproject env list` shows it.
 * @param options The environment (for the cache root).
 * @returns The removed directory.
 * @throws {ExecutionException} When there is no such environment.
 *
 * @example
 * ```ts ignore
 * import { removeEnvironment } from "./env_cache.ts";
 * await removeEnvironment("virtualenv-3.11.7-0123456789abcdef", { env: Deno.env.toObject() });
 * ```
 */
export async function removeEnvironment(
  key: string,
  options: { env: Record<string, string> },
): Promise<string> {
  const root = envCacheRoot(options.env);
  const dir = `${root}/${key}`;
  const present = isEnvKey(key) && (() => {
    try {
      return Deno.statSync(dir).isDirectory;
    } catch {
      return false;
    }
  })();
  if (!present) {
    throw new ExecutionException(
      `No environment '${key}' in ${root} (see \`mlproject env list\`)`,
    );
  }
  await withLock(root, key, () => removeDir(dir));
  return dir;
}

/**
 * Removes broken or half-built environments (whose builder is gone) and, with `olderThanDays`,
 * ready environments not used for that many days.
 *
 * @param options Environment (for the cache root) and the age limit.
 * @returns The removed keys.
 *
 * @example
 * ```ts ignore
 * import { collectGarbage } from "./env_cache.ts";
 * await collectGarbage({ env: Deno.env.toObject(), olderThanDays: 30 });
 * ```
 */
export async function collectGarbage(
  options: { env: Record<string, string>; olderThanDays?: number },
): Promise<string[]> {
  const root = envCacheRoot(options.env);
  const limit = options.olderThanDays === undefined
    ? undefined
    : Date.now() - options.olderThanDays * 86_400_000;
  const removed: string[] = [];
  for (const info of listEnvironments(options)) {
    const stale = info.state === "broken" ||
      (info.state === "ready" && limit !== undefined && info.lastUsed.getTime() < limit);
    if (!stale) continue;
    await withLock(root, info.key, async () => {
      // Re-check under the lock: a concurrent run may have rebuilt or used it meanwhile.
      const now = listEnvironments(options).find((e) => e.key === info.key);
      if (now === undefined) return;
      const still = now.state === "broken" ||
        (now.state === "ready" && limit !== undefined && now.lastUsed.getTime() < limit);
      if (!still) return;
      await removeDir(info.path);
      removed.push(info.key);
    });
  }
  return removed;
}

/**
 * Runs `fn` holding the cache's lock for `name` (e.g. a conda env name), so that concurrent runs
 * do not create the same environment twice.
 *
 * @param name The lock name (a key or an env name).
 * @param options The environment (for the cache root).
 * @param fn What to do under the lock.
 * @returns What `fn` returns.
 *
 * @example
 * ```ts ignore
 * import { withCacheLock } from "./env_cache.ts";
 * await withCacheLock("mlflow-0a1b…", { env }, async () => {});
 * ```
 */
export async function withCacheLock<T>(
  name: string,
  options: { env: Record<string, string> },
  fn: () => Promise<T>,
): Promise<T> {
  const root = envCacheRoot(options.env);
  try {
    await Deno.mkdir(root, { recursive: true });
  } catch (e) {
    throw new ExecutionException(
      `Cannot create the environment cache '${root}': ${e instanceof Error ? e.message : e}`,
    );
  }
  return await withLock(root, name, fn);
}

function humanSize(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB"];
  let n = bytes;
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${n.toFixed(1)} ${units[i]}`;
}

function humanAge(date: Date, now: number): string {
  const s = Math.max(0, Math.round((now - date.getTime()) / 1000));
  if (s < 120) return `${s} s ago`;
  if (s < 7200) return `${Math.round(s / 60)} min ago`;
  if (s < 172_800) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86_400)} days ago`;
}

/**
 * Formats environments as the table `mlproject env list` prints (key, manager, python, size,
 * last used, path), with a header line.
 *
 * @param infos The environments.
 * @param options `now` (for ages; default the current time).
 * @returns The lines.
 *
 * @example
 * ```ts
 * import { formatEnvironmentTable } from "./env_cache.ts";
 * console.assert(formatEnvironmentTable([]).length === 1);
 * ```
 */
export function formatEnvironmentTable(
  infos: CachedEnvInfo[],
  options: { now?: number } = {},
): string[] {
  const now = options.now ?? Date.now();
  const rows = [["KEY", "MANAGER", "PYTHON", "SIZE", "LAST USED", "PATH"]];
  for (const info of infos) {
    const [manager, python] = info.key.split("-");
    rows.push([
      info.key,
      manager!,
      info.marker?.python ?? python!,
      humanSize(directorySize(info.path)),
      info.state === "ready" ? humanAge(info.lastUsed, now) : `(${info.state})`,
      info.path,
    ]);
  }
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows.map((r) =>
    r.map((cell, c) => c === r.length - 1 ? cell : cell.padEnd(widths[c]!)).join("  ")
  );
}
