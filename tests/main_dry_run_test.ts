/**
 * `mlproject run --dry-run`: the plan of a run, printed (or with `--json` one object), for
 * local, virtualenv (cached and not), git and archive projects; nothing is written: no tracking
 * store, no environment, no run, no download.
 */
import assert from "node:assert/strict";
import { cleanEnv, runCli, sqliteRows, tempDir, writeFiles } from "./_helpers/cli.ts";
import { hostPython } from "./_helpers/components.ts";
import { git, makeTestRepo } from "./_helpers/git_repos.ts";
import { localPackageIndex } from "./_helpers/wheels.ts";
import { envTestEnv, lastJson } from "./envs/_env_helpers.ts";

function listTree(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string, rel: string) => {
    for (const e of Deno.readDirSync(d)) {
      const r = rel === "" ? e.name : `${rel}/${e.name}`;
      out.push(r);
      if (e.isDirectory) walk(`${d}/${e.name}`, r);
    }
  };
  walk(dir, "");
  return out.sort();
}

const LOCAL_PROJECT = {
  MLproject: `name: planned
entry_points:
  main:
    parameters:
      alpha: {type: float, default: 0.5}
      data: {type: path, default: data.csv}
    command: "echo {alpha} {data}"
`,
  "data.csv": "x\n",
};

Deno.test("run --dry-run on a local project prints the plan, exits 0 and creates no store, run or directory", async () => {
  await using tmp = await tempDir();
  const project = `${tmp.path}/proj`;
  await writeFiles(project, LOCAL_PROJECT);
  const work = `${tmp.path}/work`;
  await writeFiles(work, { "data.csv": "x\n" });
  const env = cleanEnv({ MLPROJECT_CACHE_DIR: `${tmp.path}/cache` });
  const before = listTree(tmp.path);
  const out = await runCli(
    ["run", project, "--env-manager", "local", "-P", "alpha=2", "--dry-run"],
    { cwd: work, env },
  );
  assert.equal(out.code, 0, out.stderr);
  assert.match(out.stdout, new RegExp(`^Project: +${project}$`, "m"));
  assert.match(out.stdout, new RegExp(`^Command: +echo 2 ${work}/data\\.csv$`, "m"));
  assert.match(out.stdout, /^Parameter: +alpha=2$/m);
  assert.match(out.stdout, /^Environment: +local$/m);
  assert.match(out.stdout, /^Backend: +local$/m);
  assert.match(out.stdout, /^Tracking URI: +sqlite:\/\/\/mlflow\.db$/m);
  assert.match(out.stdout, /^Experiment: +id 0$/m);
  assert.match(out.stdout, /^Tag: +mlflow\.project\.backend=local$/m);
  assert.doesNotMatch(out.stderr, /Running command/);
  assert.deepEqual(listTree(tmp.path), before, "nothing written");

  const json = await runCli(
    ["run", project, "--env-manager", "local", "--dry-run", "--json", "--experiment-name", "e1"],
    { cwd: work, env },
  );
  assert.equal(json.code, 0, json.stderr);
  assert.equal(json.stdout.trim().split("\n").length, 1, "one JSON object on stdout");
  const plan = JSON.parse(json.stdout);
  assert.equal(plan.dry_run, true);
  assert.equal(plan.project_dir, project);
  assert.equal(plan.project_name, "planned");
  assert.equal(plan.entry_point, "main");
  assert.equal(plan.command, `echo 0.5 ${work}/data.csv`);
  assert.deepEqual(plan.params, { alpha: "0.5", data: "data.csv" });
  assert.equal(plan.env_manager, "local");
  assert.equal(plan.backend, "local");
  assert.equal(plan.experiment_name, "e1");
  assert.equal(plan.tracking_uri, "sqlite:///mlflow.db");
  assert.equal(plan.tags["mlflow.user"], "test-user");
  assert.equal(plan.tags["mlflow.source.type"], "PROJECT");
  assert.deepEqual(listTree(tmp.path), before, "nothing written");
});

Deno.test("run --dry-run with a file store, a backend config and a remote path parameter writes and downloads nothing", async () => {
  await using tmp = await tempDir();
  const project = `${tmp.path}/proj`;
  await writeFiles(project, LOCAL_PROJECT);
  await writeFiles(tmp.path, { "cfg.json": '{"answer": 42}' });
  const before = listTree(tmp.path);
  const out = await runCli([
    "run",
    project,
    "--env-manager=local",
    "-P",
    "data=http://127.0.0.1:9/never.csv",
    "-c",
    "cfg.json",
    "--dry-run",
    "--json",
  ], { cwd: tmp.path, env: cleanEnv({ MLFLOW_TRACKING_URI: "./mlruns" }) });
  assert.equal(out.code, 0, out.stderr);
  const plan = JSON.parse(out.stdout);
  assert.equal(plan.tracking_uri, "./mlruns");
  assert.equal(plan.tracking_uri_final, true);
  assert.deepEqual(plan.backend_config, { answer: 42 });
  assert.deepEqual(plan.downloads, ["data"]);
  assert.equal(plan.command, "echo 0.5 http://127.0.0.1:9/never.csv");
  assert.deepEqual(listTree(tmp.path), before, "no mlruns, no download directory");
});

