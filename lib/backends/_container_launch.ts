/**
 * Launching a container invocation (docker environments) for the local backend: `docker run`
 * built from the job and the invocation's `ContainerSpec`; terminating stops and removes the
 * container.
 *
 * @module
 */
import type { Execution, LaunchJob } from "./backend.ts";
import { dockerRunArgs, startContainer } from "../docker/mod.ts";

/**
 * Starts the job's container invocation with `docker run` and returns its execution.
 *
 * @param job The job; `job.invocation.container` must be set.
 * @returns The execution: `wait()` is the container's success, `terminate()` stops and removes it.
 * @throws {ExecutionException} When the `docker` CLI cannot be started, or a variable named in
 *   `docker_env.environment` is not set.
 *
 * @example
 * ```ts ignore
 * const execution = await launchContainer(job);
 * ```
 */
export function launchContainer(job: LaunchJob): Promise<Execution> {
  const { invocation } = job;
  const spec = invocation.container!;
  const inv = dockerRunArgs({
    image: spec.image,
    command: invocation.argv,
    runId: job.runId,
    experimentId: job.experimentId,
    trackingUri: job.trackingUri,
    trackingEnv: { ...job.trackingEnv },
    ...(job.artifactUri !== undefined ? { artifactUri: job.artifactUri } : {}),
    dockerArgs: spec.runArgs ?? [],
    volumes: spec.volumes ?? [],
    environment: spec.environment ?? [],
    hostEnv: { ...job.env, ...invocation.env },
    cwd: invocation.cwd,
    reporter: job.reporter,
  });
  job.reporter.log(
    "INFO",
    `=== Running command '${inv.display}' in run with ID '${job.runId}' === `,
  );
  const container = startContainer(inv, { stdout: job.stdout, killGraceMs: job.killGraceMs });
  return Promise.resolve({
    pid: container.pid,
    wait: async () => (await container.status).success,
    terminate: async () => {
      await container.cancel();
    },
  });
}
