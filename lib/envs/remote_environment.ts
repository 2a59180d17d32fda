/**
 * The environment of a run whose job builds it where it runs (Databricks: `mlflow run` on the
 * cluster): chosen as for a local run, so the plan shows it and MLflow's errors (conda on a
 * `python_env` project) come first, but nothing is probed, built or installed here.
 *
 * @module
 */
import type { EnvironmentPlan, EnvManager } from "./environment.ts";
import { selectEnvironment } from "./environment.ts";
import { shellInvocation } from "../backends/invocation.ts";
import type { ProjectSpec } from "../project/project_spec.ts";

/**
 * Plans an environment that the job builds itself.
 *
 * @param project The loaded project.
 * @param requested The `--env-manager` value, if any.
 * @returns A plan whose `prepare()` builds nothing.
 * @throws {ExecutionException} For an unusable choice (MLflow's errors).
 *
 * @example
 * ```ts ignore
 * import { planRemoteEnvironment } from "./remote_environment.ts";
 * planRemoteEnvironment(project, undefined).kind; // "virtualenv"
 * ```
 */
export function planRemoteEnvironment(
  project: ProjectSpec,
  requested: EnvManager | undefined,
): EnvironmentPlan {
  const kind = selectEnvironment(project, requested);
  return {
    kind,
    tag: undefined,
    prepare: () =>
      Promise.resolve({
        kind,
        tag: undefined,
        env: {},
        invocation: (command: string, cwd: string) => shellInvocation(command, { cwd }),
      }),
  };
}
