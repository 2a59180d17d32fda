/**
 * The local backend: the invocation runs in the project directory, as the leader of its own
 * process group; a container invocation (docker environment) runs with `docker run`.
 *
 * @module
 */
import { type Backend, type Execution, type LaunchJob, runVariables } from "./backend.ts";
import { ExecutionException } from "../system/errors.ts";
import { displayCommand } from "./invocation.ts";
import { type ChildHandle, spawnProcess } from "../system/run_command.ts";

/** Runs projects as local processes. */
export class LocalBackend implements Backend {
  readonly name = "local";

  check(): { tags: [string, string][] } {
    return { tags: [] };
  }

  async launch(job: LaunchJob): Promise<Execution> {
    const { invocation } = job;
    if (invocation.container !== undefined) {
      const { launchContainer } = await import("./_container_launch.ts");
      return await launchContainer(job);
    }
    const env = { ...job.env, ...invocation.env, ...runVariables(job) };
    job.reporter.log(
      "INFO",
      `=== Running command '${displayCommand(invocation)}' in run with ID '${job.runId}' === `,
    );
    const [program, ...args] = invocation.argv;
    let child: ChildHandle;
    try {
      child = spawnProcess(program!, args, {
        cwd: invocation.cwd,
        env,
        stdout: job.stdout,
        newProcessGroup: true,
        killGraceMs: job.killGraceMs,
      });
    } catch (e) {
      throw new ExecutionException(
        `Cannot start '${program}' to run the entry point: ${e instanceof Error ? e.message : e}`,
      );
    }
    return {
      pid: child.pid,
      wait: async () => (await child.status).success,
      terminate: async () => {
        await child.terminate();
      },
    };
  }
}
