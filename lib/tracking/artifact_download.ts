/**
 * Downloads of `runs:/` and `mlflow-artifacts:/` values of `path` parameters through the
 * tracking server's artifact API.
 *
 * @module
 */
import { ExecutionException } from "../errors.ts";
import { uriScheme } from "../entry_point.ts";
import type { PathDownload } from "../remote_path.ts";

/**
 * Downloads a `runs:/<run id>/<path>` or `mlflow-artifacts:/<path>` value into
 * `request.targetDir` and returns the local path.
 *
 * @param request The value, where it goes, and the tracking URI.
 * @returns The local path.
 *
 * @example
 * ```ts ignore
 * const local = await downloadArtifactPath({ value: "runs:/abc/model.pkl", name: "model", targetDir, options });
 * ```
 */
export function downloadArtifactPath(request: PathDownload): Promise<string> {
  throw new ExecutionException(
    `Parameter ${request.name} has value ${request.value}: downloading '${
      uriScheme(request.value)
    }:' URIs needs a tracking server, which is not supported yet`,
  );
}
