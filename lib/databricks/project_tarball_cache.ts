/**
 * A content-keyed cache of project tarballs, so that running an unchanged project again does not
 * compress it again (compression is most of the time of a Databricks run's upload step).
 *
 * Key: a fingerprint of the tree as {@linkcode projectTarball} sees it, from a stat walk without
 * reading any file: every member in tar order (excluded `mlruns` members included, since they take
 * part in hard-link detection) with its name, type and mode, size, mtime and ctime, inode, device,
 * link count, uid/gid and their names, device number and symlink target, plus the cache format.
 * Value: `{sha256, size, members}` (`entries/<key>.json`) and the tarball itself
 * (`tarballs/<sha256>.tar.gz`, shared by the keys that give the same bytes).
 *
 * Correctness:
 * - Racy files (git's "racy clean" problem: a file rewritten within the timestamp granularity of
 *   its last stat, here 1 ms for mtime and 1 s for ctime): a regular file whose mtime or ctime is
 *   less than 2 s before the walk started is "racy"; the entry then also holds the sha256 of the
 *   bytes archived for it, and a lookup hashes the file again and compares (no compression, a
 *   read of the racy files only). A hit whose racy files have since become old drops their
 *   hashes from the entry. Any later edit of a non-racy file changes its ctime (to the time of the
 *   edit, later than the stored ctime), even when the editor restores mtime and size. Known limit
 *   (as git's): a change that keeps size, mtime, ctime and inode, which takes setting the system
 *   clock back, or a file system that reports no ctime (mtime and size alone then decide).
 * - A result is stored only when a second walk after the build gives the same fingerprint.
 * - The tarball file is checked against its sha256 and size before it is used; a corrupt or
 *   missing one is rebuilt, an unreadable or invalid entry is a miss.
 * - Writes are atomic (temporary file, then rename); a file lock per key (one of 256, by the
 *   key's first byte) makes concurrent runs of the same project build once.
 * - A cache directory inside the project is not used (it would change the tree).
 *
 * Bounds: the 64 most recently used entries are kept (a hit refreshes its entry's mtime), the
 * tarballs of the 4 most recently used distinct ones as long as they total at most 1 GiB (a
 * larger tarball is not kept); temporary files older than an hour are removed. Pruning runs after
 * each store.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { ExecutionException } from "../system/errors.ts";
import { withFileLock } from "../system/file_lock.ts";
import { AccountNames } from "./_account_names.ts";
import { TAR_TYPE } from "../system/tar_header.ts";
import { compareCodePoints, memberType } from "./_tar_members.ts";
import {
  DB_TARFILE_ARCHIVE_NAME,
  DB_TARFILE_EXCLUDED_NAMES,
  projectTarball,
  type TarballProgress,
} from "./project_tarball.ts";

/** Changes whenever {@linkcode projectTarball} writes other bytes for the same tree. */
const CACHE_FORMAT = "mlproject-databricks-tarball/1";
/** Files changed this recently (ms) before the walk make the result unsafe to store. */
const RACY_MS = 2000;
const TMP_MAX_AGE_MS = 60 * 60 * 1000;

/** Options of {@linkcode cachedProjectTarball}. */
export interface CachedProjectTarballOptions {
  /** The cache directory (e.g. `cacheDir(env, "databricks-tarballs")`); without it nothing is cached. */
  cacheDir?: string;
  /** Called while an archive is built (never on a cache hit). */
  onProgress?: (progress: TarballProgress) => void;
  /** Aborting stops the walk or build. */
  signal?: AbortSignal;
  /** Entries kept (most recently used first); default 64. */
  maxEntries?: number;
  /** Tarballs kept (those of the most recently used entries); default 4. */
  maxTarballs?: number;
  /** Total bytes of the tarballs kept; default 1 GiB. */
  maxTarballBytes?: number;
}

