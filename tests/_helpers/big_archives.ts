/**
 * Large archives generated in about a second for memory tests: entries of zeros that are sparse
 * on disk (plain tar, stored zip), streamed through gzip (tar.gz), or built from one repeated
 * deflate block (zip, any size in no time), plus a way to make a zip header lie about a size.
 */
import { constants as zlib, deflateRawSync } from "node:zlib";

/** One entry: a small text file, or `zeros` bytes of zeros. */
export type BigEntry = { name: string; text: string } | { name: string; zeros: number };

const enc = new TextEncoder();

function octal(value: number, width: number): string {
  return value.toString(8).padStart(width - 1, "0") + "\0";
}

/** A ustar header block (sizes up to 8 GiB - 1). */
export function tarHeader(name: string, size: number, type = "0"): Uint8Array {
  const h = new Uint8Array(512);
  const put = (at: number, text: string) => h.set(enc.encode(text), at);
  put(0, name);
  put(100, octal(type === "5" ? 0o755 : 0o644, 8));
  put(108, octal(0, 8));
  put(116, octal(0, 8));
  put(124, octal(size, 12));
  put(136, octal(0, 12));
  put(148, "        ");
  put(156, type);
  put(257, "ustar\x0000");
  let sum = 0;
  for (const b of h) sum += b;
  put(148, octal(sum, 7) + " ");
  return h;
}

function entrySize(e: BigEntry): number {
  return "text" in e ? enc.encode(e.text).length : e.zeros;
}

/** The bytes of a tar archive as chunks; runs of zeros share one buffer. */
async function* tarChunks(entries: BigEntry[]): AsyncGenerator<Uint8Array> {
  const zero = new Uint8Array(1 << 20);
  for (const e of entries) {
    const size = entrySize(e);
    yield tarHeader(e.name, size);
    if ("text" in e) yield enc.encode(e.text);
    else {
      for (let left = size; left > 0; left -= zero.length) {
        yield left >= zero.length ? zero : zero.subarray(0, left);
      }
    }
    const pad = (512 - (size % 512)) % 512;
    if (pad > 0) yield new Uint8Array(pad);
  }
  yield new Uint8Array(1024);
}

/** Writes a plain tar; entries of zeros are holes (sparse file, instant). */
export async function writeSparseTar(path: string, entries: BigEntry[]): Promise<void> {
  using file = await Deno.open(path, { write: true, create: true, truncate: true });
  let pos = 0;
  for (const e of entries) {
    const size = entrySize(e);
    await file.write(tarHeader(e.name, size));
    pos += 512;
    if ("text" in e) await file.write(enc.encode(e.text));
    pos += Math.ceil(size / 512) * 512;
    await file.seek(pos, Deno.SeekMode.Start);
  }
  await file.write(new Uint8Array(1024));
}

/** Writes a tar.gz, streaming the tar through gzip (about 1 s per GiB of zeros). */
export async function writeTarGz(path: string, entries: BigEntry[]): Promise<void> {
  const file = await Deno.open(path, { write: true, create: true, truncate: true });
  await ReadableStream.from(tarChunks(entries))
    .pipeThrough(
      new CompressionStream("gzip") as unknown as TransformStream<Uint8Array, Uint8Array>,
    )
    .pipeTo(file.writable);
}

/** A zip entry: stored (its zeros are a hole in the file) or deflated. */
export type ZipBigEntry = BigEntry & {
  method: "stored" | "deflate";
  /** Uncompressed size written in both headers instead of the real one. */
  declaredSize?: number;
};

// One MiB of zeros as deflate blocks without a final block: repeating it gives any size of
// zeros; `[3, 0]` (an empty final block) ends the stream.
let zeroMiB: Uint8Array | undefined;
function deflatedZeros(): Uint8Array {
  zeroMiB ??= new Uint8Array(
    deflateRawSync(new Uint8Array(1 << 20), { finishFlush: zlib.Z_FULL_FLUSH }),
  );
  return zeroMiB;
}

/**
 * Writes a zip (zip64 when a size needs it). CRCs are left at 0: the reader under test does not
 * check them. Deflated zeros must be a whole number of MiB.
 */
