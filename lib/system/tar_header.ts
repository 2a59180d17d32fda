/**
 * Tar member headers laid out byte for byte as CPython's `tarfile` writes them in its default
 * PAX format (`TarInfo.tobuf` → `create_pax_header`), as of Python 3.9+: a `././@PaxHeader`
 * extended header (type `x`) when a name, link name, user or group name is not ASCII or too long,
 * or a number does not fit its octal field; then a ustar header with magic `ustar\0` + `00`,
 * non-ASCII characters of the names replaced by `?` and cut at the field length, the device fields
 * NUL-filled unless the member is a device, and the checksum as six octal digits, NUL and space.
 * The one tar writer: Databricks project tarballs (where MLflow's bytes matter) and `docker
 * build` contexts.
 *
 * @module
 */

const encoder = new TextEncoder();

/** Tar block size. */
export const BLOCK_SIZE = 512;
/** Python's `RECORDSIZE`: the archive is padded with zero blocks to a multiple of this. */
export const RECORD_SIZE = BLOCK_SIZE * 20;

/** Member types, as the one-character type flags of a tar header. */
export const TAR_TYPE = {
  file: "0",
  hardlink: "1",
  symlink: "2",
  charDevice: "3",
  blockDevice: "4",
  dir: "5",
  fifo: "6",
} as const;

/** A member type flag. */
export type TarTypeFlag = typeof TAR_TYPE[keyof typeof TAR_TYPE];

/** What Python's `TarInfo.get_info()` holds for one member. */
export interface TarMember {
  /** Name in the archive (`/` separated, no trailing `/`: directories get it here). */
  name: string;
  /** Type flag. */
  type: TarTypeFlag;
  /** `st_mode` (only the low 12 bits are written). */
  mode: number;
  uid: number;
  gid: number;
  /** Data size (regular files only; 0 otherwise). */
  size: number;
  /** Seconds since the epoch (integer). */
  mtime: number;
  /** Symlink target or, for hard links, the earlier member's name. */
  linkname: string;
  uname: string;
  gname: string;
  /** Device numbers (character and block devices only). */
  devmajor?: number;
  devminor?: number;
}

function isAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0x7f) return false;
  return true;
}

/** Python's `s.encode("ascii", "replace")`: one `?` per non-ASCII code point. */
function asciiReplace(text: string): Uint8Array {
  let out = "";
  for (const ch of text) out += ch.codePointAt(0)! < 0x80 ? ch : "?";
  return encoder.encode(out);
}

/** Python's `stn`: the bytes cut at `length`, NUL-padded. */
function putString(block: Uint8Array, offset: number, length: number, bytes: Uint8Array): void {
  block.set(bytes.subarray(0, length), offset);
}

/** Python's `itn` for values that fit: `digits - 1` zero-padded octal digits and a NUL. */
function putOctal(block: Uint8Array, offset: number, digits: number, value: number): void {
  putString(block, offset, digits, encoder.encode(value.toString(8).padStart(digits - 1, "0")));
}

function ustarHeader(member: TarMember, typeflag: string): Uint8Array {
  const block = new Uint8Array(BLOCK_SIZE);
  putString(block, 0, 100, asciiReplace(member.name));
  putOctal(block, 100, 8, member.mode & 0o7777);
  putOctal(block, 108, 8, member.uid);
  putOctal(block, 116, 8, member.gid);
  putOctal(block, 124, 12, member.size);
  putOctal(block, 136, 12, member.mtime);
  block.fill(0x20, 148, 156);
  block[156] = typeflag.charCodeAt(0);
  putString(block, 157, 100, asciiReplace(member.linkname));
  putString(block, 257, 8, encoder.encode("ustar\x0000"));
  putString(block, 265, 32, asciiReplace(member.uname));
  putString(block, 297, 32, asciiReplace(member.gname));
  if (typeflag === TAR_TYPE.charDevice || typeflag === TAR_TYPE.blockDevice) {
    putOctal(block, 329, 8, member.devmajor ?? 0);
    putOctal(block, 337, 8, member.devminor ?? 0);
  }
  let sum = 0;
  for (const b of block) sum += b;
  putString(block, 148, 6, encoder.encode(sum.toString(8).padStart(6, "0")));
  block[154] = 0;
  return block;
}

