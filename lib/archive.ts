/**
 * Safe unpacking of project archives (`.zip`, `.tar`, `.tar.gz`/`.tgz`), read in TypeScript
 * (no `unzip`/`tar` process): every entry is checked before anything is written. Entries that
 * would land outside the target (`../`, absolute paths, symlinks or hard links pointing out,
 * writes through a symlink) are refused, symlinks are created only after every file, and the
 * total size is capped (declared sizes are checked up front for zip, and the bytes actually
 * inflated are counted so a lying header cannot exceed them).
 *
 * @module
 */
import { ExecutionException } from "./errors.ts";
import { createGunzip, createInflateRaw } from "node:zlib";
import { pipeline, Readable } from "node:stream";
import { join, normalize } from "./paths.ts";
export { archiveKind } from "./archive_kind.ts";

/** Options of {@linkcode extractArchive}. */
export interface ExtractOptions {
  /** Refuse archives whose content is larger than this many bytes (default 2 GiB). */
  maxBytes?: number;
  /** Refuse archives with more entries than this (default 100 000). */
  maxEntries?: number;
  /** Name used in messages (default the file path). */
  displayName?: string;
}

/** Default cap on the unpacked size of an archive: 2 GiB. */
export const DEFAULT_MAX_ARCHIVE_BYTES = 2 * 1024 ** 3;

type EntryKind = "file" | "dir" | "symlink" | "hardlink";

interface Extractor {
  root: string;
  name: string;
  maxBytes: number;
  maxEntries: number;
  total: number;
  entries: number;
  files: Set<string>;
  symlinks: Map<string, string>;
}

/**
 * An entry name as it appears in a message: one line (control characters escaped), and long
 * names shortened around an ellipsis.
 */
function showName(name: string): string {
  const oneLine = name.replace(
    // deno-lint-ignore no-control-regex
    /[\x00-\x1f\x7f]/g,
    (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`,
  );
  return oneLine.length <= 200 ? oneLine : `${oneLine.slice(0, 100)}…${oneLine.slice(-60)}`;
}

function refuse(x: Extractor, entry: string, why: string): never {
  throw new ExecutionException(
    `Archive ${x.name} has an unsafe entry '${showName(entry)}': ${why}`,
  );
}

/** Longest file name (one path component) Linux and macOS file systems take, in bytes. */
const NAME_MAX = 255;
/** Longest path the kernel takes, in bytes. */
const PATH_MAX = 4095;
const encoder = new TextEncoder();

function checkNameLengths(x: Extractor, raw: string, rel: string): void {
  for (const part of rel.split("/")) {
    const bytes = encoder.encode(part).length;
    if (bytes > NAME_MAX) {
      throw new ExecutionException(
        `Archive ${x.name} has an entry '${
          showName(raw)
        }' whose name has a component of ${bytes} bytes; file names are limited to ${NAME_MAX} bytes`,
      );
    }
  }
  const total = encoder.encode(join(x.root, rel)).length;
  if (total > PATH_MAX) {
    throw new ExecutionException(
      `Archive ${x.name} has an entry '${
        showName(raw)
      }' whose path would be ${total} bytes long once unpacked; paths are limited to ${PATH_MAX} bytes`,
    );
  }
}

/** The normalized relative path of an entry, or `undefined` for the root itself. */
function entryPath(x: Extractor, raw: string): string | undefined {
  if (raw.includes("\0")) refuse(x, raw, "its name contains a NUL byte");
  if (raw.startsWith("/")) refuse(x, raw, "absolute paths are not allowed");
  const norm = normalize(raw);
  if (norm === ".." || norm.startsWith("../")) {
    refuse(x, raw, "it would be written outside the target directory");
  }
  if (norm === ".") return undefined;
  checkNameLengths(x, raw, norm);
  return norm;
}

