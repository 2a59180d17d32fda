/**
 * The project as MLflow's deterministic `tar.gz` for Databricks (`_upload_project_to_dbfs` with
 * `file_utils.make_tarfile`): the same project gives the same bytes, hence the same sha256 and the
 * same DBFS path `mlflow-experiments/<experiment>/projects-code/<sha256>.tar.gz`, so uploads are
 * shared with MLflow users.
 *
 * What MLflow's archive holds, reproduced here:
 * - top folder `mlflow-project` (the project directory itself is its first member), then each
 *   directory's entries in Python's `sorted(os.listdir())` order (code point order), depth first;
 * - every member with `mtime` 0 and its real mode, uid, gid, user and group name;
 * - members whose base name is `mlruns` left out with everything below them (a file of that name
 *   too);
 * - directories (empty ones too), symlinks as symlinks (never followed), hard links to an earlier
 *   member as hard links, FIFOs and devices as such, sockets skipped;
 * - Python `tarfile`'s PAX header layout (see `../system/tar_header.ts`), two zero blocks and padding to
 *   10240 bytes;
 * - gzip at level 9 with no file name and mtime 0, with zlib's exact deflate bytes.
 *
 * Checked against MLflow 2.17–3.17 (tests/databricks/project_tarball_test.ts, and a real
 * `mlflow run -b databricks` against the fake workspace). The layout is that of CPython 3.9–3.13's
 * `tarfile` (3.8 and older write other bytes) and the deflate that of zlib 1.2.x (an MLflow whose
 * Python links zlib-ng gets another hash; uploads are then simply not shared).
 *
 * Differences: when the project directory is itself a symlink, MLflow archives the link (a useless
 * archive); here the link is resolved first. A dangling symlink in the project makes MLflow crash
 * (`FileNotFoundError` while it sums file sizes for a log line); here it is archived as a link.
 * Names that are not valid UTF-8 are not supported (MLflow writes them with
 * `hdrcharset=BINARY`).
 *
 * Memory stays bounded (256 KiB of input at a time): the archive is streamed to a file and hashed
 * as it is written.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { ExecutionException } from "../system/errors.ts";
import { AccountNames } from "./_account_names.ts";
import { archiveEnd, contentPadding, memberHeader, TAR_TYPE } from "../system/tar_header.ts";
import { compareCodePoints, memberType } from "./_tar_members.ts";
import { PythonGzipWriter } from "./_python_gzip.ts";

/** MLflow's `DB_TARFILE_ARCHIVE_NAME`: the top folder of the archive. */
export const DB_TARFILE_ARCHIVE_NAME = "mlflow-project";

/** Base names MLflow leaves out of the archive. */
export const DB_TARFILE_EXCLUDED_NAMES: readonly string[] = ["mlruns"];

const CHUNK = 256 * 1024;

/** Options of {@linkcode projectTarball}. */
export interface ProjectTarballOptions {
  /** Where to write the archive (default: a new temporary file; the caller removes it). */
  outputPath?: string;
  /** Called after each member with the running counts. */
  onProgress?: (progress: TarballProgress) => void;
  /** Aborting stops the build and removes the partial archive. */
  signal?: AbortSignal;
  /** Members (archive names) whose archived bytes to hash into `fileHashes`. */
  hashFiles?: ReadonlySet<string>;
}

/** Counts reported while the archive is built. */
export interface TarballProgress {
  /** Members written so far. */
  members: number;
  /** File bytes read so far. */
  bytesRead: number;
}

/** The archive built by {@linkcode projectTarball}. */
export interface ProjectTarball {
  /** The `.tar.gz` file. */
  path: string;
  /** sha256 of its bytes, lowercase hex (MLflow's `tarfile_hash`). */
  sha256: string;
  /** Its size in bytes. */
  size: number;
  /** Number of tar members (the top folder included). */
  members: number;
  /** sha256 of the bytes archived for each regular file named in `hashFiles`. */
  fileHashes: Record<string, string>;
}

