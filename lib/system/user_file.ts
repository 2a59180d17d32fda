/**
 * Reading files a user or a project hands us (MLproject, environment files, requirements,
 * `--env-file`, backend config): only regular files, at most {@linkcode USER_FILE_MAX_BYTES},
 * strict UTF-8. The path is checked before it is opened and the open file again, so a FIFO, a
 * device such as `/dev/zero` or a socket is refused at once instead of blocking or growing forever,
 * and no read can outlast a signal by more than the time one capped read takes. (Deno's own file
 * API is used: `node:fs`, which could open with `O_NONBLOCK`, costs ~40 ms of start-up; a FIFO
 * swapped in between the check and the open is the one case left that could block.)
 *
 * @module
 */
import { escapeForMessage, ExecutionException, UsageError } from "./errors.ts";
import { osErrorReason } from "./file_checks.ts";

/** Largest file read by {@linkcode readUserFileSync} (10 MiB). */
export const USER_FILE_MAX_BYTES = 10 * 1024 * 1024;

/** Options of {@linkcode readUserFileSync} and {@linkcode readUserFile}. */
export interface ReadUserFileOptions {
  /** What the file is, for messages (`MLproject file`, `environment file`, ...). */
  label?: string;
  /** Size limit in bytes (default {@linkcode USER_FILE_MAX_BYTES}). */
  maxBytes?: number;
  /** Throw `UsageError` (exit 2) instead of `ExecutionException` (exit 1): for CLI options. */
  usage?: boolean;
  /** How the path is shown (default the path itself). */
  shownAs?: string;
}

/** Raised when a user file cannot be read; `reason` is the part after the file name. */
export interface UserFileError extends Error {
  /** The problem alone, e.g. `it is a FIFO, not a regular file`. */
  readonly reason: string;
  /** Exit code of the CLI. */
  readonly exitCode: number;
}

const CHUNK = 64 * 1024;

function kindOf(stat: Deno.FileInfo): string {
  if (stat.isFifo) return "a FIFO";
  if (stat.isCharDevice) return "a character device";
  if (stat.isBlockDevice) return "a block device";
  if (stat.isSocket) return "a socket";
  if (stat.isDirectory) return "a directory";
  return "not a regular file";
}

/**
 * Formats a byte count the way the limits are documented (`10 MiB`, `128 KiB`, `512 bytes`).
 *
 * @param bytes The size.
 * @returns The text.
 *
 * @example
 * ```ts
 * import { formatBytes } from "./user_file.ts";
 * console.assert(formatBytes(10 * 1024 * 1024) === "10 MiB");
 * ```
 */
export function formatBytes(bytes: number): string {
  if (bytes >= 1024 * 1024 && bytes % (1024 * 1024) === 0) return `${bytes / 1024 / 1024} MiB`;
  if (bytes >= 1024 && bytes % 1024 === 0) return `${bytes / 1024} KiB`;
  return `${bytes} bytes`;
}

