import assert from "node:assert/strict";
import { archiveKind, extractArchive } from "../lib/archive.ts";
import { ExecutionException } from "../lib/errors.ts";
import { tempDir } from "./_helpers/cli.ts";

/** One archive entry for python3's zipfile/tarfile. */
interface Entry {
  name: string;
  type?: "file" | "dir" | "symlink" | "hardlink";
  data?: string;
  link?: string;
  mode?: number;
  /** Declared size (tar) or declared uncompressed size (zip) instead of the real one. */
  declared?: number;
}

const BUILDER = String.raw`
import io, json, struct, sys, tarfile, zipfile
out, fmt, entries = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
if fmt == "zip":
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for e in entries:
            t = e.get("type", "file")
            info = zipfile.ZipInfo(e["name"] + ("/" if t == "dir" and not e["name"].endswith("/") else ""))
            info.create_system = 3
            if t == "symlink":
                info.external_attr = (0o120777 << 16)
                z.writestr(info, e["link"])
            elif t == "dir":
                info.external_attr = (0o40755 << 16)
                z.writestr(info, "")
            else:
                info.external_attr = (0o100000 | e.get("mode", 0o644)) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                z.writestr(info, e.get("data", ""))
    declared = [e for e in entries if "declared" in e]
    if declared:
        data = bytearray(open(out, "rb").read())
        eocd = data.rfind(b"PK\x05\x06")
        cd = struct.unpack("<I", data[eocd + 16:eocd + 20])[0]
        p = cd
        while data[p:p + 4] == b"PK\x01\x02":
            n, x, c = struct.unpack("<HHH", data[p + 28:p + 34])
            name = data[p + 46:p + 46 + n].decode()
            for e in declared:
                if e["name"] == name:
                    data[p + 24:p + 28] = struct.pack("<I", e["declared"])
            p += 46 + n + x + c
        open(out, "wb").write(bytes(data))
else:
    mode = {"tar": "w", "tar.gz": "w:gz"}[fmt]
    with tarfile.open(out, mode, format=tarfile.GNU_FORMAT) as t:
        for e in entries:
            ti = tarfile.TarInfo(e["name"])
            kind = e.get("type", "file")
            if kind == "dir":
                ti.type = tarfile.DIRTYPE; ti.mode = 0o755; t.addfile(ti)
            elif kind == "symlink":
                ti.type = tarfile.SYMTYPE; ti.linkname = e["link"]; t.addfile(ti)
            elif kind == "hardlink":
                ti.type = tarfile.LNKTYPE; ti.linkname = e["link"]; t.addfile(ti)
            else:
                b = e.get("data", "").encode()
                ti.size = len(b); ti.mode = e.get("mode", 0o644)
                if "declared" in e:
                    ti.size = e["declared"]
                    buf = ti.tobuf(tarfile.GNU_FORMAT, "utf-8", "surrogateescape")
                    t.fileobj.write(buf); t.offset += len(buf)
                    t.fileobj.write(b"\0" * 1024); t.offset += 1024
                else:
                    t.addfile(ti, io.BytesIO(b))
`;

async function build(dir: string, name: string, fmt: "zip" | "tar" | "tar.gz", entries: Entry[]) {
  const out = `${dir}/${name}`;
  const res = await new Deno.Command("python3", {
    args: ["-c", BUILDER, out, fmt, JSON.stringify(entries)],
    stderr: "piped",
  }).output();
  assert.equal(res.code, 0, new TextDecoder().decode(res.stderr));
  return out;
}

async function listTree(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string, prefix: string) => {
    for await (const e of Deno.readDir(d)) {
      out.push(`${prefix}${e.name}${e.isDirectory ? "/" : e.isSymlink ? "@" : ""}`);
      if (e.isDirectory) await walk(`${d}/${e.name}`, `${prefix}${e.name}/`);
    }
  };
  await walk(dir, "");
  return out.sort();
}

Deno.test("archiveKind() recognises zip and tar archives by name", () => {
  assert.equal(archiveKind("p.zip"), "zip");
  assert.equal(archiveKind("https://h/p.ZIP?x=1"), "zip");
  assert.equal(archiveKind("p.tar"), "tar");
  assert.equal(archiveKind("p.tar.gz"), "tar");
  assert.equal(archiveKind("p.tgz"), "tar");
  assert.equal(archiveKind(".zip"), undefined);
  assert.equal(archiveKind("https://github.com/o/r"), undefined);
});

for (const fmt of ["zip", "tar", "tar.gz"] as const) {
  Deno.test(`extractArchive() unpacks a ${fmt} and unwraps a single top-level folder`, async () => {
    await using dir = await tempDir();
    const file = await build(dir.path, `p.${fmt}`, fmt, [
      { name: "proj/", type: "dir" },
      { name: "proj/MLproject", data: "name: x\n" },
      { name: "proj/run.sh", data: "echo hi\n", mode: 0o755 },
      { name: "proj/sub/data.txt", data: "d" },
      { name: "proj/link", type: "symlink", link: "sub/data.txt" },
    ]);
    const target = `${dir.path}/out`;
    await Deno.mkdir(target);
    const root = await extractArchive(file, target, { kind: fmt === "zip" ? "zip" : "tar" });
    assert.equal(root, `${target}/proj`);
    assert.deepEqual(await listTree(root), [
      "MLproject",
      "link@",
      "run.sh",
      "sub/",
      "sub/data.txt",
    ]);
    assert.equal(await Deno.readTextFile(`${root}/MLproject`), "name: x\n");
    assert.equal(await Deno.readTextFile(`${root}/link`), "d");
    assert.equal((await Deno.stat(`${root}/run.sh`)).mode! & 0o111, 0o111);
  });
}