/** Linux `major()`/`minor()` of an `st_rdev`. */
function deviceNumbers(rdev: number): { devmajor: number; devminor: number } {
  const big = BigInt(rdev);
  return {
    devmajor: Number(((big >> 8n) & 0xfffn) | ((big >> 32n) & ~0xfffn)),
    devminor: Number((big & 0xffn) | ((big >> 12n) & ~0xffn)),
  };
}

/** Gathers tar bytes into chunks, compresses them, and writes and hashes the output. */
class ArchiveSink {
  #buffer = new Uint8Array(CHUNK);
  #filled = 0;
  #pending: Uint8Array[] = [];
  #gzip = new PythonGzipWriter((chunk) => this.#pending.push(chunk));
  #hash = createHash("sha256");
  #file: Deno.FsFile;
  offset = 0;
  size = 0;

  constructor(file: Deno.FsFile) {
    this.#file = file;
  }

  async write(bytes: Uint8Array): Promise<void> {
    this.offset += bytes.length;
    let at = 0;
    while (at < bytes.length) {
      const n = Math.min(bytes.length - at, CHUNK - this.#filled);
      this.#buffer.set(bytes.subarray(at, at + n), this.#filled);
      this.#filled += n;
      at += n;
      if (this.#filled === CHUNK) await this.#compress();
    }
  }

  async #compress(): Promise<void> {
    this.#gzip.write(this.#buffer.subarray(0, this.#filled));
    this.#filled = 0;
    await this.#drain();
  }

  async #drain(): Promise<void> {
    const chunks = this.#pending;
    this.#pending = [];
    for (const chunk of chunks) {
      this.#hash.update(chunk);
      this.size += chunk.length;
      for (let at = 0; at < chunk.length;) at += await this.#file.write(chunk.subarray(at));
    }
  }

  async finish(): Promise<string> {
    await this.#compress();
    this.#gzip.finish();
    await this.#drain();
    return this.#hash.digest("hex");
  }
}

/** Walks the project as `TarFile.add(dir, arcname, filter=…)` does and writes each member. */
class ProjectArchiver {
  #sink: ArchiveSink;
  #names = new AccountNames();
  #inodes = new Map<string, string>();
  #skipPath: string | undefined;
  #options: ProjectTarballOptions;
  members = 0;
  bytesRead = 0;
  fileHashes: Record<string, string> = {};

  constructor(sink: ArchiveSink, skipPath: string | undefined, options: ProjectTarballOptions) {
    this.#sink = sink;
    this.#skipPath = skipPath;
    this.#options = options;
  }

  async add(path: string, arcname: string): Promise<void> {
    this.#options.signal?.throwIfAborted();
    if (path === this.#skipPath) return;
    let info: Deno.FileInfo;
    try {
      info = await Deno.lstat(path);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound && path.includes("\uFFFD")) {
        throw new ExecutionException(`Cannot archive '${path}': its name is not valid UTF-8`);
      }
      throw e;
    }
    let type = memberType(info);
    if (type === undefined) return;
    let linkname = "";
    if (type === TAR_TYPE.file) {
      const inode = `${info.ino ?? 0}:${info.dev}`;
      const earlier = this.#inodes.get(inode);
      if ((info.nlink ?? 1) > 1 && earlier !== undefined && earlier !== arcname) {
        type = TAR_TYPE.hardlink;
        linkname = earlier;
      } else if ((info.ino ?? 0) !== 0) {
        this.#inodes.set(inode, arcname);
      }
    } else if (type === TAR_TYPE.symlink) {
      linkname = await Deno.readLink(path);
    }
    const base = arcname.slice(arcname.lastIndexOf("/") + 1);
    if (DB_TARFILE_EXCLUDED_NAMES.includes(base)) return;
    const uid = info.uid ?? 0;
    const gid = info.gid ?? 0;
    const size = type === TAR_TYPE.file ? info.size : 0;
    await this.#sink.write(memberHeader({
      name: arcname,
      type,
      mode: info.mode ?? 0,
      uid,
      gid,
      size,
      mtime: 0,
      linkname,
      uname: await this.#names.user(uid),
      gname: await this.#names.group(gid),
      ...(type === TAR_TYPE.charDevice || type === TAR_TYPE.blockDevice
        ? deviceNumbers(info.rdev ?? 0)
        : {}),
    }));
    this.members++;
    if (type === TAR_TYPE.file) await this.#copyData(path, size, arcname);
    this.#options.onProgress?.({ members: this.members, bytesRead: this.bytesRead });
    if (type === TAR_TYPE.dir) {
      const names: string[] = [];
      for await (const entry of Deno.readDir(path)) names.push(entry.name);
      names.sort(compareCodePoints);
      for (const name of names) await this.add(`${path}/${name}`, `${arcname}/${name}`);
    }
  }

  async #copyData(path: string, size: number, arcname: string): Promise<void> {
    using file = await Deno.open(path);
    const hash = this.#options.hashFiles?.has(arcname) ? createHash("sha256") : undefined;
    const buffer = new Uint8Array(Math.min(CHUNK, Math.max(size, 1)));
    let left = size;
    while (left > 0) {
      this.#options.signal?.throwIfAborted();
      const n = await file.read(buffer.subarray(0, Math.min(left, buffer.length)));
      if (n === null) {
        throw new ExecutionException(`File '${path}' shrank while it was archived`);
      }
      await this.#sink.write(buffer.subarray(0, n));
      hash?.update(buffer.subarray(0, n));
      left -= n;
      this.bytesRead += n;
    }
    await this.#sink.write(contentPadding(size));
    if (hash !== undefined) this.fileHashes[arcname] = hash.digest("hex");
  }
}

