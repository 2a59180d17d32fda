/**
 * The pinned MLflow releases the compat suite runs against, installed by
 * `scripts/install_test_mlflow.sh` (CI runs it) into cached venvs
 * `${MLPROJECT_TEST_MLFLOW_VENVS:-~/.cache/mlproject/test-mlflow}/<version>/`.
 *
 * Releases before 3.8 import `sqlalchemy.pool.FallbackAsyncAdaptedQueuePool`, which SQLAlchemy 2.1
 * removed, without an upper bound: their venvs pin `sqlalchemy<2.1`
 * (`scripts/test_mlflow_versions.txt`), else their SQLite stores and servers fail at start-up.
 */
import { fileURLToPath } from "node:url";
import { skipWithout } from "./components.ts";

/**
 * The pinned versions, in the order of `scripts/test_mlflow_versions.txt` (first word of each
 * line that is not a comment).
 */
export const PINNED_MLFLOW_VERSIONS: readonly string[] = Deno.readTextFileSync(
  fileURLToPath(new URL("../../scripts/test_mlflow_versions.txt", import.meta.url)),
).split("\n").map((l) => l.trim().split(/\s+/)[0]!).filter((w) => w !== "" && !w.startsWith("#"));

/** One installed MLflow venv. */
export interface MlflowVenv {
  /** The MLflow version, e.g. `2.17.2`. */
  version: string;
  /** The venv directory. */
  dir: string;
  /** Its `bin` directory (put first on a child's `PATH` to run with this MLflow). */
  bin: string;
  /** Its interpreter. */
  python: string;
  /** Its `mlflow` CLI. */
  mlflow: string;
  /** The site-packages directory holding `mlflow/` (an `MlflowInstallation` of the library). */
  sitePackages: string;
}

/**
 * The directory holding the venvs (`MLPROJECT_TEST_MLFLOW_VENVS`, else
 * `~/.cache/mlproject/test-mlflow`).
 */
export function mlflowVenvRoot(): string {
  return Deno.env.get("MLPROJECT_TEST_MLFLOW_VENVS") ??
    `${Deno.env.get("HOME") ?? "/nonexistent"}/.cache/mlproject/test-mlflow`;
}

function isExecutable(path: string): boolean {
  try {
    const info = Deno.statSync(path);
    return info.isFile && ((info.mode ?? 0o111) & 0o111) !== 0;
  } catch {
    return false;
  }
}

/**
 * The venv of an MLflow version when it is installed: interpreter, CLI and the
 * `mlflow-<version>.dist-info` of exactly that version (read from disk; nothing is run).
 *
 * @param version An MLflow version, e.g. `3.7.0`.
 * @returns The venv, or `undefined` when it is missing or holds another version.
 * @example
 * ```ts
 * import { mlflowVenv } from "./mlflow_venvs.ts";
 * const venv = mlflowVenv("2.17.2"); // { version, dir, bin, python, mlflow, sitePackages } | undefined
 * ```
 */
export function mlflowVenv(version: string): MlflowVenv | undefined {
  const dir = `${mlflowVenvRoot()}/${version}`;
  const bin = `${dir}/bin`;
  const python = `${bin}/python`;
  const mlflow = `${bin}/mlflow`;
  if (!isExecutable(python) || !isExecutable(mlflow)) return undefined;
  let libs: string[];
  try {
    libs = [...Deno.readDirSync(`${dir}/lib`)].map((e) => e.name).filter((n) =>
      n.startsWith("python")
    );
  } catch {
    return undefined;
  }
  const sitePackages = libs.map((lib) => `${dir}/lib/${lib}/site-packages`).find((site) => {
    try {
      return Deno.statSync(`${site}/mlflow-${version}.dist-info`).isDirectory;
    } catch {
      return false;
    }
  });
  return sitePackages !== undefined
    ? { version, dir, bin, python, mlflow, sitePackages }
    : undefined;
}

/**
 * Whether the tests of an MLflow version must be skipped (its venv is missing); prints one
 * line per missing version.
 *
 * @param version A pinned MLflow version.
 * @returns `true` to pass as the test's `ignore`.
 * @example
 * ```ts ignore
 * for (const v of PINNED_MLFLOW_VERSIONS) {
 *   Deno.test({ name: `MLflow ${v}: …`, ignore: skipWithoutMlflow(v), fn: async () => {} });
 * }
 * ```
 */
export function skipWithoutMlflow(version: string): boolean {
  return skipWithout(
    `MLflow ${version} tests`,
    mlflowVenv(version) !== undefined,
    `no MLflow ${version} venv in ${mlflowVenvRoot()}/${version} (scripts/install_test_mlflow.sh installs it)`,
  );
}

/**
 * The pinned MLflow venvs that are installed (none on a bare machine), in pinned order.
 *
 * @returns The venvs.
 * @example
 * ```ts
 * import { testMlflowVenvs } from "./mlflow_venvs.ts";
 * const pythons = testMlflowVenvs().map((v) => v.python);
 * ```
 */
export function testMlflowVenvs(): MlflowVenv[] {
  return PINNED_MLFLOW_VERSIONS.map(mlflowVenv).filter((v): v is MlflowVenv => v !== undefined);
}

/** What {@linkcode runPython} returns. */
export interface PythonResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs Python code with a venv's interpreter.
 *
 * @param venv The venv.
 * @param code Python source (`python -c`).
 * @param options `args` after the code, `cwd`, `env`: the child's whole environment (default: the
 *   test process's without `MLFLOW_*`, with telemetry and warnings off).
 * @returns Exit code and output.
 * @example
 * ```ts ignore
 * const out = await runPython(venv, "import mlflow; print(mlflow.__version__)");
 * ```
 */
export async function runPython(
  venv: Pick<MlflowVenv, "python">,
  code: string,
  options: { args?: string[]; cwd?: string; env?: Record<string, string> } = {},
): Promise<PythonResult> {
  let env = options.env;
  if (env === undefined) {
    env = {
      PYTHONWARNINGS: "ignore",
      GIT_PYTHON_REFRESH: "quiet",
      MLFLOW_DISABLE_TELEMETRY: "true",
      DO_NOT_TRACK: "true",
    };
    for (const [k, v] of Object.entries(Deno.env.toObject())) {
      if (!k.startsWith("MLFLOW_")) env[k] ??= v;
    }
  }
  const out = await new Deno.Command(venv.python, {
    args: ["-c", code, ...(options.args ?? [])],
    env,
    clearEnv: true,
    stdin: "null",
    ...(options.cwd !== undefined ? { cwd: options.cwd } : {}),
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** Python that lets MLflow create (or open) the database at `sys.argv[1]` (a tracking URI). */
export const MLFLOW_CREATES_DB = [
  "import sys",
  "from mlflow.tracking import MlflowClient",
  'MlflowClient(tracking_uri=sys.argv[1]).get_experiment("0")',
].join("\n");