/** An opened tarball, ready to be read from its start. */
export interface OpenedTarball {
  /** The open file (the caller closes it). */
  file: Deno.FsFile;
  /** sha256 of its bytes (differs from the digest's only when the project changed meanwhile). */
  sha256: string;
  /** Its size in bytes. */
  size: number;
  /** `true` when it had to be built again (cache hit whose tarball was missing or corrupt). */
  rebuilt: boolean;
}

/** The digest of a project's tarball, from the cache or a fresh build. */
export interface CachedProjectTarball extends AsyncDisposable {
  /** sha256 of the tarball, lowercase hex. */
  readonly sha256: string;
  /** Its size in bytes. */
  readonly size: number;
  /** Number of tar members. */
  readonly members: number;
  /** `true` when the digest came from the cache: nothing was read or compressed. */
  readonly hit: boolean;
  /** Why the result was not (or could not be) stored, when it was not. */
  readonly notStored?: string;
  /** Opens the tarball bytes: the cached file once checked, else a new build. */
  open(): Promise<OpenedTarball>;
}

interface Fingerprint {
  key: string;
  /** Regular files changed too recently to trust their stat: archive name → latest of m/ctime. */
  racy: Map<string, number>;
}

interface Entry {
  format: string;
  key: string;
  sha256: string;
  size: number;
  members: number;
  /** sha256 of the archived bytes of the files that were racy when the entry was written. */
  racy: Record<string, string>;
}

/** Stat walk in the archiver's order: one line per member into a sha256. */
async function fingerprint(root: string, racyFrom: number, signal?: AbortSignal) {
  const hash = createHash("sha256");
  const names = new AccountNames();
  const result: Fingerprint = { key: "", racy: new Map() };
  hash.update(`${CACHE_FORMAT}\n${root}\n`);
  const visit = async (path: string, arcname: string): Promise<void> => {
    signal?.throwIfAborted();
    const info = await Deno.lstat(path);
    const type = memberType(info);
    if (type === undefined) return;
    const base = arcname.slice(arcname.lastIndexOf("/") + 1);
    const excluded = DB_TARFILE_EXCLUDED_NAMES.includes(base);
    const mtime = info.mtime?.getTime() ?? null;
    const ctime = info.ctime?.getTime() ?? null;
    const uid = info.uid ?? 0;
    const gid = info.gid ?? 0;
    hash.update(
      JSON.stringify([
        arcname,
        type,
        info.mode,
        info.size,
        mtime,
        ctime,
        info.ino,
        info.dev,
        info.nlink,
        uid,
        gid,
        await names.user(uid),
        await names.group(gid),
        info.rdev,
        type === TAR_TYPE.symlink ? await Deno.readLink(path) : "",
        excluded,
      ]) + "\n",
    );
    // Only regular files have content outside the fingerprint.
    const latest = Math.max(mtime ?? Infinity, ctime ?? 0);
    if (type === TAR_TYPE.file && !excluded && latest >= racyFrom) result.racy.set(arcname, latest);
    if (type === TAR_TYPE.dir && !excluded) {
      const entries: string[] = [];
      for await (const entry of Deno.readDir(path)) entries.push(entry.name);
      entries.sort(compareCodePoints);
      for (const name of entries) await visit(`${path}/${name}`, `${arcname}/${name}`);
    }
  };
  await visit(root, DB_TARFILE_ARCHIVE_NAME);
  result.key = hash.digest("hex");
  return result;
}

function validEntry(value: unknown, key: string): Entry | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const e = value as Record<string, unknown>;
  const count = (v: unknown) => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
  if (
    e.format !== CACHE_FORMAT || e.key !== key || typeof e.sha256 !== "string" ||
    !/^[0-9a-f]{64}$/.test(e.sha256) || !count(e.size) || !count(e.members) ||
    typeof e.racy !== "object" || e.racy === null ||
    !Object.values(e.racy).every((h) => typeof h === "string" && /^[0-9a-f]{64}$/.test(h))
  ) return undefined;
  return e as unknown as Entry;
}

async function readEntry(path: string, key: string): Promise<Entry | undefined> {
  try {
    return validEntry(JSON.parse(await Deno.readTextFile(path)), key);
  } catch {
    return undefined; // missing, unreadable or not JSON: a miss
  }
}