/**
 * Builds the project's archive as MLflow's Databricks backend does, byte for byte, and returns
 * where it is, its sha256 and size.
 *
 * Requires `--allow-read` (the project, `/etc/passwd`, `/etc/group`), `--allow-write` (the
 * output) and `--allow-run` (`getent`/`id` only for ids missing from those files).
 *
 * @param dir The project directory (MLflow's work dir; a symlink to it is resolved).
 * @param options Output path, progress callback, abort signal.
 * @returns The archive file, sha256 and size.
 * @throws {ExecutionException} When `dir` is not a directory or a file cannot be read.
 *
 * @example Archive a project and name its DBFS path
 * ```ts ignore
 * import { projectTarball } from "./project_tarball.ts";
 * const tarball = await projectTarball("examples/demo");
 * try {
 *   const dbfsPath = `mlflow-experiments/0/projects-code/${tarball.sha256}.tar.gz`;
 *   console.log(dbfsPath, tarball.size);
 * } finally {
 *   await Deno.remove(tarball.path);
 * }
 * ```
 */
export async function projectTarball(
  dir: string,
  options: ProjectTarballOptions = {},
): Promise<ProjectTarball> {
  let root: string;
  try {
    root = await Deno.realPath(dir);
    if (!(await Deno.stat(root)).isDirectory) throw new Deno.errors.NotADirectory(dir);
  } catch (e) {
    throw new ExecutionException(
      `Cannot archive project directory '${dir}': ${e instanceof Error ? e.message : e}`,
    );
  }
  const path = options.outputPath ??
    await Deno.makeTempFile({ prefix: "mlflow-project-", suffix: ".tar.gz" });
  let skipPath: string | undefined;
  try {
    using file = await Deno.open(path, { write: true, create: true, truncate: true });
    skipPath = await Deno.realPath(path);
    const sink = new ArchiveSink(file);
    const archiver = new ProjectArchiver(sink, skipPath, options);
    try {
      await archiver.add(root, DB_TARFILE_ARCHIVE_NAME);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.PermissionDenied) {
        throw new ExecutionException(`Cannot archive project '${dir}': ${e.message}`);
      }
      throw e;
    }
    await sink.write(archiveEnd(sink.offset));
    const sha256 = await sink.finish();
    return {
      path,
      sha256,
      size: sink.size,
      members: archiver.members,
      fileHashes: archiver.fileHashes,
    };
  } catch (e) {
    await Deno.remove(path).catch(() => {});
    throw e;
  }
}
