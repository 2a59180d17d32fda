/**
 * The one HTTP client helper: timeouts, retries with exponential backoff on connection errors,
 * 408/429/5xx, `Retry-After`, and an optional `Deno.HttpClient` (TLS settings). Every HTTP call
 * of mlproject goes through {@linkcode httpRequest}.
 *
 * @module
 */

/** Options of {@linkcode httpRequest}. */
export interface HttpRequestOptions {
  /** HTTP method (default `GET`). */
  method?: string;
  /** Request headers. */
  headers?: Record<string, string>;
  /** Request body. */
  body?: BodyInit | null;
  /** Per-attempt timeout in milliseconds (default 120 000, MLflow's `MLFLOW_HTTP_REQUEST_TIMEOUT`). */
  timeoutMs?: number;
  /** Retries after the first attempt (default 7, MLflow's `MLFLOW_HTTP_REQUEST_MAX_RETRIES`). */
  maxRetries?: number;
  /** Backoff factor in seconds (default 2): sleep 0, then `min(120, factor * 2^(n-1))`. */
  backoffFactor?: number;
  /** Random extra sleep up to this many seconds per retry (default 1). */
  backoffJitter?: number;
  /** TLS settings (CA, client certificate) as a Deno HTTP client. */
  client?: Deno.HttpClient;
  /** Aborting stops the request and any retry. */
  signal?: AbortSignal;
  /** Statuses that are retried (default 408, 429, 500, 502, 503, 504). */
  retryStatuses?: readonly number[];
  /** Called before each retry (for progress output). */
  onRetry?: (attempt: number, reason: string, delayMs: number) => void;
}

/** Thrown when a request could not be completed (connection error, timeout, retries exhausted). */
export class HttpRequestError extends Error {
  /** The URL requested. */
  readonly url: string;
  /**
   * Creates the error.
   *
   * @example
   * ```ts
   * import { HttpRequestError } from "./http_client.ts";
   * new HttpRequestError("http://x", "connection refused");
   * ```
   */
  constructor(url: string, detail: string, options?: ErrorOptions) {
    super(`Request to ${url} failed: ${detail}`, options);
    this.name = "HttpRequestError";
    this.url = url;
  }
}

const RETRY_STATUSES = [408, 429, 500, 502, 503, 504];

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

function retryAfterMs(response: Response): number | undefined {
  const value = response.headers.get("retry-after");
  if (value === null) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

/**
 * Sends an HTTP request, retrying transient failures. The response of the last attempt is
 * returned whatever its status (only transient statuses are retried); the caller reads the body.
 *
 * @param url The URL.
 * @param options Method, headers, body, timeouts, retries, TLS client, abort signal.
 * @returns The response.
 * @throws {HttpRequestError} When no response could be obtained.
 *
 * @example
 * ```ts ignore
 * import { httpRequest } from "./http_client.ts";
 * const res = await httpRequest("http://127.0.0.1:5000/health", { maxRetries: 2 });
 * ```
 */
export async function httpRequest(
  url: string,
  options: HttpRequestOptions = {},
): Promise<Response> {
  const maxRetries = options.maxRetries ?? 7;
  const factor = options.backoffFactor ?? 2;
  const jitter = options.backoffJitter ?? 1;
  const timeoutMs = options.timeoutMs ?? 120_000;
  const retryStatuses = options.retryStatuses ?? RETRY_STATUSES;
  let lastError: unknown;
  for (let attempt = 0; attempt <= maxRetries; attempt++) {
    if (attempt > 0) {
      const base = attempt === 1 ? 0 : Math.min(120, factor * 2 ** (attempt - 1)) * 1000;
      await sleep(base + Math.random() * jitter * 1000, options.signal);
    }
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
    try {
      const response = await fetch(url, {
        method: options.method ?? "GET",
        ...(options.headers !== undefined ? { headers: options.headers } : {}),
        ...(options.body !== undefined ? { body: options.body } : {}),
        ...(options.client !== undefined ? { client: options.client } : {}),
        signal,
      });
      if (attempt < maxRetries && retryStatuses.includes(response.status)) {
        const wait = retryAfterMs(response);
        await response.body?.cancel();
        options.onRetry?.(attempt + 1, `HTTP ${response.status}`, wait ?? 0);
        if (wait !== undefined) await sleep(wait, options.signal);
        continue;
      }
      return response;
    } catch (e) {
      if (options.signal?.aborted) throw e;
      lastError = timeout.aborted
        ? new HttpRequestError(url, `timed out after ${timeoutMs / 1000} s`)
        : e;
      if (attempt < maxRetries) {
        options.onRetry?.(attempt + 1, e instanceof Error ? e.message : String(e), 0);
      }
    }
  }
  if (lastError instanceof HttpRequestError) throw lastError;
  throw new HttpRequestError(
    url,
    `${lastError instanceof Error ? lastError.message : lastError} (after ${
      maxRetries + 1
    } attempts)`,
    { cause: lastError },
  );
}
