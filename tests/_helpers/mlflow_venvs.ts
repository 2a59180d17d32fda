/**
 * The pinned MLflow releases the compat suite runs against, installed by
 * `scripts/install_test_mlflow.sh` (CI runs it) into cached venvs
 * `${MLPROJECT_TEST_MLFLOW_VENVS:-~/.cache/mlproject/test-mlflow}/<version>/`.
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
 * const venv = mlflowVenv("2.17.2"); // { version, dir, bin, python, mlflow } or undefined
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
  const installed = libs.some((lib) => {
    try {
      return Deno.statSync(`${dir}/lib/${lib}/site-packages/mlflow-${version}.dist-info`)
        .isDirectory;
    } catch {
      return false;
    }
  });
  return installed ? { version, dir, bin, python, mlflow } : undefined;
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
 * The interpreters of the pinned MLflow venvs that are installed (none on a bare machine).
 *
 * @returns Their `bin/python` paths, in pinned order.
 */
export function testMlflowVenvs(): string[] {
  return PINNED_MLFLOW_VERSIONS.map(mlflowVenv).filter((v) => v !== undefined).map((v) =>
    v!.python
  );
}
