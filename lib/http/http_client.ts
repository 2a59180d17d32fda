/**
 * The one HTTP client helper: timeouts, retries with exponential backoff on connection errors,
 * 408/429/5xx, `Retry-After`, and an optional TLS client from {@linkcode createTlsClient}. Every
 * HTTP call of mlproject goes through {@linkcode httpRequest}.
 *
 * @module
 */
import { sleep } from "../system/sleep.ts";
import { readUserFileSync, type UserFileError } from "../system/user_file.ts";
import { NodeTlsClient } from "./_node_transport.ts";

/**
 * A TLS client of {@linkcode createTlsClient}: a `Deno.HttpClient`, or, for settings Deno's fetch
 * cannot honour (skipping verification, another server name), a private `node:https` transport.
 * Both have `close()`.
 */
export type TlsClient = Deno.HttpClient | NodeTlsClient;

/** Options of {@linkcode httpRequest}. */
export interface HttpRequestOptions {
  /** HTTP method (default `GET`). */
  method?: string;
  /** Request headers. */
  headers?: Record<string, string>;
  /** Request body. */
  body?: BodyInit | null;
  /**
   * Timeout in milliseconds for the response headers, and for each wait for body bytes (default
   * 120 000, MLflow's `MLFLOW_HTTP_REQUEST_TIMEOUT`); a body that keeps flowing is never cut off.
   */
  timeoutMs?: number;
  /** Retries after the first attempt (default 7, MLflow's `MLFLOW_HTTP_REQUEST_MAX_RETRIES`). */
  maxRetries?: number;
  /** Backoff factor in seconds (default 2): sleep 0, then `min(120, factor * 2^(n-1))`. */
  backoffFactor?: number;
  /** Random extra sleep up to this many seconds per retry (default 1). */
  backoffJitter?: number;
  /** TLS settings (CA, client certificate, …): a client from {@linkcode createTlsClient}. */
  client?: TlsClient;
  /** Aborting stops the request and any retry. */
  signal?: AbortSignal;
  /** Statuses that are retried (default 408, 429, 500, 502, 503, 504). */
  retryStatuses?: readonly number[];
  /**
   * Called when a retry is decided, before waiting for it (for a warning line): the retry's
   * number (1 for the first), the reason, and the wait before it in milliseconds.
   */
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

/** An error's message with the messages of its causes (fetch hides the reason in `cause`). */
function describeError(e: unknown): string {
  const parts: string[] = [];
  let cur: unknown = e;
  for (let depth = 0; cur !== undefined && cur !== null && depth < 4; depth++) {
    const text = cur instanceof Error ? cur.message : String(cur);
    if (text !== "" && !parts.includes(text)) parts.push(text);
    cur = cur instanceof Error ? cur.cause : undefined;
  }
  return parts.join(": ");
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
 * Failures that the same request cannot get past by trying again: a host name that does not
 * resolve, a port fetch refuses to use (`Requests to port 1 are blocked`), an invalid URL or
 * scheme, a certificate that is not trusted or not valid for the host (fetch's messages and
 * `node:https`'s).
 */
const PERMANENT_ERROR_RE =
  /dns error|failed to lookup address|getaddrinfo ENOTFOUND|Requests to port \d+ are blocked|Invalid URL|scheme '[^']*' not supported|certificate/i;

/** Statuses whose responses have no body (`new Response` refuses one for them). */
const NULL_BODY_STATUSES = [101, 103, 204, 205, 304];

/**
 * The response with a body that fails once no byte arrives for `ms` while it is being read
 * (MLflow's timeout is per socket read too): a body still flowing is never cut off, and time the
 * caller spends between reads does not count.
 */
function withIdleTimeout(
  response: Response,
  controller: AbortController,
  ms: number,
  url: string,
): Response {
  if (response.body === null || NULL_BODY_STATUSES.includes(response.status)) return response;
  const reader = response.body.getReader();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const body = new ReadableStream<Uint8Array>({
    async pull(stream) {
      timer = setTimeout(() => {
        controller.abort(
          new HttpRequestError(url, `no data received for ${ms / 1000} s while reading the body`),
        );
      }, ms);
      try {
        const { value, done } = await reader.read();
        if (done) stream.close();
        else stream.enqueue(value);
      } finally {
        clearTimeout(timer);
      }
    },
    cancel(reason) {
      clearTimeout(timer);
      return reader.cancel(reason);
    },
  }, { highWaterMark: 0 });
  return new Response(body, {
    status: response.status,
    statusText: response.statusText,
    headers: response.headers,
  });
}

/**
 * Sends an HTTP request, retrying transient failures. The response of the last attempt is
 * returned whatever its status (only transient statuses are retried); the caller reads the body.
 * The timeout applies to the wait for the response headers and to each wait for body bytes,
 * never to a body that keeps flowing. Failures that cannot succeed on a retry (DNS, blocked
 * port, invalid URL, TLS certificate) are not retried.
 *
 * @param url The URL.
 * @param options Method, headers, body, timeouts, retries, TLS client, abort signal, `onRetry`
 * (told each retry's number, reason and the wait before it, in ms).
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
  // urllib3's backoff: no wait before the first retry, then factor * 2^(n-1) s (at most 120),
  // plus jitter; a Retry-After header replaces it (respect_retry_after_header).
  const backoffMs = (retry: number, retryAfter: number | undefined) =>
    retryAfter ??
      (retry === 1 ? 0 : Math.min(120, factor * 2 ** (retry - 1)) * 1000) +
        Math.random() * jitter * 1000;
  let lastError: unknown;
  let waitMs = 0;
  for (let attempt = 0; attempt <= maxRetries; attempt++) {
    if (attempt > 0) await sleep(waitMs, options.signal);
    const controller = new AbortController();
    const timer = setTimeout(
      () => controller.abort(new HttpRequestError(url, `timed out after ${timeoutMs / 1000} s`)),
      timeoutMs,
    );
    const signal = options.signal
      ? AbortSignal.any([options.signal, controller.signal])
      : controller.signal;
    try {
      const client = options.client;
      const response = client instanceof NodeTlsClient
        ? await client.send(url, {
          method: options.method ?? "GET",
          ...(options.headers !== undefined ? { headers: options.headers } : {}),
          ...(options.body !== undefined ? { body: options.body } : {}),
          signal,
        })
        : await fetch(url, {
          method: options.method ?? "GET",
          ...(options.headers !== undefined ? { headers: options.headers } : {}),
          ...(options.body !== undefined ? { body: options.body } : {}),
          ...(client !== undefined ? { client } : {}),
          signal,
        });
      clearTimeout(timer);
      if (attempt < maxRetries && retryStatuses.includes(response.status)) {
        const retryAfter = [413, 429, 503].includes(response.status)
          ? retryAfterMs(response)
          : undefined;
        await response.body?.cancel();
        waitMs = backoffMs(attempt + 1, retryAfter);
        options.onRetry?.(attempt + 1, `HTTP ${response.status}`, waitMs);
        continue;
      }
      return withIdleTimeout(response, controller, timeoutMs, url);
    } catch (e) {
      clearTimeout(timer);
      if (options.signal?.aborted) throw e;
      const timedOut = controller.signal.aborted;
      lastError = timedOut ? controller.signal.reason : e;
      if (!timedOut && PERMANENT_ERROR_RE.test(describeError(e))) {
        throw new HttpRequestError(url, describeError(e), { cause: e });
      }
      if (attempt < maxRetries) {
        waitMs = backoffMs(attempt + 1, undefined);
        options.onRetry?.(attempt + 1, describeError(lastError), waitMs);
      }
    }
  }
  if (lastError instanceof HttpRequestError) throw lastError;
  throw new HttpRequestError(
    url,
    `${describeError(lastError)} (after ${maxRetries + 1} attempts)`,
    { cause: lastError },
  );
}

/** Retry and timeout settings read from the environment (see {@linkcode httpRetryOptionsFromEnv}). */
export type HttpRetryOptions = Pick<
  HttpRequestOptions,
  "maxRetries" | "backoffFactor" | "backoffJitter" | "timeoutMs"
>;

/** Thrown for an invalid HTTP setting in the environment (exit code 1, as MLflow's `MlflowException`). */
export class HttpSettingError extends Error {
  /**
   * Creates the error.
   *
   * @example
   * ```ts
   * import { HttpSettingError } from "./http_client.ts";
   * new HttpSettingError("MLFLOW_HTTP_REQUEST_TIMEOUT must be a positive number of seconds, got 'x'");
   * ```
   */
  constructor(message: string) {
    super(message);
    this.name = "HttpSettingError";
  }
}

function numberSetting(
  env: Record<string, string | undefined>,
  name: string,
  check: (n: number) => boolean,
  rule: string,
): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw.trim() === "") return undefined;
  const value = Number(raw.trim());
  if (!Number.isFinite(value) || !check(value)) {
    throw new HttpSettingError(`${name} must be ${rule}, got '${raw}'`);
  }
  return value;
}

