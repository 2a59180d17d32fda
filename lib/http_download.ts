/**
 * HTTP downloads to files: `http(s)://` values of `path` parameters and project archives. Every
 * request goes through {@linkcode httpRequest} (retries, timeouts), configured by MLflow's
 * `MLFLOW_HTTP_REQUEST_*` variables; URLs are printed without credentials.
 *
 * @module
 */
import { ExecutionException } from "./errors.ts";
import { httpRequest, type HttpRequestOptions } from "./http_client.ts";
import type { Reporter } from "./output.ts";
import { join } from "./paths.ts";
import type { PathDownload } from "./remote_path.ts";
import { stripCredentials } from "./url_credentials.ts";

/** A download that did not succeed; `reason` reads like python-requests' error text. */
export class DownloadError extends Error {
  /** HTTP status, when a response arrived. */
  readonly status: number | undefined;
  /**
   * Creates the error.
   *
   * @example
   * ```ts
   * import { DownloadError } from "./http_download.ts";
   * new DownloadError("404 Client Error: Not Found for url: http://h/x", 404);
   * ```
   */
  constructor(reason: string, status?: number) {
    super(reason);
    this.name = "DownloadError";
    this.status = status;
  }
}

/** Options of {@linkcode downloadToFile}. */
export interface DownloadToFileOptions {
  /** Environment with `MLFLOW_HTTP_REQUEST_MAX_RETRIES`, `…_BACKOFF_FACTOR`, `…_TIMEOUT`. */
  env?: Record<string, string> | undefined;
  /** Progress lines (only on a terminal). */
  reporter?: Reporter | undefined;
  /** Aborting stops the download. */
  signal?: AbortSignal | undefined;
}

function envNumber(env: Record<string, string>, key: string): number | undefined {
  const value = env[key];
  if (value === undefined || value.trim() === "") return undefined;
  const n = Number(value);
  return Number.isFinite(n) && n >= 0 ? n : undefined;
}

/**
 * `httpRequest` options from MLflow's `MLFLOW_HTTP_REQUEST_*` environment variables.
 *
 * @param env The environment.
 * @returns Retry, backoff and timeout options (unset ones keep the client's defaults).
 *
 * @example
 * ```ts
 * import { httpOptionsFromEnv } from "./http_download.ts";
 * console.assert(httpOptionsFromEnv({ MLFLOW_HTTP_REQUEST_MAX_RETRIES: "0" }).maxRetries === 0);
 * ```
 */
export function httpOptionsFromEnv(env: Record<string, string>): HttpRequestOptions {
  const out: HttpRequestOptions = {};
  const retries = envNumber(env, "MLFLOW_HTTP_REQUEST_MAX_RETRIES");
  if (retries !== undefined) out.maxRetries = Math.floor(retries);
  const factor = envNumber(env, "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR");
  if (factor !== undefined) out.backoffFactor = factor;
  const jitter = envNumber(env, "MLFLOW_HTTP_REQUEST_BACKOFF_JITTER");
  if (jitter !== undefined) out.backoffJitter = jitter;
  const timeout = envNumber(env, "MLFLOW_HTTP_REQUEST_TIMEOUT");
  if (timeout !== undefined && timeout > 0) out.timeoutMs = timeout * 1000;
  return out;
}

