/**
 * Independent real clients the tests validate fakes with, installed by
 * `scripts/install_test_tools.sh` (CI runs it) into one cached venv
 * `${MLPROJECT_TEST_TOOLS_VENV:-~/.cache/mlproject/test-tools}`: the official `kubernetes` and
 * `databricks-sdk` Python packages, `actionlint` and `shellcheck`.
 */

/** The tools venv's directory. */
export function testToolsVenv(): string {
  return Deno.env.get("MLPROJECT_TEST_TOOLS_VENV") ??
    `${Deno.env.get("HOME") ?? "/nonexistent"}/.cache/mlproject/test-tools`;
}

function executable(path: string): string | undefined {
  try {
    const info = Deno.statSync(path);
    return info.isFile && ((info.mode ?? 0o111) & 0o111) !== 0 ? path : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The tools venv's interpreter (with `kubernetes` and `databricks-sdk`), when installed.
 *
 * @returns Its path, or `undefined`.
 * @example
 * ```ts ignore
 * const py = toolsPython();
 * const ignore = skipWithout("kubernetes client tests", py !== undefined, TOOLS_HINT);
 * ```
 */
export function toolsPython(): string | undefined {
  return executable(`${testToolsVenv()}/bin/python`);
}

/**
 * The `actionlint` binary of the tools venv, when installed.
 *
 * @returns Its path, or `undefined`.
 */
export function actionlintPath(): string | undefined {
  return executable(`${testToolsVenv()}/bin/actionlint`);
}

/**
 * The `shellcheck` binary of the tools venv, when installed.
 *
 * @returns Its path, or `undefined`.
 */
export function shellcheckPath(): string | undefined {
  return executable(`${testToolsVenv()}/bin/shellcheck`);
}

/** The skip reason for tests needing the tools venv. */
export const TOOLS_HINT = "no test tools venv (run scripts/install_test_tools.sh)";
