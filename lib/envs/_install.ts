/**
 * Running the steps of an environment build: one command at a time, its output streamed to
 * stderr (stdout may carry `--json`), a one-line error naming the command when it fails.
 *
 * @module
 */
import { ExecutionException } from "../system/errors.ts";
import type { Reporter } from "../system/output.ts";
import { spawnProcess } from "../system/run_command.ts";

/** Options of {@linkcode runStep} and {@linkcode installRequirements}. */
export interface StepOptions {
  /** Full environment of the command. */
  env: Record<string, string>;
  /** Working directory (the project, so relative paths in requirements work as in MLflow). */
  cwd: string;
  /** Progress lines. */
  reporter: Reporter;
  /** Aborting stops the command. */
  signal?: AbortSignal;
}

/**
 * Runs one build step, streaming its output to stderr.
 *
 * @param label What the step does, shown before it runs (`[1/3] creating the venv`).
 * @param argv The command and its arguments.
 * @param options Environment, working directory, reporter, abort signal.
 * @throws {ExecutionException} When the command cannot start or fails.
 *
 * @example
 * ```ts ignore
 * import { runStep } from "./_install.ts";
 * await runStep("[1/3] creating the venv", ["python3", "-m", "venv", dir], options);
 * ```
 */
export async function runStep(label: string, argv: string[], options: StepOptions): Promise<void> {
  options.reporter.log("INFO", `=== ${label}: ${argv.join(" ")} ===`);
  let status;
  try {
    const child = spawnProcess(argv[0]!, argv.slice(1), {
      cwd: options.cwd,
      env: options.env,
      stdin: "null",
      stdout: "stderr",
      ...(options.signal !== undefined ? { signal: options.signal } : {}),
    });
    status = await child.status;
  } catch (e) {
    throw new ExecutionException(
      `Cannot start '${argv[0]}' to create the environment: ${e instanceof Error ? e.message : e}`,
    );
  }
  if (!status.success) {
    throw new ExecutionException(
      `Creating the environment failed: '${
        argv.join(" ")
      }' exited with code ${status.code} (its output is above)`,
    );
  }
}

/**
 * Installs requirement lines with an installer (`python -m pip install` or `uv pip install`):
 * they are written to a temporary requirements file, as MLflow does, with `PIP_NO_INPUT=1`.
 *
 * @param label Step label.
 * @param lines Requirement lines (`-r`/`-c` paths already absolute); nothing runs when empty.
 * @param installer The installer command, `-r <file>` is appended.
 * @param options Environment, working directory, reporter, abort signal.
 * @throws {ExecutionException} When the installer fails.
 *
 * @example
 * ```ts ignore
 * import { installRequirements } from "./_install.ts";
 * await installRequirements("[3/3] installing dependencies", ["six"], [py, "-m", "pip", "install"], options);
 * ```
 */
export async function installRequirements(
  label: string,
  lines: readonly string[],
  installer: string[],
  options: StepOptions,
): Promise<void> {
  if (lines.length === 0) return;
  const dir = await Deno.makeTempDir({ prefix: "mlproject-requirements-" });
  try {
    const file = `${dir}/requirements.${crypto.randomUUID()}.txt`;
    await Deno.writeTextFile(file, lines.join("\n") + "\n");
    await runStep(`${label} (${lines.join(", ")})`, [...installer, "-r", file], {
      ...options,
      env: { ...options.env, PIP_NO_INPUT: "1" },
    });
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}