Deno.test("extractArchive() keeps several top-level entries at the root", async () => {
  await using dir = await tempDir();
  const file = await build(dir.path, "p.zip", "zip", [
    { name: "MLproject", data: "name: x\n" },
    { name: "src/a.py", data: "" },
  ]);
  await Deno.mkdir(`${dir.path}/out`);
  assert.equal(await extractArchive(file, `${dir.path}/out`, { kind: "zip" }), `${dir.path}/out`);
});

const HOSTILE: [string, Entry[], RegExp][] = [
  ["zip-slip ../", [{ name: "ok.txt", data: "x" }, { name: "../evil.txt", data: "x" }], /outside/],
  ["deep zip-slip", [{ name: "a/b/../../../evil.txt", data: "x" }], /outside/],
  ["absolute path", [{ name: "/tmp/evil-abs.txt", data: "x" }], /absolute/],
  ["symlink to an absolute path", [{ name: "l", type: "symlink", link: "/etc" }], /symlink/],
  ["symlink climbing out", [{ name: "a/l", type: "symlink", link: "../../x" }], /outside/],
  [
    "symlink through a symlink to the root's parent",
    [{ name: "s", type: "symlink", link: "." }, { name: "l", type: "symlink", link: "s/.." }],
    /outside/,
  ],
  [
    "file written through a symlink",
    [{ name: "d", type: "symlink", link: "sub" }, { name: "d/x.txt", data: "x" }],
    /through the symlink/,
  ],
];

for (const fmt of ["zip", "tar.gz"] as const) {
  for (const [label, entries, pattern] of HOSTILE) {
    Deno.test(`extractArchive() refuses a hostile ${fmt}: ${label}`, async () => {
      await using dir = await tempDir();
      const file = await build(dir.path, `p.${fmt}`, fmt, entries);
      const target = `${dir.path}/box/out`;
      await Deno.mkdir(target, { recursive: true });
      await assert.rejects(
        extractArchive(file, target, { kind: fmt === "zip" ? "zip" : "tar" }),
        (e: unknown) => e instanceof ExecutionException && pattern.test(e.message),
      );
      // Nothing beside the target, and nothing outside it is a symlink we made.
      assert.deepEqual(await listTree(`${dir.path}/box`), [
        "out/",
        ...(await listTree(target)).map((p) => `out/${p}`),
      ]);
      assert.ok((await listTree(target)).every((p) => !p.endsWith("@")), "no symlink created");
      await assert.rejects(Deno.lstat("/tmp/evil-abs.txt"));
    });
  }
}

Deno.test("extractArchive() refuses a tar hard link to a file outside the archive", async () => {
  await using dir = await tempDir();
  const file = await build(dir.path, "p.tar", "tar", [
    { name: "passwd", type: "hardlink", link: "/etc/passwd" },
  ]);
  await Deno.mkdir(`${dir.path}/out`);
  await assert.rejects(
    extractArchive(file, `${dir.path}/out`, { kind: "tar" }),
    /unsafe entry 'passwd'/,
  );
  const inside = await build(dir.path, "q.tar", "tar", [
    { name: "a.txt", data: "A" },
    { name: "b.txt", type: "hardlink", link: "a.txt" },
  ]);
  await Deno.mkdir(`${dir.path}/out2`);
  await extractArchive(inside, `${dir.path}/out2`, { kind: "tar" });
  assert.equal(await Deno.readTextFile(`${dir.path}/out2/b.txt`), "A");
});

Deno.test("extractArchive() refuses a zip declaring a huge size before writing anything", async () => {
  await using dir = await tempDir();
  const file = await build(dir.path, "bomb.zip", "zip", [
    { name: "a.txt", data: "small" },
    { name: "big.bin", data: "x", declared: 0xf0000000 },
  ]);
  await Deno.mkdir(`${dir.path}/out`);
  await assert.rejects(
    extractArchive(file, `${dir.path}/out`, { kind: "zip" }),
    /too large: it declares \d+ bytes/,
  );
  assert.deepEqual(await listTree(`${dir.path}/out`), []);
});

Deno.test("extractArchive() refuses a zip whose data inflates past its declared size", async () => {
  await using dir = await tempDir();
  const file = await build(dir.path, "liar.zip", "zip", [
    { name: "a.txt", data: "y".repeat(100_000), declared: 10 },
  ]);
  await Deno.mkdir(`${dir.path}/out`);
  await assert.rejects(
    extractArchive(file, `${dir.path}/out`, { kind: "zip" }),
    /larger than its declared size 10/,
  );
});

