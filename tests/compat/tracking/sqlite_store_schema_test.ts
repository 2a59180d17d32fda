/**
 * SqliteStore against real MLflow releases (the pinned venvs): a new database at exactly that
 * MLflow's schema, which that MLflow logs into; `upgradeDb` with the MLflow CLI of the env; an
 * MLflow newer than the schema data creating the database itself.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { type MlflowInstallation, SqliteStore } from "../../../lib/tracking/sqlite_store.ts";
import { headRevisionForVersion } from "../../../lib/tracking/sqlite_schema.ts";
import type { LogLevel, Reporter } from "../../../lib/system/output.ts";
import { tempDir } from "../../_helpers/cli.ts";
import {
  MLFLOW_CREATES_DB,
  PINNED_MLFLOW_VERSIONS,
  runPython,
} from "../../_helpers/mlflow_venvs.ts";
import { alembicVersion, normalizedSchema } from "../../_helpers/sqlite_schema.ts";
import { compatMlflowTest } from "../_compat.ts";

/** The newest pinned release. */
const NEWEST = PINNED_MLFLOW_VERSIONS.at(-1)!;

function recorder(): Reporter & { lines: string[] } {
  const lines: string[] = [];
  return { lines, log: (level: LogLevel, m: string) => void lines.push(`${level} ${m}`) };
}

async function createFor(path: string, version: string): Promise<void> {
  const mlflow = { version, python: "/nonexistent/bin/python", sitePackages: "/nonexistent" };
  (await SqliteStore.open(path, { mlflow })).close();
}

for (const version of PINNED_MLFLOW_VERSIONS) {
  compatMlflowTest(
    `real MLflow ${version} creates exactly the schema SqliteStore creates for it`,
    [version],
    async (_t, venv) => {
      await using tmp = await tempDir();
      const theirs = join(tmp.path, "theirs.db");
      const out = await runPython(venv, MLFLOW_CREATES_DB, { args: [`sqlite:///${theirs}`] });
      assert.equal(out.code, 0, out.stderr);
      const ours = join(tmp.path, "ours.db");
      await createFor(ours, version);
      assert.deepEqual(normalizedSchema(ours), normalizedSchema(theirs));
      assert.deepEqual(alembicVersion(ours), alembicVersion(theirs));
    },
  );
}

const LOGS_INTO_RUN = `
import sys
from mlflow.tracking import MlflowClient
c = MlflowClient(tracking_uri=sys.argv[1])
assert [e.name for e in c.search_experiments()] == ["Default"], c.search_experiments()
c.log_metric(sys.argv[2], "m", 1.5)
c.log_param(sys.argv[2], "p", "v")
c.set_terminated(sys.argv[2], "FINISHED")
r = c.get_run(sys.argv[2])
print(r.info.status, r.data.metrics["m"], r.data.params["p"], r.data.tags["mlflow.runName"])
`;

for (const version of PINNED_MLFLOW_VERSIONS) {
  compatMlflowTest(
    `real MLflow ${version} logs into the DB SqliteStore created for it, without a schema error`,
    [version],
    async (_t, venv) => {
      await using tmp = await tempDir();
      const path = join(tmp.path, "mlflow.db");
      const store = await SqliteStore.open(path, { mlflow: venv });
      const run = await store.createRun({
        experimentId: "0",
        userId: "u",
        startTime: Date.now(),
        runName: "calm-fox-1",
        tags: [],
      });
      const out = await runPython(venv, LOGS_INTO_RUN, { args: [store.uri, run.runId] });
      store.close();
      assert.equal(out.code, 0, out.stderr);
      assert.equal(out.stdout.trim(), "FINISHED 1.5 v calm-fox-1");
    },
  );
}

async function upgradeCase(
  from: string,
  to: string,
  old: MlflowInstallation,
  current: MlflowInstallation,
): Promise<void> {
  await using tmp = await tempDir();
  const path = join(tmp.path, "mlflow.db");
  const made = await runPython(old, MLFLOW_CREATES_DB, { args: [`sqlite:///${path}`] });
  assert.equal(made.code, 0, made.stderr);
  const keep = await SqliteStore.open(path, { mlflow: old });
  const run = await keep.createRun({
    experimentId: "0",
    userId: "u",
    startTime: 1,
    runName: "old-run",
    tags: [],
  });
  keep.close();
  const reporter = recorder();
  const store = await SqliteStore.open(path, { mlflow: current, upgradeDb: true, reporter });
  try {
    assert.equal((await store.getRun(run.runId))?.runName, "old-run");
  } finally {
    store.close();
  }
  assert.deepEqual(alembicVersion(path), [headRevisionForVersion(to)]);
  const backups = [...Deno.readDirSync(tmp.path)].map((e) => e.name)
    .filter((n) => /^mlflow\.db\.\d{8}T\d{6}Z\.bak$/.test(n));
  assert.equal(backups.length, 1);
  const backup = join(tmp.path, backups[0]!);
  assert.deepEqual(alembicVersion(backup), [headRevisionForVersion(from)]);
  assert.ok(reporter.lines.some((l) => l.includes(`'${backup}'`)), reporter.lines.join("\n"));
  assert.ok(reporter.lines.some((l) => l.includes("mlflow db upgrade")), reporter.lines.join("\n"));
  // The child's MLflow now accepts the database.
  const out = await runPython(current, LOGS_INTO_RUN, { args: [`sqlite:///${path}`, run.runId] });
  assert.equal(out.code, 0, out.stderr);
}

for (const [from, to] of [["3.7.0", NEWEST], ["2.17.2", "3.7.0"]] as const) {
  compatMlflowTest(
    `upgradeDb backs up a ${from} DB and upgrades it with real MLflow ${to}'s CLI`,
    [from, to],
    (_t, old, current) => upgradeCase(from, to, old, current),
  );
}

compatMlflowTest(
  "an MLflow newer than the schema data creates the new DB itself, with a progress line",
  ["3.7.0"],
  async (_t, real) => {
    await using tmp = await tempDir();
    const path = join(tmp.path, "mlflow.db");
    // A version past the data, whose migration files cannot be read: only MLflow itself knows.
    const future = { ...real, version: "99.0.0", sitePackages: join(tmp.path, "none") };
    const reporter = recorder();
    const store = await SqliteStore.open(path, { mlflow: future, reporter });
    try {
      assert.equal((await store.findExperiment({ id: "0" }))?.name, "Default");
    } finally {
      store.close();
    }
    assert.deepEqual(alembicVersion(path), [headRevisionForVersion("3.7.0")]);
    assert.equal(reporter.lines.length, 1);
    assert.match(
      reporter.lines[0]!,
      /^INFO Creating tracking database '.*' with MLflow 99\.0\.0 itself/,
    );
  },
);
