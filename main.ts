#!/usr/bin/env -S deno run -A
/**
 * The `mlproject` command line: parses arguments, calls the library, maps errors to exit codes
 * (0 success, 1 failed run or execution error, 2 usage error, 130 interrupted).
 *
 * @module
 */
import { escapeForMessage, InterruptedError, MlprojectError, UsageError } from "./lib/errors.ts";
import { printErr, printOut, stderrReporter } from "./lib/output.ts";
import { VERSION } from "./lib/version.ts";

const MAIN_HELP = `Usage: mlproject [OPTIONS] COMMAND [ARGS]...

  Run MLflow Projects without Python MLflow.

Options:
  --env-file PATH  Load environment variables from a dotenv file (variables
                   already set are kept).
  --version        Show the version and exit.
  -h, --help       Show this message and exit.

Commands:
  env  List, remove and garbage-collect cached Python environments.
  run  Run an MLflow project from a directory, git repository or archive.
`;

const ENV_HELP = `Usage: mlproject env COMMAND [ARGS]...

  Manage the cache of virtualenv/uv environments built for projects
  (MLFLOW_ENV_ROOT, else $XDG_CACHE_HOME/mlproject/envs or
  ~/.cache/mlproject/envs).

Options:
  -h, --help  Show this message and exit.

Commands:
  list  List cached environments.
  rm    Remove cached environments by key.
  gc    Remove broken environments and those unused for a while.
`;

const ENV_LIST_HELP = `Usage: mlproject env list [OPTIONS]

  List cached environments: key, manager, Python, size, last use, path.

Options:
  -h, --help  Show this message and exit.
`;

const ENV_RM_HELP = `Usage: mlproject env rm [OPTIONS] KEY...

  Remove cached environments (as shown by \`mlproject env list\`). A build of
  the same environment in progress is waited for.

Options:
  -h, --help  Show this message and exit.
`;

const ENV_GC_HELP = `Usage: mlproject env gc [OPTIONS]

  Remove half-built and broken environments and, with --older-than, those not
  used for that many days.

Options:
  --older-than DAYS  Also remove environments unused for DAYS days.
  -h, --help         Show this message and exit.
`;

const RUN_HELP = `Usage: mlproject run [OPTIONS] URI

  Run an MLflow project from the given URI, as \`mlflow run\` does.

Options:
  -e, --entry-point NAME          Entry point within project, or a .py/.sh
                                  script.  [default: main]
  -v, --version VERSION           Version of the project to run, as a Git
                                  commit reference for Git projects.
  -P, --param-list NAME=VALUE     A parameter for the run (repeatable).
  -A, --docker-args NAME=VALUE    A \`docker run\` argument or flag (repeatable).
  --experiment-name TEXT          Experiment name (env MLFLOW_EXPERIMENT_NAME).
  --experiment-id TEXT            Experiment id (env MLFLOW_EXPERIMENT_ID).
  -b, --backend BACKEND           Execution backend.  [default: local]
  -c, --backend-config FILE       Path to a .json file or inline JSON passed
                                  to the backend.
  --env-manager [local|virtualenv|uv|conda]
                                  How the project's environment is built
                                  (default: chosen from the project).
  --storage-dir DIR               Where remote 'path' parameters are
                                  downloaded (env MLFLOW_TMP_DIR).
  --run-id RUN_ID                 Execute in this existing run.
  --run-name RUN_NAME             Name of the run.
  --build-image                   Docker projects: build an image with the
                                  project copied in.
  --keep-work-dir                 Keep temporary checkouts and downloads after
                                  the run (for debugging).
  --upgrade-db                    Upgrade an existing SQLite store whose
                                  schema the run's MLflow would refuse, with
                                  that MLflow's \`mlflow db upgrade\` (the
                                  file is backed up first).
  --json                          Print one JSON object with the run id,
                                  experiment id, status and tracking URI on
                                  stdout (the child's stdout goes to stderr).
  -h, --help                      Show this message and exit.

Tracking URI: MLFLOW_TRACKING_URI; else, as the MLflow in the run's
environment would choose: ./mlruns for MLflow < 3.7; otherwise ./mlruns when
it holds experiments, else sqlite:///mlflow.db (at that MLflow's schema).
`;