function countEntry(x: Extractor, size: number, raw: string): void {
  x.entries++;
  if (x.entries > x.maxEntries) {
    throw new ExecutionException(
      `Archive ${x.name} has more than ${x.maxEntries} entries; refusing to unpack it`,
    );
  }
  x.total += size;
  if (!Number.isFinite(size) || size < 0 || x.total > x.maxBytes) {
    throw new ExecutionException(
      `Archive ${x.name} is too large: '${raw}' brings its content past the limit of ${x.maxBytes} bytes`,
    );
  }
}

async function prepareParent(x: Extractor, rel: string, raw: string): Promise<string> {
  const parts = rel.split("/");
  let current = x.root;
  for (let i = 0; i < parts.length - 1; i++) {
    const sub = parts.slice(0, i + 1).join("/");
    if (x.symlinks.has(sub)) refuse(x, raw, `it would be written through the symlink '${sub}'`);
    current = join(current, parts[i]!);
    let info: Deno.FileInfo | undefined;
    try {
      info = await Deno.lstat(current);
    } catch {
      await Deno.mkdir(current);
      continue;
    }
    if (!info.isDirectory) refuse(x, raw, `'${sub}' is not a directory`);
  }
  if (x.symlinks.has(rel)) refuse(x, raw, "a symlink of the same name comes first");
  return join(x.root, rel);
}

function checkLinkTarget(x: Extractor, rel: string, target: string, raw: string): void {
  if (target === "" || target.startsWith("/") || target.includes("\0")) {
    refuse(x, raw, `the symlink target '${target}' is not a relative path inside the archive`);
  }
  // Only leading `..` are allowed, and no more than the link's depth: a `..` after another
  // segment could follow a symlink and climb out of the target.
  const segments = target.split("/").filter((s) => s !== "" && s !== ".");
  let ups = 0;
  while (ups < segments.length && segments[ups] === "..") ups++;
  const depth = rel.split("/").length - 1;
  if (segments.slice(ups).includes("..") || ups > depth) {
    refuse(x, raw, `the symlink target '${target}' points outside the target directory`);
  }
}

interface EntryInfo {
  size: number;
  mode?: number;
  link?: string;
  data?: () => AsyncIterable<Uint8Array>;
}

/** A file-system error while unpacking, as a one-line error naming the entry. */
function entryFailed(x: Extractor, raw: string, e: unknown): unknown {
  if (e instanceof ExecutionException || e instanceof RangeError || e instanceof TypeError) {
    return e;
  }
  const detail = e instanceof Error ? e.message : String(e);
  return new ExecutionException(
    `Archive ${x.name}: cannot unpack entry '${showName(raw)}': ${detail.split("\n")[0]}`,
  );
}

async function addEntry(x: Extractor, raw: string, kind: EntryKind, info: EntryInfo) {
  try {
    await addEntryUnchecked(x, raw, kind, info);
  } catch (e) {
    throw entryFailed(x, raw, e);
  }
}

async function addEntryUnchecked(
  x: Extractor,
  raw: string,
  kind: EntryKind,
  info: EntryInfo,
): Promise<void> {
  const rel = entryPath(x, raw);
  countEntry(x, kind === "file" ? info.size : 0, raw);
  if (rel === undefined) {
    if (kind === "dir") return;
    refuse(x, raw, "it names the target directory itself");
  }
  if (kind === "symlink") {
    checkLinkTarget(x, rel, info.link ?? "", raw);
    if (x.files.has(rel)) refuse(x, raw, "a file of the same name comes first");
    await prepareParent(x, rel, raw);
    x.symlinks.set(rel, info.link!);
    return;
  }
  const path = await prepareParent(x, rel, raw);
  if (kind === "dir") {
    try {
      if (!(await Deno.lstat(path)).isDirectory) {
        refuse(x, raw, "a file of the same name comes first");
      }
    } catch (e) {
      if (e instanceof ExecutionException) throw e;
      await Deno.mkdir(path);
    }
    return;
  }
  if (kind === "hardlink") {
    const link = info.link ?? "";
    const target = link.startsWith("/") ? undefined : normalize(link);
    if (target === undefined || !x.files.has(target)) {
      refuse(x, raw, `the hard link target '${info.link}' is not a file of the archive`);
    }
    await Deno.copyFile(join(x.root, target), path);
    x.files.add(rel);
    return;
  }
  const file = await Deno.open(path, { write: true, create: true, truncate: true });
  try {
    const data = info.data?.();
    const written = data === undefined ? 0 : await writeEntry(x, raw, data, file, info.size);
    if (written !== info.size) {
      throw new ExecutionException(
        `Archive ${x.name} is corrupt: '${raw}' holds ${written} bytes, less than its declared size ${info.size}`,
      );
    }
  } finally {
    file.close();
  }
  if (info.mode !== undefined && (info.mode & 0o111) !== 0) await Deno.chmod(path, 0o755);
  x.files.add(rel);
}