function mib(n: number): string {
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

/**
 * Downloads `url` into the file `path` (created or truncated).
 *
 * @param url An `http(s)://` URL (credentials in it are sent, never printed).
 * @param path The destination file.
 * @param options Environment (retry settings), reporter, abort signal.
 * @returns The number of bytes written.
 * @throws {DownloadError} For a non-2xx status or a request that could not be completed.
 *
 * @example
 * ```ts ignore
 * import { downloadToFile } from "./http_download.ts";
 * await downloadToFile("https://h/p.zip", "/tmp/p.zip", {});
 * ```
 */
export async function downloadToFile(
  url: string,
  path: string,
  options: DownloadToFileOptions = {},
): Promise<number> {
  const display = stripCredentials(url);
  const env = options.env ?? Deno.env.toObject();
  const progress = options.reporter !== undefined && Deno.stderr.isTerminal();
  const http = httpOptionsFromEnv(env);
  const maxRetries = http.maxRetries ?? 7;
  let response: Response;
  try {
    response = await httpRequest(url, {
      ...http,
      ...(options.signal !== undefined ? { signal: options.signal } : {}),
      // Every retry is shown, terminal or not: waits add up to minutes.
      onRetry: (attempt: number, reason: string, delayMs: number) =>
        options.reporter?.log(
          "WARNING",
          `Retrying ${display} in ${
            (delayMs / 1000).toFixed(1)
          } s (retry ${attempt} of ${maxRetries}): ${stripCredentials(reason)}`,
        ),
    });
  } catch (e) {
    if (options.signal?.aborted) throw e;
    throw new DownloadError(stripCredentials(e instanceof Error ? e.message : String(e)));
  }
  if (!response.ok) {
    await response.body?.cancel().catch(() => {});
    const kind = response.status >= 500 ? "Server Error" : "Client Error";
    throw new DownloadError(
      `${response.status} ${kind}: ${response.statusText || "error"} for url: ${display}`,
      response.status,
    );
  }
  const total = Number(response.headers.get("content-length") ?? "") || undefined;
  if (progress) {
    options.reporter!.log(
      "INFO",
      `Downloading ${display}${total !== undefined ? ` (${mib(total)})` : ""}`,
    );
  }
  const file = await Deno.open(path, { write: true, create: true, truncate: true });
  let written = 0;
  let lastReport = Date.now();
  try {
    if (response.body !== null) {
      for await (const chunk of response.body) {
        let off = 0;
        while (off < chunk.length) off += await file.write(chunk.subarray(off));
        written += chunk.length;
        if (progress && Date.now() - lastReport > 1000) {
          lastReport = Date.now();
          options.reporter!.log(
            "INFO",
            `Downloaded ${mib(written)}${total !== undefined ? ` of ${mib(total)}` : ""}`,
          );
        }
      }
    }
  } catch (e) {
    if (options.signal?.aborted) throw e;
    throw new DownloadError(
      `connection lost after ${written} bytes: ${
        stripCredentials(e instanceof Error ? e.message : String(e))
      }`,
    );
  } finally {
    file.close();
  }
  return written;
}

/**
 * The file name a URL's path ends with (percent-decoded), or `download` when it has none.
 *
 * @param url The URL.
 * @returns A safe file name (never `.`, `..` or containing `/`).
 *
 * @example
 * ```ts
 * import { urlBasename } from "./http_download.ts";
 * console.assert(urlBasename("https://h/d/data%201.csv?x=1") === "data 1.csv");
 * ```
 */
export function urlBasename(url: string): string {
  let name = "";
  try {
    const path = new URL(url).pathname;
    name = decodeURIComponent(path.slice(path.lastIndexOf("/") + 1));
  } catch { /* fall back below */ }
  if (name === "" || name === "." || name === ".." || name.includes("/") || name.includes("\0")) {
    return "download";
  }
  return name;
}

/**
 * Downloads an `http(s)://` `path` value into `request.targetDir`, keeping the URL's file name,
 * and returns the local file.
 *
 * @param request The value and where it goes.
 * @returns The local path.
 * @throws {ExecutionException} Naming the parameter, the URL and the status.
 *
 * @example
 * ```ts ignore
 * const local = await downloadHttpPath({ value: "https://x/data.csv", name: "data", targetDir, options });
 * ```
 */
export async function downloadHttpPath(request: PathDownload): Promise<string> {
  const target = join(request.targetDir, urlBasename(request.value));
  try {
    await downloadToFile(request.value, target, {
      env: request.options.env,
      reporter: request.options.reporter,
      signal: request.options.signal,
    });
  } catch (e) {
    if (!(e instanceof DownloadError)) throw e;
    await Deno.remove(target).catch(() => {});
    throw new ExecutionException(
      `Could not download parameter ${request.name} from ${
        stripCredentials(request.value)
      }: ${e.message}`,
    );
  }
  return target;
}