/** Parsed `run` arguments. */
interface RunArgs {
  uri: string;
  entryPoint: string;
  version?: string;
  params: Record<string, string>;
  dockerArgs: Record<string, string | boolean>;
  experimentName?: string;
  experimentId?: string;
  backend: string;
  backendConfig?: string;
  envManager?: string;
  storageDir?: string;
  runId?: string;
  runName?: string;
  buildImage: boolean;
  keepWorkDir: boolean;
  upgradeDb: boolean;
  json: boolean;
}

const RUN_OPTIONS: Record<string, string> = {
  "-e": "entry-point",
  "--entry-point": "entry-point",
  "-v": "version",
  "--version": "version",
  "-P": "param-list",
  "--param-list": "param-list",
  "-A": "docker-args",
  "--docker-args": "docker-args",
  "--experiment-name": "experiment-name",
  "--experiment-id": "experiment-id",
  "-b": "backend",
  "--backend": "backend",
  "-c": "backend-config",
  "--backend-config": "backend-config",
  "--env-manager": "env-manager",
  "--storage-dir": "storage-dir",
  "--run-id": "run-id",
  "--run-name": "run-name",
};
const RUN_FLAGS: Record<string, string> = {
  "--build-image": "build-image",
  "--json": "json",
  "--keep-work-dir": "keep-work-dir",
  "--upgrade-db": "upgrade-db",
  "-h": "help",
  "--help": "help",
};

function splitPair(kind: "P" | "A", item: string, into: Record<string, string | boolean>): void {
  const eq = item.indexOf("=");
  if (eq === -1 && kind === "P") {
    throw new UsageError(`Invalid format for -P parameter: '${item}'. Use -P name=value.`);
  }
  const name = eq === -1 ? item : item.slice(0, eq);
  if (Object.hasOwn(into, name)) throw new UsageError(`Repeated parameter: '${name}'`);
  into[name] = eq === -1 ? true : item.slice(eq + 1);
}

function parseRunArgs(
  argv: string[],
  env: Record<string, string>,
  envManagers: readonly string[],
): RunArgs | "help" {
  const values = new Map<string, string[]>();
  const flags = new Set<string>();
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--") {
      positional.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith("-") || arg === "-") {
      positional.push(arg);
      continue;
    }
    let opt = arg;
    let inline: string | undefined;
    if (arg.startsWith("--") && arg.includes("=")) {
      opt = arg.slice(0, arg.indexOf("="));
      inline = arg.slice(arg.indexOf("=") + 1);
    } else if (!arg.startsWith("--") && arg.length > 2) {
      opt = arg.slice(0, 2);
      inline = arg.slice(2);
    }
    if (RUN_FLAGS[opt] !== undefined && inline === undefined) {
      flags.add(RUN_FLAGS[opt]!);
      continue;
    }
    const name = RUN_OPTIONS[opt];
    if (name === undefined) {
      throw new UsageError(`No such option: ${opt}`);
    }
    let value = inline;
    if (value === undefined) {
      if (i + 1 >= argv.length) throw new UsageError(`Option '${opt}' requires an argument.`);
      value = argv[++i]!;
    }
    values.set(name, [...(values.get(name) ?? []), value]);
  }
  if (flags.has("help")) return "help";
  if (positional.length === 0) throw new UsageError("Missing argument 'URI'.");
  if (positional.length > 1) {
    throw new UsageError(`Got unexpected extra argument (${positional.slice(1).join(" ")})`);
  }
  const last = (name: string) => values.get(name)?.at(-1);
  const params: Record<string, string> = {};
  for (const p of values.get("param-list") ?? []) splitPair("P", p, params);
  const dockerArgs: Record<string, string | boolean> = {};
  for (const a of values.get("docker-args") ?? []) splitPair("A", a, dockerArgs);
  const experimentName = last("experiment-name") ?? (env.MLFLOW_EXPERIMENT_NAME || undefined);
  const experimentId = last("experiment-id") ?? (env.MLFLOW_EXPERIMENT_ID || undefined);
  if (experimentName !== undefined && experimentId !== undefined) {
    throw new UsageError("Specify only one of 'experiment-name' or 'experiment-id' options.");
  }
  const envManager = last("env-manager");
  if (envManager !== undefined && !envManagers.includes(envManager)) {
    throw new UsageError(
      `Invalid value for '--env-manager': '${envManager}' is not one of ${
        envManagers.map((m) => `'${m}'`).join(", ")
      }.`,
    );
  }
  const optional = (key: string, value: string | undefined) =>
    value === undefined ? {} : { [key]: value };
  return {
    uri: positional[0]!,
    entryPoint: last("entry-point") ?? "main",
    ...optional("version", last("version")),
    params,
    dockerArgs,
    ...optional("experimentName", experimentName),
    ...optional("experimentId", experimentId),
    backend: last("backend") ?? "local",
    ...optional("backendConfig", last("backend-config")),
    ...optional("envManager", envManager),
    ...optional("storageDir", last("storage-dir") ?? (env.MLFLOW_TMP_DIR || undefined)),
    ...optional("runId", last("run-id")),
    ...optional("runName", last("run-name")),
    buildImage: flags.has("build-image"),
    keepWorkDir: flags.has("keep-work-dir"),
    upgradeDb: flags.has("upgrade-db"),
    json: flags.has("json"),
  } as RunArgs;
}

