/**
 * What a download of a remote `path` parameter value needs (shared by the downloaders of each
 * scheme and by `remote_path.ts`, which picks one).
 *
 * @module
 */
import type { Reporter } from "../system/output.ts";

/** Options of `downloadRemotePaths`. */
export interface DownloadOptions {
  /** Root for per-run download directories (`--storage-dir`); a temp dir when unset. */
  storageDir?: string;
  /** The run's tracking URI (for `runs:/` and `mlflow-artifacts:/`). */
  trackingUri: string;
  /** The caller's environment (credentials). */
  env: Record<string, string>;
  /** Directory a relative tracking URI belongs to (default the process cwd). */
  cwd?: string;
  /** Progress output. */
  reporter: Reporter;
  /** Aborting stops downloads. */
  signal?: AbortSignal;
}

/** What one download needs: the value, and the empty directory it must land in. */
export interface PathDownload {
  /** The parameter value (a URI). */
  value: string;
  /** The parameter name (for messages). */
  name: string;
  /** An existing, empty directory to download into. */
  targetDir: string;
  /** Credentials, tracking URI, progress. */
  options: DownloadOptions;
}
