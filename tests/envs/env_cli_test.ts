import assert from "node:assert/strict";
import { runCli, tempDir } from "../_helpers/cli.ts";
import { envTestEnv } from "./_env_helpers.ts";

Deno.test("mlproject env, env list/rm/gc --help print usage and exit 0", async () => {
  await using tmp = await tempDir();
  const env = envTestEnv(`${tmp.path}/envs`);
  const top = await runCli(["env"], { cwd: tmp.path, env });
  assert.equal(top.code, 0);
  assert.match(top.stdout, /Usage: mlproject env COMMAND/);
  for (const sub of ["list", "rm", "gc"]) {
    const out = await runCli(["env", sub, "--help"], { cwd: tmp.path, env });
    assert.equal(out.code, 0, sub);
    assert.match(out.stdout, new RegExp(`^Usage: mlproject env ${sub} `), sub);
  }
  const main = await runCli(["--help"], { cwd: tmp.path, env });
  assert.match(
    main.stdout,
    /\n {2}env {2}List, remove and garbage-collect cached Python environments\./,
  );
});

Deno.test("mlproject env usage mistakes exit 2 with a one-line error; an unknown key exits 1", async () => {
  await using tmp = await tempDir();
  const env = envTestEnv(`${tmp.path}/envs`);
  const cases: [string[], string][] = [
    [
      ["env", "bogus"],
      "Error: No such command 'bogus'. Try 'mlproject env --help' for help.\n",
    ],
    [
      ["env", "lst"],
      "Error: No such command 'lst'. Did you mean 'list'? Try 'mlproject env --help' for help.\n",
    ],
    [["env", "rm"], "Error: Missing argument 'KEY'. Try 'mlproject env rm --help' for help.\n"],
    [
      ["env", "rm", "--force", "k"],
      "Error: No such option '--force'. Try 'mlproject env rm --help' for help.\n",
    ],
    [
      ["env", "list", "extra"],
      "Error: Got unexpected extra argument (extra). Try 'mlproject env list --help' for help.\n",
    ],
    [
      ["env", "gc", "--older-then=3"],
      "Error: No such option '--older-then'. Did you mean '--older-than'? Try 'mlproject env gc --help' for help.\n",
    ],
    [
      ["env", "gc", "--older-than"],
      "Error: Option '--older-than' requires an argument. Try 'mlproject env gc --help' for help.\n",
    ],
    [
      ["env", "gc", "--older-than", "soon"],
      "Error: Invalid value for '--older-than': 'soon' is not a non-negative number of days.\n",
    ],
  ];
  for (const [args, stderr] of cases) {
    const out = await runCli(args, { cwd: tmp.path, env });
    assert.equal(out.code, 2, args.join(" "));
    assert.equal(out.stderr, stderr);
  }
  const unknown = await runCli(["env", "rm", "virtualenv-3.11.7-0123456789abcdef"], {
    cwd: tmp.path,
    env,
  });
  assert.equal(unknown.code, 1);
  assert.match(
    unknown.stderr,
    /ERROR mlproject: === No environment 'virtualenv-3\.11\.7-0123456789abcdef' in .*\/envs \(see `mlproject env list`\) ===\n$/,
  );
  const empty = await runCli(["env", "list"], { cwd: tmp.path, env });
  assert.equal(empty.code, 0);
  assert.match(empty.stdout, /^KEY\s+MANAGER\s+PYTHON\s+SIZE\s+LAST USED\s+PATH\n$/);
  const gc = await runCli(["env", "gc", "--older-than=0"], { cwd: tmp.path, env });
  assert.equal(gc.code, 0);
  assert.equal(gc.stderr, "Removed 0 environments\n");
});