async function runCommand(argv: string[], env: Record<string, string>): Promise<number> {
  const { ENV_MANAGERS } = await import("./lib/environment.ts");
  const args = parseRunArgs(argv, env, ENV_MANAGERS);
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
  const { run, waitForRun } = await import("./lib/run.ts");
  const reporter = stderrReporter();
  // From here on, SIGINT/SIGTERM stop a fetch or environment build in progress, and cancel a
  // launched run (its whole process group, recorded KILLED); another signal stops the recording
  // of the run's end if that is still being retried.
  const interrupt = new AbortController();
  let submitted: { cancel(): Promise<void> } | undefined;
  onInterrupt = () => {
    if (!interrupt.signal.aborted) interrupt.abort();
    else void submitted?.cancel();
  };
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
    onInterrupt = undefined;
  }
}

async function runAndReport(
  args: RunArgs,
  env: Record<string, string>,
  deps: {
    run: typeof import("./lib/run.ts").run;
    waitForRun: typeof import("./lib/run.ts").waitForRun;
    reporter: ReturnType<typeof stderrReporter>;
    signal: AbortSignal;
    onSubmitted: (handle: { cancel(): Promise<void> }) => void;
  },
): Promise<number> {
  const { run, waitForRun, reporter } = deps;
  const submitted = await run(args.uri, {
    entryPoint: args.entryPoint,
    ...(args.version !== undefined ? { version: args.version } : {}),
    parameters: args.params,
    dockerArgs: args.dockerArgs,
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
    synchronous: false,
    env,
    reporter,
    stdout: args.json ? "stderr" : "inherit",
    signal: deps.signal,
  });
  deps.onSubmitted(submitted);
  let code = 0;
  try {
    await waitForRun(submitted, { reporter });
  } catch (e) {
    if (!(e instanceof MlprojectError)) throw e;
    reportError(e);
    code = e.exitCode;
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
    }));
  }
  return code;
}

async function envCommand(argv: string[], env: Record<string, string>): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === "-h" || sub === "--help") {
    printOut(ENV_HELP.trimEnd());
    return 0;
  }
  const help: Record<string, string> = { list: ENV_LIST_HELP, rm: ENV_RM_HELP, gc: ENV_GC_HELP };
  if (help[sub] === undefined) throw new UsageError(`No such command 'env ${sub}'.`);
  if (rest.includes("-h") || rest.includes("--help")) {
    printOut(help[sub]!.trimEnd());
    return 0;
  }
  const cache = await import("./lib/envs/env_cache.ts");
  if (sub === "list") {
    if (rest.length > 0) throw new UsageError(`Got unexpected extra argument (${rest.join(" ")})`);
    for (const line of cache.formatEnvironmentTable(cache.listEnvironments({ env }))) {
      printOut(line);
    }
    return 0;
  }
  if (sub === "rm") {
    const option = rest.find((a) => a.startsWith("-"));
    if (option !== undefined) throw new UsageError(`No such option: ${option}`);
    if (rest.length === 0) throw new UsageError("Missing argument 'KEY'.");
    for (const key of rest) printOut(`Removed ${await cache.removeEnvironment(key, { env })}`);
    return 0;
  }
  let days: number | undefined;
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i]!;
    let value: string | undefined;
    if (arg === "--older-than") {
      value = rest[++i];
      if (value === undefined) throw new UsageError("Option '--older-than' requires an argument.");
    } else if (arg.startsWith("--older-than=")) value = arg.slice("--older-than=".length);
    else if (arg.startsWith("-")) throw new UsageError(`No such option: ${arg}`);
    else throw new UsageError(`Got unexpected extra argument (${arg})`);
    days = Number(value);
    if (value.trim() === "" || !Number.isFinite(days) || days < 0) {
      throw new UsageError(
        `Invalid value for '--older-than': '${value}' is not a non-negative number of days.`,
      );
    }
  }
  const removed = await cache.collectGarbage({
    env,
    ...(days !== undefined ? { olderThanDays: days } : {}),
  });
  for (const key of removed) printOut(`Removed ${key}`);
  printErr(`Removed ${removed.length} environment${removed.length === 1 ? "" : "s"}`);
  return 0;
}