/**
 * Reads MLflow's retry and timeout variables with MLflow's defaults and limits:
 * `MLFLOW_HTTP_REQUEST_MAX_RETRIES` (7; an integer below `_MLFLOW_HTTP_REQUEST_MAX_RETRIES_LIMIT`,
 * default 10), `MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR` (2 s; below 120, fractions allowed),
 * `MLFLOW_HTTP_REQUEST_BACKOFF_JITTER` (1 s) and `MLFLOW_HTTP_REQUEST_TIMEOUT` (120 s).
 *
 * @param env The environment.
 * @returns Options to spread into {@linkcode httpRequest}.
 * @throws {HttpSettingError} For a value MLflow would refuse.
 *
 * @example
 * ```ts
 * import { httpRetryOptionsFromEnv } from "./http_client.ts";
 * const o = httpRetryOptionsFromEnv({ MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR: "0.01" });
 * console.assert(o.backoffFactor === 0.01 && o.maxRetries === 7);
 * ```
 */
export function httpRetryOptionsFromEnv(
  env: Record<string, string | undefined>,
): Required<HttpRetryOptions> {
  const limit = numberSetting(
    env,
    "_MLFLOW_HTTP_REQUEST_MAX_RETRIES_LIMIT",
    (n) => Number.isInteger(n) && n > 0,
    "a positive integer",
  ) ?? 10;
  return {
    maxRetries: numberSetting(
      env,
      "MLFLOW_HTTP_REQUEST_MAX_RETRIES",
      (n) => Number.isInteger(n) && n >= 0 && n < limit,
      `an integer from 0 to ${limit - 1}`,
    ) ?? 7,
    backoffFactor: numberSetting(
      env,
      "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR",
      (n) => n >= 0 && n < 120,
      "a number of seconds from 0 to below 120",
    ) ?? 2,
    backoffJitter: numberSetting(
      env,
      "MLFLOW_HTTP_REQUEST_BACKOFF_JITTER",
      (n) => n >= 0,
      "a non-negative number of seconds",
    ) ?? 1,
    timeoutMs: (numberSetting(
      env,
      "MLFLOW_HTTP_REQUEST_TIMEOUT",
      (n) => n > 0,
      "a positive number of seconds",
    ) ?? 120) * 1000,
  };
}