export async function writeZip(path: string, entries: ZipBigEntry[]): Promise<void> {
  using file = await Deno.open(path, { write: true, create: true, truncate: true });
  const central: Uint8Array[] = [];
  let pos = 0;
  for (const e of entries) {
    const name = enc.encode(e.name);
    const size = entrySize(e);
    const declared = e.declaredSize ?? size;
    const method = e.method === "deflate" ? 8 : 0;
    const offset = pos;
    let compressed: number;
    let body: Uint8Array[] = [];
    if ("text" in e) {
      const raw = enc.encode(e.text);
      body = [method === 8 ? new Uint8Array(deflateRawSync(raw)) : raw];
      compressed = body[0]!.length;
    } else if (method === 8) {
      if (size % (1 << 20) !== 0) throw new Error("deflated zeros: whole MiB only");
      const piece = deflatedZeros();
      compressed = piece.length * (size / (1 << 20)) + 2;
    } else {
      compressed = size;
    }
    const zip64 = declared >= 0xffffffff || compressed >= 0xffffffff || offset >= 0xffffffff;
    const extra = zip64 ? new Uint8Array(28) : new Uint8Array(0);
    if (zip64) {
      const v = new DataView(extra.buffer);
      v.setUint16(0, 1, true);
      v.setUint16(2, 24, true);
      v.setBigUint64(4, BigInt(declared), true);
      v.setBigUint64(12, BigInt(compressed), true);
      v.setBigUint64(20, BigInt(offset), true);
    }
    const local = new Uint8Array(30 + name.length + extra.length);
    const lv = new DataView(local.buffer);
    lv.setUint32(0, 0x04034b50, true);
    lv.setUint16(4, zip64 ? 45 : 20, true);
    lv.setUint16(8, method, true);
    lv.setUint32(18, zip64 ? 0xffffffff : compressed, true);
    lv.setUint32(22, zip64 ? 0xffffffff : declared, true);
    lv.setUint16(26, name.length, true);
    lv.setUint16(28, extra.length, true);
    local.set(name, 30);
    local.set(extra, 30 + name.length);
    await file.write(local);
    pos += local.length;
    if (body.length > 0) {
      for (const b of body) await file.write(b);
    } else if (method === 8) {
      const piece = deflatedZeros();
      for (let i = 0; i < size / (1 << 20); i++) await file.write(piece);
      await file.write(new Uint8Array([3, 0]));
    } else {
      await file.seek(pos + compressed, Deno.SeekMode.Start);
    }
    pos += compressed;
    const cd = new Uint8Array(46 + name.length + extra.length);
    const cv = new DataView(cd.buffer);
    cv.setUint32(0, 0x02014b50, true);
    cv.setUint16(4, (3 << 8) | 45, true);
    cv.setUint16(6, zip64 ? 45 : 20, true);
    cv.setUint16(10, method, true);
    cv.setUint32(20, zip64 ? 0xffffffff : compressed, true);
    cv.setUint32(24, zip64 ? 0xffffffff : declared, true);
    cv.setUint16(28, name.length, true);
    cv.setUint16(30, extra.length, true);
    cv.setUint32(38, (0o100644 << 16) >>> 0, true);
    cv.setUint32(42, zip64 ? 0xffffffff : offset, true);
    cd.set(name, 46);
    cd.set(extra, 46 + name.length);
    central.push(cd);
  }
  await file.seek(pos, Deno.SeekMode.Start);
  const cdStart = pos;
  for (const cd of central) {
    await file.write(cd);
    pos += cd.length;
  }
  const cdSize = pos - cdStart;
  const zip64End = new Uint8Array(56 + 20);
  const zv = new DataView(zip64End.buffer);
  zv.setUint32(0, 0x06064b50, true);
  zv.setBigUint64(4, 44n, true);
  zv.setUint16(12, 45, true);
  zv.setUint16(14, 45, true);
  zv.setBigUint64(24, BigInt(entries.length), true);
  zv.setBigUint64(32, BigInt(entries.length), true);
  zv.setBigUint64(40, BigInt(cdSize), true);
  zv.setBigUint64(48, BigInt(cdStart), true);
  zv.setUint32(56, 0x07064b50, true);
  zv.setBigUint64(64, BigInt(pos), true);
  zv.setUint32(72, 1, true);
  await file.write(zip64End);
  const end = new Uint8Array(22);
  const ev = new DataView(end.buffer);
  ev.setUint32(0, 0x06054b50, true);
  ev.setUint16(8, 0xffff, true);
  ev.setUint16(10, 0xffff, true);
  ev.setUint32(12, 0xffffffff, true);
  ev.setUint32(16, 0xffffffff, true);
  await file.write(end);
}

/**
 * Peak resident memory (KiB, the kernel's `ru_maxrss`, i.e. the child's final VmHWM) of a
 * command, measured by python3's `getrusage(RUSAGE_CHILDREN)`, with its exit code and output.
 */
export async function peakRss(
  cmd: string[],
  options: { cwd: string; env: Record<string, string> },
): Promise<{ code: number; stdout: string; stderr: string; peakKiB: number }> {
  const script = [
    "import resource, subprocess, sys",
    "p = subprocess.run(sys.argv[1:], stdin=subprocess.DEVNULL, capture_output=True)",
    "sys.stdout.buffer.write(p.stdout); sys.stderr.buffer.write(p.stderr)",
    "sys.stderr.write('\\nPEAK_RSS_KIB=%d\\n' % resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)",
    "sys.exit(p.returncode)",
  ].join("\n");
  const out = await new Deno.Command("python3", {
    args: ["-c", script, ...cmd],
    cwd: options.cwd,
    env: options.env,
    clearEnv: true,
    stdin: "null",
  }).output();
  const dec = new TextDecoder();
  const stderr = dec.decode(out.stderr);
  const m = /\nPEAK_RSS_KIB=(\d+)\n$/.exec(stderr);
  if (m === null) throw new Error(`no peak RSS reported: ${stderr}`);
  return {
    code: out.code,
    stdout: dec.decode(out.stdout),
    stderr: stderr.slice(0, m.index),
    peakKiB: Number(m[1]),
  };
}
