/**
 * `RunOptions`, the options of `run()` and `plan()` (mirroring `mlflow.projects.run`), and the
 * parsing of `backend_config`.
 *
 * @module
 */
import { UsageError } from "../system/errors.ts";
import { extname, resolve } from "../system/paths.ts";
import type { ParameterInput } from "../project/entry_point.ts";
import type { OutputMode } from "../system/run_command.ts";
import type { RunContext } from "../system/run_context.ts";
import { readUserFileSync } from "../system/user_file.ts";

/** Options of `run()` and `plan()`, mirroring `mlflow.projects.run`. */
export interface RunOptions extends Partial<RunContext> {
  /** Entry point name or a `.py`/`.sh` script (default `main`). */
  entryPoint?: string;
  /** Git commit, branch or tag to run. */
  version?: string;
  /** Parameters; values are turned into text as Python's `str()` does. */
  parameters?: Record<string, ParameterInput>;
  /**
   * `docker run` arguments: `[name, value]` items in order, repeated names kept (`true` for a
   * flag; `parseDockerArgs` turns `-A` values into these), or a name → value record.
   */
  dockerArgs?: readonly (readonly [string, string | boolean])[] | Record<string, string | boolean>;
  /** Experiment to run in, by name (created when missing). */
  experimentName?: string;
  /** Experiment to run in, by id. */
  experimentId?: string;
  /** Backend (default `local`). */
  backend?: string;
  /** Backend configuration: an object, a `.json` file path, or inline JSON. */
  backendConfig?: Record<string, unknown> | string;
  /** `local`, `virtualenv`, `uv` or `conda`; chosen from the project when unset. */
  envManager?: string;
  /** Where remote `path` parameters are downloaded. */
  storageDir?: string;
  /** Wait for the run to end and throw `ExecutionException` when it fails (default `true`). */
  synchronous?: boolean;
  /** Existing run to execute in (nothing is tagged or logged). */
  runId?: string;
  /** Run name (tag `mlflow.runName`); a random `adjective-noun-N` when unset. */
  runName?: string;
  /** Docker projects: build an image with the project copied in. */
  buildImage?: boolean;
  /** Tracking URI (default: `MLFLOW_TRACKING_URI`, `./mlruns` with data, `sqlite:///mlflow.db`). */
  trackingUri?: string;
  /** Where the child's stdout goes (default `inherit`; `stderr` keeps our stdout clean). */
  stdout?: OutputMode;
  /** Milliseconds between TERM and KILL when cancelling (default 5000). */
  killGraceMs?: number;
  /** Keep temporary checkouts and downloads after the run (for debugging). */
  keepWorkDir?: boolean;
  /**
   * Upgrade an existing SQLite store whose schema the run's MLflow would refuse, with that
   * MLflow's own `mlflow db upgrade` (after a backup). Without it such a store is refused.
   */
  upgradeDb?: boolean;
}

/**
 * Parses `backend_config` as MLflow does: an object as is, a `.json` path read from `cwd`, else
 * inline JSON that must be an object.
 *
 * @param value The option's value.
 * @param options `cwd` relative paths belong to.
 * @returns The configuration (`{}` when unset).
 * @throws {UsageError} For an unreadable file or invalid JSON.
 *
 * @example
 * ```ts
 * import { parseBackendConfig } from "./run_options.ts";
 * console.assert(parseBackendConfig('{"a": 1}', { cwd: "/" }).a === 1);
 * ```
 */
export function parseBackendConfig(
  value: Record<string, unknown> | string | undefined,
  options: { cwd: string },
): Record<string, unknown> {
  if (value === undefined) return {};
  if (typeof value !== "string") return { ...value };
  let text = value;
  if (extname(value) === ".json") {
    text = readUserFileSync(resolve(options.cwd, value), {
      label: "backend config file",
      usage: true,
      shownAs: value,
    });
  }
  try {
    const parsed = JSON.parse(text);
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
      throw new SyntaxError("expected a JSON object");
    }
    return parsed;
  } catch (e) {
    throw new UsageError(
      `Invalid backend config JSON. Parse error: ${e instanceof Error ? e.message : e}`,
    );
  }
}
