/**
 * Deno drops one trailing `\r` from each command-line argument (a runtime behaviour, see
 * docs/compatibility.md); values handed to the library's `run()` must reach the child intact.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { run } from "../lib/mod.ts";
import { cleanEnv, MAIN_TS, sqliteRows, tempDir, writeFiles } from "./_helpers/cli.ts";

const MLPROJECT = `entry_points:
  main:
    parameters:
      value: string
    command: "printf %s {value} | od -An -c > seen.txt"
`;

for (const value of ["ends with CR\r", "two\r\r", "\r", "cr\r\nlf"]) {
  Deno.test(`run() hands a parameter value ${JSON.stringify(value)} to the child and logs it unchanged`, async () => {
    await using tmp = await tempDir();
    const proj = join(tmp.path, "proj");
    await writeFiles(proj, { MLproject: MLPROJECT });
    const submitted = await run(proj, {
      cwd: tmp.path,
      env: cleanEnv(),
      envManager: "local",
      trackingUri: `sqlite:///${tmp.path}/mlflow.db`,
      parameters: { value },
      stdout: "stderr",
    });
    const expected = new Deno.Command("od", {
      args: ["-An", "-c"],
      stdin: "piped",
      stdout: "piped",
    }).spawn();
    const writer = expected.stdin.getWriter();
    await writer.write(new TextEncoder().encode(value));
    await writer.close();
    const want = new TextDecoder().decode((await expected.output()).stdout);
    assert.equal(await Deno.readTextFile(join(proj, "seen.txt")), want);
    const [row] = await sqliteRows(
      `${tmp.path}/mlflow.db`,
      "SELECT value FROM params WHERE run_uuid = ? AND key = 'value'",
      submitted.runId,
    );
    assert.equal(row?.value, value);
  });
}

Deno.test("Deno itself drops one trailing CR of an argument (why the CLI reads /proc/self/cmdline)", async () => {
  // Guards the note in docs/compatibility.md: when Deno stops dropping the CR this test fails
  // and the note must go.
  await using tmp = await tempDir();
  await Deno.writeTextFile(`${tmp.path}/args.ts`, "console.log(JSON.stringify(Deno.args));");
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", `${tmp.path}/args.ts`, "a\r", "b\r\r", "c\rd", "\r"],
    stdout: "piped",
  }).output();
  const args = JSON.parse(new TextDecoder().decode(out.stdout)) as string[];
  assert.deepEqual(args, ["a", "b\r", "c\rd", ""]);
});

Deno.test("the CLI gives the child a -P value with its trailing CR (recovered from the kernel's argv)", async () => {
  await using tmp = await tempDir();
  const proj = join(tmp.path, "proj");
  await writeFiles(proj, { MLproject: MLPROJECT });
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--quiet",
      MAIN_TS,
      "run",
      proj,
      "--env-manager",
      "local",
      "-P",
      "value=x\r",
    ],
    cwd: tmp.path,
    env: cleanEnv({ MLFLOW_TRACKING_URI: `sqlite:///${tmp.path}/mlflow.db` }),
    clearEnv: true,
    stdout: "null",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  assert.match(await Deno.readTextFile(join(proj, "seen.txt")), /x\s+\\r/);
  const rows = await sqliteRows(`${tmp.path}/mlflow.db`, "SELECT value FROM params");
  assert.deepEqual(rows.map((r) => r.value), ["x\r"]);
});
