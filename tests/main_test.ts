import assert from "node:assert/strict";
import { join } from "node:path";
import {
  cleanEnv,
  FIXTURES,
  REPO_ROOT,
  runCli,
  sqliteRows,
  tempDir,
  writeFiles,
} from "./_helpers/cli.ts";
import { writeExperimentMeta } from "./_helpers/mlruns.ts";

const CHILD = `${REPO_ROOT}/tests/testdata/fake_mlflow_child.py`;

/** A project whose entry points record how they were called. */
async function makeProject(dir: string): Promise<string> {
  const project = join(dir, "proj");
  await writeFiles(project, {
    "MLproject": `name: echo
entry_points:
  main:
    parameters:
      name: {type: string, default: "world"}
      alpha: {type: float, default: 0.1}
      flag: {type: bool, default: true}
      data: {type: path, default: "."}
      target: {type: uri, default: "https://example.com/x"}
    command: "python3 ${CHILD} --exit 0 {name} {alpha} {flag} {data} {target}"
  fail:
    command: "python3 ${CHILD} --exit 3"
  argv:
    parameters:
      x: string
    command: "python3 -c 'import json,sys; print(json.dumps(sys.argv[1:]))' {x}"
  ends_itself:
    parameters:
      end: string
      code: {type: int, default: 0}
    command: "python3 ${CHILD} --end {end} --exit {code}"
`,
    "script.sh": 'echo "script args: $*"\n',
    "sub/MLproject": "entry_points:\n  main:\n    command: pwd\n",
  });
  return project;
}

/** A temp dir for the CLI's own temporary files (TMPDIR), to check that it leaves none. */
async function privateTmp(dir: string): Promise<string> {
  const path = join(dir, "private-tmp");
  await Deno.mkdir(path, { recursive: true });
  return path;
}

function lastJson(stdout: string): Record<string, unknown> {
  const lines = stdout.trim().split("\n");
  return JSON.parse(lines[lines.length - 1]!);
}

async function runRows(db: string) {
  return await sqliteRows(db, "SELECT * FROM runs ORDER BY start_time");
}

async function tagsOf(db: string, runId: string): Promise<Record<string, string>> {
  const rows = await sqliteRows(db, "SELECT key, value FROM tags WHERE run_uuid = ?", runId);
  return Object.fromEntries(rows.map((r) => [String(r.key), String(r.value)]));
}

async function paramsOf(db: string, runId: string): Promise<Record<string, string>> {
  const rows = await sqliteRows(db, "SELECT key, value FROM params WHERE run_uuid = ?", runId);
  return Object.fromEntries(rows.map((r) => [String(r.key), String(r.value)]));
}

Deno.test("mlproject --help and run --help print usage and exit 0", async () => {
  await using tmp = await tempDir();
  const main = await runCli(["--help"], { cwd: tmp.path });
  assert.equal(main.code, 0);
  assert.match(main.stdout, /Usage: mlproject/);
  const run = await runCli(["run", "--help"], { cwd: tmp.path });
  assert.equal(run.code, 0);
  for (
    const flag of [
      "--entry-point",
      "--param-list",
      "--docker-args",
      "--experiment-name",
      "--experiment-id",
      "--backend",
      "--backend-config",
      "--env-manager",
      "--storage-dir",
      "--run-id",
      "--run-name",
      "--build-image",
      "--json",
    ]
  ) {
    assert.ok(run.stdout.includes(flag), flag);
  }
});

Deno.test("mlproject --version prints the version from deno.json", async () => {
  await using tmp = await tempDir();
  const out = await runCli(["--version"], { cwd: tmp.path });
  const cfg = JSON.parse(await Deno.readTextFile(`${REPO_ROOT}/deno.json`));
  assert.equal(out.stdout.trim(), `mlproject ${cfg.version}`);
});

