import assert from "node:assert/strict";
import { runCli, tempDir, writeFiles } from "./_helpers/cli.ts";

async function project(dir: string): Promise<string> {
  await writeFiles(`${dir}/proj`, {
    "MLproject": `name: p
entry_points:
  main:
    command: "echo main"
  fail:
    command: "exit 3"
`,
  });
  return `${dir}/proj`;
}

Deno.test("a mistyped option or command says what was meant and points to --help, exit 2", async () => {
  await using tmp = await tempDir();
  const proj = await project(tmp.path);
  const cases: [string[], string][] = [
    [
      ["run", proj, "--env-manger", "local"],
      "Error: No such option '--env-manger'. Did you mean '--env-manager'? Try 'mlproject run --help' for help.",
    ],
    [
      ["run", proj, "--experiment=x"],
      "Error: No such option '--experiment'. (Did you mean one of: '--experiment-id', '--experiment-name'?) Try 'mlproject run --help' for help.",
    ],
    [
      ["rnu", proj],
      "Error: No such command 'rnu'. Did you mean 'run'? Try 'mlproject --help' for help.",
    ],
    [
      ["--versoin"],
      "Error: No such option '--versoin'. Did you mean '--version'? Try 'mlproject --help' for help.",
    ],
    [["run", proj, "-x"], "Error: No such option '-x'. Try 'mlproject run --help' for help."],
  ];
  for (const [args, line] of cases) {
    const out = await runCli(args, { cwd: tmp.path });
    assert.equal(out.code, 2, args.join(" "));
    assert.equal(out.stderr, `${line}\n`);
    assert.equal(out.stdout, "", "no JSON without --json");
  }
});

Deno.test("with --json, an error still prints one JSON object with the error and exit code on stdout", async () => {
  await using tmp = await tempDir();
  const proj = await project(tmp.path);
  const cases: [string[], number, RegExp][] = [
    [
      ["run", proj, "--json", "--env-manger", "local"],
      2,
      /^No such option '--env-manger'\. Did you mean '--env-manager'\?/,
    ],
    [["run", "--json"], 2, /^Missing argument 'URI'\./],
    [
      ["run", `${tmp.path}/missing`, "--json", "--env-manager", "local"],
      1,
      /No such project directory/,
    ],
    [["run", proj, "--json", "-e", "nope", "--env-manager", "local"], 1, /nope/],
    [["--env-file", `${tmp.path}/missing.env`, "run", proj, "--json"], 2, /missing\.env/],
  ];
  for (const [args, code, error] of cases) {
    const out = await runCli(args, { cwd: tmp.path });
    assert.equal(out.code, code, `${args.join(" ")}: ${out.stderr}`);
    const lines = out.stdout.trim().split("\n");
    assert.equal(lines.length, 1, out.stdout);
    const obj = JSON.parse(lines[0]!);
    assert.deepEqual(Object.keys(obj), ["error", "exit_code"]);
    assert.match(obj.error, error);
    assert.equal(obj.exit_code, code);
    // The human-readable line is still on stderr.
    assert.ok(out.stderr.includes(obj.error.split(" ")[0]), out.stderr);
  }
});

Deno.test("with --json, a failed run's object carries its status, error and exit code", async () => {
  await using tmp = await tempDir();
  const proj = await project(tmp.path);
  const out = await runCli(["run", proj, "-e", "fail", "--env-manager", "local", "--json"], {
    cwd: tmp.path,
  });
  assert.equal(out.code, 1);
  const lines = out.stdout.trim().split("\n");
  assert.equal(lines.length, 1, out.stdout);
  const obj = JSON.parse(lines[0]!);
  assert.equal(obj.status, "FAILED");
  assert.equal(obj.exit_code, 1);
  assert.match(obj.error, /Run \(ID '[0-9a-f]{32}'\) failed/);
  assert.equal(typeof obj.run_id, "string");
});
