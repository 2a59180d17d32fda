/**
 * The compat suite's project, CLI run and read-back: a project whose child logs params, metrics,
 * tags and an artifact with the real MLflow of a pinned venv (`--env-manager local`, the venv's
 * `bin` first on PATH), and that MLflow's `MlflowClient` reading the run back.
 */
import assert from "node:assert/strict";
import { cleanEnv, type CliResult, runCli, writeFiles } from "../_helpers/cli.ts";
import { skipWithout } from "../_helpers/components.ts";
import {
  type MlflowVenv,
  mlflowVenv,
  PINNED_MLFLOW_VERSIONS,
  runPython,
  skipWithoutMlflow,
} from "../_helpers/mlflow_venvs.ts";

/** The child: logs through MLflow's fluent API into the run mlproject created. */
const CHILD = `import os, sys, tempfile
import mlflow

expected = os.environ["MLFLOW_RUN_ID"]  # start_run() may unset it
with mlflow.start_run() as run:
    assert run.info.run_id == expected, "not the run mlproject created"
    mlflow.log_param("child_param", "yes")
    mlflow.log_metric("loss", 0.25, step=1)
    mlflow.log_metric("loss", 0.125, step=2)
    mlflow.set_tag("compat.tag", "set-by-child")
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "artifact.txt")
        with open(path, "w") as f:
            f.write("written by mlflow " + mlflow.__version__)
        mlflow.log_artifact(path)
print("CHILD_MLFLOW", mlflow.__version__, "alpha", sys.argv[2], flush=True)
`;

/** The reader: that MLflow's client (tracking URI from the env, else its own default). */
const READER = `import json, sys
import mlflow
from mlflow.tracking import MlflowClient

run_id = sys.argv[1]
client = MlflowClient()
run = client.get_run(run_id)
path = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="artifact.txt")
with open(path) as f:
    artifact = f.read()
print(json.dumps({
    "trackingUri": mlflow.get_tracking_uri(),
    "status": run.info.status,
    "startTime": run.info.start_time,
    "endTime": run.info.end_time,
    "params": run.data.params,
    "metrics": run.data.metrics,
    "tags": run.data.tags,
    "history": [[m.step, m.value] for m in client.get_metric_history(run_id, "loss")],
    "artifact": artifact,
}))
`;

/** What the reader prints. */
export interface ReadBack {
  trackingUri: string;
  status: string;
  startTime: number;
  endTime: number | null;
  params: Record<string, string>;
  metrics: Record<string, number>;
  tags: Record<string, string>;
  history: [number, number][];
  artifact: string;
}

/** A pinned version with its venv (undefined when missing: the test is ignored). */
export interface PinnedVersion {
  version: string;
  venv: MlflowVenv | undefined;
  ignore: boolean;
}

/**
 * Whether the compat suite runs: `deno task test:compat` sets MLPROJECT_TEST_COMPAT=1; under
 * `deno task test` (which walks tests/ too) its tests are ignored with one line.
 */
const ENABLED = skipWithout(
  "compat suite",
  Deno.env.get("MLPROJECT_TEST_COMPAT") === "1",
  "it runs with `deno task test:compat` (MLPROJECT_TEST_COMPAT=1)",
) === false;

/** Declares a compat test (ignored outside `deno task test:compat`). */
export function compatTest(name: string, fn: (t: Deno.TestContext) => Promise<void>): void {
  Deno.test({ name, ignore: !ENABLED, fn });
}

/**
 * Declares a compat test that needs the venvs of given MLflow versions: ignored outside
 * `deno task test:compat`, and (one skip line per version) when one of them is missing.
 *
 * @param name The test's name.
 * @param versions MLflow versions (pinned ones: {@linkcode PINNED_MLFLOW_VERSIONS}).
 * @param fn The test, given its context and the venvs in the order of `versions`.
 */
export function compatMlflowTest(
  name: string,
  versions: readonly string[],
  fn: (t: Deno.TestContext, ...venvs: MlflowVenv[]) => Promise<void>,
): void {
  const ignore = !ENABLED || versions.map((v) => skipWithoutMlflow(v)).includes(true);
  Deno.test({
    name,
    ignore,
    fn: (t) => fn(t, ...versions.map((v) => mlflowVenv(v)!)),
  });
}

/** Every pinned version, with one skip line per missing venv (none outside the suite). */
export function pinnedVersions(): PinnedVersion[] {
  if (!ENABLED) return [];
  return PINNED_MLFLOW_VERSIONS.map((version) => ({
    version,
    venv: mlflowVenv(version),
    ignore: skipWithoutMlflow(version),
  }));
}

/**
 * Declares a compat test with one step per pinned MLflow version, the steps running at the same
 * time (a missing venv ignores its step, with one line).
 *
 * @param name The test's name.
 * @param fn One version's check, given its venv.
 */
export function compatTestPerVersion(
  name: string,
  fn: (venv: MlflowVenv) => Promise<void>,
): void {
  const versions = pinnedVersions();
  compatTest(name, async (t) => {
    await Promise.all(
      versions.map(({ version, venv, ignore }) =>
        t.step({ ...PARALLEL_STEP, name: `MLflow ${version}`, ignore, fn: () => fn(venv!) })
      ),
    );
  });
}