Deno.test("run records a FINISHED run with MLflow's tags and raw params in ./mlflow.db", async () => {
  await using tmp = await tempDir();
  const project = await makeProject(tmp.path);
  const out = await runCli(
    ["run", project, "--env-manager", "local", "-P", "name=it's a b", "-P", "extra=x y"],
    { cwd: tmp.path },
  );
  assert.equal(out.code, 0, out.stderr);
  const child = lastJson(out.stdout) as {
    argv: string[];
    cwd: string;
    env: Record<string, string>;
  };
  const [run] = await runRows(join(tmp.path, "mlflow.db"));
  assert.ok(run);
  const runId = String(run.run_uuid);
  assert.equal(run.status, "FINISHED");
  assert.ok(Number(run.end_time) >= Number(run.start_time));
  assert.deepEqual(child.argv.slice(3), [
    "it's a b",
    "0.1",
    "True",
    tmp.path,
    "https://example.com/x",
    "--extra",
    "x y",
  ]);
  assert.equal(child.cwd, project);
  assert.equal(child.env.MLFLOW_RUN_ID, runId);
  assert.equal(child.env.MLFLOW_EXPERIMENT_ID, "0");
  assert.equal(child.env.MLFLOW_TRACKING_URI, `sqlite:///${tmp.path}/mlflow.db`);
  const tags = await tagsOf(join(tmp.path, "mlflow.db"), runId);
  assert.equal(tags["mlflow.user"], "test-user");
  assert.equal(tags["mlflow.source.name"], project);
  assert.equal(tags["mlflow.source.type"], "PROJECT");
  assert.equal(tags["mlflow.project.entryPoint"], "main");
  assert.equal(tags["mlflow.project.backend"], "local");
  assert.equal(tags["mlflow.runName"], run.name);
  assert.match(String(run.name), /^[a-z]+-[a-z]+-\d{1,4}$/);
  assert.equal(tags["mlflow.project.env"], undefined);
  assert.deepEqual(await paramsOf(join(tmp.path, "mlflow.db"), runId), {
    name: "it's a b",
    alpha: "0.1",
    flag: "True",
    data: ".",
    target: "https://example.com/x",
    extra: "x y",
    child_param: "yes",
  });
  assert.match(out.stderr, /=== Running command '.*' in run with ID '[0-9a-f]{32}' === \n/);
  assert.match(out.stderr, new RegExp(`=== Run \\(ID '${runId}'\\) succeeded ===`));
});

Deno.test("run exits 1 and records FAILED when the entry point fails", async () => {
  await using tmp = await tempDir();
  const project = await makeProject(tmp.path);
  const out = await runCli(["run", project, "-e", "fail", "--env-manager", "local"], {
    cwd: tmp.path,
  });
  assert.equal(out.code, 1);
  const [run] = await runRows(join(tmp.path, "mlflow.db"));
  assert.equal(run?.status, "FAILED");
  assert.match(out.stderr, new RegExp(`=== Run \\(ID '${run?.run_uuid}'\\) failed ===`));
});

Deno.test("run keeps a terminal status the child recorded itself", async () => {
  await using tmp = await tempDir();
  const project = await makeProject(tmp.path);
  const out = await runCli(
    ["run", project, "-e", "ends_itself", "-P", "end=FAILED", "--env-manager", "local"],
    { cwd: tmp.path },
  );
  assert.equal(out.code, 1);
  const [run] = await runRows(join(tmp.path, "mlflow.db"));
  assert.equal(run?.status, "FAILED");
  const rows = await sqliteRows(join(tmp.path, "mlflow.db"), "SELECT * FROM metrics");
  assert.equal(rows.length, 3);
});

Deno.test("run passes hostile parameter values to the child as single arguments", async () => {
  await using tmp = await tempDir();
  const project = await makeProject(tmp.path);
  const hostile = [
    "a; touch pwned",
    "$(touch pwned)",
    "`touch pwned`",
    `it's "quoted"`,
    "line1\nline2",
    "ünï cødé 日本",
    "-rf",
    "--x=1",
    "",
  ];
  for (const value of hostile) {
    const out = await runCli([
      "run",
      project,
      "-e",
      "argv",
      "-P",
      `x=${value}`,
      "--env-manager",
      "local",
    ], { cwd: tmp.path });
    assert.equal(out.code, 0, out.stderr);
    assert.deepEqual(lastJson(out.stdout), [value]);
  }
  const extra = await runCli([
    "run",
    project,
    "-e",
    "argv",
    "-P",
    "x=1",
    "-P",
    "k x=$(v)",
    "--env-manager",
    "local",
  ], { cwd: tmp.path });
  assert.deepEqual(lastJson(extra.stdout), ["1", "--k x", "$(v)"]);
  const badKey = await runCli([
    "run",
    project,
    "-e",
    "argv",
    "-P",
    "x=1",
    "-P",
    "k;touch pwned=1",
    "--env-manager",
    "local",
  ], { cwd: tmp.path });
  assert.equal(badKey.code, 1);
  assert.match(badKey.stderr, /Invalid param name 'k;touch pwned'/);
  await assert.rejects(Deno.stat(join(project, "pwned")));
  await assert.rejects(Deno.stat(join(tmp.path, "pwned")));
});