/** Bytes collected before each write: few large writes instead of many small ones. */
const WRITE_BUFFER_BYTES = 1 << 20;

async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  let off = 0;
  while (off < bytes.length) off += await file.write(bytes.subarray(off));
}

/**
 * Streams an entry's bytes to `file`, checking the declared size on every chunk, so a lying
 * header is caught after at most one chunk and memory never holds more than a chunk or two.
 */
async function writeEntry(
  x: Extractor,
  raw: string,
  data: AsyncIterable<Uint8Array>,
  file: Deno.FsFile,
  size: number,
): Promise<number> {
  const buffer = new Uint8Array(Math.min(WRITE_BUFFER_BYTES, Math.max(size, 1)));
  let filled = 0;
  let written = 0;
  for await (const chunk of data) {
    written += chunk.length;
    if (written > size) {
      throw new ExecutionException(
        `Archive ${x.name} is corrupt: '${raw}' is larger than its declared size ${size}`,
      );
    }
    if (filled === 0 && chunk.length >= buffer.length) {
      await writeAll(file, chunk);
      continue;
    }
    let at = 0;
    while (at < chunk.length) {
      const n = Math.min(buffer.length - filled, chunk.length - at);
      buffer.set(chunk.subarray(at, at + n), filled);
      filled += n;
      at += n;
      if (filled === buffer.length) {
        await writeAll(file, buffer);
        filled = 0;
      }
    }
  }
  if (filled > 0) await writeAll(file, buffer.subarray(0, filled));
  return written;
}

async function finish(x: Extractor): Promise<void> {
  for (const [rel, target] of x.symlinks) {
    const path = join(x.root, rel);
    try {
      await Deno.lstat(path);
      refuse(x, rel, "another entry of the same name exists");
    } catch (e) {
      if (e instanceof ExecutionException) throw e;
    }
    try {
      await Deno.symlink(target, path);
    } catch (e) {
      throw entryFailed(x, rel, e);
    }
  }
}

/** Size of the decompressor's output chunks. */
const INFLATE_CHUNK_BYTES = 64 * 1024;

/**
 * Decompresses a stream with `node:zlib`, whose output comes in small chunks allocated on the
 * JavaScript heap and respects backpressure. (Deno's `DecompressionStream` inflates each input
 * chunk into one output chunk outside the heap's accounting: deflated zeros grow ~1000-fold, so a
 * 1 MiB read became a 1 GiB chunk, and their garbage was collected too late.)
 */
async function* inflate(
  source: AsyncIterable<Uint8Array>,
  format: "gzip" | "deflate-raw",
): AsyncGenerator<Uint8Array> {
  const options = { chunkSize: INFLATE_CHUNK_BYTES };
  const inflater = format === "gzip" ? createGunzip(options) : createInflateRaw(options);
  const output = pipeline(Readable.from(source, { objectMode: false }), inflater, () => {});
  try {
    for await (const chunk of output as AsyncIterable<Uint8Array>) yield chunk;
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && code.startsWith("Z_")) {
      throw new RangeError(`corrupt compressed data (${e instanceof Error ? e.message : e})`);
    }
    throw e;
  } finally {
    inflater.destroy();
  }
}

