/**
 * Runs the `docker` CLI. Everything Docker goes through the CLI, so `DOCKER_HOST`, contexts,
 * `DOCKER_CONFIG` and credential helpers work as they do for the user (and podman's Docker API).
 *
 * @module
 */
import { type CommandOutput, runCommand, type SpawnOptions } from "../system/run_command.ts";

/** Options of {@linkcode docker}. */
export type DockerCliOptions = Pick<SpawnOptions, "env" | "signal" | "input" | "onLine" | "cwd">;

/**
 * Runs `docker <args>` to completion and captures its output (code 127: no `docker` on PATH).
 *
 * @param args The arguments after `docker`.
 * @param options Environment (the whole environment of the CLI), abort signal, stdin bytes.
 * @returns The exit status and output.
 *
 * @example
 * ```ts ignore
 * import { docker } from "./_docker_cli.ts";
 * const out = await docker(["version", "--format", "{{.Client.Version}}"]);
 * ```
 */
export function docker(args: string[], options: DockerCliOptions = {}): Promise<CommandOutput> {
  return runCommand("docker", args, options);
}

/**
 * The last non-empty line of a CLI's error output (for one-line messages).
 *
 * @param out A finished command.
 * @returns The line, or a description of the exit status when there is none.
 *
 * @example
 * ```ts
 * import { lastErrorLine } from "./_docker_cli.ts";
 * const line = lastErrorLine({ code: 1, signal: null, success: false, stdout: "", stderr: "a\nb\n" });
 * console.assert(line === "b");
 * ```
 */
export function lastErrorLine(out: CommandOutput): string {
  const useful = (text: string) =>
    text.split("\n").map((l) => l.trim()).filter((l) =>
      l !== "" &&
      !/^(DEPRECATED:|Install the buildx|https:\/\/docs\.docker\.com\/go\/buildx)/.test(l)
    );
  const stderr = useful(out.stderr);
  const lines = stderr.length > 0 ? stderr : useful(out.stdout);
  const errorLine = lines.find((l) => /^(Error|ERROR)\b/.test(l));
  return errorLine ?? lines.at(-1) ?? `exit status ${out.code}`;
}