Deno.test("run -P splits on the first '=' and rejects bad or repeated parameters", async () => {
  await using tmp = await tempDir();
  const project = await makeProject(tmp.path);
  const bad = await runCli(["run", project, "-P", "name"], { cwd: tmp.path });
  assert.equal(bad.code, 2);
  assert.equal(
    bad.stderr.trim(),
    "Error: Invalid format for -P parameter: 'name'. Use -P name=value.",
  );
  const rep = await runCli(["run", project, "-P", "a=1", "--param-list", "a=2"], { cwd: tmp.path });
  assert.equal(rep.code, 2);
  assert.equal(rep.stderr.trim(), "Error: Repeated parameter: 'a'");
  await assert.rejects(Deno.stat(join(tmp.path, "mlflow.db")));
  const ok = await runCli(
    ["run", project, "-e", "argv", "-P", "x==a=b", "--env-manager", "local"],
    {
      cwd: tmp.path,
    },
  );
  assert.deepEqual(lastJson(ok.stdout), ["=a=b"]);
});

Deno.test("run rejects both experiment options, from flags or environment, with exit 2", async () => {
  await using tmp = await tempDir();
  const project = await makeProject(tmp.path);
  const msg = "Error: Specify only one of 'experiment-name' or 'experiment-id' options.";
  const flags = await runCli(["run", project, "--experiment-name", "a", "--experiment-id", "0"], {
    cwd: tmp.path,
  });
  assert.equal(flags.code, 2);
  assert.equal(flags.stderr.trim(), msg);
  const env = await runCli(["run", project], {
    cwd: tmp.path,
    env: cleanEnv({ MLFLOW_EXPERIMENT_NAME: "a", MLFLOW_EXPERIMENT_ID: "0" }),
  });
  assert.equal(env.code, 2);
  assert.equal(env.stderr.trim(), msg);
});

Deno.test("run --experiment-name creates the experiment once and reuses it", async () => {
  await using tmp = await tempDir();
  const project = await makeProject(tmp.path);
  for (let i = 0; i < 2; i++) {
    const out = await runCli(
      ["run", project, "--experiment-name", "my exp", "--env-manager", "local", "--json"],
      { cwd: tmp.path },
    );
    assert.equal(out.code, 0, out.stderr);
    assert.equal(lastJson(out.stdout).experiment_id, "1");
  }
  const exps = await sqliteRows(join(tmp.path, "mlflow.db"), "SELECT * FROM experiments");
  assert.deepEqual(exps.map((e) => e.name), ["Default", "my exp"]);
  const fromEnv = await runCli(["run", project, "--env-manager", "local", "--json"], {
    cwd: tmp.path,
    env: cleanEnv({ MLFLOW_EXPERIMENT_NAME: "my exp" }),
  });
  assert.equal(lastJson(fromEnv.stdout).experiment_id, "1");
  const byId = await runCli(["run", project, "--env-manager", "local", "--json"], {
    cwd: tmp.path,
    env: cleanEnv({ MLFLOW_EXPERIMENT_ID: "1" }),
  });
  assert.equal(lastJson(byId.stdout).experiment_id, "1");
  const missing = await runCli([
    "run",
    project,
    "--experiment-id",
    "424242",
    "--env-manager",
    "local",
  ], { cwd: tmp.path });
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /=== Could not find experiment with ID 424242 ===/);
});

Deno.test("run --json prints one JSON object and sends the child's stdout to stderr", async () => {
  await using tmp = await tempDir();
  const project = await makeProject(tmp.path);
  const out = await runCli([
    "run",
    project,
    "-e",
    "argv",
    "-P",
    "x=hi",
    "--env-manager",
    "local",
    "--json",
    "--run-name",
    "named",
  ], { cwd: tmp.path });
  assert.equal(out.code, 0);
  const lines = out.stdout.trim().split("\n");
  assert.equal(lines.length, 1);
  const obj = JSON.parse(lines[0]!);
  assert.deepEqual(Object.keys(obj).sort(), [
    "env_manager",
    "experiment_id",
    "mlflow_version",
    "run_id",
    "status",
    "tracking_uri",
  ]);
  assert.ok(obj.mlflow_version === null || typeof obj.mlflow_version === "string");
  assert.equal(obj.status, "FINISHED");
  assert.equal(obj.env_manager, "local");
  assert.equal(obj.tracking_uri, `sqlite:///${tmp.path}/mlflow.db`);
  assert.match(out.stderr, /\["hi"\]/);
  const [run] = await runRows(join(tmp.path, "mlflow.db"));
  assert.equal(run?.name, "named");
  assert.equal((await tagsOf(join(tmp.path, "mlflow.db"), obj.run_id))["mlflow.runName"], "named");
});

