/**
 * scripts/install.sh against a local HTTP server serving fake release assets, in a clean HOME
 * with a minimal PATH; and its `--npx` launcher on a PATH without `deno`.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { REPO_ROOT, tempDir, writeFiles } from "../_helpers/cli.ts";
import { findExecutable, skipWithout } from "../_helpers/components.ts";
import { startFileServer } from "../_helpers/file_server.ts";

const INSTALL_SH = join(REPO_ROOT, "scripts", "install.sh");
/** The asset `deno compile --target <host>` makes, as the release workflow names it. */
const HOST_ASSET = `mlproject-${Deno.build.target}${Deno.build.os === "windows" ? ".exe" : ""}`;
const FAKE_BINARY = '#!/bin/sh\necho "fake mlproject $*"\n';
/** What the script needs besides shell built-ins. */
const SCRIPT_TOOLS = [
  "sh",
  "bash",
  "env",
  "uname",
  "awk",
  "cut",
  "grep",
  "mkdir",
  "mv",
  "chmod",
  "rm",
  "mktemp",
  "sed",
  "cat",
];

async function sha256(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** A directory of links to the machine's `tools` (those it has): a PATH with only them. */
async function toolPath(dir: string, tools: string[]): Promise<string> {
  await Deno.mkdir(dir, { recursive: true });
  for (const tool of tools) {
    const found = findExecutable(tool);
    if (found !== undefined) await Deno.symlink(found, join(dir, tool));
  }
  return dir;
}

/** The caller's network set-up (proxies, CA certificates, npm registry), for the npx launcher. */
function networkEnv(): Record<string, string> {
  const keep =
    /^(https?_proxy|no_proxy|all_proxy|ssl_cert_file|ssl_cert_dir|deno_cert|deno_tls_ca_store|node_extra_ca_certs|npm_config_registry)$/i;
  return Object.fromEntries(Object.entries(Deno.env.toObject()).filter(([k]) => keep.test(k)));
}

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

async function sh(
  args: string[],
  options: { env: Record<string, string>; cwd?: string },
): Promise<Result> {
  const out = await new Deno.Command(findExecutable("bash") ?? "bash", {
    args,
    env: options.env,
    clearEnv: true,
    stdin: "null",
    ...(options.cwd !== undefined ? { cwd: options.cwd } : {}),
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** Fake release assets: the host's binary and SHA256SUMS (`good`: its real checksum). */
async function releaseDir(dir: string, options: { good: boolean }): Promise<void> {
  const sum = options.good ? await sha256(FAKE_BINARY) : await sha256("something else");
  await writeFiles(dir, {
    [HOST_ASSET]: FAKE_BINARY,
    "mlproject-riscv64-unknown-linux-gnu": "other",
    "SHA256SUMS": `${await sha256("other")}  mlproject-riscv64-unknown-linux-gnu\n` +
      `${sum}  ${HOST_ASSET}\n`,
  });
}

const noDownloader = skipWithout(
  "install.sh tests",
  findExecutable("curl") !== undefined || findExecutable("wget") !== undefined,
  "neither curl nor wget on PATH",
);

Deno.test({
  name:
    "install.sh installs the host's verified binary into ~/.mlproject/bin and a new login shell finds mlproject",
  ignore: noDownloader,
  async fn() {
    await using tmp = await tempDir();
    const home = join(tmp.path, "home");
    await Deno.mkdir(home);
    await releaseDir(join(tmp.path, "release"), { good: true });
    await using server = startFileServer(join(tmp.path, "release"));
    const path = await toolPath(join(tmp.path, "tools"), [
      ...SCRIPT_TOOLS,
      "curl",
      "wget",
      "sha256sum",
      "shasum",
    ]);
    const env = { HOME: home, PATH: path, MLPROJECT_DOWNLOAD_URL: server.url };
    const first = await sh([INSTALL_SH], { env });
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stderr, new RegExp(`installed ${home}/\\.mlproject/bin/mlproject`));
    assert.deepEqual(server.paths, ["/SHA256SUMS", `/${HOST_ASSET}`]);
    const installed = join(home, ".mlproject", "bin", "mlproject");
    assert.equal(await Deno.readTextFile(installed), FAKE_BINARY);
    assert.equal((await Deno.stat(installed)).mode! & 0o777, 0o755);
    // A new login shell (its own system PATH, then ~/.profile) runs it.
    const login = await sh(["-lc", "mlproject --version"], {
      env: { HOME: home, PATH: "/usr/bin:/bin" },
    });
    assert.equal(login.stdout, "fake mlproject --version\n", login.stderr);
    const interactive = await sh(["-ic", "mlproject run x"], {
      env: { HOME: home, PATH: "/usr/bin:/bin" },
    });
    assert.equal(interactive.stdout, "fake mlproject run x\n", interactive.stderr);
    // Reinstalling replaces the binary and adds no second PATH line.
    const again = await sh([INSTALL_SH], { env });
    assert.equal(again.code, 0, again.stderr);
    for (const rc of [".profile", ".bashrc"]) {
      const text = await Deno.readTextFile(join(home, rc));
      assert.equal(text.split("/.mlproject/bin:").length - 1, 1, rc);
    }
  },
});

Deno.test({
  name: "install.sh works with wget and shasum when there is no curl or sha256sum",
  ignore: skipWithout(
    "install.sh wget/shasum test",
    findExecutable("wget") !== undefined && findExecutable("shasum") !== undefined,
    "wget or shasum missing",
  ),
  async fn() {
    await using tmp = await tempDir();
    const home = join(tmp.path, "home");
    await Deno.mkdir(home);
    await releaseDir(join(tmp.path, "release"), { good: true });
    await using server = startFileServer(join(tmp.path, "release"));
    // shasum is a perl script: perl comes along.
    const path = await toolPath(join(tmp.path, "tools"), [
      ...SCRIPT_TOOLS,
      "wget",
      "shasum",
      "perl",
    ]);
    const root = join(tmp.path, "opt");
    const out = await sh([INSTALL_SH], {
      env: {
        HOME: home,
        PATH: path,
        MLPROJECT_DOWNLOAD_URL: server.url,
        MLPROJECT_INSTALL: root,
        MLPROJECT_NO_MODIFY_PATH: "1",
      },
    });
    assert.equal(out.code, 0, out.stderr);
    assert.equal(await Deno.readTextFile(join(root, "bin", "mlproject")), FAKE_BINARY);
    assert.match(out.stderr, /add .*\/opt\/bin to PATH/);
    // MLPROJECT_NO_MODIFY_PATH: no start-up file written.
    assert.deepEqual([...Deno.readDirSync(home)], []);
  },
});

Deno.test({
  name: "install.sh refuses a binary whose checksum does not match and installs nothing",
  ignore: noDownloader,
  async fn() {
    await using tmp = await tempDir();
    const home = join(tmp.path, "home");
    await Deno.mkdir(home);
    await releaseDir(join(tmp.path, "release"), { good: false });
    await using server = startFileServer(join(tmp.path, "release"));
    const out = await sh([INSTALL_SH], {
      env: { HOME: home, PATH: Deno.env.get("PATH")!, MLPROJECT_DOWNLOAD_URL: server.url },
    });
    assert.equal(out.code, 1);
    assert.match(
      out.stderr,
      new RegExp(
        `error: checksum mismatch for ${HOST_ASSET}: expected ${await sha256(
          "something else",
        )}, got ${await sha256(FAKE_BINARY)}; nothing installed`,
      ),
    );
    assert.deepEqual([...Deno.readDirSync(home)], [], "no ~/.mlproject, no start-up file");
    // An asset missing from SHA256SUMS is refused too.
    await Deno.writeTextFile(join(tmp.path, "release", "SHA256SUMS"), "");
    const unlisted = await sh([INSTALL_SH], {
      env: { HOME: home, PATH: Deno.env.get("PATH")!, MLPROJECT_DOWNLOAD_URL: server.url },
    });
    assert.equal(unlisted.code, 1);
    assert.match(unlisted.stderr, /is not listed in .*SHA256SUMS; nothing installed/);
    assert.deepEqual([...Deno.readDirSync(home)], []);
  },
});

Deno.test("install.sh says clearly that there is no binary for an unknown OS or CPU", async () => {
  await using tmp = await tempDir();
  const home = join(tmp.path, "home");
  await Deno.mkdir(home);
  await using server = startFileServer(join(tmp.path, "release"));
  for (const [os, arch] of [["Linux", "riscv64"], ["FreeBSD", "amd64"]]) {
    const fake = join(tmp.path, `uname-${os}`);
    await writeFiles(fake, {
      "uname": `#!/bin/sh\ncase "$1" in -s) echo ${os} ;; -m) echo ${arch} ;; esac\n`,
    });
    await Deno.chmod(join(fake, "uname"), 0o755);
    const out = await sh([INSTALL_SH], {
      env: {
        HOME: home,
        PATH: `${fake}:${Deno.env.get("PATH")}`,
        MLPROJECT_DOWNLOAD_URL: server.url,
      },
    });
    assert.equal(out.code, 1);
    assert.equal(
      out.stderr,
      `install.sh: error: no mlproject binary for ${os} ${arch} (there are binaries for Linux x86_64 and aarch64, macOS x86_64 and arm64, Windows x86_64); with Node.js, run: sh install.sh --npx\n`,
    );
  }
  assert.equal(server.requests(), 0);
  assert.deepEqual([...Deno.readDirSync(home)], []);
});

const NPX = findExecutable("npx");
const NODE = findExecutable("node");

Deno.test({
  name:
    "install.sh --npx leaves an mlproject command that runs a project in a new shell without deno on PATH",
  ignore: skipWithout("npx launcher test", NPX !== undefined && NODE !== undefined, "no npx"),
  async fn() {
    await using tmp = await tempDir();
    const home = join(tmp.path, "home");
    await Deno.mkdir(home);
    await using server = startFileServer(REPO_ROOT);
    // Node's npx and what a shell needs, and no deno.
    const path = await toolPath(join(tmp.path, "tools"), [...SCRIPT_TOOLS, "node", "npx"]);
    assert.equal(findExecutable("deno", { path }), undefined);
    const install = await sh([INSTALL_SH, "--npx"], {
      env: { HOME: home, PATH: path, MLPROJECT_SOURCE: `${server.url}main.ts`, ...networkEnv() },
    });
    assert.equal(install.code, 0, install.stderr);
    const launcher = await Deno.readTextFile(join(home, ".mlproject", "bin", "mlproject"));
    assert.match(
      launcher,
      /deno@2\.9\.6 run -A --quiet --unstable-lazy-dynamic-imports 'http:\/\/127\.0\.0\.1:\d+\/main\.ts'/,
    );
    await writeFiles(join(tmp.path, "proj"), {
      "MLproject": 'name: p\nentry_points:\n  main:\n    command: "echo via npx"\n',
    });
    // A new shell reading ~/.profile, with only those tools on PATH.
    const out = await sh(
      [
        "-c",
        '. "$HOME/.profile" && ! command -v deno && mlproject --version && mlproject run proj --env-manager local',
      ],
      { env: { HOME: home, PATH: path, ...networkEnv() }, cwd: tmp.path },
    );
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stdout, /^mlproject \d+\.\d+\.\d+\nvia npx\n$/);
    assert.match(out.stderr, /Run \(ID '[0-9a-f]{32}'\) succeeded/);
    // Without the Deno npx fetched at install time (npm's cache cleaned), through npx again.
    const launcherPath = join(home, ".mlproject", "bin", "mlproject");
    const direct = /^if \[ -x '([^']+)' \]/m.exec(launcher)?.[1];
    assert.ok(direct !== undefined && direct.endsWith("deno"), launcher);
    await Deno.writeTextFile(launcherPath, launcher.replaceAll(direct, `${tmp.path}/gone/deno`));
    const viaNpx = await sh(["-c", '. "$HOME/.profile" && mlproject --version'], {
      env: { HOME: home, PATH: path, ...networkEnv() },
    });
    assert.match(viaNpx.stdout, /^mlproject \d+\.\d+\.\d+\n$/, viaNpx.stderr);
    // And a real login shell finds it too.
    const login = await sh(["-lc", "mlproject --version"], {
      env: { HOME: home, PATH: path, ...networkEnv() },
    });
    assert.match(login.stdout, /^mlproject \d+\.\d+\.\d+\n$/, login.stderr);
  },
});