/**
 * Splits PEM text into its certificate blocks and its private key block (one file may hold
 * both, as MLflow's `MLFLOW_TRACKING_CLIENT_CERT_PATH` does).
 *
 * @param pem PEM text.
 * @returns The certificates (joined, in order) and the key, each `""` when absent.
 *
 * @example
 * ```ts
 * import { splitPem } from "./http_client.ts";
 * console.assert(splitPem("").key === "");
 * ```
 */
export function splitPem(pem: string): { certs: string; key: string } {
  const blocks = pem.match(/-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/g) ?? [];
  const certs = blocks.filter((b) => /^-----BEGIN (TRUSTED )?CERTIFICATE-----/.test(b));
  const key = blocks.find((b) => /^-----BEGIN ([A-Z]+ )?PRIVATE KEY-----/.test(b)) ?? "";
  return { certs: certs.map((c) => c + "\n").join(""), key: key === "" ? "" : key + "\n" };
}

/** TLS settings of {@linkcode createTlsClient}: file paths. */
export interface TlsFiles {
  /** PEM bundle of CA certificates to trust (replaces nothing: the system roots stay trusted). */
  caCertPath?: string;
  /** PEM with the client certificate chain and its private key, for mutual TLS. */
  clientCertPath?: string;
  /** Name of the setting each path came from, for messages (e.g. the env var). */
  labels?: { caCertPath?: string; clientCertPath?: string };
  /** PEM text of CA certificates to trust (added to `caCertPath`'s). */
  caCertPem?: string;
  /** PEM text of the client certificate chain (with `clientKeyPem`), instead of a file. */
  clientCertPem?: string;
  /** PEM text of the client's private key. */
  clientKeyPem?: string;
  /** An HTTP(S) proxy every connection goes through. */
  proxyUrl?: string;
}