Deno.test("run --json reports a failed run too", async () => {
  await using tmp = await tempDir();
  const project = await makeProject(tmp.path);
  const out = await runCli(["run", project, "-e", "fail", "--env-manager", "local", "--json"], {
    cwd: tmp.path,
  });
  assert.equal(out.code, 1);
  assert.equal(lastJson(out.stdout).status, "FAILED");
});

Deno.test("run uses ./mlruns when it holds experiments and hands the child the file store", async () => {
  await using tmp = await tempDir();
  const project = await makeProject(tmp.path);
  writeExperimentMeta(`${tmp.path}/mlruns`, "0");
  const out = await runCli([
    "run",
    project,
    "-e",
    "ends_itself",
    "-P",
    "end=FINISHED",
    "--env-manager",
    "local",
    "--json",
  ], { cwd: tmp.path });
  assert.equal(out.code, 0, out.stderr);
  const obj = lastJson(out.stdout);
  assert.equal(obj.tracking_uri, `file://${tmp.path}/mlruns`);
  const child = JSON.parse(out.stderr.split("\n").find((l) => l.startsWith('{"argv"'))!);
  assert.equal(child.env.MLFLOW_ALLOW_FILE_STORE, "true");
  const runDir = join(tmp.path, "mlruns", "0", String(obj.run_id));
  assert.match(await Deno.readTextFile(join(runDir, "meta.yaml")), /status: 3\n/);
  assert.equal(await Deno.readTextFile(join(runDir, "params", "child_param")), "yes");
  await assert.rejects(Deno.stat(join(tmp.path, "mlflow.db")));
});

Deno.test("run makes a relative MLFLOW_TRACKING_URI absolute for the child", async () => {
  await using tmp = await tempDir();
  const project = await makeProject(tmp.path);
  // The database's directory must exist (mlproject does not create it).
  await Deno.mkdir(join(tmp.path, "sub"));
  const out = await runCli([
    "run",
    project,
    "-e",
    "ends_itself",
    "-P",
    "end=FINISHED",
    "--env-manager",
    "local",
  ], {
    cwd: tmp.path,
    env: cleanEnv({ MLFLOW_TRACKING_URI: "sqlite:///sub/track.db" }),
  });
  assert.equal(out.code, 0, out.stderr);
  assert.equal(
    lastJson(out.stdout).env && (lastJson(out.stdout).env as Record<string, string>)
      .MLFLOW_TRACKING_URI,
    `sqlite:///${tmp.path}/sub/track.db`,
  );
  const [run] = await runRows(join(tmp.path, "sub", "track.db"));
  assert.equal(run?.status, "FINISHED");
  await assert.rejects(Deno.stat(join(project, "sub", "track.db")));
});

Deno.test("run appends to the real MLflow 2.17 database without migrating it", async () => {
  await using tmp = await tempDir();
  const project = await makeProject(tmp.path);
  const db = join(tmp.path, "mlflow.db");
  await Deno.copyFile(`${FIXTURES}/sqlite/mlflow.db`, db);
  await Deno.chmod(db, 0o644);
  const out = await runCli([
    "run",
    project,
    "-e",
    "ends_itself",
    "-P",
    "end=FINISHED",
    "--env-manager",
    "local",
  ], { cwd: tmp.path });
  assert.equal(out.code, 0, out.stderr);
  const runs = await runRows(db);
  assert.equal(runs.length, 2);
  assert.equal(runs[0]?.run_uuid, "f9eef5a51c434e75b3b7da0af117482a");
  assert.equal(runs[1]?.status, "FINISHED");
  assert.equal(
    runs[1]?.artifact_uri,
    `/FIXTURE_ROOT/sqlite/mlruns/0/${runs[1]?.run_uuid}/artifacts`,
  );
  const [rev] = await sqliteRows(db, "SELECT version_num FROM alembic_version");
  assert.equal(rev?.version_num, "f5a4f2784254");
});