async function writeAtomically(path: string, text: string): Promise<void> {
  const tmp = `${path}.tmp-${crypto.randomUUID()}`;
  try {
    await Deno.writeTextFile(tmp, text);
    await Deno.rename(tmp, path);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
}

/** The file opened and hashed; `undefined` when missing or not the expected bytes. */
async function openVerified(
  path: string,
  sha256: string,
  size: number,
): Promise<Deno.FsFile | undefined> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch {
    return undefined;
  }
  try {
    if ((await file.stat()).size === size) {
      const hash = createHash("sha256");
      const buffer = new Uint8Array(256 * 1024);
      for (let n; (n = await file.read(buffer)) !== null;) hash.update(buffer.subarray(0, n));
      if (hash.digest("hex") === sha256) {
        await file.seek(0, Deno.SeekMode.Start);
        return file;
      }
    }
  } catch {
    // unreadable: treated as corrupt
  }
  file.close();
  await Deno.remove(path).catch(() => {});
  return undefined;
}

async function hashFile(path: string): Promise<string | undefined> {
  try {
    using file = await Deno.open(path, { read: true });
    const hash = createHash("sha256");
    const buffer = new Uint8Array(256 * 1024);
    for (let n; (n = await file.read(buffer)) !== null;) hash.update(buffer.subarray(0, n));
    return hash.digest("hex");
  } catch {
    return undefined;
  }
}

/** The entry's racy files still hold the bytes archived then. */
async function racyFilesUnchanged(root: string, entry: Entry): Promise<boolean> {
  for (const [arcname, sha256] of Object.entries(entry.racy)) {
    const path = root + arcname.slice(DB_TARFILE_ARCHIVE_NAME.length);
    if (await hashFile(path) !== sha256) return false;
  }
  return true;
}

function isInside(path: string, dir: string): boolean {
  return path === dir || path.startsWith(dir.endsWith("/") ? dir : `${dir}/`);
}

async function mtimeOf(path: string): Promise<number> {
  try {
    return (await Deno.stat(path)).mtime?.getTime() ?? 0;
  } catch {
    return 0;
  }
}

/** Keeps the cache bounded (see the module doc). Errors are ignored: pruning is best effort. */
async function prune(dir: string, options: CachedProjectTarballOptions): Promise<void> {
  const maxEntries = options.maxEntries ?? 64;
  const maxTarballs = options.maxTarballs ?? 4;
  const maxBytes = options.maxTarballBytes ?? 1024 ** 3;
  const now = Date.now();
  const entries: { path: string; used: number; key: string }[] = [];
  try {
    for await (const e of Deno.readDir(`${dir}/entries`)) {
      const path = `${dir}/entries/${e.name}`;
      if (e.name.endsWith(".json")) {
        entries.push({ path, used: await mtimeOf(path), key: e.name.slice(0, -5) });
      } else if (now - await mtimeOf(path) > TMP_MAX_AGE_MS) await Deno.remove(path);
    }
  } catch {
    return;
  }
  entries.sort((a, b) => b.used - a.used);
  for (const old of entries.splice(maxEntries)) await Deno.remove(old.path).catch(() => {});
  const keep = new Set<string>();
  let bytes = 0;
  for (const e of entries) {
    if (keep.size >= maxTarballs) break;
    const entry = await readEntry(e.path, e.key);
    if (entry === undefined || keep.has(entry.sha256)) continue;
    if (bytes + entry.size > maxBytes) continue;
    keep.add(entry.sha256);
    bytes += entry.size;
  }
  try {
    for await (const t of Deno.readDir(`${dir}/tarballs`)) {
      const path = `${dir}/tarballs/${t.name}`;
      const sha = t.name.match(/^([0-9a-f]{64})\.tar\.gz$/)?.[1];
      if (sha !== undefined ? !keep.has(sha) : now - await mtimeOf(path) > TMP_MAX_AGE_MS) {
        await Deno.remove(path).catch(() => {});
      }
    }
  } catch {
    // nothing to prune
  }
}

