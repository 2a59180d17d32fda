/**
 * The venvs of real MLflow releases that CI installs: `$MLPROJECT_TEST_MLFLOW_VENVS` (default
 * `~/.cache/mlproject/test-mlflow`), one `<version>/` venv each. Tests that need them skip with
 * one line when there are none.
 */

/** The venvs of real MLflow releases CI installs (`<dir>/<version>/bin/python`). */
export function testMlflowVenvs(): string[] {
  const root = Deno.env.get("MLPROJECT_TEST_MLFLOW_VENVS") ??
    `${Deno.env.get("HOME")}/.cache/mlproject/test-mlflow`;
  try {
    return [...Deno.readDirSync(root)]
      .filter((e) => e.isDirectory)
      .map((e) => `${root}/${e.name}/bin/python`)
      .filter((p) => {
        try {
          return Deno.statSync(p).isFile;
        } catch {
          return false;
        }
      })
      .sort();
  } catch {
    return [];
  }
}