Deno.test("run records git commit, repo URL and source name for a project in a git work tree", async () => {
  await using tmp = await tempDir();
  const repo = join(tmp.path, "repo");
  await makeProject(repo);
  const git = async (...args: string[]) => {
    const o = await new Deno.Command("git", {
      args,
      cwd: repo,
      env: {
        GIT_AUTHOR_NAME: "t",
        GIT_AUTHOR_EMAIL: "t@e",
        GIT_COMMITTER_NAME: "t",
        GIT_COMMITTER_EMAIL: "t@e",
      },
    }).output();
    assert.ok(o.success, new TextDecoder().decode(o.stderr));
    return new TextDecoder().decode(o.stdout).trim();
  };
  await git("init", "-q", "-b", "main");
  await git("remote", "add", "origin", "https://example.com/org/repo.git");
  await git("add", ".");
  await git("commit", "-q", "-m", "one");
  const sha = await git("rev-parse", "HEAD");
  const out = await runCli([
    "run",
    join(repo, "proj"),
    "-e",
    "argv",
    "-P",
    "x=1",
    "--env-manager",
    "local",
    "--json",
  ], { cwd: tmp.path });
  assert.equal(out.code, 0, out.stderr);
  const runId = String(lastJson(out.stdout).run_id);
  const tags = await tagsOf(join(tmp.path, "mlflow.db"), runId);
  assert.equal(tags["mlflow.source.git.commit"], sha);
  assert.equal(tags["mlflow.source.git.repoURL"], "https://example.com/org/repo.git");
  assert.equal(tags["mlflow.source.name"], `file://${repo}#proj`);
  assert.equal(tags["mlflow.source.git.branch"], undefined);

  await git("checkout", "-q", "-b", "feature");
  await Deno.writeTextFile(join(repo, "proj", "new.txt"), "x");
  await git("add", ".");
  await git("commit", "-q", "-m", "two");
  await git("checkout", "-q", "main");
  const v = await runCli([
    "run",
    `${repo}#proj`,
    "-v",
    "feature",
    "-e",
    "argv",
    "-P",
    "x=1",
    "--env-manager",
    "local",
    "--json",
  ], { cwd: tmp.path, env: cleanEnv({ TMPDIR: await privateTmp(tmp.path) }) });
  assert.equal(v.code, 0, v.stderr);
  assert.deepEqual([...Deno.readDirSync(join(tmp.path, "private-tmp"))], [], "checkout removed");
  const vtags = await tagsOf(join(tmp.path, "mlflow.db"), String(lastJson(v.stdout).run_id));
  assert.equal(vtags["mlflow.source.git.commit"], await git("rev-parse", "feature"));
  assert.equal(vtags["mlflow.source.git.branch"], "feature");
  assert.equal(await git("rev-parse", "--abbrev-ref", "HEAD"), "main");
  assert.equal(await git("status", "--porcelain"), "");
});

Deno.test("run honours #subdir and runs the child in that directory", async () => {
  await using tmp = await tempDir();
  const project = await makeProject(tmp.path);
  const out = await runCli(["run", `${project}#sub`, "--env-manager", "local"], { cwd: tmp.path });
  assert.equal(out.code, 0, out.stderr);
  assert.equal(out.stdout.trim(), join(project, "sub"));
});

Deno.test("run runs .sh and .py script entry points with parameters as --key value", async () => {
  await using tmp = await tempDir();
  const project = await makeProject(tmp.path);
  const out = await runCli([
    "run",
    project,
    "-e",
    "script.sh",
    "-P",
    "n=1 2",
    "--env-manager",
    "local",
  ], { cwd: tmp.path, env: cleanEnv({ SHELL: "/bin/bash" }) });
  assert.equal(out.code, 0, out.stderr);
  assert.equal(out.stdout.trim(), "script args: --n 1 2");
});

Deno.test("run --backend-config accepts inline JSON and .json files and rejects bad JSON", async () => {
  await using tmp = await tempDir();
  const project = await makeProject(tmp.path);
  await Deno.writeTextFile(join(tmp.path, "cfg.json"), '{"a": 1}');
  for (const cfg of ['{"a": 1}', "cfg.json"]) {
    const ok = await runCli([
      "run",
      project,
      "-e",
      "argv",
      "-P",
      "x=1",
      "-c",
      cfg,
      "--env-manager",
      "local",
    ], { cwd: tmp.path });
    assert.equal(ok.code, 0, ok.stderr);
  }
  const bad = await runCli(
    ["run", project, "--backend-config", "{nope", "--env-manager", "local"],
    {
      cwd: tmp.path,
    },
  );
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /^Error: Invalid backend config JSON\. Parse error: /);
  const k8s = await runCli(["run", project, "-b", "kubernetes"], { cwd: tmp.path });
  assert.equal(k8s.code, 2);
  assert.match(k8s.stderr, /Specify 'backend_config' when using kubernetes mode\./);
});

Deno.test("run rejects an unknown backend before creating any run", async () => {
  await using tmp = await tempDir();
  const project = await makeProject(tmp.path);
  const out = await runCli(["run", project, "-b", "nope", "--env-manager", "local"], {
    cwd: tmp.path,
  });
  assert.equal(out.code, 1);
  assert.match(
    out.stderr,
    /=== Got unsupported execution mode nope\. Supported values: \['databricks', 'kubernetes', 'local'\] ===/,
  );
  await assert.rejects(Deno.stat(join(tmp.path, "mlflow.db")));
});

