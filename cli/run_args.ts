/**
 * The `mlproject run` command line: its help text and a pure parser.
 *
 * @module
 */
import { UsageError } from "../lib/system/errors.ts";
import { noSuchOption, usageError } from "./usage_errors.ts";

const COMMAND = "mlproject run";

/** `mlproject run --help`. */
export const RUN_HELP = `Usage: mlproject run [OPTIONS] URI

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
  --dry-run                       Print what the run would do (project,
                                  command, environment and whether it must
                                  be built, backend, tracking URI,
                                  experiment, tags, params) and exit: no run,
                                  no store, no environment is created.
  --json                          Print one JSON object with the run id,
                                  experiment id, status and tracking URI on
                                  stdout (the child's stdout goes to stderr);
                                  with --dry-run, the plan.
  -h, --help                      Show this message and exit.

Tracking URI: MLFLOW_TRACKING_URI; else, as the MLflow in the run's
environment would choose: ./mlruns for MLflow < 3.7; otherwise ./mlruns when
it holds experiments, else sqlite:///mlflow.db (at that MLflow's schema).
`;

/** Parsed `run` arguments. */
export interface RunArgs {
  uri: string;
  entryPoint: string;
  version?: string;
  params: Record<string, string>;
  /** `-A/--docker-args` values as given, in order (repeated names allowed). */
  dockerArgs: string[];
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
  dryRun: boolean;
}

/** Options of `run` that take a value, by spelling. */
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
  "--dry-run": "dry-run",
  "--keep-work-dir": "keep-work-dir",
  "--upgrade-db": "upgrade-db",
  "-h": "help",
  "--help": "help",
};

function splitParam(item: string, into: Record<string, string>): void {
  const eq = item.indexOf("=");
  if (eq === -1) {
    throw new UsageError(`Invalid format for -P parameter: '${item}'. Use -P name=value.`);
  }
  const name = item.slice(0, eq);
  if (Object.hasOwn(into, name)) throw new UsageError(`Repeated parameter: '${name}'`);
  into[name] = item.slice(eq + 1);
}

/**
 * Parses the arguments of `mlproject run` as click does for `mlflow run`: options with a value
 * (`-P x=1`, `-Px=1`, `--param-list=x=1`), flags, `--`, one URI; the `MLFLOW_EXPERIMENT_*` and
 * `MLFLOW_TMP_DIR` defaults from `env`. Pure: reads nothing else.
 *
 * @param argv The arguments after `run`.
 * @param options `env`: the environment (defaults for experiment and storage dir);
 * `envManagers`: the accepted `--env-manager` values.
 * @returns The parsed arguments, or `"help"` for `-h`/`--help`.
 * @throws {UsageError} For a malformed command line.
 *
 * @example
 * ```ts
 * import { parseRunArgs } from "./run_args.ts";
 * const args = parseRunArgs(["proj", "-P", "a=1"], { env: {}, envManagers: ["local"] });
 * console.assert(args !== "help" && args.params.a === "1");
 * ```
 */
export function parseRunArgs(
  argv: string[],
  options: { env: Record<string, string>; envManagers: readonly string[] },
): RunArgs | "help" {
  const { env, envManagers } = options;
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
      throw noSuchOption(opt, {
        known: [...Object.keys(RUN_OPTIONS), ...Object.keys(RUN_FLAGS)],
        command: COMMAND,
      });
    }
    let value = inline;
    if (value === undefined) {
      if (i + 1 >= argv.length) throw usageError(`Option '${opt}' requires an argument.`, COMMAND);
      value = argv[++i]!;
    }
    values.set(name, [...(values.get(name) ?? []), value]);
  }
  if (flags.has("help")) return "help";
  if (positional.length === 0) throw usageError("Missing argument 'URI'.", COMMAND);
  if (positional.length > 1) {
    throw usageError(
      `Got unexpected extra argument (${positional.slice(1).join(" ")}).`,
      COMMAND,
    );
  }
  const last = (name: string) => values.get(name)?.at(-1);
  const params: Record<string, string> = {};
  for (const p of values.get("param-list") ?? []) splitParam(p, params);
  const dockerArgs = [...(values.get("docker-args") ?? [])];
  const experimentName = last("experiment-name") ?? (env.MLFLOW_EXPERIMENT_NAME || undefined);
  const experimentId = last("experiment-id") ?? (env.MLFLOW_EXPERIMENT_ID || undefined);
  if (experimentName !== undefined && experimentId !== undefined) {
    throw new UsageError("Specify only one of 'experiment-name' or 'experiment-id' options.");
  }
  const envManager = last("env-manager");
  if (envManager !== undefined && !envManagers.includes(envManager)) {
    throw usageError(
      `Invalid value for '--env-manager': '${envManager}' is not one of ${
        envManagers.map((m) => `'${m}'`).join(", ")
      }.`,
      COMMAND,
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
    dryRun: flags.has("dry-run"),
  } as RunArgs;
}

/**
 * Whether `run`'s arguments ask for `--json` (before any `--`, not as another option's value):
 * then even an error that stops the parse is reported as JSON on stdout.
 *
 * @param argv The arguments after `run`.
 * @returns `true` when `--json` is among the flags.
 *
 * @example
 * ```ts
 * import { runArgsWantJson } from "./run_args.ts";
 * console.assert(runArgsWantJson(["proj", "--json", "--bogus"]));
 * console.assert(!runArgsWantJson(["proj", "--run-name", "--json"]));
 * ```
 */
export function runArgsWantJson(argv: string[]): boolean {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--") return false;
    if (arg === "--json") return true;
    if (RUN_OPTIONS[arg] !== undefined) i++; // its value follows
  }
  return false;
}