function reportError(e: MlprojectError): void {
  // One line whatever a file name, key or value in the message holds.
  const message = escapeForMessage(e.message);
  if (e instanceof UsageError) printErr(`Error: ${message}`);
  else stderrReporter().log("ERROR", `=== ${message} ===`);
}

/**
 * Deno drops one trailing `\r` from each argument; on Linux the kernel's copy of the command line
 * still has it. An argument is taken from there only when it is exactly Deno's plus that `\r`.
 */
function withTrailingCr(args: string[]): string[] {
  let raw: string[];
  try {
    raw = new TextDecoder().decode(Deno.readFileSync("/proc/self/cmdline")).split("\0");
  } catch {
    return args;
  }
  raw.pop(); // the text ends with a NUL
  if (raw.length < args.length) return args;
  const tail = raw.slice(raw.length - args.length);
  return args.map((arg, i) => (tail[i] === `${arg}\r` ? tail[i]! : arg));
}

async function main(argv: string[]): Promise<number> {
  const env = Deno.env.toObject();
  let i = 0;
  while (i < argv.length && argv[i]!.startsWith("-")) {
    const arg = argv[i]!;
    if (arg === "--help" || arg === "-h") {
      printOut(MAIN_HELP.trimEnd());
      return 0;
    }
    if (arg === "--version") {
      printOut(`mlproject ${VERSION}`);
      return 0;
    }
    if (arg === "--env-file" || arg.startsWith("--env-file=")) {
      const path = arg.includes("=") ? arg.slice(arg.indexOf("=") + 1) : argv[++i];
      if (path === undefined) throw new UsageError("Option '--env-file' requires an argument.");
      const { loadDotenv } = await import("./lib/dotenv.ts");
      loadDotenv(path, env);
      printErr(`Loaded environment variables from: ${path}`);
      i++;
      continue;
    }
    throw new UsageError(`No such option: ${arg}`);
  }
  const command = argv[i];
  if (command === undefined) {
    printOut(MAIN_HELP.trimEnd());
    return 0;
  }
  if (command === "run") return await runCommand(argv.slice(i + 1), env);
  if (command === "env") return await envCommand(argv.slice(i + 1), env);
  throw new UsageError(`No such command '${command}'.`);
}

/**
 * What SIGINT/SIGTERM do once `run` has started its work; before that (and for the other
 * commands) a signal ends the process at once with exit code 130, as nothing is recorded yet.
 */
let onInterrupt: (() => void) | undefined;

/** Installs the SIGINT/SIGTERM handler, first thing, so no signal meets the default handler. */
function installSignalHandler(): void {
  const handler = () => {
    if (onInterrupt !== undefined) return onInterrupt();
    reportError(new InterruptedError("Interrupted"));
    Deno.exit(130);
  };
  for (const s of ["SIGINT", "SIGTERM"] as const) Deno.addSignalListener(s, handler);
}

if (import.meta.main) {
  installSignalHandler();
  let code: number;
  try {
    code = await main(withTrailingCr(Deno.args));
  } catch (e) {
    if (e instanceof MlprojectError) {
      reportError(e);
      code = e.exitCode;
    } else {
      const debug = /^(1|true)$/i.test(Deno.env.get("MLPROJECT_DEBUG") ?? "");
      const detail = e instanceof Error ? (debug ? e.stack ?? e.message : e.message) : String(e);
      printErr(
        `Error: unexpected failure: ${debug ? detail : detail.split("\n")[0]}${
          debug ? "" : " (set MLPROJECT_DEBUG=1 for a stack trace)"
        }`,
      );
      code = 1;
    }
  }
  Deno.exit(code);
}
