/**
 * The build context of a `--build-image` run: the project directory minus what its
 * `.dockerignore` excludes, hashed by content and streamed as a tar to `docker build -` (nothing
 * is copied to a temporary directory).
 *
 * Archive layout: `Dockerfile.mlproject` (generated) and the project under `project/`.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { escapeForMessage, ExecutionException } from "../system/errors.ts";
import { normalize } from "../system/paths.ts";
import { readDockerignore } from "./dockerignore.ts";
import { IMAGE_WORKDIR } from "./_image_workdir.ts";
import {
  BLOCK_SIZE,
  contentPadding,
  memberHeader,
  TAR_TYPE,
  type TarMember,
} from "../system/tar_header.ts";

/** One member of the context (a path relative to the project directory). */
export interface ContextEntry {
  /** `/`-separated path relative to the project directory. */
  path: string;
  /** Entry type. */
  kind: "file" | "dir" | "symlink";
  /** Permission bits. */
  mode: number;
  /** Size in bytes (files). */
  size: number;
  /** Modification time in seconds. */
  mtime: number;
  /** Symlink target. */
  target?: string;
  /** sha256 of the content (files), hex. */
  sha256?: string;
}

/** A scanned build context. */
export interface BuildContext {
  /** The project directory. */
  dir: string;
  /** Entries in archive order (parents before children, names sorted). */
  entries: ContextEntry[];
  /** Paths `.dockerignore` excluded (directories skipped whole count once). */
  excludedCount: number;
  /** Total bytes of the files in the context. */
  bytes: number;
}

/** Where the project goes inside the archive, and the generated Dockerfile's name. */
export const CONTEXT_PROJECT_DIR = "project";
/** Name of the generated Dockerfile inside the archive. */
export const CONTEXT_DOCKERFILE = "Dockerfile.mlproject";
export { IMAGE_WORKDIR };

/**
 * The generated Dockerfile: `FROM <base>`, the project copied to `/mlflow/projects/code/`, which
 * is the working directory (MLflow's layout).
 *
 * @param baseImage The `docker_env.image`.
 * @returns The Dockerfile text.
 *
 * @example
 * ```ts
 * import { generatedDockerfile } from "./build_context.ts";
 * console.assert(generatedDockerfile("python:3.12").startsWith("FROM python:3.12\n"));
 * ```
 */
export function generatedDockerfile(baseImage: string): string {
  return `FROM ${baseImage}\nCOPY ${CONTEXT_PROJECT_DIR}/ ${IMAGE_WORKDIR}\nWORKDIR ${IMAGE_WORKDIR}\n`;
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  const file = await Deno.open(path, { read: true });
  for await (const chunk of file.readable) hash.update(chunk);
  return hash.digest("hex");
}

function byName(a: Deno.DirEntry, b: Deno.DirEntry): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/**
 * Walks a project directory with its `.dockerignore` and hashes every file's content.
 * Sockets, FIFOs and devices are left out; symlinks are kept as links.
 *
 * @param dir The project directory.
 * @param options `excludePaths`: absolute paths also left out when they are inside `dir` (the
 *   run's own tracking store and artifacts, which change on every run).
 * @returns The context's entries.
 * @throws {ExecutionException} When the directory or a file cannot be read, or
 *   `.dockerignore` has a bad pattern.
 *
 * @example
 * ```ts
 * import { scanBuildContext } from "./build_context.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/a.txt`, "a");
 * await Deno.writeTextFile(`${dir}/.dockerignore`, "*.log\n");
 * await Deno.writeTextFile(`${dir}/b.log`, "b");
 * const ctx = await scanBuildContext(dir);
 * console.assert(ctx.entries.map((e) => e.path).join() === ".dockerignore,a.txt");
 * ```
 */
export async function scanBuildContext(
  dir: string,
  options: { excludePaths?: readonly string[] } = {},
): Promise<BuildContext> {
  const root = dir.replace(/(.)\/+$/, "$1");
  const matcher = await readDockerignore(root);
  const skip = new Set(
    (options.excludePaths ?? []).map((p) => normalize(p)).filter((p) => p.startsWith(root + "/"))
      .map((p) => p.slice(root.length + 1)),
  );
  const entries: ContextEntry[] = [];
  let excludedCount = 0;
  let bytes = 0;
  const fail = (path: string, e: unknown): never => {
    throw new ExecutionException(
      `Cannot read '${escapeForMessage(path)}' for the docker build context: ${
        e instanceof Error ? e.message : e
      }`,
    );
  };
  const walk = async (rel: string): Promise<void> => {
    const abs = rel === "" ? root : `${root}/${rel}`;
    let children: Deno.DirEntry[];
    try {
      children = await Array.fromAsync(Deno.readDir(abs));
    } catch (e) {
      return fail(abs, e);
    }
    for (const child of children.sort(byName)) {
      const path = rel === "" ? child.name : `${rel}/${child.name}`;
      const full = `${root}/${path}`;
      const excluded = skip.has(path) || matcher.excludes(path);
      let info: Deno.FileInfo;
      try {
        info = await Deno.lstat(full);
      } catch (e) {
        return fail(full, e);
      }
      const base = {
        path,
        mode: (info.mode ?? 0o644) & 0o7777,
        mtime: Math.floor((info.mtime?.getTime() ?? 0) / 1000),
      };
      if (info.isDirectory) {
        if (excluded) {
          excludedCount++;
          if (skip.has(path) || !matcher.mayReinclude(path)) continue;
        } else entries.push({ ...base, kind: "dir", size: 0 });
        await walk(path);
        continue;
      }
      if (excluded) {
        excludedCount++;
        continue;
      }
      if (info.isSymlink) {
        let target: string;
        try {
          target = await Deno.readLink(full);
        } catch (e) {
          return fail(full, e);
        }
        entries.push({ ...base, kind: "symlink", size: 0, target });
      } else if (info.isFile) {
        let sha256: string;
        try {
          sha256 = await sha256File(full);
        } catch (e) {
          return fail(full, e);
        }
        entries.push({ ...base, kind: "file", size: info.size, sha256 });
        bytes += info.size;
      }
    }
  };
  await walk("");
  return { dir: root, entries, excludedCount, bytes };
}

