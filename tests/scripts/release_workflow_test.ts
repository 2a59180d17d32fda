/**
 * The release workflow and the install script: actionlint (with shellcheck on the `run:` scripts)
 * and shellcheck clean, and install.sh asks for exactly the binaries the workflow builds.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { parse } from "npm:yaml@2.9.1";
import { REPO_ROOT, tempDir, writeFiles } from "../_helpers/cli.ts";
import { skipWithout } from "../_helpers/components.ts";
import { startFileServer } from "../_helpers/file_server.ts";
import { actionlintPath, shellcheckPath, TOOLS_HINT } from "../_helpers/test_tools.ts";

const ACTIONLINT = actionlintPath();
const SHELLCHECK = shellcheckPath();
const WORKFLOW = join(REPO_ROOT, ".github", "workflows", "release.yml");

async function output(cmd: string, args: string[], env: Record<string, string> = {}) {
  const out = await new Deno.Command(cmd, { args, cwd: REPO_ROOT, env, stdin: "null" }).output();
  const dec = new TextDecoder();
  return { code: out.code, text: dec.decode(out.stdout) + dec.decode(out.stderr) };
}

Deno.test({
  name: "actionlint finds nothing in .github/workflows/ (run: scripts shellchecked)",
  ignore: skipWithout("actionlint test", ACTIONLINT !== undefined, TOOLS_HINT),
  async fn() {
    const env: Record<string, string> = SHELLCHECK === undefined
      ? {}
      : { PATH: `${SHELLCHECK.slice(0, SHELLCHECK.lastIndexOf("/"))}:${Deno.env.get("PATH")}` };
    const out = await output(ACTIONLINT!, ["-no-color"], env);
    assert.equal(out.text, "");
    assert.equal(out.code, 0);
    // The same run reports a broken workflow.
    await using tmp = await tempDir();
    await writeFiles(tmp.path, {
      ".github/workflows/bad.yml":
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ matrix.nope }}\n      - run: cd $HOME/x\n",
    });
    await new Deno.Command("git", { args: ["init", "-q", tmp.path] }).output();
    const bad = await new Deno.Command(ACTIONLINT!, {
      args: ["-no-color"],
      cwd: tmp.path,
      env,
      stdout: "piped",
    }).output();
    assert.equal(bad.code, 1);
    const report = new TextDecoder().decode(bad.stdout);
    assert.match(report, /bad\.yml:6:\d+: property "nope" is not defined/);
    if (SHELLCHECK !== undefined) assert.match(report, /bad\.yml:7:.*SC2086.*\[shellcheck\]/);
  },
});

Deno.test({
  name: "shellcheck finds nothing in scripts/install.sh",
  ignore: skipWithout("shellcheck test", SHELLCHECK !== undefined, TOOLS_HINT),
  async fn() {
    const out = await output(SHELLCHECK!, ["--shell=sh", "scripts/install.sh"]);
    assert.equal(out.text, "");
    assert.equal(out.code, 0);
  },
});

Deno.test("release.yml builds every binary install.sh downloads, on a v* tag, and publishes to JSR", async () => {
  // deno-lint-ignore no-explicit-any -- a parsed YAML document
  const workflow = parse(await Deno.readTextFile(WORKFLOW)) as any;
  assert.deepEqual(workflow.on.push.tags, ["v*"]);
  const targets: string[] = workflow.jobs.build.strategy.matrix.include.map(
    (m: { target: string }) => m.target,
  );
  assert.deepEqual(targets.toSorted(), [
    "aarch64-apple-darwin",
    "aarch64-unknown-linux-gnu",
    "x86_64-apple-darwin",
    "x86_64-pc-windows-msvc",
    "x86_64-unknown-linux-gnu",
  ]);
  assert.equal(workflow.jobs.publish.permissions["id-token"], "write");
  assert.ok(
    workflow.jobs.publish.steps.some((s: { run?: string }) => s.run === "deno publish"),
  );
  // What install.sh asks the server for on each platform `uname` can report.
  await using tmp = await tempDir();
  await using server = startFileServer(join(tmp.path, "empty"));
  const asked: string[] = [];
  for (
    const [os, arch] of [
      ["Linux", "x86_64"],
      ["Linux", "aarch64"],
      ["Linux", "arm64"],
      ["Darwin", "x86_64"],
      ["Darwin", "arm64"],
      ["MINGW64_NT-10.0-19045", "x86_64"],
    ]
  ) {
    const fake = join(tmp.path, `${os}-${arch}`);
    await writeFiles(fake, {
      uname: `#!/bin/sh\ncase "$1" in -s) echo ${os} ;; -m) echo ${arch} ;; esac\n`,
      // Not on Apple silicon under Rosetta.
      sysctl: "#!/bin/sh\necho 0\n",
    });
    for (const f of ["uname", "sysctl"]) await Deno.chmod(join(fake, f), 0o755);
    server.paths.length = 0;
    const out = await new Deno.Command("sh", {
      args: [join(REPO_ROOT, "scripts", "install.sh")],
      env: {
        HOME: join(tmp.path, "home"),
        PATH: `${fake}:${Deno.env.get("PATH")}`,
        MLPROJECT_DOWNLOAD_URL: server.url,
      },
      clearEnv: true,
      stdin: "null",
    }).output();
    assert.equal(out.code, 1, "the empty server has no SHA256SUMS");
    assert.deepEqual(server.paths, ["/SHA256SUMS"]);
    const stderr = new TextDecoder().decode(out.stderr);
    const asset = /downloading \S+\/(mlproject-\S+)/.exec(stderr)?.[1];
    assert.ok(asset !== undefined, stderr);
    asked.push(asset);
  }
  const built = targets.map((t) => `mlproject-${t}${t.includes("windows") ? ".exe" : ""}`);
  assert.deepEqual([...new Set(asked)].sort(), built.toSorted());
});