Deno.test("run --dry-run reports plan-stage errors as a run would, with their exit codes", async () => {
  await using tmp = await tempDir();
  const project = `${tmp.path}/proj`;
  await writeFiles(project, LOCAL_PROJECT);
  const missing = await runCli(["run", project, "-e", "nope", "--dry-run"], { cwd: tmp.path });
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /Could not find nope among entry points \['main'\]/);
  const kube = await runCli(["run", project, "-b", "kubernetes", "--dry-run"], { cwd: tmp.path });
  assert.equal(kube.code, 2);
  assert.match(kube.stderr, /Specify 'backend_config' when using kubernetes mode\./);
  const badUri = await runCli([
    "run",
    project,
    "--env-manager",
    "local",
    "-P",
    "data=proj/data.csv",
    "--dry-run",
  ], {
    cwd: tmp.path,
    env: cleanEnv({ MLFLOW_TRACKING_URI: "bogus://x" }),
  });
  assert.equal(badUri.code, 1);
  assert.match(badUri.stderr, /unsupported scheme 'bogus'/);
  assert.deepEqual(listTree(tmp.path).filter((p) => !p.startsWith("proj")), []);
});

Deno.test("run --dry-run on a git project shows the commit and source tags, and records nothing", async () => {
  await using tmp = await tempDir();
  const repo = await makeTestRepo(tmp.path, "repo");
  const work = `${tmp.path}/work`;
  await Deno.mkdir(work);
  const env = cleanEnv({ MLPROJECT_CACHE_DIR: `${tmp.path}/cache` });
  const out = await runCli(
    ["run", `file://${repo.bare}`, "-v", "v1.0", "--env-manager", "local", "--dry-run", "--json"],
    { cwd: work, env },
  );
  assert.equal(out.code, 0, out.stderr);
  const plan = JSON.parse(out.stdout);
  assert.equal(plan.source.git_commit, repo.firstSha);
  assert.equal(plan.tags["mlflow.source.git.commit"], repo.firstSha);
  assert.equal(plan.command, "cat BRANCH.txt");
  assert.deepEqual(listTree(work), [], "no store in the cwd");
  // The temporary checkout is gone again.
  await assert.rejects(Deno.stat(plan.project_dir), Deno.errors.NotFound);
  assert.equal(await git(tmp.path, "-C", repo.bare, "rev-parse", "main"), repo.mainSha);
});

Deno.test("run --dry-run on a .tar.gz archive shows the unpacked project and removes it again", async () => {
  await using tmp = await tempDir();
  await writeFiles(`${tmp.path}/src/arch`, {
    MLproject: "name: archived\nentry_points:\n  main:\n    command: echo from-archive\n",
  });
  const tar = await new Deno.Command("tar", {
    args: ["-czf", `${tmp.path}/p.tar.gz`, "-C", `${tmp.path}/src`, "arch"],
  }).output();
  assert.ok(tar.success);
  const work = `${tmp.path}/work`;
  await Deno.mkdir(work);
  const out = await runCli(
    ["run", `${tmp.path}/p.tar.gz`, "--env-manager", "local", "--dry-run", "--json"],
    { cwd: work },
  );
  assert.equal(out.code, 0, out.stderr);
  const plan = JSON.parse(out.stdout);
  assert.equal(plan.project_name, "archived");
  assert.equal(plan.command, "echo from-archive");
  assert.deepEqual(listTree(work), []);
  await assert.rejects(Deno.stat(plan.project_dir), Deno.errors.NotFound);
});

Deno.test("run --dry-run on a virtualenv project: must be built before the first run, cached after it, with the same key", async () => {
  const PY = await hostPython();
  await using tmp = await tempDir();
  await using index = await localPackageIndex();
  const root = `${tmp.path}/envs`;
  const project = `${tmp.path}/proj`;
  await writeFiles(project, {
    MLproject:
      `name: venv\npython_env: python_env.yaml\nentry_points:\n  main:\n    command: "python -c 'import six'"\n`,
    "python_env.yaml":
      `python: "${PY.minor}"\nbuild_dependencies:\n  - pip\ndependencies:\n  - six\n`,
  });
  const env = envTestEnv(root, index.env);
  const dry = await runCli(["run", project, "--dry-run", "--json"], { cwd: tmp.path, env });
  assert.equal(dry.code, 0, dry.stderr);
  const planned = lastJson(dry.stdout);
  assert.equal(planned.env_manager, "virtualenv");
  assert.equal(planned.env_cached, false);
  assert.match(String(planned.env_key), /^virtualenv-\d+\.\d+\.\d+-[0-9a-f]{16}$/);
  assert.equal(planned.mlflow_version, undefined, "not known before the env is built");
  assert.equal(planned.tracking_uri_final, false);
  assert.equal((planned.tags as Record<string, string>)["mlflow.project.env"], "virtualenv");
  await assert.rejects(Deno.stat(root), Deno.errors.NotFound, "no env built");
  assert.deepEqual(listTree(tmp.path).filter((p) => p.startsWith("mlflow.db")), []);

  const ran = await runCli(["run", project, "--json"], { cwd: tmp.path, env });
  assert.equal(ran.code, 0, ran.stderr);
  assert.equal(lastJson(ran.stdout).env_key, planned.env_key);
  const runs = async () =>
    (await sqliteRows(`${tmp.path}/mlflow.db`, "SELECT run_uuid FROM runs")).length;
  assert.equal(await runs(), 1);

  const again = await runCli(["run", project, "--dry-run"], { cwd: tmp.path, env });
  assert.equal(again.code, 0, again.stderr);
  assert.match(
    again.stdout,
    new RegExp(`^Environment: +virtualenv ${planned.env_key} \\(cached\\)$`, "m"),
  );
  assert.match(again.stdout, /^MLflow: +none in the environment$/m);
  assert.match(again.stdout, new RegExp(`^Python: +${root}/${planned.env_key}/bin/python$`, "m"));
  assert.equal(await runs(), 1, "the dry run created no run");
});
