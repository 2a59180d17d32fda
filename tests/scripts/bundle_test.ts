import assert from "node:assert/strict";
import { join } from "node:path";
import { cleanEnv, REPO_ROOT, runCli, sqliteRows, tempDir, writeFiles } from "../_helpers/cli.ts";
import { startFileServer } from "../_helpers/file_server.ts";

/** Runs `deno run -A <script> …` in `cwd`. */
async function runScript(
  script: string,
  args: string[],
  cwd: string,
  env: Record<string, string>,
  flags: string[] = [],
) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", ...flags, script, ...args],
    cwd,
    env,
    clearEnv: true,
    stdin: "null",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test("the bundled CLI (deno task bundle, trained) prints the same help and runs a project as main.ts does", async () => {
  await using tmp = await tempDir();
  const outdir = join(tmp.path, "cli");
  const built = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "scripts/bundle.ts", "--outdir", outdir],
    cwd: REPO_ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(built.success, new TextDecoder().decode(built.stderr));
  // The training run found functions to compile with their modules.
  const summary = new TextDecoder().decode(built.stdout);
  const eager = /compiled with their module: (\d+) functions/.exec(summary);
  assert.ok(eager !== null && Number(eager[1]) > 50, summary);
  const bundled = join(outdir, "main.js");

  for (const args of [["--help"], ["run", "--help"]]) {
    const fromSource = await runCli(args, { cwd: tmp.path });
    const fromBundle = await runScript(bundled, args, tmp.path, cleanEnv());
    assert.equal(fromBundle.code, 0, fromBundle.stderr);
    assert.equal(fromBundle.stdout, fromSource.stdout);
  }

  await writeFiles(join(tmp.path, "proj"), {
    MLproject: "entry_points:\n  main:\n    parameters:\n      n: {type: float, default: 2}\n" +
      "    command: 'echo n={n}'\n",
  });
  const db = join(tmp.path, "mlflow.db");
  const result = await runScript(
    bundled,
    ["run", join(tmp.path, "proj"), "--env-manager", "local", "-P", "n=3"],
    tmp.path,
    cleanEnv({ MLFLOW_TRACKING_URI: `sqlite:///${db}` }),
  );
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stdout, "n=3\n");
  assert.match(result.stderr, /=== Run \(ID '[0-9a-f]{32}'\) succeeded ===/);
  const runs = await sqliteRows(db, "SELECT status FROM runs");
  assert.deepEqual(runs.map((r) => r.status), ["FINISHED"]);

  // Served over HTTP as JSR serves the package's `./cli` export (the trained bundle, typed by
  // main.d.ts), with a fresh DENO_DIR and the flag the --npx launcher passes.
  await using server = startFileServer(outdir);
  const remote = await runScript(
    `${server.url}main.js`,
    ["run", join(tmp.path, "proj"), "--env-manager", "local", "-P", "n=4"],
    tmp.path,
    cleanEnv({ MLFLOW_TRACKING_URI: `sqlite:///${db}`, DENO_DIR: join(tmp.path, "deno_dir") }),
    ["--unstable-lazy-dynamic-imports"],
  );
  assert.equal(remote.code, 0, remote.stderr);
  assert.equal(remote.stdout, "n=4\n");
  assert.ok(server.paths.includes("/main.js"));
  // Only what a local run into SQLite needs was fetched: not the Docker, Kubernetes or
  // Databricks parts.
  assert.ok(server.paths.length < 40, server.paths.join(" "));
  assert.equal(await Deno.readTextFile(join(outdir, "main.d.ts")), "export {};\n");
  const after = await sqliteRows(db, "SELECT status FROM runs");
  assert.deepEqual(after.map((r) => r.status), ["FINISHED", "FINISHED"]);
});
