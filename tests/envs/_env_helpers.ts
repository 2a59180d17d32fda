/**
 * Helpers of the environment tests: the local pip mirror, the machine's Pythons, and
 * executables written by the tests that stand in for tools this machine does not have.
 */
import { cleanEnv } from "../_helpers/cli.ts";

/** The first `file://` index of the local pip mirror (pip must never wait on the public index). */
export const PIP_MIRROR = "file:///opt/pypi/simple";

/** The real pyenv Pythons of this machine (`~/.pyenv/versions`). */
export const PYENV_VERSIONS = `${
  Deno.env.get("PYENV_ROOT") ?? `${Deno.env.get("HOME")}/.pyenv`
}/versions`;

/** A real interpreter of this machine. */
export function realPython(version: string): string {
  return `${PYENV_VERSIONS}/${version}/bin/python`;
}

/** The CLI environment for env tests: a private cache root and the pip mirror. */
export function envTestEnv(
  root: string,
  extra: Record<string, string> = {},
): Record<string, string> {
  return cleanEnv({
    MLFLOW_ENV_ROOT: root,
    PIP_INDEX_URL: PIP_MIRROR,
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
