/**
 * Interrupting a real virtualenv build (real `python -m venv`, real pip stuck on an index server
 * that never answers) through the CLI.
 */
import assert from "node:assert/strict";
import { MAIN_TS, tempDir, writeFiles } from "../_helpers/cli.ts";
import { hostPython } from "../_helpers/components.ts";
import { envTestEnv } from "./_env_helpers.ts";

const PY = await hostPython();

Deno.test("SIGTERM during an environment build stops pip, exits 130 and records nothing", async () => {
  await using tmp = await tempDir();
  const hang = new AbortController();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, signal: hang.signal, onListen() {} },
    (req) =>
      new Promise<Response>((resolve) =>
        req.signal.addEventListener("abort", () => resolve(new Response("")))
      ),
  );
  await writeFiles(`${tmp.path}/proj`, {
    MLproject: "python_env: python_env.yaml\nentry_points:\n  main:\n    command: 'true'\n",
    "python_env.yaml": `python: "${PY.minor}"\ndependencies:\n  - not-on-any-index\n`,
  });
  const root = `${tmp.path}/envs`;
  const cli = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", MAIN_TS, "run", `${tmp.path}/proj`],
    cwd: tmp.path,
    env: envTestEnv(root, {
      PIP_NO_INDEX: "false",
      PIP_INDEX_URL: `http://127.0.0.1:${server.addr.port}/simple`,
      PIP_FIND_LINKS: "",
      PIP_EXTRA_INDEX_URL: "",
    }),
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let seen = "";
  // pip has started once it says where it looks (however long the venv takes on a loaded machine);
  // the drain ends when the runner exits, so an early exit fails the test instead of hanging.
  let pipStarted!: () => void;
  const started = new Promise<void>((r) => pipStarted = r);
  const drained = (async () => {
    for await (const chunk of cli.stderr.pipeThrough(new TextDecoderStream())) {
      seen += chunk;
      if (/Looking in indexes|Collecting/.test(seen)) pipStarted();
    }
  })();
  await Promise.race([started, drained]);
  assert.match(seen, /Looking in indexes|Collecting/, "pip started before the runner exited");
  cli.kill("SIGTERM");
  const status = await cli.status;
  await cli.stdout.cancel();
  await drained;
  hang.abort();
  await server.finished;
  assert.equal(status.code, 130, seen);
  const ps = new TextDecoder().decode(
    (await new Deno.Command("ps", { args: ["-ww", "-eo", "args"] }).output()).stdout,
  );
  // Only this test's processes (their argv names the env root), not other test runs' pips.
  const ours = ps.split("\n").filter((line) => line.includes(root));
  assert.deepEqual(ours.filter((l) => /not-on-any-index/.test(l)), [], "pip is not left running");
  const leftovers = [...Deno.readDirSync(root)].map((e) => e.name).filter((n) =>
    !n.startsWith(".")
  );
  assert.deepEqual(leftovers.filter((n) => !n.endsWith(".lock")), [], "no half-built env");
  await assert.rejects(Deno.stat(`${tmp.path}/mlflow.db`));
});
