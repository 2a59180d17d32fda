/**
 * How the project tarball sees a directory tree: Python's name order and the tar type of an
 * `lstat` result. Shared by the archiver and the tarball cache's fingerprint so both walk the same
 * members.
 *
 * @module
 */
import { TAR_TYPE, type TarTypeFlag } from "../system/tar_header.ts";

/** Python's string order: by code point (UTF-16 order differs above U+D7FF). */
export function compareCodePoints(a: string, b: string): number {
  const rank = (c: number) => c >= 0xe000 ? c - 0x800 : c >= 0xd800 ? c + 0x2000 : c;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return rank(x) - rank(y);
  }
  return a.length - b.length;
}

/** The tar type of an `lstat` result, `undefined` for what `tarfile` skips (sockets). */
export function memberType(info: Deno.FileInfo): TarTypeFlag | undefined {
  if (info.isFile) return TAR_TYPE.file;
  if (info.isDirectory) return TAR_TYPE.dir;
  if (info.isSymlink) return TAR_TYPE.symlink;
  switch ((info.mode ?? 0) & 0o170000) {
    case 0o010000:
      return TAR_TYPE.fifo;
    case 0o020000:
      return TAR_TYPE.charDevice;
    case 0o060000:
      return TAR_TYPE.blockDevice;
  }
  return undefined; // sockets: Python's tarfile skips them
}