/** One PAX record `"<len> <key>=<value>\n"` whose length counts its own digits. */
function paxRecord(key: string, value: string): Uint8Array {
  const body = encoder.encode(` ${key}=${value}\n`);
  let length = 0;
  for (let guess = 0;;) {
    length = body.length + String(guess).length;
    if (length === guess) break;
    guess = length;
  }
  const record = new Uint8Array(length);
  record.set(encoder.encode(String(length)));
  record.set(body, length - body.length);
  return record;
}

/**
 * The header blocks of one member: a PAX extended header when needed, then the ustar header.
 * Data blocks are not included.
 *
 * @param member The member (a directory's name gets a trailing `/` if it has none).
 * @returns A multiple of 512 bytes.
 *
 * @example
 * ```ts
 * import { memberHeader, TAR_TYPE } from "./tar_header.ts";
 * const member = { type: TAR_TYPE.file, mode: 0o644, uid: 0, gid: 0, size: 3, mtime: 0 };
 * const names = { linkname: "", uname: "", gname: "" };
 * console.assert(memberHeader({ ...member, ...names, name: "a.txt" }).length === 512);
 * console.assert(memberHeader({ ...member, ...names, name: "é.txt" }).length === 3 * 512);
 * ```
 */
export function memberHeader(member: TarMember): Uint8Array {
  const info = { ...member };
  if (info.type === TAR_TYPE.dir && !info.name.endsWith("/")) info.name += "/";
  const pax: [string, string][] = [];
  for (
    const [field, key, length] of [
      ["name", "path", 100],
      ["linkname", "linkpath", 100],
      ["uname", "uname", 32],
      ["gname", "gname", 32],
    ] as const
  ) {
    const value = info[field];
    if (!isAscii(value) || value.length > length) pax.push([key, value]);
  }
  for (const [field, digits] of [["uid", 8], ["gid", 8], ["size", 12], ["mtime", 12]] as const) {
    const value = info[field];
    if (!(value >= 0 && value < 8 ** (digits - 1))) {
      pax.push([field, String(value)]);
      info[field] = 0;
    }
  }
  const header = ustarHeader(info, info.type);
  if (pax.length === 0) return header;
  const records = pax.map(([k, v]) => paxRecord(k, v));
  const size = records.reduce((n, r) => n + r.length, 0);
  const paxHeader = ustarHeader({
    name: "././@PaxHeader",
    type: info.type,
    mode: 0,
    uid: 0,
    gid: 0,
    size,
    mtime: 0,
    linkname: "",
    uname: "",
    gname: "",
  }, "x");
  const out = new Uint8Array(BLOCK_SIZE + paddedSize(size) + BLOCK_SIZE);
  out.set(paxHeader);
  let offset = BLOCK_SIZE;
  for (const r of records) {
    out.set(r, offset);
    offset += r.length;
  }
  out.set(header, BLOCK_SIZE + paddedSize(size));
  return out;
}

/**
 * A size rounded up to whole blocks.
 *
 * @param size Bytes.
 * @returns The next multiple of 512.
 *
 * @example
 * ```ts
 * import { paddedSize } from "./tar_header.ts";
 * console.assert(paddedSize(3) === 512 && paddedSize(1024) === 1024);
 * ```
 */
export function paddedSize(size: number): number {
  return Math.ceil(size / BLOCK_SIZE) * BLOCK_SIZE;
}

/**
 * The zero bytes that end a member's content of `size` bytes on a block boundary.
 *
 * @param size Content bytes.
 * @returns Between 0 and 511 zero bytes.
 *
 * @example
 * ```ts
 * import { contentPadding } from "./tar_header.ts";
 * console.assert(contentPadding(3).length === 509 && contentPadding(512).length === 0);
 * ```
 */
export function contentPadding(size: number): Uint8Array {
  return new Uint8Array(paddedSize(size) - size);
}

/**
 * What `TarFile.close()` appends: two zero blocks, then zeros up to a multiple of 10240 bytes.
 *
 * @param offset Bytes written so far.
 * @returns The zero bytes to append.
 *
 * @example
 * ```ts
 * import { archiveEnd } from "./tar_header.ts";
 * console.assert(archiveEnd(512).length === 10240 - 512);
 * ```
 */
export function archiveEnd(offset: number): Uint8Array {
  const end = offset + 2 * BLOCK_SIZE;
  const rest = end % RECORD_SIZE;
  return new Uint8Array(2 * BLOCK_SIZE + (rest === 0 ? 0 : RECORD_SIZE - rest));
}