/** All bytes of a short stream (a symlink target), refusing more than `limit`. */
async function collect(data: AsyncIterable<Uint8Array>, limit: number): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let length = 0;
  for await (const chunk of data) {
    length += chunk.length;
    if (length > limit) throw new RangeError(`more than ${limit} bytes where at most ${limit} fit`);
    parts.push(chunk);
  }
  const out = new Uint8Array(length);
  let at = 0;
  for (const part of parts) (out.set(part, at), at += part.length);
  return out;
}

// --- zip ---------------------------------------------------------------------------------------

async function readAt(file: Deno.FsFile, offset: number, length: number): Promise<Uint8Array> {
  const buf = new Uint8Array(length);
  await file.seek(offset, Deno.SeekMode.Start);
  let off = 0;
  while (off < length) {
    const n = await file.read(buf.subarray(off));
    if (n === null) throw new RangeError("unexpected end of file");
    off += n;
  }
  return buf;
}

/** Bytes read from a file per read call. */
const READ_CHUNK_BYTES = 1 << 20;

/** `length` bytes of `file` from `offset` (to the end of the file for `Infinity`). */
async function* fileRange(
  file: Deno.FsFile,
  offset: number,
  length: number,
): AsyncGenerator<Uint8Array> {
  let pos = 0;
  while (pos < length) {
    const buf = new Uint8Array(Math.min(READ_CHUNK_BYTES, length - pos));
    await file.seek(offset + pos, Deno.SeekMode.Start);
    const n = await file.read(buf);
    if (n === null) {
      if (length === Infinity) return;
      throw new RangeError("unexpected end of file");
    }
    pos += n;
    yield buf.subarray(0, n);
  }
}

interface ZipEntry {
  name: string;
  method: number;
  flags: number;
  compressedSize: number;
  size: number;
  offset: number;
  unixMode: number | undefined;
}

function u64(view: DataView, at: number): number {
  return Number(view.getBigUint64(at, true));
}

async function readZipDirectory(
  file: Deno.FsFile,
  fileSize: number,
  name: string,
): Promise<ZipEntry[]> {
  const bad = (why: string): never => {
    throw new ExecutionException(`Archive ${name} is not a valid zip file: ${why}`);
  };
  const tailLength = Math.min(fileSize, 65_557);
  const tail = await readAt(file, fileSize - tailLength, tailLength);
  const tv = new DataView(tail.buffer);
  let eocd = -1;
  for (let i = tailLength - 22; i >= 0; i--) {
    if (tv.getUint32(i, true) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd === -1) bad("no end of central directory");
  let count = tv.getUint16(eocd + 10, true);
  let cdSize = tv.getUint32(eocd + 12, true);
  let cdOffset = tv.getUint32(eocd + 16, true);
  if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
    const locator = fileSize - tailLength + eocd - 20;
    if (locator < 0) bad("missing zip64 locator");
    const loc = new DataView((await readAt(file, locator, 20)).buffer);
    if (loc.getUint32(0, true) !== 0x07064b50) bad("missing zip64 locator");
    const z = new DataView((await readAt(file, u64(loc, 8), 56)).buffer);
    if (z.getUint32(0, true) !== 0x06064b50) bad("missing zip64 end of central directory");
    count = u64(z, 32);
    cdSize = u64(z, 40);
    cdOffset = u64(z, 48);
  }
  if (cdOffset + cdSize > fileSize) bad("central directory beyond the end of the file");
  const cd = await readAt(file, cdOffset, cdSize);
  const v = new DataView(cd.buffer);
  const entries: ZipEntry[] = [];
  const decoder = new TextDecoder();
  let p = 0;
  for (let i = 0; i < count; i++) {
    if (p + 46 > cd.length || v.getUint32(p, true) !== 0x02014b50) bad("broken central directory");
    const madeBy = v.getUint16(p + 4, true);
    const flags = v.getUint16(p + 8, true);
    const method = v.getUint16(p + 10, true);
    let compressedSize = v.getUint32(p + 20, true);
    let size = v.getUint32(p + 24, true);
    const nameLength = v.getUint16(p + 28, true);
    const extraLength = v.getUint16(p + 30, true);
    const commentLength = v.getUint16(p + 32, true);
    const external = v.getUint32(p + 38, true);
    let offset = v.getUint32(p + 42, true);
    const entryName = decoder.decode(cd.subarray(p + 46, p + 46 + nameLength));
    let e = p + 46 + nameLength;
    const extraEnd = e + extraLength;
    while (e + 4 <= extraEnd) {
      const id = v.getUint16(e, true);
      const len = v.getUint16(e + 2, true);
      if (id === 0x0001) {
        let q = e + 4;
        if (size === 0xffffffff) (size = u64(v, q), q += 8);
        if (compressedSize === 0xffffffff) (compressedSize = u64(v, q), q += 8);
        if (offset === 0xffffffff) offset = u64(v, q);
      }
      e += 4 + len;
    }
    const unixMode = madeBy >> 8 === 3 ? (external >>> 16) : undefined;
    entries.push({ name: entryName, method, flags, compressedSize, size, offset, unixMode });
    p = extraEnd + commentLength;
  }
  return entries;
}

