/**
 * DBFS through the workspace's REST API: `get-status` (does a file exist), `put` (one request,
 * base64 contents, up to 1 MB) and the streaming `create` / `add-block` (1 MB of data per block) /
 * `close`, which uploads a file of any size while reading it a block at a time.
 *
 * @module
 */
import { ExecutionException } from "../system/errors.ts";
import type { WorkspaceClient } from "./workspace_client.ts";

/** Most bytes of one `put` or `add-block` (DBFS's limit: 1 MB of data). */
export const DBFS_BLOCK_BYTES = 1024 * 1024;

/** A file's status. */
export interface DbfsFileStatus {
  /** Absolute DBFS path (`/mlflow-experiments/…`). */
  readonly path: string;
  /** Whether it is a directory. */
  readonly isDir: boolean;
  /** Size in bytes. */
  readonly fileSize: number;
}

/** Progress of an upload. */
export interface UploadProgress {
  /** Bytes sent so far. */
  readonly sent: number;
  /** Total bytes. */
  readonly total: number;
}

function base64(bytes: Uint8Array): string {
  let binary = "";
  const chunk = 0x8000;
  for (let i = 0; i < bytes.length; i += chunk) {
    binary += String.fromCharCode(...bytes.subarray(i, i + chunk));
  }
  return btoa(binary);
}

/** DBFS of one workspace. */
export class DbfsClient {
  readonly #ws: WorkspaceClient;

  /**
   * Uses a workspace's API.
   *
   * @example
   * ```ts ignore
   * const dbfs = new DbfsClient(openWorkspace("databricks"));
   * ```
   */
  constructor(workspace: WorkspaceClient) {
    this.#ws = workspace;
  }

  /**
   * The status of a path, or `undefined` when nothing is there (`RESOURCE_DOES_NOT_EXIST`).
   * Any other answer fails with MLflow's messages.
   *
   * @param path Absolute DBFS path without `dbfs:` (`/mlflow-experiments/1/…`).
   * @param options Abort signal.
   * @returns The status, or `undefined`.
   * @throws {ExecutionException} For another error code; also for an answer
   *   that is not JSON.
   */
  async getStatus(
    path: string,
    options: { signal?: AbortSignal } = {},
  ): Promise<DbfsFileStatus | undefined> {
    const response = await this.#ws.raw("GET", "/api/2.0/dbfs/get-status", { path }, options);
    const text = await response.text();
    const relative = path.replace(/^\//, "");
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new ExecutionException(
        `API request to check existence of file at DBFS path ${relative} failed with status code ${response.status}. Response body: ${text}`,
      );
    }
    if (typeof body !== "object" || body === null || Array.isArray(body)) {
      throw new ExecutionException(
        `API request to check existence of file at DBFS path ${relative} failed with status code ${response.status}. Response body: ${text}`,
      );
    }
    const obj = body as Record<string, unknown>;
    if ("error_code" in obj) {
      if (obj.error_code === "RESOURCE_DOES_NOT_EXIST") return undefined;
      throw new ExecutionException(
        `Got unexpected error response when checking whether file ${relative} exists in DBFS: ${text.trim()}`,
      );
    }
    if (response.status !== 200) {
      throw new ExecutionException(
        `API request to check existence of file at DBFS path ${relative} failed with status code ${response.status}. Response body: ${text}`,
      );
    }
    return {
      path: String(obj.path ?? path),
      isDir: obj.is_dir === true,
      fileSize: Number(obj.file_size ?? 0),
    };
  }

  /**
   * Uploads bytes: one `put` when they fit in a block, else `create` / `add-block` / `close`.
   * An existing file is not overwritten: a concurrent upload of the same content-addressed
   * file (`RESOURCE_ALREADY_EXISTS`) counts as done.
   *
   * @param path Absolute DBFS path.
   * @param data The bytes, or a reader of `size` bytes (read a block at a time).
   * @param options `onProgress` after each block; abort signal.
   * @returns `uploaded` (`false` when another client had already written the file) and the
   *   number of requests sent.
   * @throws {ExecutionException} For an error answer.
   */
  async upload(
    path: string,
    data: Uint8Array | { size: number; read: (into: Uint8Array) => Promise<number | null> },
    options: { onProgress?: (p: UploadProgress) => void; signal?: AbortSignal } = {},
  ): Promise<{ uploaded: boolean; requests: number }> {
    const total = data instanceof Uint8Array ? data.length : data.size;
    const signal = options.signal !== undefined ? { signal: options.signal } : {};
    const alreadyThere = (e: unknown) =>
      e instanceof ExecutionException && /^RESOURCE_ALREADY_EXISTS:/.test(e.message);
    if (total <= DBFS_BLOCK_BYTES) {
      const bytes = data instanceof Uint8Array ? data : await readAll(data, total);
      try {
        await this.#ws.post("/api/2.0/dbfs/put", {
          path,
          contents: base64(bytes),
          overwrite: false,
        }, signal);
      } catch (e) {
        if (alreadyThere(e)) return { uploaded: false, requests: 1 };
        throw e;
      }
      options.onProgress?.({ sent: total, total });
      return { uploaded: true, requests: 1 };
    }
    let created: Record<string, unknown>;
    try {
      created = await this.#ws.post("/api/2.0/dbfs/create", { path, overwrite: false }, signal);
    } catch (e) {
      if (alreadyThere(e)) return { uploaded: false, requests: 1 };
      throw e;
    }
    const handle = created.handle;
    if (typeof handle !== "number" && typeof handle !== "string") {
      throw new ExecutionException(
        `DBFS create of ${path} answered without a handle: ${JSON.stringify(created)}`,
      );
    }
    let requests = 1;
    let sent = 0;
    const block = new Uint8Array(DBFS_BLOCK_BYTES);
    while (sent < total) {
      const n = data instanceof Uint8Array
        ? (block.set(data.subarray(sent, sent + DBFS_BLOCK_BYTES)),
          Math.min(DBFS_BLOCK_BYTES, total - sent))
        : await fill(data, block, Math.min(DBFS_BLOCK_BYTES, total - sent));
      await this.#ws.post("/api/2.0/dbfs/add-block", {
        handle,
        data: base64(block.subarray(0, n)),
      }, signal);
      requests++;
      sent += n;
      options.onProgress?.({ sent, total });
    }
    await this.#ws.post("/api/2.0/dbfs/close", { handle }, signal);
    requests++;
    return { uploaded: true, requests };
  }
}

async function fill(
  reader: { read: (into: Uint8Array) => Promise<number | null> },
  block: Uint8Array,
  want: number,
): Promise<number> {
  let got = 0;
  while (got < want) {
    const n = await reader.read(block.subarray(got, want));
    if (n === null) break;
    got += n;
  }
  if (got < want) throw new ExecutionException("The project tarball ended before its size");
  return got;
}

async function readAll(
  reader: { read: (into: Uint8Array) => Promise<number | null> },
  size: number,
): Promise<Uint8Array> {
  const out = new Uint8Array(size);
  await fill(reader, out, size);
  return out;
}
