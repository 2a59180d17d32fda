/**
 * A running `docker run`: wait for the container's exit status, or cancel it. Cancelling stops
 * and removes the container by name (killing only the `docker` CLI would leave it running), then
 * ends the CLI.
 *
 * @module
 */
import {
  type ChildHandle,
  type OutputMode,
  type ProcessResult,
  spawnProcess,
} from "../system/run_command.ts";
import { ExecutionException } from "../system/errors.ts";
import { docker } from "./_docker_cli.ts";
import type { DockerRunInvocation } from "./run_args.ts";

/** Options of {@linkcode startContainer}. */
export interface StartContainerOptions {
  /** Where the container's stdout goes (default `inherit`; its stderr goes to ours). */
  stdout?: OutputMode;
  /** Milliseconds `cancel()` gives the container between SIGTERM and SIGKILL (default 5000). */
  killGraceMs?: number;
  /** Aborting cancels the container. */
  signal?: AbortSignal;
}

/** A container started by {@linkcode startContainer}. */
export interface ContainerHandle {
  /** The container's name. */
  readonly name: string;
  /** The `docker` CLI's process id. */
  readonly pid: number;
  /**
   * Resolves when the container is gone: its exit code (125–127: docker could not create or
   * start it; 137/143 after a kill).
   */
  readonly status: Promise<ProcessResult>;
  /** The container's output when `stdout: "piped"` was used (stderr is not captured), after exit. */
  readonly output: Promise<Uint8Array>;
  /** Whether `cancel()` was called. */
  readonly cancelled: boolean;
  /** Stops and removes the container, ends the CLI; resolves with the final status. */
  cancel(): Promise<ProcessResult>;
}

/**
 * Starts `docker run` for an invocation from `dockerRunArgs` (the CLI leads its own process group,
 * stdin is not attached).
 *
 * @param invocation The invocation (`args`, `cliEnv`, `containerName`).
 * @param options Output routing, grace period, abort signal.
 * @returns The handle.
 * @throws {ExecutionException} When the `docker` CLI cannot be started.
 *
 * @example
 * ```ts ignore
 * import { dockerRunArgs, startContainer } from "./mod.ts";
 * const container = startContainer(dockerRunArgs(request), { killGraceMs: 2000 });
 * const { code } = await container.status;
 * ```
 */
export function startContainer(
  invocation: DockerRunInvocation,
  options: StartContainerOptions = {},
): ContainerHandle {
  const grace = options.killGraceMs ?? 5000;
  let child: ChildHandle;
  try {
    for (const dir of invocation.hostDirs) Deno.mkdirSync(dir, { recursive: true });
    child = spawnProcess("docker", invocation.args, {
      env: invocation.cliEnv,
      stdin: "null",
      stdout: options.stdout ?? "inherit",
      newProcessGroup: true,
      killGraceMs: grace,
    });
  } catch (e) {
    throw new ExecutionException(
      `Cannot start 'docker run' (${invocation.containerName}): ${
        e instanceof Error ? e.message : e
      }`,
    );
  }
  const name = invocation.containerName;
  const cliEnv = invocation.cliEnv;
  let exited = false;
  const status = child.status.then((s) => {
    exited = true;
    return s;
  });
  let cancelling: Promise<ProcessResult> | undefined;
  const handle: ContainerHandle = {
    name,
    pid: child.pid,
    status,
    output: child.output.then((o) => o.stdout),
    get cancelled() {
      return cancelling !== undefined;
    },
    cancel(): Promise<ProcessResult> {
      cancelling ??= (async () => {
        if (!exited) {
          const seconds = String(Math.max(0, Math.ceil(grace / 1000)));
          await docker(["stop", "--time", seconds, name], { env: cliEnv });
          await docker(["rm", "--force", name], { env: cliEnv });
          // The CLI ends when its container is gone; one that is still creating it is stopped.
          let timer: ReturnType<typeof setTimeout> | undefined;
          const ended = await Promise.race([
            status.then(() => true),
            new Promise<boolean>((r) => timer = setTimeout(() => r(false), 2000)),
          ]);
          clearTimeout(timer);
          if (!ended) await child.terminate();
        }
        const result = await status;
        // A container created while the CLI was being stopped is never started: remove it too.
        await docker(["rm", "--force", name], { env: cliEnv });
        return result;
      })();
      return cancelling;
    },
  };
  if (options.signal !== undefined) {
    const onAbort = () => void handle.cancel();
    if (options.signal.aborted) onAbort();
    else {
      options.signal.addEventListener("abort", onAbort, { once: true });
      status.finally(() => options.signal!.removeEventListener("abort", onAbort));
    }
  }
  return handle;
}
