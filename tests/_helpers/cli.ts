import { fileURLToPath as fromFileUrl } from "node:url";

/** Absolute path of the repository root. */
export const REPO_ROOT: string = fromFileUrl(new URL("../../", import.meta.url)).replace(/\/$/, "");
/** Absolute path of main.ts. */
export const MAIN_TS: string = `${REPO_ROOT}/main.ts`;
/** The fixtures recorded from real MLflow 2.17 (tests/testdata/mlflow-2.17, see its README). */
export const FIXTURES: string = fromFileUrl(
  new URL("../testdata/mlflow-2.17/", import.meta.url),
).replace(/\/$/, "");

/** Output of one CLI invocation. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Environment without the caller's MLFLOW_* variables, plus `extra`. */
export function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(Deno.env.toObject())) {
    if (!k.startsWith("MLFLOW_")) env[k] = v;
  }
  return { ...env, USER: "test-user", LOGNAME: "test-user", ...extra };
}

/** Runs `deno run -A main.ts ARGS` as a real subprocess. */
export async function runCli(
  args: string[],
  options: { cwd: string; env?: Record<string, string> },
): Promise<CliResult> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", MAIN_TS, ...args],
    cwd: options.cwd,
    env: options.env ?? cleanEnv(),
    clearEnv: true,
    stdin: "null",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** A temporary directory removed when disposed. */
export async function tempDir(
  prefix = "mlproject-test-",
): Promise<AsyncDisposable & { path: string }> {
  const path = await Deno.makeTempDir({ prefix });
  return {
    path,
    async [Symbol.asyncDispose]() {
      await Deno.remove(path, { recursive: true }).catch(() => {});
    },
  };
}

/** Writes files (relative path → content) under `dir`. */
export async function writeFiles(dir: string, files: Record<string, string>): Promise<void> {
  for (const [rel, content] of Object.entries(files)) {
    const path = `${dir}/${rel}`;
    await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
    await Deno.writeTextFile(path, content);
  }
}

/** Reads every table row of an MLflow SQLite database with python-free node:sqlite. */
export async function sqliteRows(
  path: string,
  sql: string,
  ...params: (string | number)[]
): Promise<Record<string, unknown>[]> {
  const { DatabaseSync } = await import("node:sqlite");
  // A normal connection with a busy timeout, as the runner and MLflow open these WAL databases.
  const db = new DatabaseSync(path, { timeout: 30_000 });
  try {
    return db.prepare(sql).all(...params) as Record<string, unknown>[];
  } finally {
    db.close();
  }
}