Deno.test("run errors that come before the run leave the store untouched", async () => {
  await using tmp = await tempDir();
  const project = await makeProject(tmp.path);
  const cases: [string[], RegExp][] = [
    [
      ["-e", "nope"],
      /Could not find nope among entry points \['main', 'fail', 'argv', 'ends_itself'\]/,
    ],
    [["-e", "argv"], /No value given for missing parameters: 'x'/],
    [["-P", "target=relative/path"], /Expected URI for parameter target but got relative\/path/],
    [
      ["-P", "data=does/not/exist"],
      /Got value does\/not\/exist for parameter data, but no such file or directory was found\./,
    ],
  ];
  for (const [args, re] of cases) {
    const out = await runCli(["run", project, "--env-manager", "local", ...args], {
      cwd: tmp.path,
    });
    assert.equal(out.code, 1, args.join(" "));
    assert.match(out.stderr, re);
    // One error line (progress lines such as the MLflow found in the environment may precede it).
    const lines = out.stderr.trim().split("\n").filter((l) => !/ INFO mlproject: /.test(l));
    assert.equal(lines.length, 1, out.stderr);
  }
  await assert.rejects(Deno.stat(join(tmp.path, "mlflow.db")));
});

Deno.test("run writes the run, its tags and params in one transaction: a refused write leaves nothing", async () => {
  await using tmp = await tempDir();
  const project = await makeProject(tmp.path);
  const db = join(tmp.path, "mlflow.db");
  const first = await runCli(
    ["run", project, "-e", "argv", "-P", "x=1", "--env-manager", "local"],
    {
      cwd: tmp.path,
    },
  );
  assert.equal(first.code, 0);
  const { DatabaseSync } = await import("node:sqlite");
  const conn = new DatabaseSync(db);
  conn.exec("DELETE FROM params; DELETE FROM tags; DELETE FROM runs;");
  conn.exec(
    "CREATE TRIGGER no_params BEFORE INSERT ON params BEGIN SELECT RAISE(ABORT, 'disk says no'); END",
  );
  conn.close();
  const out = await runCli(["run", project, "-e", "argv", "-P", "x=1", "--env-manager", "local"], {
    cwd: tmp.path,
  });
  assert.equal(out.code, 1);
  assert.match(out.stderr, /disk says no/);
  assert.deepEqual(await runRows(db), []);
  assert.deepEqual(await sqliteRows(db, "SELECT * FROM tags"), []);
});

Deno.test("run marks the run FAILED when the entry point cannot be started", async () => {
  await using tmp = await tempDir();
  const project = await makeProject(tmp.path);
  const out = await runCli(["run", project, "-e", "argv", "-P", "x=1", "--env-manager", "local"], {
    cwd: tmp.path,
    env: cleanEnv({ PATH: "/nonexistent" }),
  });
  assert.equal(out.code, 1);
  assert.match(out.stderr, /=== Cannot start 'bash' to run the entry point: .* ===/);
  assert.doesNotMatch(out.stderr, /\n\s+at /, "no stack trace");
  const [run] = await runRows(join(tmp.path, "mlflow.db"));
  assert.equal(run?.status, "FAILED");
  assert.ok(run?.end_time);
});

Deno.test("run --env-manager selection follows MLflow's rules and errors", async () => {
  await using tmp = await tempDir();
  const project = await makeProject(tmp.path);
  const bogus = await runCli(["run", project, "--env-manager", "bogus"], { cwd: tmp.path });
  assert.equal(bogus.code, 2);
  assert.match(bogus.stderr, /Invalid value for '--env-manager': 'bogus'/);
  const conda = await runCli(["run", project, "--env-manager", "conda"], {
    cwd: tmp.path,
    env: cleanEnv({ MLFLOW_DISABLE_ENV_MANAGER_CONDA_WARNING: "true" }),
  });
  assert.equal(conda.code, 1);
  assert.match(
    conda.stderr,
    /python_env project cannot be executed using conda\. Set `--env-manager` to 'virtualenv' or 'local' to execute this project\./,
  );
  // No env file: MLflow's default is a virtualenv of the current Python (built in a private
  // cache root; tests/envs/ covers environments in depth).
  const dflt = await runCli(["run", project, "--json"], {
    cwd: tmp.path,
    env: cleanEnv({ MLFLOW_ENV_ROOT: join(tmp.path, "envs") }),
  });
  assert.equal(dflt.code, 0, dflt.stderr);
  assert.equal(lastJson(dflt.stdout).env_manager, "virtualenv");
});

