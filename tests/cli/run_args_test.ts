import assert from "node:assert/strict";
import { parseRunArgs, runArgsWantJson } from "../../cli/run_args.ts";
import { UsageError } from "../../lib/system/errors.ts";

const MANAGERS = ["local", "conda", "virtualenv", "uv"];

Deno.test("parseRunArgs() reads options in every spelling, flags and one URI", () => {
  const args = parseRunArgs(
    [
      "proj",
      "-e",
      "train",
      "-Palpha=1",
      "--param-list=beta=x=y",
      "-A",
      "gpus=all",
      "-A",
      "privileged",
      "-A",
      "e=A=1",
      "-Ae=B=2",
      "--env-manager",
      "uv",
      "--dry-run",
      "--json",
    ],
    { env: {}, envManagers: MANAGERS },
  );
  assert.ok(args !== "help");
  assert.equal(args.uri, "proj");
  assert.equal(args.entryPoint, "train");
  assert.deepEqual(args.params, { alpha: "1", beta: "x=y" });
  assert.deepEqual(args.dockerArgs, ["gpus=all", "privileged", "e=A=1", "e=B=2"]);
  assert.equal(args.envManager, "uv");
  assert.equal(args.dryRun, true);
  assert.equal(args.json, true);
  assert.equal(args.backend, "local");
});

Deno.test("parseRunArgs() takes experiment and storage defaults from the given environment only", () => {
  const args = parseRunArgs(["p"], {
    env: { MLFLOW_EXPERIMENT_NAME: "e", MLFLOW_TMP_DIR: "/t" },
    envManagers: MANAGERS,
  });
  assert.ok(args !== "help");
  assert.equal(args.experimentName, "e");
  assert.equal(args.storageDir, "/t");
  assert.equal(parseRunArgs(["p", "--help"], { env: {}, envManagers: MANAGERS }), "help");
  const after = parseRunArgs(["--", "-odd-uri"], { env: {}, envManagers: MANAGERS });
  assert.ok(after !== "help" && after.uri === "-odd-uri");
});

Deno.test("parseRunArgs() refuses malformed command lines with usage errors", () => {
  const cases: [string[], RegExp][] = [
    [[], /Missing argument 'URI'/],
    [["a", "b"], /unexpected extra argument \(b\)/],
    [["p", "-P", "novalue"], /Invalid format for -P parameter: 'novalue'/],
    [["p", "-P", "a=1", "-P", "a=2"], /Repeated parameter: 'a'/],
    [["p", "--bogus"], /^No such option '--bogus'\. Try 'mlproject run --help' for help\.$/],
    [["p", "-e"], /Option '-e' requires an argument/],
    [["p", "--env-manager", "pip"], /'pip' is not one of 'local'/],
    [["p", "--experiment-name", "a", "--experiment-id", "1"], /Specify only one of/],
  ];
  for (const [argv, message] of cases) {
    assert.throws(() => parseRunArgs(argv, { env: {}, envManagers: MANAGERS }), (e: Error) => {
      assert.equal((e as UsageError).exitCode, 2);
      assert.ok(e instanceof UsageError, argv.join(" "));
      assert.match(e.message, message);
      return true;
    });
  }
});

Deno.test("parseRunArgs() suggests the close long options of a mistyped one, as click does", () => {
  const cases: [string, string][] = [
    ["--env-manger", "Did you mean '--env-manager'?"],
    ["--entry", "Did you mean '--entry-point'?"],
    ["--experiment", "(Did you mean one of: '--experiment-id', '--experiment-name'?)"],
    ["--dryrun", "(Did you mean one of: '--dry-run', '--run-id'?)"],
  ];
  for (const [typo, hint] of cases) {
    assert.throws(
      () => parseRunArgs(["p", typo, "x"], { env: {}, envManagers: MANAGERS }),
      (e: Error) => {
        assert.equal(
          e.message,
          `No such option '${typo}'. ${hint} Try 'mlproject run --help' for help.`,
        );
        return true;
      },
    );
  }
  // click suggests long options only, and nothing when nothing is close.
  for (const typo of ["-x", "--zzzzzz"]) {
    assert.throws(
      () => parseRunArgs(["p", typo], { env: {}, envManagers: MANAGERS }),
      (e: Error) => !e.message.includes("Did you mean") && e.message.includes(`'${typo}'`),
    );
  }
});

Deno.test("runArgsWantJson() finds --json among the flags, not as a value or after --", () => {
  assert.equal(runArgsWantJson(["p", "--bogus", "--json"]), true);
  assert.equal(runArgsWantJson(["--json"]), true);
  assert.equal(runArgsWantJson(["p", "--run-name", "--json"]), false);
  assert.equal(runArgsWantJson(["p", "--", "--json"]), false);
  assert.equal(runArgsWantJson(["p"]), false);
});
