/**
 * A streaming gzip writer whose bytes equal Python's `gzip.GzipFile(filename="", mtime=0)` at
 * compression level 9: header `1f 8b 08`, no flags (no file name), mtime 0, XFL 2 (best), OS 255;
 * a raw deflate stream as zlib makes it (`pako` is a port of zlib and produces the same bytes;
 * `CompressionStream` does not); CRC-32 and length trailer.
 *
 * @module
 */
// @ts-types="npm:@types/pako@2.0.3"
import { constants, Deflate } from "npm:pako@2.1.0";

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

function crc32Update(crc: number, bytes: Uint8Array): number {
  let c = crc ^ 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** Python's gzip header for `filename=""`, `mtime=0`, `compresslevel=9`. */
const HEADER = new Uint8Array([0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0x02, 0xff]);

/** Feeds bytes in, hands compressed chunks out (synchronously, in order). */
export class PythonGzipWriter {
  #deflate: Deflate;
  #crc = 0;
  #length = 0;
  #out: (chunk: Uint8Array) => void;

  /**
   * @param out Receives each output chunk; chunks are not reused afterwards.
   * @param chunkSize Output chunk size of the deflater.
   */
  constructor(out: (chunk: Uint8Array) => void, chunkSize = 256 * 1024) {
    this.#out = out;
    this.#deflate = new Deflate({ level: 9, raw: true, windowBits: 15, memLevel: 8, chunkSize });
    this.#deflate.onData = (chunk) => out(chunk as Uint8Array);
    this.#deflate.onEnd = (status) => {
      if (status !== constants.Z_OK) throw new Error(`deflate failed (zlib status ${status})`);
    };
    out(HEADER.slice());
  }

  /**
   * Compresses more input.
   *
   * @param bytes Input (not kept).
   */
  write(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    this.#crc = crc32Update(this.#crc, bytes);
    this.#length = (this.#length + bytes.length) % 2 ** 32;
    this.#deflate.push(bytes, constants.Z_NO_FLUSH);
  }

  /** Ends the deflate stream and emits the trailer (CRC-32 and length mod 2^32, little endian). */
  finish(): void {
    this.#deflate.push(new Uint8Array(0), constants.Z_FINISH);
    const trailer = new Uint8Array(8);
    const view = new DataView(trailer.buffer);
    view.setUint32(0, this.#crc, true);
    view.setUint32(4, this.#length, true);
    this.#out(trailer);
  }
}