/**
 * The content hash of a context and its Dockerfile: paths, types, permission bits, link targets
 * and file contents (not times or owners).
 *
 * @param context A scanned context.
 * @param dockerfile The generated Dockerfile.
 * @returns 64 hex digits.
 *
 * @example
 * ```ts
 * import { contextHash } from "./build_context.ts";
 * const h = contextHash({ dir: "/p", entries: [], excludedCount: 0, bytes: 0 }, "FROM x\n");
 * console.assert(/^[0-9a-f]{64}$/.test(h));
 * ```
 */
export function contextHash(context: BuildContext, dockerfile: string): string {
  const hash = createHash("sha256");
  hash.update(`mlproject docker context v1\0${dockerfile}\0`);
  for (const e of context.entries) {
    const what = e.kind === "file"
      ? `${e.size}:${e.sha256}`
      : e.kind === "symlink"
      ? `${e.target}`
      : "";
    hash.update(`${e.kind}\0${e.path}\0${e.mode.toString(8)}\0${what}\n`);
  }
  return hash.digest("hex");
}

/** What {@linkcode contextTar} found while streaming. */
export interface TarStreamReport {
  /** Paths whose content or size changed since the scan. */
  changed: string[];
}

/**
 * Streams the context as a tar: the generated Dockerfile, then the project under `project/`.
 * Files are read as they are sent; a file that changed since the scan is sent as scanned in
 * size terms (its change is listed in `report.changed`, so the caller can refuse the image).
 *
 * @param context A scanned context.
 * @param dockerfile The generated Dockerfile.
 * @param report Receives the paths that changed while streaming.
 * @returns The archive's bytes, chunk by chunk.
 *
 * @example
 * ```ts
 * import { contextTar, scanBuildContext } from "./build_context.ts";
 * const ctx = await scanBuildContext(await Deno.makeTempDir());
 * let n = 0;
 * for await (const chunk of contextTar(ctx, "FROM x\n", { changed: [] })) n += chunk.length;
 * console.assert(n % 512 === 0);
 * ```
 */
export async function* contextTar(
  context: BuildContext,
  dockerfile: string,
  report: TarStreamReport,
): AsyncGenerator<Uint8Array> {
  const now = Math.floor(Date.now() / 1000);
  const df = new TextEncoder().encode(dockerfile);
  yield header({
    name: CONTEXT_DOCKERFILE,
    type: TAR_TYPE.file,
    mode: 0o644,
    size: df.length,
    mtime: now,
  });
  yield df;
  yield contentPadding(df.length);
  yield header({ name: CONTEXT_PROJECT_DIR, type: TAR_TYPE.dir, mode: 0o755, size: 0, mtime: now });
  for (const e of context.entries) {
    yield header({
      name: `${CONTEXT_PROJECT_DIR}/${e.path}`,
      type: TAR_TYPE[e.kind],
      mode: e.mode,
      size: e.kind === "file" ? e.size : 0,
      mtime: e.mtime,
      linkname: e.target ?? "",
    });
    if (e.kind !== "file") continue;
    const hash = createHash("sha256");
    let sent = 0;
    const file = await Deno.open(`${context.dir}/${e.path}`, { read: true });
    try {
      for await (const chunk of file.readable) {
        const part = chunk.subarray(0, Math.max(0, e.size - sent));
        hash.update(chunk);
        if (part.length > 0) yield part;
        sent += part.length;
      }
    } catch (err) {
      report.changed.push(e.path);
      throw err;
    }
    if (sent < e.size) yield new Uint8Array(e.size - sent);
    if (hash.digest("hex") !== e.sha256) report.changed.push(e.path);
    yield contentPadding(e.size);
  }
  yield new Uint8Array(2 * BLOCK_SIZE);
}

/** A context member's header blocks: owned by root, as `docker build` gets them from the CLI. */
function header(
  member: Omit<TarMember, "uid" | "gid" | "uname" | "gname" | "linkname"> & { linkname?: string },
): Uint8Array {
  return memberHeader({ linkname: "", ...member, uid: 0, gid: 0, uname: "root", gname: "root" });
}
