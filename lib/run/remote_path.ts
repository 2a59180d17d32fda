/**
 * Downloads of `path` parameter values that are not local (`http(s)://`, `runs:/`,
 * `mlflow-artifacts:/`, …) into a per-run directory under `--storage-dir` (or a temp dir), as
 * MLflow does before it renders the command: parameter number `i` lands in
 * `<run dir>/param_<i>/`.
 *
 * @module
 */
import {
  type EntryPoint,
  localPathOf,
  type ParameterValues,
  uriScheme,
} from "../project/entry_point.ts";
import { ExecutionException } from "../system/errors.ts";
import { join } from "../system/paths.ts";
import type { DownloadOptions, PathDownload } from "../http/path_download.ts";

export type { DownloadOptions, PathDownload } from "../http/path_download.ts";

/** Local copies of remote `path` values. */
export interface DownloadedPaths {
  /** Local path by parameter name. */
  paths: Map<string, string>;
  /** The per-run directory holding them, when anything was downloaded. */
  dir: string | undefined;
}

/**
 * Downloads every remote `path` value of an entry point and returns the local copies by
 * parameter name. Local values are left to {@linkcode EntryPoint.computeParameters}.
 *
 * @param entryPoint The entry point.
 * @param values Its raw parameter values.
 * @param options Where to download and with which credentials.
 * @returns Local paths by parameter name, and the directory they are in.
 * @throws {ExecutionException} For schemes that cannot be downloaded, or a failed download.
 *
 * @example
 * ```ts ignore
 * const downloaded = await downloadRemotePaths(entryPoint, values, { trackingUri, env, reporter });
 * ```
 */
export async function downloadRemotePaths(
  entryPoint: EntryPoint,
  values: ParameterValues,
  options: DownloadOptions,
): Promise<DownloadedPaths> {
  const out = new Map<string, string>();
  let runDir: string | undefined;
  let index = -1;
  for (const spec of entryPoint.parameters.values()) {
    index++;
    if (spec.type !== "path") continue;
    const value = values.declared.get(spec.name)!;
    if (localPathOf(value) !== undefined) continue;
    if (runDir === undefined) {
      if (options.storageDir !== undefined) {
        await Deno.mkdir(options.storageDir, { recursive: true });
      }
      runDir = await Deno.makeTempDir({
        ...(options.storageDir !== undefined ? { dir: options.storageDir } : {}),
        prefix: "mlproject-params-",
      });
      options.reporter.log(
        "INFO",
        `=== Created directory ${runDir} for downloading remote URIs passed to arguments of type 'path' ===`,
      );
    }
    const targetDir = join(runDir, `param_${index}`);
    await Deno.mkdir(targetDir);
    const request: PathDownload = { value, name: spec.name, targetDir, options };
    try {
      out.set(spec.name, await downloadOne(request));
    } catch (e) {
      // The run will not start: leave nothing behind.
      await Deno.remove(runDir, { recursive: true }).catch(() => {});
      throw e;
    }
  }
  return { paths: out, dir: runDir };
}

async function downloadOne(request: PathDownload): Promise<string> {
  const scheme = uriScheme(request.value);
  if (scheme === "http" || scheme === "https") {
    const { downloadHttpPath } = await import("../http/http_download.ts");
    return await downloadHttpPath(request);
  }
  if (scheme === "runs" || scheme === "mlflow-artifacts") {
    const { downloadArtifactPath } = await import("../tracking/artifact_download.ts");
    return await downloadArtifactPath(request);
  }
  throw new ExecutionException(
    `Parameter ${request.name} has value ${request.value}: downloading '${scheme}:' URIs for 'path' parameters is not supported yet`,
  );
}