function osReason(e: unknown): string {
  const known = osErrorReason(e);
  if (known !== undefined) return known;
  const message = e instanceof Error ? e.message : String(e);
  // Deno's messages end with "(os error N): op 'path'"; the path is named by the caller.
  return message.replace(/\s*\(os error \d+\).*$/s, "").replace(/,?\s*(open|stat|read)\s+'.*$/s, "")
    .toLowerCase();
}

function isUserFileError(e: unknown): e is UserFileError {
  return e instanceof Error && typeof (e as Partial<UserFileError>).reason === "string";
}

function fail(path: string, reason: string, options: ReadUserFileOptions): UserFileError {
  const label = options.label ?? "file";
  const message = `Cannot read ${label} '${escapeForMessage(options.shownAs ?? path)}': ${reason}`;
  const e = options.usage ? new UsageError(message) : new ExecutionException(message);
  return Object.assign(e, { reason });
}

/**
 * Returns the offset of the first byte that is not valid UTF-8, or `-1` when all are.
 *
 * @param bytes The bytes.
 * @returns The offset, or `-1`.
 *
 * @example
 * ```ts
 * import { invalidUtf8Offset } from "./user_file.ts";
 * console.assert(invalidUtf8Offset(new Uint8Array([0x61, 0xff])) === 1);
 * console.assert(invalidUtf8Offset(new TextEncoder().encode("héllo")) === -1);
 * ```
 */
export function invalidUtf8Offset(bytes: Uint8Array): number {
  let i = 0;
  const n = bytes.length;
  while (i < n) {
    const b = bytes[i]!;
    if (b < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let min: number;
    let max = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) [need, min] = [1, 0x80];
    else if (b === 0xe0) [need, min] = [2, 0xa0];
    else if (b >= 0xe1 && b <= 0xef) {
      [need, min] = [2, 0x80];
      if (b === 0xed) max = 0x9f; // no surrogates
    } else if (b === 0xf0) [need, min] = [3, 0x90];
    else if (b >= 0xf1 && b <= 0xf3) [need, min] = [3, 0x80];
    else if (b === 0xf4) [need, min, max] = [3, 0x80, 0x8f];
    else return i;
    const second = bytes[i + 1];
    if (second === undefined || second < min || second > max) return i;
    for (let k = 2; k <= need; k++) {
      const c = bytes[i + k];
      if (c === undefined || c < 0x80 || c > 0xbf) return i;
    }
    i += need + 1;
  }
  return -1;
}

function decode(path: string, bytes: Uint8Array, options: ReadUserFileOptions): string {
  const bad = invalidUtf8Offset(bytes);
  if (bad !== -1) {
    throw fail(
      path,
      `it is not valid UTF-8 (byte 0x${
        bytes[bad]!.toString(16).padStart(2, "0")
      } at offset ${bad})`,
      options,
    );
  }
  return new TextDecoder().decode(bytes);
}

function checkStat(
  path: string,
  stat: Deno.FileInfo,
  max: number,
  options: ReadUserFileOptions,
): void {
  if (!stat.isFile) throw fail(path, `it is ${kindOf(stat)}, not a regular file`, options);
  if (stat.size > max) {
    throw fail(
      path,
      `it is ${stat.size} bytes, over the ${formatBytes(max)} limit for this kind of file`,
      options,
    );
  }
}

function tooBig(path: string, max: number, options: ReadUserFileOptions): UserFileError {
  return fail(path, `it is over the ${formatBytes(max)} limit for this kind of file`, options);
}

/** The chunks read so far from one file: the size limit is checked on each one. */
class Chunks {
  readonly #chunks: Uint8Array[] = [];
  #total = 0;
  constructor(
    readonly path: string,
    readonly max: number,
    readonly options: ReadUserFileOptions,
  ) {}

  /** Keeps the first `n` bytes of `buf`; throws once the file is over the limit. */
  add(buf: Uint8Array, n: number): void {
    this.#total += n;
    if (this.#total > this.max) throw tooBig(this.path, this.max, this.options);
    this.#chunks.push(buf.subarray(0, n));
  }

  /** The whole file as strict UTF-8 text. */
  text(): string {
    const out = new Uint8Array(this.#total);
    let at = 0;
    for (const c of this.#chunks) {
      out.set(c, at);
      at += c.length;
    }
    return decode(this.path, out, this.options);
  }
}

/**
 * Reads a user-supplied text file synchronously, refusing anything but a regular file of at most
 * `maxBytes` (files such as `/proc/*` that report size 0 are capped while reading) and text that
 * is not UTF-8 (the message gives the byte offset). The open cannot block (`O_NONBLOCK`), so a
 * FIFO never waits for a writer.
 *
 * @param path The file.
 * @param options Label for messages, size limit, usage-error flavour.
 * @returns The text (a leading BOM removed).
 * @throws {ExecutionException} (or `UsageError` with `usage: true`) naming the file and the problem.
 *
 * @example
 * ```ts
 * import { readUserFileSync } from "./user_file.ts";
 * try {
 *   readUserFileSync("/dev/zero", { label: "MLproject file" });
 * } catch (e) {
 *   console.assert(String(e).includes("not a regular file"));
 * }
 * ```
 */
export function readUserFileSync(path: string, options: ReadUserFileOptions = {}): string {
  const max = options.maxBytes ?? USER_FILE_MAX_BYTES;
  let file: Deno.FsFile;
  try {
    checkStat(path, Deno.statSync(path), max, options);
    file = Deno.openSync(path, { read: true });
  } catch (e) {
    if (isUserFileError(e)) throw e;
    throw fail(path, osReason(e), options);
  }
  try {
    checkStat(path, file.statSync(), max, options);
    const chunks = new Chunks(path, max, options);
    for (;;) {
      const buf = new Uint8Array(CHUNK);
      let n: number | null;
      try {
        n = file.readSync(buf);
      } catch (e) {
        throw fail(path, osReason(e), options);
      }
      if (n === null || n === 0) break;
      chunks.add(buf, n);
    }
    return chunks.text();
  } finally {
    file.close();
  }
}

/**
 * Reads a user-supplied text file like {@linkcode readUserFileSync}, without blocking the event
 * loop while reading.
 *
 * @param path The file.
 * @param options Label for messages, size limit, usage-error flavour.
 * @returns The text.
 * @throws {ExecutionException} (or `UsageError`) naming the file and the problem.
 *
 * @example
 * ```ts
 * import { readUserFile } from "./user_file.ts";
 * const text = await readUserFile("deno.json", { label: "config file" });
 * console.assert(text.startsWith("{"));
 * ```
 */
export async function readUserFile(
  path: string,
  options: ReadUserFileOptions = {},
): Promise<string> {
  const max = options.maxBytes ?? USER_FILE_MAX_BYTES;
  let file: Deno.FsFile;
  try {
    checkStat(path, await Deno.stat(path), max, options);
    file = await Deno.open(path, { read: true });
  } catch (e) {
    if (isUserFileError(e)) throw e;
    throw fail(path, osReason(e), options);
  }
  try {
    checkStat(path, await file.stat(), max, options);
    const chunks = new Chunks(path, max, options);
    for (;;) {
      const buf = new Uint8Array(CHUNK);
      let n: number | null;
      try {
        n = await file.read(buf);
      } catch (e) {
        throw fail(path, osReason(e), options);
      }
      if (n === null || n === 0) break;
      chunks.add(buf, n);
    }
    return chunks.text();
  } finally {
    file.close();
  }
}