async function extractZip(x: Extractor, path: string): Promise<void> {
  const file = await Deno.open(path, { read: true });
  try {
    const { size: fileSize } = await file.stat();
    const entries = await readZipDirectory(file, fileSize, x.name);
    // Declared sizes first: a huge archive is refused before anything is written.
    const declared = entries.reduce((sum, e) => sum + e.size, 0);
    if (declared > x.maxBytes) {
      throw new ExecutionException(
        `Archive ${x.name} is too large: it declares ${declared} bytes of content, more than the limit of ${x.maxBytes} bytes`,
      );
    }
    if (entries.length > x.maxEntries) {
      throw new ExecutionException(
        `Archive ${x.name} has more than ${x.maxEntries} entries; refusing to unpack it`,
      );
    }
    for (const entry of entries) entryPath(x, entry.name);
    for (const entry of entries) {
      if ((entry.flags & 1) !== 0) {
        throw new ExecutionException(`Archive ${x.name} is encrypted ('${entry.name}')`);
      }
      if (entry.method !== 0 && entry.method !== 8) {
        throw new ExecutionException(
          `Archive ${x.name} uses an unsupported compression method ${entry.method} ('${entry.name}')`,
        );
      }
      const local = new DataView((await readAt(file, entry.offset, 30)).buffer);
      if (local.getUint32(0, true) !== 0x04034b50) {
        throw new ExecutionException(
          `Archive ${x.name} is not a valid zip file: broken entry '${entry.name}'`,
        );
      }
      const dataStart = entry.offset + 30 + local.getUint16(26, true) + local.getUint16(28, true);
      const data = () => {
        const raw = fileRange(file, dataStart, entry.compressedSize);
        return entry.method === 8 ? inflate(raw, "deflate-raw") : raw;
      };
      const type = (entry.unixMode ?? 0) & 0o170000;
      if (type === 0o120000) {
        if (entry.size > 4096) refuse(x, entry.name, "symlink target too long");
        const target = new TextDecoder().decode(await collect(data(), 4096));
        await addEntry(x, entry.name, "symlink", { size: 0, link: target });
      } else if (entry.name.endsWith("/") || type === 0o040000) {
        await addEntry(x, entry.name, "dir", { size: 0 });
      } else {
        await addEntry(x, entry.name, "file", {
          size: entry.size,
          ...(entry.unixMode !== undefined ? { mode: entry.unixMode } : {}),
          data,
        });
      }
    }
  } catch (e) {
    if (e instanceof RangeError || e instanceof TypeError) {
      throw new ExecutionException(`Archive ${x.name} is not a valid zip file: ${e.message}`);
    }
    throw e;
  } finally {
    file.close();
  }
}

// --- tar ---------------------------------------------------------------------------------------

