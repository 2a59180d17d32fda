/**
 * The job a Databricks run submits, executed as the cluster would: the fake workspace runs the
 * submitted `bash -c` script when the job starts, with DBFS's FUSE mount and `/databricks/mlflow`
 * under a temporary directory and a real MLflow on `PATH`. Real `mlflow run` must accept the
 * command line (quoting, `-c '{"_mlflow_local_backend_run_id": …}'`, `-P`), unpack the tarball and
 * record into the run mlproject created.
 */
import assert from "node:assert/strict";
import { dirname } from "node:path";
import { run } from "../../lib/run/run.ts";
import { SILENT_REPORTER } from "../../lib/system/output.ts";
import { tempDir, writeFiles } from "../_helpers/cli.ts";
import { skipWithout } from "../_helpers/components.ts";
import { type FakeRun, startFakeDatabricks } from "../_helpers/fake_databricks.ts";
import { startMlflowServer } from "../_helpers/mlflow_server.ts";
import { mlflowVenv, PINNED_MLFLOW_VERSIONS } from "../_helpers/mlflow_venvs.ts";

const VENV = [...PINNED_MLFLOW_VERSIONS].reverse().map((v) => mlflowVenv(v)).find((v) =>
  v !== undefined
);
const ignore = skipWithout(
  "Databricks cluster-side tests",
  VENV !== undefined,
  "no MLflow venv (run scripts/install_test_mlflow.sh)",
);

/** The one thing of a Databricks image the script uses that this machine may lack. */
const RSYNC = `#!/bin/sh
# rsync -a -v --ignore-existing SRC DIR (what the job script runs)
for last; do :; done
for a; do case "$a" in -*) ;; *) [ "$a" != "$last" ] && src="$a";; esac; done
dest="$last/$(basename "$src")"
[ -e "$dest" ] || cp "$src" "$dest"
`;

Deno.test({
  name:
    "the submitted job, run as the cluster would, records into mlproject's run with real mlflow run",
  ignore,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const venv = VENV!;
    await using tmp = await tempDir("mlproject-databricks-cluster-");
    const root = tmp.path;
    await Deno.mkdir(`${root}/server`);
    await using server = await startMlflowServer(venv, `${root}/server`);
    await writeFiles(root, {
      "proj/MLproject": `name: clusterproj
entry_points:
  main:
    parameters:
      alpha: {type: float, default: 0.1}
      note: {type: string, default: "x"}
    command: "python train.py {alpha} {note}"
`,
      "proj/train.py": `import sys, mlflow
mlflow.log_metric("alpha", float(sys.argv[1]))
mlflow.set_tag("note", sys.argv[2])
`,
      "bin/rsync": RSYNC,
    });
    await Deno.chmod(`${root}/bin/rsync`, 0o755);
    const outputs: string[] = [];
    const cluster = async (job: FakeRun) => {
      // The driver's view: DBFS under /dbfs, MLflow's work dirs under /databricks/mlflow.
      for (const path of fake.dbfsPaths()) {
        await Deno.mkdir(dirname(`${root}/dbfs${path}`), { recursive: true });
        await Deno.writeFile(`${root}/dbfs${path}`, fake.dbfsFile(path)!);
      }
      const task = job.payload.shell_command_task as {
        command: string[];
        env_vars: Record<string, string>;
      };
      const script = task.command[2]!.replaceAll("/dbfs/", `${root}/dbfs/`)
        .replaceAll("/databricks/mlflow", `${root}/databricks/mlflow`);
      const out = await new Deno.Command(task.command[0]!, {
        args: [task.command[1]!, script],
        env: {
          ...task.env_vars,
          PATH: `${root}/bin:${venv.bin}:${Deno.env.get("PATH")}`,
          DB_HOME: venv.dir,
          HOME: root,
        },
        clearEnv: true,
        cwd: root,
        stdout: "piped",
        stderr: "piped",
      }).output();
      const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
      outputs.push(text);
      job.steps.splice(1, job.steps.length, {
        life_cycle_state: "TERMINATED",
        result_state: out.success ? "SUCCESS" : "FAILED",
        state_message: out.success ? "" : text.slice(-300),
      });
    };
    await using fake = await startFakeDatabricks({
      onRunStep: (job, step) => step.life_cycle_state === "RUNNING" ? cluster(job) : undefined,
    });

    const submitted = await run(`${root}/proj`, {
      backend: "databricks",
      backendConfig: {
        spark_version: "15.4.x-scala2.12",
        num_workers: 1,
        mlflow_version: venv.version,
        poll_interval_seconds: 0.05,
      },
      trackingUri: server.url,
      envManager: "local",
      parameters: { alpha: 0.25, note: "it's a $HOME" },
      env: {
        HOME: root,
        PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
        DATABRICKS_HOST: fake.url,
        DATABRICKS_TOKEN: fake.token,
      },
      cwd: root,
      reporter: SILENT_REPORTER,
    });
    assert.equal(await submitted.getStatus(), "FINISHED", outputs.join("\n"));
    const payload = fake.runs[0]!.payload as { libraries: unknown };
    assert.deepEqual(payload.libraries, [{ pypi: { package: `mlflow==${venv.version}` } }]);
    const got = (await server.api(`runs/get?run_id=${submitted.runId}`)) as {
      run: {
        info: { status: string };
        data: {
          metrics?: { key: string; value: number }[];
          tags?: { key: string; value: string }[];
        };
      };
    };
    assert.equal(got.run.info.status, "FINISHED");
    assert.deepEqual(got.run.data.metrics?.map((m) => [m.key, m.value]), [["alpha", 0.25]]);
    const tags = Object.fromEntries((got.run.data.tags ?? []).map((t) => [t.key, t.value]));
    // The value reached the entry point as given: quoted once, unquoted by bash once.
    assert.equal(tags.note, "it's a $HOME");
    assert.equal(tags["mlflow.databricks.shellJobRunID"], String(fake.runs[0]!.run_id));
    // Only one run: the cluster's MLflow recorded into ours.
    const runs = await server.runs(["0"]);
    assert.equal(runs.length, 1);
  },
});