/** Options of {@linkcode createTlsClient}. */
export interface TlsClientOptions {
  /**
   * Never reuse a connection. Deno's fetch silently sends a request again when a reused
   * connection closes before the answer, even a POST the server already processed; on a fresh
   * connection that loss is an error the caller can handle.
   */
  freshConnections?: boolean;
  /**
   * Accept any server certificate (kubeconfig's `insecure-skip-tls-verify`, curl's `-k`). The
   * CA settings are then unused; a client certificate is still presented.
   */
  insecureSkipVerify?: boolean;
  /**
   * Check the server certificate against this name, and send it as SNI, instead of the URL's
   * host (kubeconfig's `tls-server-name`).
   */
  serverName?: string;
}

/**
 * Builds a TLS client that trusts extra CAs and/or presents a client certificate, or returns
 * `undefined` when no TLS setting (and no `freshConnections`) is given. It is a
 * `Deno.HttpClient` unless `insecureSkipVerify` or `serverName` is given: Deno's fetch has no
 * switch for those, so {@linkcode httpRequest} then sends through a `node:https` transport
 * (same retries, timeouts, abort and streaming body; `proxyUrl` must then be `http://`).
 *
 * @param files Paths of the CA bundle and the combined client certificate + key PEM.
 * @param options `freshConnections`, `insecureSkipVerify`, `serverName`.
 * @returns The client (close it when done), or `undefined`.
 * @throws {HttpSettingError} When a file cannot be read or holds no certificate/key, or a proxy
 *   other than `http://` is combined with `insecureSkipVerify`/`serverName`.
 *
 * @example
 * ```ts ignore
 * import { createTlsClient, httpRequest } from "./http_client.ts";
 * const client = createTlsClient({ caCertPath: "ca.pem" });
 * await httpRequest("https://127.0.0.1:8443/", { client });
 * client?.close();
 * const insecure = createTlsClient({}, { insecureSkipVerify: true });
 * await httpRequest("https://127.0.0.1:6443/version", { client: insecure });
 * insecure?.close();
 * ```
 */
