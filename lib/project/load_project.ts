/**
 * `loadProject()`: a project read synchronously, its MLproject parsed every time. A run reads
 * its project with `readProject()` (`project_spec.ts`), which loads the YAML parser only when
 * its cache lacks the text.
 *
 * @module
 */
import { parsePythonYaml } from "../yaml/python_yaml.ts";
import { projectFromText, type ProjectSpec, readProjectFile } from "./project_spec.ts";

/**
 * Loads the project in `dir` exactly as MLflow reads it, with clear errors where MLflow crashes.
 *
 * @param dir The project directory (absolute).
 * @returns The project spec.
 * @throws {ExecutionException} For an invalid MLproject file, naming the file and the field.
 *
 * @example
 * ```ts ignore
 * import { loadProject } from "./load_project.ts";
 * const project = loadProject("/abs/examples/demo");
 * project.entryPoints.get("main");
 * ```
 */
export function loadProject(dir: string): ProjectSpec {
  return projectFromText(dir, readProjectFile(dir), parsePythonYaml);
}
