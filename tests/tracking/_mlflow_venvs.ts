/**
 * Real MLflow installations for tests: venvs at `$MLPROJECT_TEST_MLFLOW_VENVS/<version>`
 * (default `$HOME/.cache/mlproject/test-mlflow`), installed by CI. Tests skip with one line when
 * a venv is missing.
 */
import { DatabaseSync } from "node:sqlite";
import type { MlflowInstallation } from "../../lib/tracking/sqlite_store.ts";

/** The directory holding one venv per pinned MLflow version. */
export function venvsRoot(): string {
  const given = Deno.env.get("MLPROJECT_TEST_MLFLOW_VENVS");
  if (given !== undefined && given !== "") return given;
  return `${Deno.env.get("HOME") ?? ""}/.cache/mlproject/test-mlflow`;
}

/** The venv of one MLflow version as an installation, or `undefined` when it is not installed. */
export function mlflowVenv(version: string): MlflowInstallation | undefined {
  const dir = `${venvsRoot()}/${version}`;
  const python = `${dir}/bin/python`;
  try {
    for (const lib of Deno.readDirSync(`${dir}/lib`)) {
      const sitePackages = `${dir}/lib/${lib.name}/site-packages`;
      try {
        Deno.statSync(`${sitePackages}/mlflow/__init__.py`);
        Deno.statSync(python);
        return { version, python, sitePackages };
      } catch { /* not this one */ }
    }
  } catch { /* no venv */ }
  return undefined;
}

/** The MLflow versions CI pins (each a venv under {@linkcode venvsRoot}). */
export const PINNED_MLFLOW = ["2.17.2", "2.22.5", "3.7.0", "3.18.0"];

/**
 * Registers a test that needs real MLflow venvs. When one is missing the test is reported as
 * ignored, its name saying which venv is missing (one line in the test output).
 */
export function mlflowTest(
  name: string,
  versions: string[],
  fn: (...venvs: MlflowInstallation[]) => Promise<void>,
): void {
  const venvs = versions.map(mlflowVenv);
  const missing = versions.filter((_, i) => venvs[i] === undefined);
  if (missing.length > 0) {
    Deno.test({
      name: `${name} (skipped: no MLflow ${missing.join(", ")} venv under ${venvsRoot()})`,
      ignore: true,
      fn: () => {},
    });
    return;
  }
  Deno.test(name, () => fn(...(venvs as MlflowInstallation[])));
}

/** Runs Python code with an installation's interpreter; returns its output. */
export async function runPython(
  mlflow: MlflowInstallation,
  code: string,
  args: string[] = [],
  cwd?: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(Deno.env.toObject())) {
    if (!k.startsWith("MLFLOW_")) env[k] = v;
  }
  const out = await new Deno.Command(mlflow.python, {
    args: ["-c", code, ...args],
    env: { ...env, PYTHONWARNINGS: "ignore", GIT_PYTHON_REFRESH: "quiet" },
    clearEnv: true,
    stdin: "null",
    ...(cwd !== undefined ? { cwd } : {}),
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** Python that lets MLflow create (or open) the database at argv[1]. */
export const MLFLOW_CREATES_DB = [
  "import sys",
  "from mlflow.tracking import MlflowClient",
  'MlflowClient(tracking_uri=sys.argv[1]).get_experiment("0")',
].join("\n");

/** Splits a CREATE TABLE body at top-level commas. */
function tableItems(body: string): string[] {
  const items: string[] = [];
  let depth = 0;
  let quote: string | undefined;
  let start = 0;
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (quote !== undefined) {
      if (c === quote) quote = undefined;
    } else if (c === "'" || c === '"' || c === "`") quote = c;
    else if (c === "(") depth++;
    else if (c === ")") depth--;
    else if (c === "," && depth === 0) {
      items.push(body.slice(start, i));
      start = i + 1;
    }
  }
  items.push(body.slice(start));
  return items.map((s) => s.replace(/\s+/g, " ").trim());
}

/**
 * `sqlite_master` of a database, normalized: entries sorted by type and name, `rootpage`
 * dropped, whitespace collapsed, and the table constraints in each CREATE TABLE sorted (MLflow's
 * migrations emit constraints and indexes in an order that varies from run to run).
 */
export function normalizedSchema(path: string): string[] {
  const db = new DatabaseSync(path);
  try {
    return db.prepare("SELECT type, name, tbl_name, sql FROM sqlite_master").all()
      .map((r) => {
        const row = r as Record<string, string | null>;
        let sql = row.sql ?? "";
        if (row.type === "table" && sql.includes("(")) {
          const open = sql.indexOf("(");
          const close = sql.lastIndexOf(")");
          const items = tableItems(sql.slice(open + 1, close));
          const isConstraint = (s: string) =>
            /^(CONSTRAINT|CHECK|FOREIGN|UNIQUE|PRIMARY)\b/i.test(s);
          sql = `${sql.slice(0, open).trim()} (${
            [
              ...items.filter((s) => !isConstraint(s)),
              ...items.filter(isConstraint).sort(),
            ].join(", ")
          })`;
        } else sql = sql.replace(/\s+/g, " ").trim();
        return `${row.type} ${row.name} ON ${row.tbl_name}: ${sql}`;
      })
      .sort();
  } finally {
    db.close();
  }
}

/** The database's `alembic_version` rows. */
export function alembicVersion(path: string): string[] {
  const db = new DatabaseSync(path);
  try {
    return db.prepare("SELECT version_num FROM alembic_version").all()
      .map((r) => String((r as Record<string, unknown>).version_num));
  } finally {
    db.close();
  }
}