Deno.test("run reports MLflow's project errors for the fixture's invalid projects", async () => {
  await using tmp = await tempDir();
  const base = `${FIXTURES}/projects`;
  const cases: [string, RegExp][] = [
    [
      "invalid/two_envs",
      /Project cannot contain multiple environment fields: \{'python_env', 'conda_env'\}/,
    ],
    ["invalid/docker_noimage", /Docker environment specified but no image attribute found\./],
    [
      "invalid/empty_mlproject",
      /Invalid MLproject file '.*empty_mlproject\/MLproject': the file is empty/,
    ],
    ["invalid/bad_yaml", /Cannot parse MLproject file '.*bad_yaml\/MLproject': .*line 7/],
    [
      "no_mlproject",
      /Could not find main among entry points \[\] or interpret main as a runnable script/,
    ],
    ["params_echo#nosuch", /Could not find subdirectory nosuch of /],
    ["does-not-exist", /No such project directory or git repository: '.*does-not-exist'/],
  ];
  for (const [rel, re] of cases) {
    const out = await runCli(["run", `${base}/${rel}`, "--env-manager", "local"], {
      cwd: tmp.path,
    });
    assert.equal(out.code, 1, rel);
    assert.match(out.stderr, re);
    assert.doesNotMatch(out.stderr, /\n\s+at /, "no stack trace");
  }
  // A copy outside any git repository (the fixtures live inside this one).
  const plain = `${tmp.path}/params_echo`;
  await Deno.mkdir(plain);
  for (const f of ["MLproject", "echo_args.py"]) {
    await Deno.copyFile(`${base}/params_echo/${f}`, `${plain}/${f}`);
  }
  const ver = await runCli(["run", plain, "--version", "main"], { cwd: tmp.path });
  assert.match(ver.stderr, /Setting a version is only supported for Git project URIs/);
});

Deno.test("run --run-id executes in an existing run without logging again", async () => {
  await using tmp = await tempDir();
  const project = await makeProject(tmp.path);
  const first = await runCli([
    "run",
    project,
    "-e",
    "argv",
    "-P",
    "x=1",
    "--env-manager",
    "local",
    "--json",
  ], { cwd: tmp.path });
  const runId = String(lastJson(first.stdout).run_id);
  const again = await runCli([
    "run",
    project,
    "-e",
    "argv",
    "-P",
    "x=2",
    "--run-id",
    runId,
    "--env-manager",
    "local",
    "--json",
  ], { cwd: tmp.path });
  assert.equal(again.code, 0, again.stderr);
  assert.equal(lastJson(again.stdout).run_id, runId);
  assert.equal((await runRows(join(tmp.path, "mlflow.db"))).length, 1);
  assert.equal((await paramsOf(join(tmp.path, "mlflow.db"), runId)).x, "1");
  const missing = await runCli([
    "run",
    project,
    "-e",
    "argv",
    "-P",
    "x=2",
    "--run-id",
    "f".repeat(32),
    "--env-manager",
    "local",
  ], { cwd: tmp.path });
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /Run with id=f{32} not found/);
});

Deno.test("--env-file loads variables without overriding those already set", async () => {
  await using tmp = await tempDir();
  const project = await makeProject(tmp.path);
  await Deno.writeTextFile(join(tmp.path, ".env"), "MLFLOW_EXPERIMENT_NAME=from-file\nKEEP=file\n");
  const out = await runCli([
    "--env-file",
    ".env",
    "run",
    project,
    "-e",
    "argv",
    "-P",
    "x=1",
    "--env-manager",
    "local",
    "--json",
  ], { cwd: tmp.path, env: cleanEnv({ KEEP: "shell" }) });
  assert.equal(out.code, 0, out.stderr);
  assert.match(out.stderr, /Loaded environment variables from: \.env/);
  assert.equal(lastJson(out.stdout).experiment_id, "1");
  const missing = await runCli(["--env-file", "nope.env", "run", project], { cwd: tmp.path });
  assert.equal(missing.code, 2);
  assert.equal(missing.stderr.trim(), "Error: Environment file 'nope.env' does not exist.");
});

Deno.test("run accepts -A docker args, --storage-dir and --build-image on local projects", async () => {
  await using tmp = await tempDir();
  const project = await makeProject(tmp.path);
  const out = await runCli([
    "run",
    project,
    "-e",
    "argv",
    "-P",
    "x=1",
    "-A",
    "gpus=all",
    "-A",
    "t",
    "--storage-dir",
    tmp.path,
    "--build-image",
    "--env-manager",
    "local",
  ], { cwd: tmp.path });
  assert.equal(out.code, 0, out.stderr);
});

