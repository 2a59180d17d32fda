import assert from "node:assert/strict";
import { ExecutionException, UsageError } from "../../lib/system/errors.ts";
import { createTlsClient } from "../../lib/http/http_client.ts";
import { loadDotenv } from "../../lib/system/dotenv.ts";
import {
  formatBytes,
  invalidUtf8Offset,
  readUserFile,
  readUserFileSync,
  USER_FILE_MAX_BYTES,
} from "../../lib/system/user_file.ts";
import { tempDir } from "../_helpers/cli.ts";

type Reader = (path: string, options?: Parameters<typeof readUserFileSync>[1]) => unknown;
const READERS: [string, Reader][] = [
  ["readUserFileSync()", readUserFileSync],
  ["readUserFile()", readUserFile],
];

async function refuses(read: Reader, path: string, message: string, usage = false): Promise<void> {
  await assert.rejects(
    async () => await read(path, { label: "test file", usage }),
    (e: unknown) => {
      assert.ok(usage ? e instanceof UsageError : e instanceof ExecutionException, String(e));
      assert.equal((e as Error).message, message);
      return true;
    },
  );
}

async function mkfifo(path: string): Promise<void> {
  assert.ok((await new Deno.Command("mkfifo", { args: [path] }).output()).success);
}

for (const [name, read] of READERS) {
  Deno.test(`${name} refuses a FIFO at once, even with a writer that never writes`, async () => {
    await using dir = await tempDir();
    const fifo = `${dir.path}/fifo`;
    await mkfifo(fifo);
    await refuses(read, fifo, `Cannot read test file '${fifo}': it is a FIFO, not a regular file`);
    using _writer = await Deno.open(fifo, { read: true, write: true });
    await refuses(read, fifo, `Cannot read test file '${fifo}': it is a FIFO, not a regular file`);
  });

  Deno.test(`${name} refuses devices, sockets and directories without reading them`, async () => {
    await using dir = await tempDir();
    await refuses(
      read,
      "/dev/zero",
      "Cannot read test file '/dev/zero': it is a character device, not a regular file",
    );
    await Deno.symlink("/dev/urandom", `${dir.path}/link`);
    await refuses(
      read,
      `${dir.path}/link`,
      `Cannot read test file '${dir.path}/link': it is a character device, not a regular file`,
    );
    const listener = Deno.listen({ transport: "unix", path: `${dir.path}/sock` });
    try {
      await refuses(
        read,
        `${dir.path}/sock`,
        `Cannot read test file '${dir.path}/sock': it is a socket, not a regular file`,
      );
    } finally {
      listener.close();
    }
    await refuses(
      read,
      dir.path,
      `Cannot read test file '${dir.path}': it is a directory, not a regular file`,
    );
  });

  Deno.test(`${name} names missing files, symlink loops and too-long names`, async () => {
    await using dir = await tempDir();
    await refuses(
      read,
      `${dir.path}/nope`,
      `Cannot read test file '${dir.path}/nope': no such file`,
    );
    await Deno.symlink("loop", `${dir.path}/loop`);
    await refuses(
      read,
      `${dir.path}/loop`,
      `Cannot read test file '${dir.path}/loop': too many levels of symbolic links (a symlink loop)`,
    );
    const long = `${dir.path}/${"x".repeat(300)}`;
    await refuses(read, long, `Cannot read test file '${long}': the file name is too long`);
  });

  Deno.test(`${name} caps the size, also for files that report size 0`, async () => {
    await using dir = await tempDir();
    const big = `${dir.path}/big`;
    await Deno.writeTextFile(big, "x".repeat(101));
    await assert.rejects(
      async () => await read(big, { label: "test file", maxBytes: 100 }),
      {
        message:
          `Cannot read test file '${big}': it is 101 bytes, over the 100 bytes limit for this kind of file`,
      },
    );
    await assert.rejects(
      async () => await read("/proc/self/status", { label: "test file", maxBytes: 16 }),
      {
        message:
          "Cannot read test file '/proc/self/status': it is over the 16 bytes limit for this kind of file",
      },
    );
    assert.match(String(await read("/proc/self/status")), /^Name:/);
  });

  Deno.test(`${name} refuses invalid UTF-8 with the offset, drops a BOM, and can raise UsageError`, async () => {
    await using dir = await tempDir();
    const file = `${dir.path}/f`;
    await Deno.writeFile(file, new Uint8Array([0xef, 0xbb, 0xbf, 0x61, 0x0a]));
    assert.equal(await read(file), "a\n");
    await Deno.writeFile(file, new Uint8Array([0x61, 0x62, 0xc3, 0x28]));
    await refuses(
      read,
      file,
      `Cannot read test file '${file}': it is not valid UTF-8 (byte 0xc3 at offset 2)`,
      true,
    );
  });
}

Deno.test("invalidUtf8Offset() agrees with a strict decoder on every 1- and 2-byte sequence", () => {
  const strict = new TextDecoder("utf-8", { fatal: true });
  const valid = (bytes: Uint8Array) => {
    try {
      strict.decode(bytes);
      return true;
    } catch {
      return false;
    }
  };
  for (let a = 0; a < 256; a++) {
    for (let b = 0; b < 256; b += a < 0x80 ? 255 : 1) {
      const bytes = new Uint8Array([a, b]);
      assert.equal(invalidUtf8Offset(bytes) === -1, valid(bytes), `bytes ${a} ${b}`);
    }
  }
  for (const seq of [[0xe0, 0x80, 0x80], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80]]) {
    assert.equal(invalidUtf8Offset(new Uint8Array(seq)), 0);
  }
  assert.equal(invalidUtf8Offset(new TextEncoder().encode("é€😀")), -1);
});

Deno.test("formatBytes() writes the documented limits", () => {
  assert.equal(formatBytes(USER_FILE_MAX_BYTES), "10 MiB");
  assert.equal(formatBytes(128 * 1024), "128 KiB");
  assert.equal(formatBytes(100), "100 bytes");
});

Deno.test("loadDotenv() refuses a FIFO or /dev/zero as a usage error, and keeps MLflow's missing-file message", async () => {
  await using dir = await tempDir();
  await mkfifo(`${dir.path}/vars.env`);
  assert.throws(() => loadDotenv(`${dir.path}/vars.env`, {}), (e: unknown) => {
    assert.ok(e instanceof UsageError);
    assert.equal(
      e.message,
      `Cannot read environment file '${dir.path}/vars.env': it is a FIFO, not a regular file`,
    );
    return true;
  });
  assert.throws(() => loadDotenv("/dev/zero", {}), UsageError);
  assert.throws(() => loadDotenv(`${dir.path}/nope`, {}), {
    message: `Environment file '${dir.path}/nope' does not exist.`,
  });
});

Deno.test("createTlsClient() refuses a certificate path that is /dev/zero instead of reading forever", () => {
  assert.throws(
    () => createTlsClient({ caCertPath: "/dev/zero" }),
    /Cannot read .*'\/dev\/zero': it is a character device, not a regular file/,
  );
});