class ByteReader {
  #reader: AsyncIterator<Uint8Array>;
  #buf: Uint8Array = new Uint8Array(0);
  constructor(source: AsyncIterable<Uint8Array>) {
    this.#reader = source[Symbol.asyncIterator]();
  }
  async #fill(n: number): Promise<boolean> {
    while (this.#buf.length < n) {
      const { value, done } = await this.#reader.next();
      if (done) return false;
      if (this.#buf.length === 0) {
        this.#buf = value;
        continue;
      }
      const next = new Uint8Array(this.#buf.length + value.length);
      next.set(this.#buf);
      next.set(value, this.#buf.length);
      this.#buf = next;
    }
    return true;
  }
  /** Exactly `n` bytes, or `null` at a clean end of stream. */
  async read(n: number): Promise<Uint8Array | null> {
    if (!(await this.#fill(n))) {
      if (this.#buf.length === 0) return null;
      throw new RangeError("unexpected end of archive");
    }
    const out = this.#buf.slice(0, n);
    this.#buf = this.#buf.subarray(n);
    return out;
  }
  /** Up to `n` bytes as a stream of chunks (at least one byte each). */
  async *chunks(n: number): AsyncGenerator<Uint8Array> {
    let left = n;
    while (left > 0) {
      if (this.#buf.length === 0 && !(await this.#fill(1))) {
        throw new RangeError("unexpected end of archive");
      }
      const take = Math.min(left, this.#buf.length);
      yield this.#buf.subarray(0, take);
      this.#buf = this.#buf.subarray(take);
      left -= take;
    }
  }
  async cancel(): Promise<void> {
    await this.#reader.return?.().catch(() => {});
  }
}

function cString(bytes: Uint8Array): string {
  const end = bytes.indexOf(0);
  return new TextDecoder().decode(end === -1 ? bytes : bytes.subarray(0, end));
}

function octal(bytes: Uint8Array): number {
  if ((bytes[0]! & 0x80) !== 0) {
    let n = bytes[0]! & 0x7f;
    for (let i = 1; i < bytes.length; i++) n = n * 256 + bytes[i]!;
    return n;
  }
  const text = cString(bytes).trim();
  return text === "" ? 0 : parseInt(text, 8);
}

function parsePax(data: Uint8Array): Map<string, string> {
  const out = new Map<string, string>();
  const text = new TextDecoder().decode(data);
  let p = 0;
  while (p < text.length) {
    const space = text.indexOf(" ", p);
    const len = parseInt(text.slice(p, space), 10);
    if (!(len > 0) || space === -1) break;
    const record = text.slice(space + 1, p + len - 1);
    const eq = record.indexOf("=");
    if (eq > 0) out.set(record.slice(0, eq), record.slice(eq + 1));
    p += len;
  }
  return out;
}

async function extractTar(x: Extractor, path: string): Promise<void> {
  const file = await Deno.open(path, { read: true });
  const magic = await readAt(file, 0, Math.min(6, (await file.stat()).size)).catch(() =>
    new Uint8Array()
  );
  if (magic[0] === 0x42 && magic[1] === 0x5a && magic[2] === 0x68) {
    file.close();
    throw new ExecutionException(`Archive ${x.name} is bzip2-compressed; use .tar.gz or .zip`);
  }
  const raw = fileRange(file, 0, Infinity);
  const reader = new ByteReader(
    magic[0] === 0x1f && magic[1] === 0x8b ? inflate(raw, "gzip") : raw,
  );
  try {
    let pax = new Map<string, string>();
    let longName: string | undefined;
    let longLink: string | undefined;
    while (true) {
      const header = await reader.read(512);
      if (header === null || header.every((b) => b === 0)) break;
      const sum = octal(header.subarray(148, 156));
      let check = 0;
      for (let i = 0; i < 512; i++) check += i >= 148 && i < 156 ? 32 : header[i]!;
      if (sum !== check) {
        throw new ExecutionException(
          `Archive ${x.name} is not a valid tar file: bad header checksum`,
        );
      }
      const type = String.fromCharCode(header[156]!);
      const prefix = cString(header.subarray(257, 263)).startsWith("ustar")
        ? cString(header.subarray(345, 500))
        : "";
      let name = longName ?? pax.get("path") ??
        (prefix !== ""
          ? `${prefix}/${cString(header.subarray(0, 100))}`
          : cString(header.subarray(0, 100)));
      const link = longLink ?? pax.get("linkpath") ?? cString(header.subarray(157, 257));
      const size = pax.has("size") ? Number(pax.get("size")) : octal(header.subarray(124, 136));
      const mode = octal(header.subarray(100, 108));
      if (!Number.isSafeInteger(size) || size < 0) {
        throw new ExecutionException(`Archive ${x.name} is not a valid tar file: bad size`);
      }
      const padded = Math.ceil(size / 512) * 512;
      if (type === "x" || type === "L" || type === "K") {
        if (size > 1 << 20) {
          throw new ExecutionException(`Archive ${x.name} has an oversized header`);
        }
        const data = (await reader.read(padded))!.subarray(0, size);
        if (type === "x") pax = parsePax(data);
        else if (type === "L") longName = cString(data);
        else longLink = cString(data);
        continue;
      }
      pax = new Map();
      longName = longLink = undefined;
      if (type === "g") {
        for await (const _ of reader.chunks(padded)) { /* skip global header */ }
        continue;
      }
      if (name.startsWith("./")) name = name.slice(2) || ".";
      if (type === "0" || type === "\0" || type === "7") {
        const chunks = reader.chunks(size);
        await addEntry(x, name, "file", {
          size,
          mode,
          data: () => chunks,
        });
        for await (const _ of chunks) { /* drain what was not read */ }
        for await (const _ of reader.chunks(padded - size)) { /* padding */ }
      } else {
        if (type === "5") await addEntry(x, name, "dir", { size: 0 });
        else if (type === "2") await addEntry(x, name, "symlink", { size: 0, link });
        else if (type === "1") await addEntry(x, name, "hardlink", { size: 0, link });
        else entryPath(x, name); // devices, fifos: checked, not created
        for await (const _ of reader.chunks(padded)) { /* skip data */ }
      }
    }
  } catch (e) {
    if (e instanceof RangeError || e instanceof TypeError) {
      throw new ExecutionException(`Archive ${x.name} is not a valid tar file: ${e.message}`);
    }
    throw e;
  } finally {
    await reader.cancel();
    file.close();
  }
}

/**
 * Unpacks an archive into `targetDir` (an existing, empty directory), refusing unsafe entries.
 * On error the caller removes `targetDir`; nothing is ever written outside it.
 *
 * @param archive Path of the archive file.
 * @param targetDir Where to unpack.
 * @param options Kind (`zip`/`tar`), size and entry limits, display name.
 * @returns The project root: `targetDir`, or its single top-level directory.
 * @throws {ExecutionException} For unsafe entries, oversized or invalid archives.
 *
 * @example
 * ```ts ignore
 * import { extractArchive } from "./archive.ts";
 * const root = await extractArchive("p.zip", await Deno.makeTempDir(), { kind: "zip" });
 * ```
 */
export async function extractArchive(
  archive: string,
  targetDir: string,
  options: ExtractOptions & { kind: "zip" | "tar" },
): Promise<string> {
  const x: Extractor = {
    root: targetDir,
    name: `'${options.displayName ?? archive}'`,
    maxBytes: options.maxBytes ?? DEFAULT_MAX_ARCHIVE_BYTES,
    maxEntries: options.maxEntries ?? 100_000,
    total: 0,
    entries: 0,
    files: new Set(),
    symlinks: new Map(),
  };
  if (options.kind === "zip") await extractZip(x, archive);
  else await extractTar(x, archive);
  await finish(x);
  const top: Deno.DirEntry[] = [];
  for await (const entry of Deno.readDir(targetDir)) top.push(entry);
  if (top.length === 1 && top[0]!.isDirectory && !top[0]!.isSymlink) {
    return join(targetDir, top[0]!.name);
  }
  return targetDir;
}
