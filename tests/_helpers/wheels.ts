/**
 * A local Python package index made of tiny wheels the tests write, so pip and uv install
 * packages without any network or package index of the machine.
 *
 * Each wheel is a real `.whl` (a zip holding the module and `<name>-<version>.dist-info/`
 * `METADATA`, `WHEEL` and `RECORD`). The index is served two ways: the wheels directory (pip's
 * and uv's `--find-links`) and a PEP 503 `file://` simple index beside it.
 */
import { createHash } from "node:crypto";
import { crc32 } from "node:zlib";

/** One pure-Python wheel to write. */
export interface WheelSpec {
  /** Distribution name, e.g. `six`. */
  name: string;
  /** Version, e.g. `1.17.0`. */
  version: string;
  /**
   * Files of the wheel (path inside site-packages → text). Default: one module named after the
   * distribution holding `__version__` and `VERSION`.
   */
  files?: Record<string, string>;
}

/** The packages every environment test installs: `six` 1.17.0 and `iniconfig` 2.3.0. */
export const DEFAULT_WHEELS: WheelSpec[] = [
  { name: "six", version: "1.17.0" },
  { name: "iniconfig", version: "2.3.0" },
];

/** A local package index in a temporary directory, removed when disposed. */
export interface LocalPackageIndex extends AsyncDisposable {
  /** The directory holding the `.whl` files (a `--find-links` directory). */
  wheelsDir: string;
  /** The PEP 503 simple index, as a `file://` URL ending in `/`. */
  simpleUrl: string;
  /**
   * Environment variables that make pip and uv use only this index: no other index, no
   * `--find-links` or configuration file of the user, uv offline and without Python downloads.
   */
  env: Record<string, string>;
}

/** The PEP 503 normalized name (`Foo.Bar_baz` → `foo-bar-baz`). */
function normalize(name: string): string {
  return name.toLowerCase().replace(/[-_.]+/g, "-");
}

function sha256(data: Uint8Array): Uint8Array {
  return new Uint8Array(createHash("sha256").update(data).digest());
}

