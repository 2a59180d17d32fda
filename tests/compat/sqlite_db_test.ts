/**
 * Existing SQLite databases made by real MLflow: one made by the child's own MLflow version is
 * appended to (the run mlproject records there is read back FINISHED by that version, the earlier
 * run stays); one at another version's alembic revision is refused before anything is recorded
 * or run (exit 1, one message naming the file and both revisions, with the fix `mlflow db upgrade`
 * for an older database and saying that a newer one is newer).
 */
import assert from "node:assert/strict";
import { comparePep440 } from "../../lib/system/pep440.ts";
import { sqliteRows, tempDir } from "../_helpers/cli.ts";
import type { MlflowVenv } from "../_helpers/mlflow_venvs.ts";
import {
  compatEnv,
  compatTest,
  lastJson,
  PARALLEL_STEP,
  pinnedVersions,
  python,
  runAndReadBack,
  runProject,
  writeCompatProject,
} from "./_compat.ts";

const VERSIONS = pinnedVersions();

/** Lets MLflow create a database (its own schema) holding one run of its own. */
const MAKE_DB = `import sys
import mlflow

mlflow.set_tracking_uri("sqlite:///" + sys.argv[1])
mlflow.set_experiment("made-by-mlflow")
with mlflow.start_run(run_name="made-by-mlflow"):
    mlflow.log_metric("m", 1.0)
`;

async function revision(db: string): Promise<string> {
  return String((await sqliteRows(db, "SELECT version_num FROM alembic_version"))[0]?.version_num);
}

async function runCount(db: string): Promise<number> {
  return Number((await sqliteRows(db, "SELECT COUNT(*) AS n FROM runs"))[0]?.n);
}

compatTest(
  "an existing SQLite database: appended to when made by the child's MLflow, refused at another MLflow's revision",
  async (t) => {
    await using tmp = await tempDir();
    const present = VERSIONS.filter((v) => v.venv !== undefined);
    // One database per installed version, made by that version (in parallel).
    const made = new Map<string, { db: string; revision: string }>();
    await Promise.all(present.map(async ({ version, venv }) => {
      const dir = `${tmp.path}/made-by-${version}`;
      await Deno.mkdir(dir);
      const db = `${dir}/mlflow.db`;
      await python(venv!, MAKE_DB, { cwd: dir, env: compatEnv(venv!), args: [db] });
      made.set(version, { db, revision: await revision(db) });
    }));
    const copyOf = async (version: string, dir: string): Promise<string> => {
      await Deno.mkdir(dir, { recursive: true });
      await Deno.copyFile(made.get(version)!.db, `${dir}/mlflow.db`);
      return `${dir}/mlflow.db`;
    };

    const appended = async (venv: MlflowVenv) => {
      const dir = `${tmp.path}/append-${venv.version}`;
      const db = await copyOf(venv.version, dir);
      const project = `${dir}/proj`;
      await writeCompatProject(project);
      const env = compatEnv(venv, { MLFLOW_TRACKING_URI: `sqlite:///${db}` });
      const { runId } = await runAndReadBack(venv, { cwd: dir, project, env });
      assert.equal(await runCount(db), 2, "the earlier run and mlproject's");
      assert.deepEqual(
        (await sqliteRows(db, "SELECT run_uuid FROM runs WHERE name = 'made-by-mlflow'")).length,
        1,
      );
      assert.equal(await revision(db), made.get(venv.version)!.revision, "schema untouched");
      assert.ok(runId.length === 32);
    };

    const refused = async (venv: MlflowVenv) => {
      const own = made.get(venv.version)!.revision;
      const others = [...made.keys()].filter((v) => made.get(v)!.revision !== own);
      assert.ok(others.length > 0, "another pinned version with another revision");
      for (const other of others) {
        const dir = `${tmp.path}/refuse-${venv.version}-from-${other}`;
        const db = await copyOf(other, dir);
        const project = `${dir}/proj`;
        await writeCompatProject(project);
        const env = compatEnv(venv, { MLFLOW_TRACKING_URI: `sqlite:///${db}` });
        const out = await runProject(project, { cwd: dir, env });
        const why = `MLflow ${venv.version} child, database made by ${other}:\n${out.stderr}`;
        assert.equal(out.code, 1, why);
        // --json: the refusal is the one object on stdout; no run was created.
        const error = lastJson(out.stdout);
        assert.equal(out.stdout.trim().split("\n").length, 1, why);
        assert.equal(error.exit_code, 1, why);
        assert.ok(String(error.error).includes(db), why);
        assert.ok(out.stderr.includes(db), `the message names the file: ${why}`);
        assert.ok(out.stderr.includes(own), `the message names the expected revision: ${why}`);
        assert.ok(
          out.stderr.includes(made.get(other)!.revision),
          `the message names the database's revision: ${why}`,
        );
        // An older database can be upgraded by the child's MLflow; a newer one cannot go back.
        const fix = comparePep440(other, venv.version) < 0
          ? /mlflow db upgrade/
          : /newer, and a database cannot be downgraded/;
        assert.match(out.stderr, fix, why);
        assert.doesNotMatch(out.stderr, /Traceback|\n\s+at /, why);
        assert.doesNotMatch(out.stderr, /CHILD_MLFLOW/, `the child did not run: ${why}`);
        assert.equal(await runCount(db), 1, `nothing recorded: ${why}`);
        assert.equal(await revision(db), made.get(other)!.revision, `schema untouched: ${why}`);
      }
    };

    await Promise.all(VERSIONS.flatMap(({ version, venv, ignore }) => [
      t.step({
        ...PARALLEL_STEP,
        name: `MLflow ${version}: a database made by MLflow ${version} is appended to`,
        ignore,
        fn: () => appended(venv!),
      }),
      t.step({
        ...PARALLEL_STEP,
        name: `MLflow ${version}: databases made by the other pinned MLflow versions are refused`,
        ignore,
        fn: () => refused(venv!),
      }),
    ]));
  },
);
