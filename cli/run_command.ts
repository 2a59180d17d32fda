/**
 * `mlproject run`.
 *
 * @module
 */
import { InterruptedError, MlprojectError } from "../lib/system/errors.ts";
import { printErr, printOut, stderrReporter } from "../lib/system/output.ts";
import { parseRunArgs, RUN_HELP, type RunArgs } from "./run_args.ts";
import { reportError } from "./report_error.ts";
import { parseDockerArgs } from "../lib/docker/run_args.ts";
import { ENV_MANAGERS } from "../lib/envs/environment.ts";
import { mark } from "../lib/system/timing.ts";

/**
 * `mlproject run`: parses the arguments, plans (`--dry-run`) or runs, prints `--json`.
 *
 * @param argv The arguments after `run`.
 * @param options `env`: the environment (after `--env-file`); `onInterrupt` receives what SIGINT/SIGTERM must do while the run is set up and running
 * (`undefined` again once done).
 * @returns The exit code.
 *
 * @example
 * ```ts ignore
 * import { runCommand } from "./run_command.ts";
 * const code = await runCommand(["./proj", "--dry-run"], {
 *   env: Deno.env.toObject(),
 *   onInterrupt: () => {},
 * });
 * ```
 */
export async function runCommand(
  argv: string[],
  options: {
    env: Record<string, string>;
    onInterrupt: (handler: (() => void) | undefined) => void;
  },
): Promise<number> {
  const { env, onInterrupt } = options;
  const args = parseRunArgs(argv, { env, envManagers: ENV_MANAGERS });
  mark("arguments parsed");
  if (args === "help") {
    printOut(RUN_HELP.trimEnd());
    return 0;
  }
  if (
    args.envManager === "conda" &&
    !/^(true|1)$/i.test(env.MLFLOW_DISABLE_ENV_MANAGER_CONDA_WARNING ?? "")
  ) {
    printErr(
      "Warning: use of conda is discouraged; make sure your use complies with Anaconda's terms of service. virtualenv is the recommended tool. Set MLFLOW_DISABLE_ENV_MANAGER_CONDA_WARNING=TRUE to hide this warning.",
    );
  }
  const reporter = stderrReporter();
  if (args.dryRun) return await dryRun(args, env, reporter);
  const { run, waitForRun } = await import("../lib/run/run.ts");
  mark("run.ts loaded");
  // From here on, SIGINT/SIGTERM stop a fetch or environment build in progress, and cancel a
  // launched run (its whole process group, recorded KILLED); another signal stops the recording
  // of the run's end if that is still being retried.
  const interrupt = new AbortController();
  let submitted: { cancel(): Promise<void> } | undefined;
  onInterrupt(() => {
    if (!interrupt.signal.aborted) interrupt.abort();
    else void submitted?.cancel();
  });
  try {
    return await runAndReport(args, env, {
      run,
      waitForRun,
      reporter,
      signal: interrupt.signal,
      onSubmitted: (handle) => submitted = handle,
    });
  } catch (e) {
    if (interrupt.signal.aborted && !(e instanceof MlprojectError && e.exitCode === 130)) {
      throw new InterruptedError("Interrupted before the run started");
    }
    throw e;
  } finally {
    onInterrupt(undefined);
  }
}

function runOptions(
  args: RunArgs,
  env: Record<string, string>,
  reporter: ReturnType<typeof stderrReporter>,
): import("../lib/run/run_options.ts").RunOptions {
  return {
    entryPoint: args.entryPoint,
    ...(args.version !== undefined ? { version: args.version } : {}),
    parameters: args.params,
    dockerArgs: parseDockerArgs(args.dockerArgs),
    ...(args.experimentName !== undefined ? { experimentName: args.experimentName } : {}),
    ...(args.experimentId !== undefined ? { experimentId: args.experimentId } : {}),
    backend: args.backend,
    ...(args.backendConfig !== undefined ? { backendConfig: args.backendConfig } : {}),
    ...(args.envManager !== undefined ? { envManager: args.envManager } : {}),
    ...(args.storageDir !== undefined ? { storageDir: args.storageDir } : {}),
    ...(args.runId !== undefined ? { runId: args.runId } : {}),
    ...(args.runName !== undefined ? { runName: args.runName } : {}),
    buildImage: args.buildImage,
    keepWorkDir: args.keepWorkDir,
    upgradeDb: args.upgradeDb,
    env,
    reporter,
  };
}

async function dryRun(
  args: RunArgs,
  env: Record<string, string>,
  reporter: ReturnType<typeof stderrReporter>,
): Promise<number> {
  const [{ plan }, format] = await Promise.all([
    import("../lib/run/plan.ts"),
    import("../lib/run/plan_format.ts"),
  ]);
  const planned = await plan(args.uri, runOptions(args, env, reporter));
  if (args.json) printOut(JSON.stringify(format.planToJson(planned)));
  else for (const line of format.formatPlan(planned)) printOut(line);
  return 0;
}

async function runAndReport(
  args: RunArgs,
  env: Record<string, string>,
  deps: {
    run: typeof import("../lib/run/run.ts").run;
    waitForRun: typeof import("../lib/run/run.ts").waitForRun;
    reporter: ReturnType<typeof stderrReporter>;
    signal: AbortSignal;
    onSubmitted: (handle: { cancel(): Promise<void> }) => void;
  },
): Promise<number> {
  const { run, waitForRun, reporter } = deps;
  const submitted = await run(args.uri, {
    ...runOptions(args, env, reporter),
    synchronous: false,
    stdout: args.json ? "stderr" : "inherit",
    signal: deps.signal,
  });
  deps.onSubmitted(submitted);
  let code = 0;
  let error: string | undefined;
  try {
    await waitForRun(submitted, { reporter });
  } catch (e) {
    if (!(e instanceof MlprojectError)) throw e;
    reportError(e);
    code = e.exitCode;
    error = e.message;
  }
  if (args.json) {
    printOut(JSON.stringify({
      run_id: submitted.runId,
      experiment_id: submitted.experimentId,
      status: await submitted.getStatus(),
      tracking_uri: submitted.trackingUri,
      ...(submitted.environment === undefined ? {} : {
        env_manager: submitted.environment.kind,
        ...(submitted.environment.key !== undefined ? { env_key: submitted.environment.key } : {}),
        ...(submitted.environment.cacheHit !== undefined
          ? { env_cache_hit: submitted.environment.cacheHit }
          : {}),
        ...(submitted.environment.mlflowVersion !== undefined
          ? { mlflow_version: submitted.environment.mlflowVersion }
          : {}),
      }),
      ...(error === undefined ? {} : { error, exit_code: code }),
    }));
  }
  return code;
}
