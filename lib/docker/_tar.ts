/**
 * A minimal streaming tar writer (ustar headers, PAX records for long or non-ASCII names and
 * large sizes), enough for a `docker build -` context.
 *
 * @module
 */

const encoder = new TextEncoder();
const BLOCK = 512;

/** One tar member's header fields. */
export interface TarHeader {
  /** Path inside the archive (`/` separated; directories end with `/`). */
  name: string;
  /** `file`, `dir` or `symlink`. */
  kind: "file" | "dir" | "symlink";
  /** Permission bits. */
  mode: number;
  /** Size in bytes (files only). */
  size: number;
  /** Modification time, seconds since the epoch. */
  mtime: number;
  /** Link target (symlinks only). */
  linkname?: string;
}

function writeString(block: Uint8Array, offset: number, length: number, text: string): void {
  const bytes = encoder.encode(text);
  block.set(bytes.subarray(0, length), offset);
}

function writeOctal(block: Uint8Array, offset: number, length: number, value: number): void {
  writeString(block, offset, length, value.toString(8).padStart(length - 1, "0") + "\0");
}

function isPlainAscii(text: string): boolean {
  return /^[\x20-\x7e]*$/.test(text);
}

function ustarBlock(
  header: TarHeader,
  typeflag: string,
  size: number,
  name: string,
  linkname: string,
): Uint8Array {
  const block = new Uint8Array(BLOCK);
  writeString(block, 0, 100, name);
  writeOctal(block, 100, 8, header.mode & 0o7777);
  writeOctal(block, 108, 8, 0);
  writeOctal(block, 116, 8, 0);
  writeOctal(block, 124, 12, size);
  writeOctal(block, 136, 12, Math.max(0, Math.floor(header.mtime)));
  block.fill(0x20, 148, 156);
  writeString(block, 156, 1, typeflag);
  writeString(block, 157, 100, linkname);
  writeString(block, 257, 6, "ustar\0");
  writeString(block, 263, 2, "00");
  writeString(block, 265, 32, "root");
  writeString(block, 297, 32, "root");
  let sum = 0;
  for (const b of block) sum += b;
  writeString(block, 148, 8, sum.toString(8).padStart(6, "0") + "\0 ");
  return block;
}

function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let length = encoder.encode(body).length;
  length += String(length).length;
  if (String(length).length !== String(length - String(length).length).length) length++;
  return `${length}${body}`;
}

function padding(size: number): Uint8Array {
  const rest = size % BLOCK;
  return new Uint8Array(rest === 0 ? 0 : BLOCK - rest);
}

/**
 * The header blocks of one member (a PAX header first when a field does not fit ustar).
 *
 * @param header The member.
 * @returns Bytes to write before the member's content.
 *
 * @example
 * ```ts
 * import { tarHeader } from "./_tar.ts";
 * const h = tarHeader({ name: "a.txt", kind: "file", mode: 0o644, size: 3, mtime: 0 });
 * console.assert(h.length === 512);
 * ```
 */
export function tarHeader(header: TarHeader): Uint8Array {
  const typeflag = header.kind === "file" ? "0" : header.kind === "dir" ? "5" : "2";
  const size = header.kind === "file" ? header.size : 0;
  const linkname = header.linkname ?? "";
  const records: string[] = [];
  const nameFits = isPlainAscii(header.name) && header.name.length <= 100;
  if (!nameFits) records.push(paxRecord("path", header.name));
  if (!(isPlainAscii(linkname) && linkname.length <= 100)) {
    records.push(paxRecord("linkpath", linkname));
  }
  if (size > 0o77777777777) records.push(paxRecord("size", String(size)));
  const main = ustarBlock(
    header,
    typeflag,
    size > 0o77777777777 ? 0 : size,
    nameFits ? header.name : header.name.slice(0, 99).replace(/[^\x20-\x7e]/g, "_"),
    linkname.length <= 100 && isPlainAscii(linkname) ? linkname : "",
  );
  if (records.length === 0) return main;
  const body = encoder.encode(records.join(""));
  const pax = ustarBlock(
    { ...header, mode: 0o644 },
    "x",
    body.length,
    "PaxHeaders/" + header.name.replace(/[^\x20-\x7e]/g, "_").slice(-80),
    "",
  );
  const out = new Uint8Array(BLOCK + body.length + padding(body.length).length + BLOCK);
  out.set(pax, 0);
  out.set(body, BLOCK);
  out.set(main, out.length - BLOCK);
  return out;
}

/**
 * Zero bytes that pad a member's content of `size` bytes to a whole block.
 *
 * @param size Content size.
 * @returns The padding.
 *
 * @example
 * ```ts
 * import { tarPadding } from "./_tar.ts";
 * console.assert(tarPadding(3).length === 509);
 * ```
 */
export function tarPadding(size: number): Uint8Array {
  return padding(size);
}

/** The two zero blocks that end an archive. */
export const TAR_END: Uint8Array = new Uint8Array(2 * BLOCK);