Deno.test("extractArchive() refuses a tar declaring a huge entry", async () => {
  await using dir = await tempDir();
  const file = await build(dir.path, "bomb.tar", "tar", [
    { name: "big.bin", declared: 3 * 1024 ** 3 },
  ]);
  await Deno.mkdir(`${dir.path}/out`);
  await assert.rejects(
    extractArchive(file, `${dir.path}/out`, { kind: "tar" }),
    /too large: 'big.bin' brings its content past the limit of 2147483648 bytes/,
  );
  assert.deepEqual(await listTree(`${dir.path}/out`), []);
});

Deno.test("extractArchive() applies a custom size limit and rejects files that are not archives", async () => {
  await using dir = await tempDir();
  const file = await build(dir.path, "p.zip", "zip", [{ name: "a.txt", data: "0123456789" }]);
  await Deno.mkdir(`${dir.path}/out`);
  await assert.rejects(
    extractArchive(file, `${dir.path}/out`, { kind: "zip", maxBytes: 5 }),
    /too large/,
  );
  await Deno.writeTextFile(`${dir.path}/junk.zip`, "not a zip at all");
  await assert.rejects(
    extractArchive(`${dir.path}/junk.zip`, `${dir.path}/out`, { kind: "zip" }),
    /is not a valid zip file/,
  );
  await Deno.writeTextFile(`${dir.path}/junk.tar`, "x".repeat(1024));
  await assert.rejects(
    extractArchive(`${dir.path}/junk.tar`, `${dir.path}/out`, { kind: "tar" }),
    /is not a valid tar file/,
  );
});

for (const fmt of ["zip", "tar", "tar.gz"] as const) {
  Deno.test(`extractArchive() names a ${fmt} entry whose name is too long for the file system`, async () => {
    await using dir = await tempDir();
    const long = `dir/${"n".repeat(300)}.txt`;
    const file = await build(dir.path, `long.${fmt}`, fmt, [{ name: long, data: "x" }]);
    await Deno.mkdir(`${dir.path}/out`);
    const error = await extractArchive(file, `${dir.path}/out`, {
      kind: fmt === "zip" ? "zip" : "tar",
    }).then(() => undefined, (e) => e);
    assert.ok(error instanceof ExecutionException, String(error));
    assert.match(
      error.message,
      /^Archive '.*long\.(zip|tar|tar\.gz)' has an entry 'dir\/n{96}…n{56}\.txt' whose name has a component of 304 bytes; file names are limited to 255 bytes$/,
    );
    const deep = Array.from({ length: 20 }, () => "d".repeat(250)).join("/") + "/f.txt";
    const deepFile = await build(dir.path, `deep.${fmt}`, fmt, [{ name: deep, data: "x" }]);
    await assert.rejects(
      extractArchive(deepFile, `${dir.path}/out`, { kind: fmt === "zip" ? "zip" : "tar" }),
      /^ExecutionException: Archive '.*' has an entry 'd{100}…d{54}\/f\.txt' whose path would be \d+ bytes long once unpacked; paths are limited to 4095 bytes$/,
    );
  });
}

Deno.test("extractArchive() shows an entry name with a newline on one line", async () => {
  await using dir = await tempDir();
  const file = await build(dir.path, "nl.tar", "tar", [{ name: "../a\nb", data: "x" }]);
  await Deno.mkdir(`${dir.path}/out`);
  await assert.rejects(
    extractArchive(file, `${dir.path}/out`, { kind: "tar" }),
    (e: Error) =>
      e.message ===
        `Archive '${file}' has an unsafe entry '../a\\x0ab': it would be written outside the target directory`,
  );
});

Deno.test("extractArchive() gives one line for truncated or corrupt compressed data", async () => {
  const { writeTarGz, writeZip } = await import("./_helpers/big_archives.ts");
  await using dir = await tempDir();
  const d = dir.path;
  const text = "hello ".repeat(100_000);
  await writeTarGz(`${d}/a.tar.gz`, [{ name: "p/a.txt", text }]);
  const gz = await Deno.readFile(`${d}/a.tar.gz`);
  await Deno.writeFile(`${d}/truncated.tar.gz`, gz.subarray(0, gz.length >> 1));
  await writeZip(`${d}/a.zip`, [{ name: "p/a.txt", text, method: "deflate" }]);
  const zip = await Deno.readFile(`${d}/a.zip`);
  for (let i = 45; i < 55; i++) zip[i]! ^= 0xff;
  await Deno.writeFile(`${d}/corrupt.zip`, zip);
  for (
    const [name, kind, message] of [
      [
        "truncated.tar.gz",
        "tar",
        "not a valid tar file: corrupt compressed data (unexpected end of file)",
      ],
      ["corrupt.zip", "zip", "not a valid zip file: corrupt compressed data ("],
    ] as const
  ) {
    await Deno.mkdir(`${d}/out-${name}`);
    await assert.rejects(
      extractArchive(`${d}/${name}`, `${d}/out-${name}`, { kind }),
      (e: Error) =>
        e instanceof ExecutionException && e.message.includes(message) && !e.message.includes("\n"),
    );
  }
});