Deno.test("usage mistakes exit 2 with a one-line error", async () => {
  await using tmp = await tempDir();
  for (const args of [["run"], ["run", "--nope", "x"], ["frobnicate"], ["run", "x", "-e"]]) {
    const out = await runCli(args, { cwd: tmp.path });
    assert.equal(out.code, 2, args.join(" "));
    assert.equal(out.stderr.trim().split("\n").length, 1);
    assert.match(out.stderr, /^Error: /);
  }
});

Deno.test("run downloads http(s) path parameters into --storage-dir, else into a temp dir it removes", async () => {
  await using tmp = await tempDir();
  await writeFiles(join(tmp.path, "served"), { "data.csv": "a,b\n1,2\n" });
  const { startFileServer } = await import("./_helpers/file_server.ts");
  await using server = startFileServer(join(tmp.path, "served"));
  await writeFiles(join(tmp.path, "proj"), {
    "MLproject": `entry_points:
  main:
    parameters:
      name: string
      data: path
    command: "python3 -c 'import sys; print(sys.argv[1]); print(open(sys.argv[1]).read(), end=\\"\\")' {data}"
`,
  });
  const url = `${server.url}data.csv`;
  const store = join(tmp.path, "storage");
  const kept = await runCli(
    [
      "run",
      "proj",
      "-P",
      "name=x",
      "-P",
      `data=${url}`,
      "--storage-dir",
      store,
      "--env-manager",
      "local",
    ],
    { cwd: tmp.path },
  );
  assert.equal(kept.code, 0, kept.stderr);
  const [path, ...content] = kept.stdout.split("\n");
  assert.match(path!, new RegExp(`^${store}/[^/]+/param_1/data\\.csv$`));
  assert.equal(content.join("\n"), "a,b\n1,2\n");
  assert.equal(await Deno.readTextFile(path!), "a,b\n1,2\n");
  assert.match(
    kept.stderr,
    /=== Created directory .* for downloading remote URIs passed to arguments of type 'path' ===/,
  );
  const [run] = await runRows(join(tmp.path, "mlflow.db"));
  assert.equal((await paramsOf(join(tmp.path, "mlflow.db"), String(run?.run_uuid))).data, url);

  const privateTmpDir = await privateTmp(tmp.path);
  const temp = await runCli(
    ["run", "proj", "-P", "name=x", "-P", `data=${url}`, "--env-manager", "local"],
    { cwd: tmp.path, env: cleanEnv({ TMPDIR: privateTmpDir }) },
  );
  assert.equal(temp.code, 0, temp.stderr);
  const tempPath = temp.stdout.split("\n")[0]!;
  await assert.rejects(Deno.stat(tempPath));
  const missing = await runCli(
    ["run", "proj", "-P", "name=x", "-P", `data=${server.url}nope.csv`, "--env-manager", "local"],
    { cwd: tmp.path, env: cleanEnv({ TMPDIR: privateTmpDir }) },
  );
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /404/);
  assert.doesNotMatch(missing.stderr, /\n\s+at /);
  assert.deepEqual([...Deno.readDirSync(privateTmpDir)], [], "no download dir left behind");
});

for (const kind of ["sqlite", "file"] as const) {
  Deno.test(`concurrent runs into a new ${kind} store all succeed and are all recorded`, async () => {
    await using tmp = await tempDir();
    const project = await makeProject(tmp.path);
    const uri = kind === "sqlite" ? `sqlite:///${tmp.path}/new.db` : `${tmp.path}/mlruns`;
    const outs = await Promise.all(
      Array.from(
        { length: 6 },
        () =>
          runCli(["run", project, "-e", "argv", "-P", "x=1", "--env-manager", "local", "--json"], {
            cwd: tmp.path,
            env: cleanEnv({ MLFLOW_TRACKING_URI: uri }),
          }),
      ),
    );
    for (const out of outs) assert.equal(out.code, 0, out.stderr);
    const ids = new Set(outs.map((o) => String(lastJson(o.stdout).run_id)));
    assert.equal(ids.size, 6);
    if (kind === "sqlite") {
      assert.equal((await runRows(`${tmp.path}/new.db`)).length, 6);
      const exps = await sqliteRows(`${tmp.path}/new.db`, "SELECT * FROM experiments");
      assert.equal(exps.length, 1);
    } else {
      for (const id of ids) {
        const meta = await Deno.readTextFile(`${tmp.path}/mlruns/0/${id}/meta.yaml`);
        assert.match(meta, /status: 3\n/);
      }
      const entries = [...Deno.readDirSync(`${tmp.path}/mlruns/0`)].map((e) => e.name);
      assert.deepEqual(entries.filter((n) => !ids.has(n)), ["meta.yaml"]);
    }
  });
}
