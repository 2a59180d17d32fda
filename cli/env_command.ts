/**
 * `mlproject env`: the environment cache.
 *
 * @module
 */
import { UsageError } from "../lib/system/errors.ts";
import { printErr, printOut } from "../lib/system/output.ts";
import { noSuchCommand, noSuchOption, usageError } from "./usage_errors.ts";

const ENV_HELP = `Usage: mlproject env COMMAND [ARGS]...

  Manage the cache of virtualenv/uv environments built for projects
  (MLFLOW_ENV_ROOT, else $MLPROJECT_CACHE_DIR/envs, $XDG_CACHE_HOME/mlproject/envs
  or ~/.cache/mlproject/envs).

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

/**
 * `mlproject env list|rm|gc`.
 *
 * @param argv The arguments after `env`.
 * @param env The environment (cache root).
 * @returns The exit code.
 *
 * @example
 * ```ts ignore
 * import { envCommand } from "./env_command.ts";
 * await envCommand(["list"], Deno.env.toObject());
 * ```
 */
export async function envCommand(argv: string[], env: Record<string, string>): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === "-h" || sub === "--help") {
    printOut(ENV_HELP.trimEnd());
    return 0;
  }
  const help: Record<string, string> = { list: ENV_LIST_HELP, rm: ENV_RM_HELP, gc: ENV_GC_HELP };
  if (help[sub] === undefined) {
    throw noSuchCommand(sub, { known: Object.keys(help), command: "mlproject env" });
  }
  const command = `mlproject env ${sub}`;
  if (rest.includes("-h") || rest.includes("--help")) {
    printOut(help[sub]!.trimEnd());
    return 0;
  }
  const cache = await import("../lib/envs/env_cache.ts");
  if (sub === "list") {
    if (rest.length > 0) {
      throw usageError(`Got unexpected extra argument (${rest.join(" ")}).`, command);
    }
    for (const line of cache.formatEnvironmentTable(cache.listEnvironments({ env }))) {
      printOut(line);
    }
    return 0;
  }
  if (sub === "rm") {
    const option = rest.find((a) => a.startsWith("-"));
    if (option !== undefined) throw noSuchOption(option, { known: ["--help"], command });
    if (rest.length === 0) throw usageError("Missing argument 'KEY'.", command);
    for (const key of rest) printOut(`Removed ${await cache.removeEnvironment(key, { env })}`);
    return 0;
  }
  let days: number | undefined;
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i]!;
    let value: string | undefined;
    if (arg === "--older-than") {
      value = rest[++i];
      if (value === undefined) {
        throw usageError("Option '--older-than' requires an argument.", command);
      }
    } else if (arg.startsWith("--older-than=")) value = arg.slice("--older-than=".length);
    else if (arg.startsWith("-")) {
      throw noSuchOption(arg.split("=")[0]!, { known: ["--older-than", "--help"], command });
    } else throw usageError(`Got unexpected extra argument (${arg}).`, command);
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
