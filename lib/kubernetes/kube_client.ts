/**
 * A small Kubernetes REST client over the one HTTP client (`lib/http/http_client.ts`): TLS from
 * the cluster access (CA, client certificate, proxy, `insecure-skip-tls-verify`,
 * `tls-server-name`), bearer tokens (static, a token file read
 * again for each request, or an exec plugin's, re-run once expired or after a 401), basic auth,
 * and API errors shown with the `Status` object's `code`, `reason` and `message`.
 *
 * @module
 */
import { escapeForMessage, ExecutionException } from "../system/errors.ts";
import {
  basicAuthorization,
  createTlsClient,
  httpRequest,
  type TlsClient,
} from "../http/http_client.ts";
import type { Reporter } from "../system/output.ts";
import { readUserFileSync } from "../system/user_file.ts";
import type { ClusterAccess } from "./kubeconfig.ts";
import { type ExecCredential, runExecPlugin } from "./exec_credential.ts";

/** An error answer of the API server (a `Status` object), or an unexpected reply. */
export class KubeApiError extends ExecutionException {
  /** HTTP status code. */
  readonly code: number;
  /** The `Status` reason (`AlreadyExists`, `Invalid`, `Forbidden`, `NotFound`, …), if any. */
  readonly reason: string;
  /**
   * Creates the error.
   *
   * @example
   * ```ts
   * import { KubeApiError } from "./kube_client.ts";
   * const e = new KubeApiError("create Job", 409, "AlreadyExists", 'jobs.batch "x" already exists');
   * console.assert(e.message.includes("409 AlreadyExists"));
   * ```
   */
  constructor(action: string, code: number, reason: string, message: string) {
    super(
      `Kubernetes API: ${action} failed: ${code}${reason ? ` ${reason}` : ""}: ${
        escapeForMessage(message)
      }`,
    );
    this.name = "KubeApiError";
    this.code = code;
    this.reason = reason;
  }
}

/** Options of {@linkcode KubeClient}. */
export interface KubeClientOptions {
  /** Environment of exec plugins. */
  env: Record<string, string>;
  /** Warnings (TLS verification turned off). */
  reporter?: Reporter;
  /** Whether stdin is a terminal, for exec plugins (default: asks Deno). */
  stdinIsTerminal?: boolean;
  /** Timeout of ordinary requests, and idle timeout of streams, in ms (default 30 000). */
  timeoutMs?: number;
  /** Retries of idempotent requests on connection errors, 429 and 5xx (default 4). */
  maxRetries?: number;
  /** Backoff factor in seconds of those retries (default 0.5). */
  backoffFactor?: number;
}

/** Options of {@linkcode KubeClient.request}. */
export interface KubeRequestOptions {
  /** Query parameters. */
  query?: Record<string, string | undefined>;
  /** JSON body. */
  body?: unknown;
  /** Aborting stops the request. */
  signal?: AbortSignal;
  /** Timeout for the headers and each wait for body bytes (default the client's). */
  timeoutMs?: number;
  /** What the request does, for error messages (`create Job x`). */
  action?: string;
  /** Statuses returned to the caller instead of thrown (e.g. `[404]`). */
  allow?: readonly number[];
  /** `Accept` header (default `application/json`). */
  accept?: string;
}

/** A client of one cluster's API server. */
export class KubeClient {
  /** How the cluster was reached (for messages). */
  readonly access: ClusterAccess;
  readonly #options: KubeClientOptions;
  #cred: ExecCredential | undefined;
  #clients = new Map<string, TlsClient | undefined>();

  /**
   * Creates a client; nothing is sent until the first request.
   *
   * @example
   * ```ts ignore
   * const client = new KubeClient(access, { env: Deno.env.toObject() });
   * const job = await client.json("GET", "/apis/batch/v1/namespaces/ns/jobs/x");
   * client.close();
   * ```
   */
  constructor(access: ClusterAccess, options: KubeClientOptions) {
    this.access = access;
    this.#options = options;
    if (access.insecureSkipTlsVerify && access.server.startsWith("https:")) {
      options.reporter?.log(
        "WARNING",
        `${access.source} sets insecure-skip-tls-verify: the API server's TLS certificate is not verified (${access.server})`,
      );
    }
  }

  #tlsClient(cert: string | undefined, key: string | undefined): TlsClient | undefined {
    const id = `${cert ?? ""}\0${key ?? ""}`;
    if (this.#clients.has(id)) return this.#clients.get(id);
    const a = this.access;
    const client = createTlsClient({
      // As client-go: with verification off the CA is not used.
      ...(a.caPem !== undefined && !a.insecureSkipTlsVerify ? { caCertPem: a.caPem } : {}),
      ...(cert !== undefined ? { clientCertPem: cert, clientKeyPem: key! } : {}),
      ...(a.proxyUrl !== undefined ? { proxyUrl: a.proxyUrl } : {}),
    }, {
      ...(a.insecureSkipTlsVerify ? { insecureSkipVerify: true } : {}),
      ...(a.tlsServerName !== undefined ? { serverName: a.tlsServerName } : {}),
    });
    this.#clients.set(id, client);
    return client;
  }