/** Options of parallel steps (one per MLflow version, run at the same time). */
export const PARALLEL_STEP = {
  sanitizeOps: false,
  sanitizeResources: false,
  sanitizeExit: false,
} as const;

/** Writes the compat project into `dir` (entry point `main`, parameter `alpha`). */
export async function writeCompatProject(dir: string): Promise<void> {
  await writeFiles(dir, {
    MLproject: "name: compat\n" +
      "entry_points:\n" +
      "  main:\n" +
      "    parameters:\n" +
      "      alpha: {type: float, default: 0.5}\n" +
      "    command: python log_all.py --alpha {alpha}\n",
    "log_all.py": CHILD,
  });
}

/**
 * The environment of mlproject, the child and the reader: the venv's `bin` first on PATH, no
 * telemetry, `extra` on top (e.g. MLFLOW_TRACKING_URI).
 */
export function compatEnv(
  venv: MlflowVenv,
  extra: Record<string, string> = {},
): Record<string, string> {
  return cleanEnv({
    PATH: `${venv.bin}:${Deno.env.get("PATH") ?? "/usr/bin:/bin"}`,
    MLFLOW_DISABLE_TELEMETRY: "true",
    DO_NOT_TRACK: "true",
    PYTHONDONTWRITEBYTECODE: "1",
    ...extra,
  });
}

/** Runs `mlproject run <project> --env-manager local --json -P alpha=0.75`. */
export function runProject(
  project: string,
  options: { cwd: string; env: Record<string, string> },
): Promise<CliResult> {
  return runCli(["run", project, "--env-manager", "local", "--json", "-P", "alpha=0.75"], options);
}

/** The last stdout line as JSON. */
export function lastJson(stdout: string): Record<string, unknown> {
  const lines = stdout.trim().split("\n");
  return JSON.parse(lines[lines.length - 1]!);
}

/** Runs Python code with the venv's interpreter; throws with its output when it fails. */
export async function python(
  venv: MlflowVenv,
  code: string,
  options: { cwd: string; env: Record<string, string>; args?: string[] },
): Promise<string> {
  const out = await runPython(venv, code, options);
  if (out.code !== 0) {
    throw new Error(`python (MLflow ${venv.version}) failed (${out.code}):\n${out.stderr}`);
  }
  return out.stdout;
}

/** Reads a run with the venv's MlflowClient (same cwd and env rules as the run). */
export async function readRun(
  venv: MlflowVenv,
  runId: string,
  options: { cwd: string; env: Record<string, string> },
): Promise<ReadBack> {
  const { MLFLOW_RUN_ID: _, ...env } = options.env;
  return lastJson(
    await python(venv, READER, { cwd: options.cwd, env, args: [runId] }),
  ) as unknown as ReadBack;
}

/**
 * Runs the compat project and checks, with the version's own client, that the run mlproject
 * created holds everything both wrote and is FINISHED.
 *
 * @returns The run id and the read-back.
 */
export async function runAndReadBack(
  venv: MlflowVenv,
  options: { cwd: string; project: string; env: Record<string, string> },
): Promise<{ runId: string; readBack: ReadBack; cli: CliResult }> {
  const cli = await runProject(options.project, { cwd: options.cwd, env: options.env });
  assert.equal(cli.code, 0, `mlproject run failed:\n${cli.stderr}`);
  assert.match(
    cli.stderr,
    new RegExp(`CHILD_MLFLOW ${venv.version.replaceAll(".", "\\.")} alpha 0\\.75\\n`),
    "the child ran with the venv's MLflow",
  );
  const json = lastJson(cli.stdout);
  assert.equal(json.status, "FINISHED");
  const runId = String(json.run_id);
  const readBack = await readRun(venv, runId, { cwd: options.cwd, env: options.env });
  assertLoggedRun(readBack, { project: options.project, version: venv.version });
  return { runId, readBack, cli };
}

/** What mlproject and the child must both have written, as the version's client reads it. */
export function assertLoggedRun(
  r: ReadBack,
  expected: { project: string; version: string },
): void {
  assert.equal(r.status, "FINISHED");
  assert.ok(r.startTime > 0, `start_time ${r.startTime}`);
  assert.ok(r.endTime !== null && r.endTime >= r.startTime, `end_time ${r.endTime}`);
  assert.deepEqual(r.params, { alpha: "0.75", child_param: "yes" });
  assert.deepEqual(r.metrics, { loss: 0.125 });
  assert.deepEqual(r.history, [[1, 0.25], [2, 0.125]]);
  assert.equal(r.tags["mlflow.source.name"], expected.project);
  assert.equal(r.tags["mlflow.source.type"], "PROJECT");
  assert.equal(r.tags["mlflow.project.entryPoint"], "main");
  assert.equal(r.tags["mlflow.project.backend"], "local");
  assert.equal(r.tags["mlflow.user"], "test-user");
  assert.equal(r.tags["compat.tag"], "set-by-child");
  assert.equal(r.artifact, `written by mlflow ${expected.version}`);
}