/** A result not backed by the cache: a build into a temporary file, removed on dispose. */
async function uncached(
  root: string,
  reason: string,
  options: CachedProjectTarballOptions,
): Promise<CachedProjectTarball> {
  const built = await projectTarball(root, {
    ...(options.onProgress !== undefined ? { onProgress: options.onProgress } : {}),
    ...(options.signal !== undefined ? { signal: options.signal } : {}),
  });
  return {
    sha256: built.sha256,
    size: built.size,
    members: built.members,
    hit: false,
    notStored: reason,
    async open() {
      const file = await Deno.open(built.path, { read: true });
      return { file, sha256: built.sha256, size: built.size, rebuilt: false };
    },
    async [Symbol.asyncDispose]() {
      await Deno.remove(built.path).catch(() => {});
    },
  };
}

/**
 * The project's tarball digest (sha256, size) from the cache when the project has not changed
 * since it was stored, else from a build (stored for next time when safe). The tarball bytes are
 * read only through `open()`, which uses the cached file (checked) or builds it again.
 *
 * @param dir The project directory.
 * @param options The cache directory, progress callback, abort signal and cache bounds.
 * @returns The digest; dispose it (`await using`) to remove temporary files.
 * @throws {ExecutionException} When the project cannot be archived.
 *
 * @example Second call without changes is a hit
 * ```ts ignore
 * import { cachedProjectTarball } from "./project_tarball_cache.ts";
 * const cacheDir = "/tmp/tarball-cache";
 * { await using first = await cachedProjectTarball("examples/demo", { cacheDir }); }
 * await using again = await cachedProjectTarball("examples/demo", { cacheDir });
 * console.log(again.hit, again.sha256);
 * using opened = (await again.open()).file;
 * ```
 */