  /** Whether a 401 may go away with a fresh credential. */
  get #refreshable(): boolean {
    return this.access.exec !== undefined || this.access.tokenFile !== undefined;
  }

  async #auth(
    signal: AbortSignal | undefined,
  ): Promise<{ headers: Record<string, string>; client: TlsClient | undefined }> {
    const a = this.access;
    const headers: Record<string, string> = {};
    let cert = a.clientCertPem;
    let key = a.clientKeyPem;
    if (a.exec !== undefined) {
      const cred = this.#cred;
      if (cred === undefined || (cred.expiresAt !== undefined && Date.now() >= cred.expiresAt)) {
        this.#cred = await runExecPlugin(a.exec, {
          env: this.#options.env,
          ...(a.cluster !== undefined ? { cluster: a.cluster } : {}),
          ...(this.#options.stdinIsTerminal !== undefined
            ? { stdinIsTerminal: this.#options.stdinIsTerminal }
            : {}),
          ...(signal !== undefined ? { signal } : {}),
        });
      }
      const fresh = this.#cred!;
      if (fresh.token !== undefined) headers.authorization = `Bearer ${fresh.token}`;
      if (fresh.clientCertPem !== undefined) {
        cert = fresh.clientCertPem;
        key = fresh.clientKeyPem;
      }
    }
    if (headers.authorization === undefined) {
      if (a.tokenFile !== undefined) {
        const token = readUserFileSync(a.tokenFile, { label: "Kubernetes token file" }).trim();
        headers.authorization = `Bearer ${token}`;
      } else if (a.token !== undefined) {
        headers.authorization = `Bearer ${a.token}`;
      } else if (a.username !== undefined && a.password !== undefined) {
        headers.authorization = basicAuthorization(a.username, a.password);
      }
    }
    return { headers, client: this.#tlsClient(cert, key) };
  }

  /**
   * Sends a request to the API server and returns the response (its body unread). Statuses
   * other than 2xx and `allow` are thrown as {@linkcode KubeApiError}; a 401 with a
   * credential that can be renewed (exec plugin, token file) is retried once with a new one.
   *
   * @param method HTTP method.
   * @param path API path, e.g. `/apis/batch/v1/namespaces/ns/jobs`.
   * @param options Query, JSON body, abort signal, timeout, action name, allowed statuses.
   * @returns The response.
   * @throws {KubeApiError} For an error status.
   * @throws {HttpRequestError} When the server cannot be reached.
   *
   * @example
   * ```ts ignore
   * const res = await client.request("GET", "/version");
   * ```
   */
  async request(
    method: string,
    path: string,
    options: KubeRequestOptions = {},
  ): Promise<Response> {
    const url = new URL(this.access.server + path);
    for (const [k, v] of Object.entries(options.query ?? {})) {
      if (v !== undefined) url.searchParams.set(k, v);
    }
    const action = options.action ?? `${method} ${path}`;
    for (let attempt = 0;; attempt++) {
      const { headers, client } = await this.#auth(options.signal);
      headers.accept = options.accept ?? "application/json";
      if (options.body !== undefined) headers["content-type"] = "application/json";
      const idempotent = method === "GET" || method === "DELETE";
      const res = await httpRequest(url.href, {
        method,
        headers,
        ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
        timeoutMs: options.timeoutMs ?? this.#options.timeoutMs ?? 30_000,
        maxRetries: idempotent ? this.#options.maxRetries ?? 4 : 0,
        backoffFactor: this.#options.backoffFactor ?? 0.5,
        backoffJitter: 0.2,
        ...(client !== undefined ? { client } : {}),
        ...(options.signal !== undefined ? { signal: options.signal } : {}),
      });
      if (res.ok || options.allow?.includes(res.status)) return res;
      if (res.status === 401 && attempt === 0 && this.#refreshable) {
        await res.body?.cancel();
        this.#cred = undefined;
        continue;
      }
      throw await apiError(action, res);
    }
  }

  /**
   * Sends a request and parses the JSON answer.
   *
   * @param method HTTP method.
   * @param path API path.
   * @param options As for {@linkcode KubeClient.request}.
   * @returns The parsed body (`undefined` for an allowed error status).
   * @throws {KubeApiError} For an error status or a body that is not JSON.
   *
   * @example
   * ```ts ignore
   * const job = await client.json<{ status: unknown }>("GET", "/apis/batch/v1/namespaces/ns/jobs/x");
   * ```
   */
  async json<T = Record<string, unknown>>(
    method: string,
    path: string,
    options: KubeRequestOptions = {},
  ): Promise<T | undefined> {
    const res = await this.request(method, path, options);
    const text = await res.text();
    if (!res.ok) return undefined;
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new KubeApiError(
        options.action ?? `${method} ${path}`,
        res.status,
        "",
        `the answer is not JSON: ${text.slice(0, 200)}`,
      );
    }
  }

  /** Releases the TLS clients. */
  close(): void {
    for (const client of this.#clients.values()) client?.close();
    this.#clients.clear();
  }
}

async function apiError(action: string, res: Response): Promise<KubeApiError> {
  const text = await res.text().catch(() => "");
  try {
    const status = JSON.parse(text) as { kind?: string; reason?: string; message?: string };
    if (status?.kind === "Status") {
      return new KubeApiError(action, res.status, status.reason ?? "", status.message ?? text);
    }
  } catch {
    // not a Status object
  }
  return new KubeApiError(
    action,
    res.status,
    res.statusText,
    text.trim().split("\n")[0]?.slice(0, 300) || "(no message)",
  );
}
