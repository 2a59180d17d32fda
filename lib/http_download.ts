/**
 * Downloads of `http(s)://` values of `path` parameters.
 *
 * @module
 */
import { ExecutionException } from "./errors.ts";
import { uriScheme } from "./entry_point.ts";
import type { PathDownload } from "./remote_path.ts";

/**
 * Downloads an `http(s)://` `path` value into `request.targetDir` and returns the local file.
 *
 * @param request The value and where it goes.
 * @returns The local path.
 *
 * @example
 * ```ts ignore
 * const local = await downloadHttpPath({ value: "https://x/data.csv", name: "data", targetDir, options });
 * ```
 */
export function downloadHttpPath(request: PathDownload): Promise<string> {
  throw new ExecutionException(
    `Parameter ${request.name} has value ${request.value}: downloading '${
      uriScheme(request.value)
    }:' URIs for 'path' parameters is not supported yet`,
  );
}
