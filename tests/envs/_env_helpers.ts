/**
 * Helpers of the environment tests: an environment that keeps pip and uv off every package
 * index (tests that install packages add a local index, see ../_helpers/wheels.ts), and
 * executables written by the tests that stand in for tools that cannot be installed (conda).
 */
import { cleanEnv } from "../_helpers/cli.ts";

/**
 * The CLI environment for env tests: a private cache root; pip and uv use no index, no
 * configuration file and no network (a test's `localPackageIndex().env` in `extra` gives them
 * its wheels).
 */
export function envTestEnv(
  root: string,
  extra: Record<string, string> = {},
): Record<string, string> {
  return cleanEnv({
    MLFLOW_ENV_ROOT: root,
    PIP_NO_INDEX: "1",
    PIP_EXTRA_INDEX_URL: "",
    PIP_FIND_LINKS: "",
    PIP_CONFIG_FILE: "/dev/null",
    PIP_DISABLE_PIP_VERSION_CHECK: "1",
    UV_OFFLINE: "1",
    UV_NO_CONFIG: "1",
    UV_PYTHON_DOWNLOADS: "never",
    MLFLOW_DISABLE_ENV_MANAGER_CONDA_WARNING: "true",
    ...extra,
  });
}

/** Writes an executable script. */
export async function writeExecutable(path: string, text: string): Promise<void> {
  await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
  await Deno.writeTextFile(path, text);
  await Deno.chmod(path, 0o755);
}

/** The last line of stdout as JSON (`--json` output). */
export function lastJson(stdout: string): Record<string, unknown> {
  const lines = stdout.trim().split("\n");
  return JSON.parse(lines[lines.length - 1]!);
}