export function createTlsClient(
  files: TlsFiles,
  options?: { freshConnections?: boolean },
): Deno.HttpClient | undefined;
export function createTlsClient(
  files: TlsFiles,
  options: TlsClientOptions,
): TlsClient | undefined;
export function createTlsClient(
  files: TlsFiles,
  options: TlsClientOptions = {},
): TlsClient | undefined {
  const nodePath = options.insecureSkipVerify === true || options.serverName !== undefined;
  if (
    !files.caCertPath && !files.clientCertPath && !files.caCertPem && !files.clientCertPem &&
    !files.proxyUrl && !options.freshConnections && !nodePath
  ) return undefined;
  const read = (path: string, label: string): string => {
    try {
      return readUserFileSync(path);
    } catch (e) {
      throw new HttpSettingError(
        `Cannot read ${label} '${path}': ${
          (e as UserFileError).reason ?? (e instanceof Error ? e.message : e)
        }`,
      );
    }
  };
  const settings: Deno.CreateHttpClientOptions & Partial<Deno.TlsCertifiedKeyPem> = {};
  if (options.freshConnections) settings.poolMaxIdlePerHost = 0;
  if (files.caCertPath) {
    const label = files.labels?.caCertPath ?? "CA certificate file";
    const { certs } = splitPem(read(files.caCertPath, label));
    if (certs === "") {
      throw new HttpSettingError(`${label} '${files.caCertPath}' holds no PEM certificate`);
    }
    settings.caCerts = [certs];
  }
  if (files.caCertPem) {
    const { certs } = splitPem(files.caCertPem);
    if (certs === "") {
      throw new HttpSettingError("The CA certificate data holds no PEM certificate");
    }
    settings.caCerts = [...(settings.caCerts ?? []), certs];
  }
  if (files.clientCertPem) {
    const { certs } = splitPem(files.clientCertPem);
    const { key } = splitPem(files.clientKeyPem ?? "");
    if (certs === "" || key === "") {
      throw new HttpSettingError(
        "The client certificate data and key data must hold a PEM certificate and a PEM private key",
      );
    }
    settings.cert = certs;
    settings.key = key;
  }
  if (files.proxyUrl) settings.proxy = { url: files.proxyUrl };
  if (files.clientCertPath) {
    const label = files.labels?.clientCertPath ?? "client certificate file";
    const { certs, key } = splitPem(read(files.clientCertPath, label));
    if (certs === "" || key === "") {
      throw new HttpSettingError(
        `${label} '${files.clientCertPath}' must hold both the client certificate and its private key (PEM)`,
      );
    }
    settings.cert = certs;
    settings.key = key;
  }
  if (nodePath) {
    if (files.proxyUrl && URL.parse(files.proxyUrl)?.protocol !== "http:") {
      throw new HttpSettingError(
        `The proxy '${files.proxyUrl}' cannot be combined with ${
          options.insecureSkipVerify ? "skipping TLS verification" : "a TLS server name"
        }: only an http:// proxy can`,
      );
    }
    return new NodeTlsClient({
      ...(files.proxyUrl ? { proxyUrl: files.proxyUrl } : {}),
      ...(settings.caCerts !== undefined ? { caPem: settings.caCerts } : {}),
      ...(settings.cert !== undefined ? { certPem: settings.cert, keyPem: settings.key! } : {}),
      ...(options.insecureSkipVerify ? { insecureSkipVerify: true } : {}),
      ...(options.serverName !== undefined ? { serverName: options.serverName } : {}),
      ...(options.freshConnections ? { freshConnections: true } : {}),
    });
  }
  try {
    return Deno.createHttpClient(
      settings as
        | Deno.CreateHttpClientOptions
        | (Deno.CreateHttpClientOptions & Deno.TlsCertifiedKeyPem),
    );
  } catch (e) {
    // The message names the certificate problem; it never contains key material.
    throw new HttpSettingError(
      `Invalid TLS certificate settings: ${e instanceof Error ? e.message : e}`,
    );
  }
}

/**
 * The `Authorization` header value for HTTP Basic auth.
 *
 * @param username User name.
 * @param password Password.
 * @returns `Basic base64(username:password)`.
 *
 * @example
 * ```ts
 * import { basicAuthorization } from "./http_client.ts";
 * console.assert(basicAuthorization("a", "b") === "Basic YTpi");
 * ```
 */
export function basicAuthorization(username: string, password: string): string {
  const bytes = new TextEncoder().encode(`${username}:${password}`);
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return `Basic ${btoa(binary)}`;
}
