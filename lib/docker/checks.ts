/**
 * MLflow's checks before a docker run: a `docker` executable, an answering engine (`docker info`),
 * and a project with a `name` and a `docker_env.image`.
 *
 * @module
 */
import { escapeForMessage, ExecutionException } from "../system/errors.ts";
import { docker, lastErrorLine } from "./_docker_cli.ts";

/** What {@linkcode checkDockerEngine} found. */
export interface DockerEngine {
  /** Path of the `docker` CLI that will be used. */
  cli: string;
  /** The engine's version (`ServerVersion` of `docker info`). */
  serverVersion: string;
}

/** `docker info`'s answer: the engine's errors (a JSON array) when there are any, else its version. */
const INFO_FORMAT =
  "{{if .ServerErrors}}{{json .ServerErrors}}{{else}}{{json .ServerVersion}}{{end}}";

function findOnPath(name: string, path: string | undefined): string | undefined {
  for (const dir of (path ?? "").split(":")) {
    if (dir === "") continue;
    const candidate = `${dir.replace(/\/+$/, "")}/${name}`;
    try {
      const info = Deno.statSync(candidate);
      if (info.isFile && ((info.mode ?? 0o111) & 0o111) !== 0) return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/**
 * Checks, as MLflow does, that a `docker` executable is on `PATH` and that `docker info`
 * succeeds (whatever engine `DOCKER_HOST` or the current context names: dockerd, podman, remote).
 *
 * @param options `env`: the environment of the CLI (default: this process's); `signal`.
 * @returns The CLI path and the engine's version.
 * @throws {ExecutionException} MLflow's messages: "Could not find Docker executable. …" and
 *   "Ran `docker info` to ensure docker daemon is running but it failed with the following
 *   output:\n…" (only the error line of the output).
 *
 * @example
 * ```ts ignore
 * import { checkDockerEngine } from "./checks.ts";
 * const engine = await checkDockerEngine({ env: Deno.env.toObject() });
 * ```
 */
export async function checkDockerEngine(
  options: { env?: Record<string, string>; signal?: AbortSignal } = {},
): Promise<DockerEngine> {
  const env = options.env ?? Deno.env.toObject();
  const cli = findOnPath("docker", env.PATH);
  if (cli === undefined) {
    throw new ExecutionException(
      "Could not find Docker executable. Ensure Docker is installed as per the instructions at https://docs.docker.com/install/overview/.",
    );
  }
  // The engine's errors first: a CLI before 23.0 cannot reach `.ServerVersion` without an engine
  // and would report only that template error (exit 1), or its errors with exit 0.
  const out = await docker(["info", "--format", INFO_FORMAT], {
    env,
    ...(options.signal ? { signal: options.signal } : {}),
  });
  let answer: unknown;
  try {
    answer = JSON.parse(out.stdout.trim().split("\n").at(-1) ?? "");
  } catch {
    answer = undefined;
  }
  const version = typeof answer === "string" ? answer : "";
  if (!out.success || version === "") {
    const serverError = Array.isArray(answer) && answer.length > 0 ? String(answer[0]) : undefined;
    throw new ExecutionException(
      "Ran `docker info` to ensure docker daemon is running but it failed with the following output:\n" +
        escapeForMessage(serverError ?? lastErrorLine(out)),
    );
  }
  return { cli, serverVersion: version };
}

/** The parts of a project the docker checks look at. */
export interface DockerProjectFields {
  /** The MLproject `name`. */
  name: string | undefined;
  /** The `docker_env` section. */
  dockerEnv: { image: string } | undefined;
}

/**
 * MLflow's `validate_docker_env`: docker projects need a `name` (for the image tag) and a
 * `docker_env.image`.
 *
 * @param project The loaded project (a `ProjectSpec` fits).
 * @throws {ExecutionException} MLflow's messages.
 *
 * @example
 * ```ts
 * import { validateDockerProject } from "./checks.ts";
 * validateDockerProject({ name: "p", dockerEnv: { image: "python:3.12" } });
 * ```
 */
export function validateDockerProject(project: DockerProjectFields): void {
  if (!project.name) {
    throw new ExecutionException(
      "Project name in MLProject must be specified when using docker for image tagging.",
    );
  }
  if (!project.dockerEnv?.image) {
    throw new ExecutionException(
      "Project with docker environment must specify the docker image to use via an 'image' field under the 'docker_env' field.",
    );
  }
}
