/**
 * Issue 9 item 7: many runners opening one SQLite store at once, on a database real MLflow just
 * created in rollback-journal mode, while each child logs with real MLflow.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { cleanEnv, runCli, tempDir, writeFiles } from "../../_helpers/cli.ts";
import { MLFLOW_CREATES_DB, runPython } from "../../_helpers/mlflow_venvs.ts";
import { compatMlflowTest } from "../_compat.ts";

/** The first release whose default store is SQLite. */
const VERSION = "3.7.0";
const RUNNERS = 50;

function query(path: string, sql: string): Record<string, unknown>[] {
  const db = new DatabaseSync(path, { timeout: 30_000 });
  try {
    return db.prepare(sql).all().map((r) => ({ ...(r as Record<string, unknown>) }));
  } finally {
    db.close();
  }
}

compatMlflowTest(
  `${RUNNERS} concurrent runs on a DB real MLflow ${VERSION} just created (rollback journal) never see 'database is locked'`,
  [VERSION],
  async (_t, venv) => {
    await using tmp = await tempDir();
    const project = join(tmp.path, "project");
    await writeFiles(project, {
      "MLproject": [
        "name: concurrent",
        "entry_points:",
        "  main:",
        `    command: "python -c 'import mlflow; mlflow.log_metric(\\"m\\", 1.5)'"`,
        "",
      ].join("\n"),
    });
    const db = join(tmp.path, "mlflow.db");
    const made = await runPython(venv, MLFLOW_CREATES_DB, { args: [`sqlite:///${db}`] });
    assert.equal(made.code, 0, made.stderr);
    assert.deepEqual(query(db, "PRAGMA journal_mode"), [{ journal_mode: "delete" }]);

    const env = cleanEnv({
      PATH: `${venv.bin}:${Deno.env.get("PATH") ?? "/usr/bin:/bin"}`,
      MLFLOW_TRACKING_URI: `sqlite:///${db}`,
      PYTHONWARNINGS: "ignore",
      GIT_PYTHON_REFRESH: "quiet",
    });
    const results = await Promise.all(
      Array.from(
        { length: RUNNERS },
        () => runCli(["run", project, "--env-manager", "local"], { cwd: tmp.path, env }),
      ),
    );
    const failed = results.filter((r) => r.code !== 0);
    assert.deepEqual(
      failed.map((r) => r.stderr.split("\n").filter((l) => /error|locked/i.test(l)).join(" | ")),
      [],
    );
    for (const r of results) assert.doesNotMatch(r.stderr, /database is locked/);
    assert.deepEqual(query(db, "PRAGMA journal_mode"), [{ journal_mode: "wal" }]);
    assert.deepEqual(
      query(db, "SELECT status, COUNT(*) AS n FROM runs GROUP BY status"),
      [{ status: "FINISHED", n: RUNNERS }],
    );
    assert.deepEqual(
      query(
        db,
        "SELECT COUNT(DISTINCT run_uuid) AS n FROM metrics WHERE key = 'm' AND value = 1.5",
      ),
      [{ n: RUNNERS }],
    );
  },
);