export async function cachedProjectTarball(
  dir: string,
  options: CachedProjectTarballOptions = {},
): Promise<CachedProjectTarball> {
  let root: string;
  try {
    root = await Deno.realPath(dir);
  } catch {
    return await uncached(dir, "no project directory", options); // projectTarball's error
  }
  const cache = options.cacheDir;
  if (cache === undefined) return await uncached(root, "no cache directory", options);
  let cacheRoot: string;
  try {
    await Deno.mkdir(`${cache}/entries`, { recursive: true });
    await Deno.mkdir(`${cache}/tarballs`, { recursive: true });
    cacheRoot = await Deno.realPath(cache);
  } catch (e) {
    return await uncached(root, `cache directory '${cache}' unusable: ${String(e)}`, options);
  }
  if (isInside(cacheRoot, root)) {
    return await uncached(root, `cache directory '${cache}' is inside the project`, options);
  }
  const started = Date.now();
  let before: Fingerprint;
  try {
    before = await fingerprint(root, started - RACY_MS, options.signal);
  } catch (e) {
    options.signal?.throwIfAborted();
    return await uncached(root, `project changed while it was read: ${String(e)}`, options);
  }
  const key = before.key;
  const entryPath = `${cacheRoot}/entries/${key}.json`;
  // At most 256 lock files (`.locks/` is never pruned): unrelated projects rarely share one.
  return await withFileLock(cacheRoot, `tarball-${key.slice(0, 2)}`, async () => {
    const entry = await readEntry(entryPath, key);
    if (entry !== undefined && await racyFilesUnchanged(root, entry)) {
      // Files racy when stored and old now: their stat is enough from now on.
      const settled = Object.keys(entry.racy).filter((a) => !before.racy.has(a));
      if (settled.length > 0) {
        for (const arcname of settled) delete entry.racy[arcname];
        await writeAtomically(entryPath, JSON.stringify(entry) + "\n").catch(() => {});
      } else {
        const now = new Date();
        await Deno.utime(entryPath, now, now).catch(() => {}); // last use, for pruning
      }
      return hitResult(root, cacheRoot, entry, options);
    }
    const tmp = `${cacheRoot}/tarballs/tmp-${crypto.randomUUID()}.tar.gz`;
    const built = await projectTarball(root, {
      outputPath: tmp,
      hashFiles: new Set(before.racy.keys()),
      ...(options.onProgress !== undefined ? { onProgress: options.onProgress } : {}),
      ...(options.signal !== undefined ? { signal: options.signal } : {}),
    });
    let file: Deno.FsFile | undefined;
    let notStored: string | undefined;
    try {
      file = await Deno.open(tmp, { read: true });
      const after = await fingerprint(root, started - RACY_MS, options.signal).catch(() =>
        undefined
      );
      // A racy file archived as a hard link has no bytes of its own in the archive; the earlier
      // member it links to (same inode, so racy too) has its hash.
      const racy: Record<string, string> = {};
      for (const arcname of before.racy.keys()) {
        const sha256 = built.fileHashes[arcname];
        if (sha256 !== undefined) racy[arcname] = sha256;
      }
      if (after?.key !== key) notStored = "the project changed while it was archived";
      else if (built.size > (options.maxTarballBytes ?? 1024 ** 3)) {
        notStored = "the tarball is larger than the cache's size limit";
      }
      if (notStored === undefined) {
        await Deno.rename(tmp, `${cacheRoot}/tarballs/${built.sha256}.tar.gz`);
        const stored: Entry = {
          format: CACHE_FORMAT,
          key,
          sha256: built.sha256,
          size: built.size,
          members: built.members,
          racy,
        };
        await writeAtomically(entryPath, JSON.stringify(stored) + "\n");
        await prune(cacheRoot, options);
      }
    } catch (e) {
      file?.close();
      await Deno.remove(tmp).catch(() => {});
      throw e;
    }
    // The just-built file stays open: pruning by another run cannot take it away.
    let opened: Deno.FsFile | undefined = file;
    return {
      sha256: built.sha256,
      size: built.size,
      members: built.members,
      hit: false,
      ...(notStored !== undefined ? { notStored } : {}),
      open() {
        if (opened === undefined) throw new ExecutionException("The tarball was opened already");
        const result = { file: opened, sha256: built.sha256, size: built.size, rebuilt: false };
        opened = undefined;
        return Promise.resolve(result);
      },
      async [Symbol.asyncDispose]() {
        opened?.close();
        if (notStored !== undefined) await Deno.remove(tmp).catch(() => {});
      },
    };
  });
}

function hitResult(
  root: string,
  cacheRoot: string,
  entry: Entry,
  options: CachedProjectTarballOptions,
): CachedProjectTarball {
  let rebuiltPath: string | undefined;
  return {
    sha256: entry.sha256,
    size: entry.size,
    members: entry.members,
    hit: true,
    async open() {
      const path = `${cacheRoot}/tarballs/${entry.sha256}.tar.gz`;
      const file = await openVerified(path, entry.sha256, entry.size);
      if (file !== undefined) {
        return { file, sha256: entry.sha256, size: entry.size, rebuilt: false };
      }
      // Missing or corrupt: build again; keep it when it is what the entry says.
      const tmp = `${cacheRoot}/tarballs/tmp-${crypto.randomUUID()}.tar.gz`;
      const built = await projectTarball(root, {
        outputPath: tmp,
        ...(options.onProgress !== undefined ? { onProgress: options.onProgress } : {}),
        ...(options.signal !== undefined ? { signal: options.signal } : {}),
      });
      const rebuilt = await Deno.open(tmp, { read: true });
      if (built.sha256 === entry.sha256 && built.size === entry.size) {
        await Deno.rename(tmp, path).catch(() => {});
      } else {
        rebuiltPath = tmp;
        await Deno.remove(`${cacheRoot}/entries/${entry.key}.json`).catch(() => {});
      }
      return { file: rebuilt, sha256: built.sha256, size: built.size, rebuilt: true };
    },
    async [Symbol.asyncDispose]() {
      if (rebuiltPath !== undefined) await Deno.remove(rebuiltPath).catch(() => {});
    },
  };
}
