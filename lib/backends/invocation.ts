/**
 * `Invocation`: what running an entry point means once its environment is chosen, as data (a
 * program and its arguments, variables, directory, and for containers an image, mounts and a
 * working directory), so each backend turns it into what it starts: a local process, a
 * `docker run` argv, a Kubernetes container spec, a remote job.
 *
 * @module
 */

/** A host path made visible inside a container. */
export interface Mount {
  /** Path on the host. */
  readonly source: string;
  /** Path inside the container. */
  readonly target: string;
  /** Mounted read-only. */
  readonly readOnly?: boolean;
}

/** The container an invocation runs in (docker environments). */
export interface ContainerSpec {
  /** Image reference (`name[:tag]` or `name@sha256:…`). */
  readonly image: string;
  /** Whether the image must be built before it can run (`--build-image`, not cached). */
  readonly mustBuild?: boolean;
  /** Mounts, in `docker run -v` order. */
  readonly mounts: readonly Mount[];
  /** Working directory inside the container (empty: the image's own). */
  readonly workdir: string;
  /** `docker run` arguments given with `-A`, in order, repeated names kept (`true`: a flag). */
  readonly runArgs?: readonly (readonly [string, string | boolean])[];
  /** `docker_env.volumes` (`-v` specs, as written). */
  readonly volumes?: readonly string[];
  /** `docker_env.environment`: `[NAME, VALUE]` pairs, or names copied from the host. */
  readonly environment?: readonly (string | readonly [string, string])[];
  /** Image id (`sha256:…`), when known. */
  readonly imageId?: string;
}

/** How to run an entry point. */
export interface Invocation {
  /** The entry point's command as rendered from the MLproject file. */
  readonly command: string;
  /** Program and arguments (e.g. `["bash", "-c", "<activation> && <command>"]`). */
  readonly argv: readonly string[];
  /** Variables the environment adds to the base environment. */
  readonly env: Readonly<Record<string, string>>;
  /** Directory the command runs in (on the host: the project directory). */
  readonly cwd: string;
  /** Set when the command runs in a container. */
  readonly container?: ContainerSpec;
}

/**
 * An invocation that runs a shell command with `bash -c`, as MLflow's local runs do.
 *
 * @param command The entry point's rendered command.
 * @param options `shell`: the full shell text (default `command`); variables; directory.
 * @returns The invocation.
 *
 * @example
 * ```ts
 * import { shellInvocation } from "./invocation.ts";
 * const inv = shellInvocation("python train.py", { cwd: "/proj" });
 * console.assert(inv.argv.join(" ") === "bash -c python train.py");
 * ```
 */
export function shellInvocation(
  command: string,
  options: { shell?: string; env?: Record<string, string>; cwd: string },
): Invocation {
  return {
    command,
    argv: ["bash", "-c", options.shell ?? command],
    env: options.env ?? {},
    cwd: options.cwd,
  };
}

/**
 * The text shown for an invocation in `=== Running command '…' ===`: the shell text of a
 * `bash -c` invocation, else the argv joined by spaces.
 *
 * @param invocation The invocation.
 * @returns One line.
 *
 * @example
 * ```ts
 * import { displayCommand, shellInvocation } from "./invocation.ts";
 * console.assert(displayCommand(shellInvocation("ls", { cwd: "/" })) === "ls");
 * ```
 */
export function displayCommand(invocation: Invocation): string {
  const [program, flag, text] = invocation.argv;
  if (program === "bash" && flag === "-c" && text !== undefined && invocation.argv.length === 3) {
    return text;
  }
  return invocation.argv.join(" ");
}