function recordHash(data: Uint8Array): string {
  return "sha256=" + btoa(String.fromCharCode(...sha256(data))).replace(/\+/g, "-")
    .replace(/\//g, "_").replace(/=+$/, "");
}

/** A zip archive of stored (uncompressed) entries. */
function zip(entries: [string, Uint8Array][]): Uint8Array {
  const enc = new TextEncoder();
  const chunks: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  for (const [name, data] of entries) {
    const nameBytes = enc.encode(name);
    const crc = crc32(data) >>> 0;
    const local = new DataView(new ArrayBuffer(30));
    local.setUint32(0, 0x04034b50, true);
    local.setUint16(4, 20, true); // version needed
    local.setUint16(8, 0, true); // stored
    local.setUint16(12, 0x21, true); // 1980-01-01
    local.setUint32(14, crc, true);
    local.setUint32(18, data.length, true);
    local.setUint32(22, data.length, true);
    local.setUint16(26, nameBytes.length, true);
    const dir = new DataView(new ArrayBuffer(46));
    dir.setUint32(0, 0x02014b50, true);
    dir.setUint16(4, 0x031e, true); // made by: unix, 3.0
    dir.setUint16(6, 20, true);
    dir.setUint16(14, 0x21, true);
    dir.setUint32(16, crc, true);
    dir.setUint32(20, data.length, true);
    dir.setUint32(24, data.length, true);
    dir.setUint16(28, nameBytes.length, true);
    dir.setUint32(38, (0o100644 << 16) >>> 0, true); // regular file, rw-r--r--
    dir.setUint32(42, offset, true);
    chunks.push(new Uint8Array(local.buffer), nameBytes, data);
    central.push(new Uint8Array(dir.buffer), nameBytes);
    offset += 30 + nameBytes.length + data.length;
  }
  const centralSize = central.reduce((n, c) => n + c.length, 0);
  const end = new DataView(new ArrayBuffer(22));
  end.setUint32(0, 0x06054b50, true);
  end.setUint16(8, entries.length, true);
  end.setUint16(10, entries.length, true);
  end.setUint32(12, centralSize, true);
  end.setUint32(16, offset, true);
  const parts = [...chunks, ...central, new Uint8Array(end.buffer)];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * Writes one wheel into `dir`.
 *
 * @param dir Existing directory to write into.
 * @param spec Name, version and files of the wheel.
 * @returns The path of the `.whl` file.
 * @example
 * ```ts ignore
 * const whl = await writeWheel("/tmp/wheels", { name: "six", version: "1.17.0" });
 * // "/tmp/wheels/six-1.17.0-py3-none-any.whl"
 * ```
 */
export async function writeWheel(dir: string, spec: WheelSpec): Promise<string> {
  const enc = new TextEncoder();
  const base = spec.name.replace(/[-.]+/g, "_");
  const distInfo = `${base}-${spec.version}.dist-info`;
  const files = spec.files ??
    { [`${base}.py`]: `__version__ = "${spec.version}"\nVERSION = __version__\n` };
  const entries: [string, Uint8Array][] = Object.entries(files).map(([p, t]) => [p, enc.encode(t)]);
  entries.push([
    `${distInfo}/METADATA`,
    enc.encode(`Metadata-Version: 2.1\nName: ${spec.name}\nVersion: ${spec.version}\n`),
  ]);
  entries.push([
    `${distInfo}/WHEEL`,
    enc.encode(
      "Wheel-Version: 1.0\nGenerator: mlproject-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    ),
  ]);
  const record = entries.map(([p, d]) => `${p},${recordHash(d)},${d.length}`)
    .concat(`${distInfo}/RECORD,,`).join("\n") + "\n";
  entries.push([`${distInfo}/RECORD`, enc.encode(record)]);
  const path = `${dir}/${base}-${spec.version}-py3-none-any.whl`;
  await Deno.writeFile(path, zip(entries));
  return path;
}

/**
 * Writes the wheels into a new temporary directory and a PEP 503 simple index over them.
 *
 * @param specs The wheels (default {@linkcode DEFAULT_WHEELS}).
 * @returns The index; dispose it to remove the directory.
 * @example
 * ```ts ignore
 * await using index = await localPackageIndex();
 * // run pip or uv with { ...env, ...index.env }: `six` and `iniconfig` install offline
 * ```
 */
export async function localPackageIndex(
  specs: WheelSpec[] = DEFAULT_WHEELS,
): Promise<LocalPackageIndex> {
  const root = await Deno.makeTempDir({ prefix: "mlproject-wheels-" });
  const wheelsDir = `${root}/wheels`;
  await Deno.mkdir(wheelsDir);
  const byProject = new Map<string, string[]>();
  for (const spec of specs) {
    const path = await writeWheel(wheelsDir, spec);
    const key = normalize(spec.name);
    byProject.set(key, [...(byProject.get(key) ?? []), path]);
  }
  const links = [...byProject.keys()].sort().map((p) => `<a href="${p}/">${p}</a>`);
  await Deno.mkdir(`${root}/simple`);
  await Deno.writeTextFile(
    `${root}/simple/index.html`,
    `<!DOCTYPE html>\n<html><body>\n${links.join("\n")}\n</body></html>\n`,
  );
  for (const [project, paths] of byProject) {
    await Deno.mkdir(`${root}/simple/${project}`);
    const anchors = [];
    for (const path of paths) {
      const file = path.slice(path.lastIndexOf("/") + 1);
      const digest = createHash("sha256").update(await Deno.readFile(path)).digest("hex");
      anchors.push(`<a href="../../wheels/${file}#sha256=${digest}">${file}</a>`);
    }
    await Deno.writeTextFile(
      `${root}/simple/${project}/index.html`,
      `<!DOCTYPE html>\n<html><body>\n${anchors.join("\n")}\n</body></html>\n`,
    );
  }
  const simpleUrl = `file://${root}/simple/`;
  return {
    wheelsDir,
    simpleUrl,
    env: {
      PIP_NO_INDEX: "false",
      PIP_INDEX_URL: simpleUrl,
      PIP_EXTRA_INDEX_URL: "",
      PIP_FIND_LINKS: "",
      PIP_CONFIG_FILE: "/dev/null",
      PIP_DISABLE_PIP_VERSION_CHECK: "1",
      UV_INDEX_URL: simpleUrl,
      UV_DEFAULT_INDEX: simpleUrl,
      UV_EXTRA_INDEX_URL: "",
      UV_INDEX: "",
      UV_FIND_LINKS: wheelsDir,
      UV_OFFLINE: "1",
      UV_NO_CONFIG: "1",
      UV_PYTHON_DOWNLOADS: "never",
      UV_CACHE_DIR: `${root}/uv-cache`,
    },
    async [Symbol.asyncDispose]() {
      await Deno.remove(root, { recursive: true }).catch(() => {});
    },
  };
}
