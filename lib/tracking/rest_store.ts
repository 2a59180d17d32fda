/**
 * The tracking store of an MLflow server (`http://`, `https://`) or a Databricks workspace
 * (`databricks`, `databricks://<profile>`), spoken through MLflow's REST API
 * (`/api/2.0/mlflow/*`) with MLflow's request and response shapes, retries, auth and TLS.
 *
 * Round trips: tags travel in `runs/create`, params in one `runs/log-batch` (skipped when there
 * are none); an experiment id is used as given (the server checks it in `runs/create`, as MLflow
 * does); an experiment name is looked up once per tracking server and then taken from a small
 * cache in the user cache dir, checked by `runs/create` itself (a stale entry falls back to the
 * lookup). Ending a run is `runs/get` + `runs/update` (the update is skipped when the child's
 * MLflow already ended the run). A plain run in an existing experiment: 4 requests.
 *
 * @module
 */
import { ExecutionException } from "../errors.ts";
import {
  createTlsClient,
  httpRequest,
  HttpRequestError,
  type HttpRequestOptions,
  type HttpRetryOptions,
  httpRetryOptionsFromEnv,
  HttpSettingError,
} from "../http_client.ts";
import type { Reporter } from "../output.ts";
import { dirname, join } from "../paths.ts";
import { VERSION } from "../version.ts";
import { databricksHostCredentials } from "./databricks_config.ts";
import { type HostCredentials, mlflowHostCredentials, scrubSecrets } from "./host_credentials.ts";
import {
  type CreateRunRequest,
  type Experiment,
  isTerminal,
  type RunInfo,
  type RunStatus,
  type TrackingStore,
} from "./tracking_store.ts";
import { validateKey } from "./validation.ts";
import { sleep } from "../sleep.ts";

/** An error the tracking server answered with (`error_code` and HTTP status kept). */
export class RestError extends ExecutionException {
  /** MLflow error code (`RESOURCE_DOES_NOT_EXIST`, …). */
  readonly errorCode: string;
  /** HTTP status. */
  readonly httpStatus: number;
  /**
   * Creates the error.
   *
   * @example
   * ```ts
   * import { RestError } from "./rest_store.ts";
   * const e = new RestError("Run 'x' not found", "RESOURCE_DOES_NOT_EXIST", 404);
   * console.assert(e.httpStatus === 404);
   * ```
   */
  constructor(message: string, errorCode: string, httpStatus: number) {
    super(message);
    this.name = "RestError";
    this.errorCode = errorCode;
    this.httpStatus = httpStatus;
  }
}

/** Thrown when the server could not be reached (connection error, timeout, retries exhausted). */
export class RestConnectionError extends ExecutionException {
  /**
   * Creates the error.
   *
   * @example
   * ```ts
   * import { RestConnectionError } from "./rest_store.ts";
   * new RestConnectionError("API request to http://x failed: connection refused");
   * ```
   */
  constructor(message: string) {
    super(message);
    this.name = "RestConnectionError";
  }
}

const STATUS_TO_CODE: Record<number, string> = {
  400: "BAD_REQUEST",
  401: "UNAUTHENTICATED",
  403: "PERMISSION_DENIED",
  404: "ENDPOINT_NOT_FOUND",
  409: "RESOURCE_CONFLICT",
  429: "REQUEST_LIMIT_EXCEEDED",
  499: "CANCELLED",
  500: "INTERNAL_ERROR",
  501: "NOT_IMPLEMENTED",
  503: "TEMPORARILY_UNAVAILABLE",
  504: "DEADLINE_EXCEEDED",
};

/** Max params per `log-batch` request (MLflow's `MAX_PARAMS_TAGS_PER_BATCH`). */
const MAX_PARAMS_PER_BATCH = 100;

/** Options of {@linkcode openRestStore}. */
export interface RestStoreOptions {
  /** Environment with the `MLFLOW_*`/`DATABRICKS_*` settings (default the process env). */
  env?: Record<string, string>;
  /** Progress and retry warnings. */
  reporter?: Reporter;
  /** Aborting stops requests before the run is launched. */
  signal?: AbortSignal;
}

/** Whether an error is worth retrying: no answer, or 429/5xx after the HTTP retries. */
export function isTransientError(e: unknown): boolean {
  if (e instanceof RestConnectionError) return true;
  return e instanceof RestError && (e.httpStatus === 429 || e.httpStatus >= 500);
}

type Json = Record<string, unknown>;

function cachePath(env: Record<string, string>): string | undefined {
  if (/^(0|false|no|off)$/i.test(env.MLPROJECT_EXPERIMENT_CACHE ?? "")) return undefined;
  const base = env.XDG_CACHE_HOME || (env.HOME ? join(env.HOME, ".cache") : "");
  return base === "" ? undefined : join(base, "mlproject", "experiment_ids.json");
}

/**
 * A REST tracking store. Open it with {@linkcode openRestStore} (or `openTrackingStore`).
 */
export class RestStore implements TrackingStore {
  readonly uri: string;
  readonly childEnv: Readonly<Record<string, string>>;
  /** Number of HTTP requests answered so far (retries count once per attempt made). */
  requestCount = 0;
  readonly #creds: HostCredentials;
  readonly #client: Deno.HttpClient | undefined;
  readonly #retry: Required<HttpRetryOptions>;
  readonly #reporter: Reporter | undefined;
  readonly #signal: AbortSignal | undefined;
  readonly #cacheFile: string | undefined;
  /** Experiment ids not checked yet, with the name they came from (when from the cache). */
  readonly #unchecked = new Map<string, string | undefined>();

  /**
   * Wraps resolved credentials; prefer {@linkcode openRestStore}.
   *
   * @example
   * ```ts ignore
   * const store = new RestStore("http://127.0.0.1:5000", creds, {});
   * ```
   */
  constructor(uri: string, creds: HostCredentials, options: RestStoreOptions = {}) {
    const env = options.env ?? Deno.env.toObject();
    this.#creds = creds;
    this.uri = creds.childUri;
    this.childEnv = creds.childEnv;
    this.#retry = httpRetryOptionsFromEnv(env);
    this.#client = createTlsClient(creds.tls);
    this.#reporter = options.reporter;
    this.#signal = options.signal;
    this.#cacheFile = cachePath(env);
    if (creds.insecureTls && creds.host.startsWith("https:")) {
      this.#reporter?.log(
        "WARNING",
        `${creds.insecureTlsSetting} is set, but mlproject cannot turn off TLS certificate checks (Deno has no per-connection switch): certificates are still verified. Trust a private CA with MLFLOW_TRACKING_SERVER_CERT_PATH, or run mlproject under 'deno run --unsafely-ignore-certificate-errors=<host>'`,
      );
    }
    void uri;
  }

  /** The server's base URL. */
  get host(): string {
    return this.#creds.host;
  }

  #message(text: string): string {
    return scrubSecrets(text, this.#creds.secrets);
  }

  /**
   * Sends one REST call and returns the parsed JSON object of a 200 answer.
   *
   * @param method `GET` (query parameters) or `POST` (JSON body).
   * @param path Path under the host (`/api/2.0/mlflow/runs/get`).
   * @param payload Query parameters or body.
   * @param options Extra `httpRequest` options (abort signal).
   * @returns The answer.
   * @throws {RestError} For an error answer; {@linkcode RestConnectionError} without an answer.
   */
  async call(
    method: "GET" | "POST",
    path: string,
    payload: Json = {},
    options: { signal?: AbortSignal; raw?: boolean } = {},
  ): Promise<Json> {
    const response = await this.request(method, path, payload, options);
    const text = await response.text();
    if (response.status === 200) {
      if (text.trim() === "") return {};
      try {
        const parsed = JSON.parse(text);
        if (typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)) return parsed;
      } catch { /* below */ }
      throw new RestError(
        this.#message(
          `API request to endpoint ${path} returned a body that is not a JSON object: '${
            text.slice(0, 200)
          }'`,
        ),
        "INTERNAL_ERROR",
        200,
      );
    }
    throw this.#errorOf(path, response.status, text);
  }

  /**
   * Sends one request to the server with auth, TLS and retries; the caller reads the response.
   *
   * @param method HTTP method.
   * @param path Path under the host, possibly with a query string.
   * @param payload Query parameters (GET) or JSON body (POST).
   * @param options Abort signal.
   * @returns The response (any status).
   * @throws {RestConnectionError} When no response could be obtained.
   */
  async request(
    method: "GET" | "POST",
    path: string,
    payload: Json = {},
    options: { signal?: AbortSignal } = {},
  ): Promise<Response> {
    let url = this.#creds.host + path;
    const headers: Record<string, string> = {
      ...this.#creds.headers,
      "User-Agent": `mlproject/${VERSION}`,
      Accept: "application/json",
    };
    const init: HttpRequestOptions = { method, headers, ...this.#retry };
    if (method === "GET") {
      const query = new URLSearchParams();
      for (const [k, v] of Object.entries(payload)) {
        if (v === undefined) continue;
        for (const item of Array.isArray(v) ? v : [v]) query.append(k, String(item));
      }
      const q = query.toString();
      if (q !== "") url += (url.includes("?") ? "&" : "?") + q;
    } else {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(payload);
    }
    const signal = options.signal ?? this.#signal;
    if (signal !== undefined) init.signal = signal;
    if (this.#client !== undefined) init.client = this.#client;
    init.onRetry = (attempt, reason) => {
      this.requestCount++;
      this.#reporter?.log(
        "WARNING",
        this.#message(
          `Retrying ${method} ${
            path.split("?")[0]
          } (retry ${attempt} of ${this.#retry.maxRetries}): ${reason}`,
        ),
      );
    };
    try {
      const response = await httpRequest(url, init);
      this.requestCount++;
      return response;
    } catch (e) {
      if (signal?.aborted) throw e;
      this.requestCount++;
      throw new RestConnectionError(this.#connectionMessage(url, e));
    }
  }

  #connectionMessage(url: string, e: unknown): string {
    const detail = e instanceof HttpRequestError
      ? e.message
      : `API request to ${url} failed: ${e instanceof Error ? e.message : e}`;
    let hint = "";
    if (/timed out/.test(detail)) {
      hint = "; if the server is slow, set MLFLOW_HTTP_REQUEST_TIMEOUT to a larger value";
    } else if (/certificate|UnknownIssuer|tls|handshake/i.test(detail)) {
      hint = this.#creds.insecureTls
        ? `; ${this.#creds.insecureTlsSetting} cannot turn off certificate checks under Deno: set MLFLOW_TRACKING_SERVER_CERT_PATH to the CA bundle that signed the server's certificate, or run under 'deno run --unsafely-ignore-certificate-errors=<host>'`
        : "; if the server uses a private CA, set MLFLOW_TRACKING_SERVER_CERT_PATH to its CA bundle (and MLFLOW_TRACKING_CLIENT_CERT_PATH for a client certificate)";
    }
    return this.#message(detail + hint);
  }

  #errorOf(path: string, status: number, text: string): RestError {
    let code = STATUS_TO_CODE[status] ?? "INTERNAL_ERROR";
    let message: string | undefined;
    try {
      const body = JSON.parse(text);
      if (typeof body?.error_code === "string") code = body.error_code;
      if (typeof body?.message === "string") message = body.message;
    } catch { /* not JSON */ }
    const endpoint = path.split("?")[0];
    let full = message !== undefined
      ? `${code}: ${message}`
      : `API request to endpoint ${endpoint} failed with error code ${status} != 200. Response body: '${
        text.slice(0, 500)
      }'`;
    if (status === 401 || status === 403) {
      full += ` (authentication failed for ${this.#creds.host}: ${this.#creds.authHint})`;
    }
    if (status === 429 || status >= 500) full += ` (after ${this.#retry.maxRetries + 1} attempts)`;
    return new RestError(this.#message(full), code, status);
  }

  // -------------------------------------------------------------------------------------------
  // Experiment cache (name → id per server)

  #readCache(): Record<string, Record<string, string>> {
    if (this.#cacheFile === undefined) return {};
    try {
      const parsed = JSON.parse(Deno.readTextFileSync(this.#cacheFile));
      return typeof parsed === "object" && parsed !== null ? parsed : {};
    } catch {
      return {};
    }
  }

  #cached(name: string): string | undefined {
    const id = this.#readCache()[this.#creds.host]?.[name];
    return typeof id === "string" && id !== "" ? id : undefined;
  }

  #remember(name: string, id: string | undefined): void {
    if (this.#cacheFile === undefined) return;
    try {
      const all = this.#readCache();
      const mine = { ...(all[this.#creds.host] ?? {}) };
      if (id === undefined) delete mine[name];
      else mine[name] = id;
      all[this.#creds.host] = mine;
      Deno.mkdirSync(dirname(this.#cacheFile), { recursive: true });
      const tmp = `${this.#cacheFile}.${crypto.randomUUID()}.tmp`;
      Deno.writeTextFileSync(tmp, JSON.stringify(all));
      Deno.renameSync(tmp, this.#cacheFile);
    } catch { /* the cache is an optimisation only */ }
  }

  // -------------------------------------------------------------------------------------------
  // TrackingStore

  async findExperiment(query: { id: string } | { name: string }): Promise<Experiment | undefined> {
    if ("id" in query) {
      if (this.#creds.databricks && query.id === "0") {
        throw new ExecutionException(
          "Databricks has no default experiment (ID 0): pass --experiment-name /Users/<you>/<experiment> or --experiment-id <id> (or set MLFLOW_EXPERIMENT_NAME / MLFLOW_EXPERIMENT_ID)",
        );
      }
      // As MLflow: an id is used as given; runs/create reports a missing experiment.
      this.#unchecked.set(query.id, undefined);
      return { experimentId: query.id, name: "", artifactLocation: "", lifecycleStage: "active" };
    }
    const cached = this.#cached(query.name);
    if (cached !== undefined) {
      this.#unchecked.set(cached, query.name);
      return {
        experimentId: cached,
        name: query.name,
        artifactLocation: "",
        lifecycleStage: "active",
      };
    }
    return await this.#lookUpName(query.name);
  }

  async #lookUpName(name: string): Promise<Experiment | undefined> {
    let body: Json;
    try {
      body = await this.call("GET", "/api/2.0/mlflow/experiments/get-by-name", {
        experiment_name: name,
      });
    } catch (e) {
      if (e instanceof RestError && e.errorCode === "RESOURCE_DOES_NOT_EXIST") return undefined;
      throw e;
    }
    const exp = toExperiment(body.experiment);
    if (exp === undefined || exp.lifecycleStage !== "active") return undefined;
    this.#remember(name, exp.experimentId);
    return exp;
  }

  async createExperiment(name: string): Promise<string> {
    if (this.#creds.databricks && !name.startsWith("/")) {
      throw new ExecutionException(
        `Invalid experiment name '${name}': Databricks experiment names are workspace paths such as /Users/<you>/${name}`,
      );
    }
    const body = await this.call("POST", "/api/2.0/mlflow/experiments/create", { name });
    const id = String(body.experiment_id ?? "");
    if (id === "") {
      throw new ExecutionException(`The server created experiment '${name}' but sent no id`);
    }
    this.#remember(name, id);
    return id;
  }

  async createRun(request: CreateRunRequest): Promise<RunInfo> {
    for (const [k] of request.tags) validateKey("tag", k);
    for (const [k] of request.params ?? []) validateKey("param", k);
    let experimentId = request.experimentId;
    let body: Json;
    try {
      body = await this.#createRun({ ...request, experimentId });
    } catch (e) {
      if (!(e instanceof RestError) || !this.#unchecked.has(experimentId)) throw e;
      const name = this.#unchecked.get(experimentId);
      const missing = e.errorCode === "RESOURCE_DOES_NOT_EXIST" ||
        (e.errorCode === "INVALID_PARAMETER_VALUE" && /experiment/i.test(e.message));
      if (!missing) throw e;
      if (name === undefined) {
        // An id the user gave.
        if (e.errorCode === "RESOURCE_DOES_NOT_EXIST") {
          throw new ExecutionException(`Could not find experiment with ID ${experimentId}`);
        }
        throw new ExecutionException(`Experiment with ID ${experimentId} is deleted`);
      }
      // A stale cache entry: look the name up again (and create it, as a lookup miss would).
      this.#remember(name, undefined);
      const exp = await this.#lookUpName(name);
      if (exp !== undefined) experimentId = exp.experimentId;
      else {
        this.#reporter?.log("INFO", `'${name}' does not exist. Creating a new experiment`);
        experimentId = await this.createExperiment(name);
      }
      body = await this.#createRun({ ...request, experimentId });
    } finally {
      this.#unchecked.clear();
    }
    const run = body.run as Json | undefined;
    const info = toRunInfo(run?.info);
    if (info === undefined) {
      throw new ExecutionException("The server's answer to runs/create holds no run");
    }
    const params = request.params ?? [];
    for (let i = 0; i < params.length; i += MAX_PARAMS_PER_BATCH) {
      await this.logBatch(info.runId, { params: params.slice(i, i + MAX_PARAMS_PER_BATCH) });
    }
    return info;
  }

  #createRun(request: CreateRunRequest): Promise<Json> {
    const tags = request.tags.filter(([k]) => k !== "mlflow.runName");
    tags.push(["mlflow.runName", request.runName]);
    return this.call("POST", "/api/2.0/mlflow/runs/create", {
      experiment_id: request.experimentId,
      user_id: request.userId,
      start_time: request.startTime,
      tags: tags.map(([key, value]) => ({ key, value })),
      run_name: request.runName,
    });
  }

  async getRun(
    runId: string,
    options: { signal?: AbortSignal } = {},
  ): Promise<RunInfo | undefined> {
    try {
      const body = await this.call(
        "GET",
        "/api/2.0/mlflow/runs/get",
        { run_uuid: runId, run_id: runId },
        options,
      );
      return toRunInfo((body.run as Json | undefined)?.info);
    } catch (e) {
      if (e instanceof RestError && e.errorCode === "RESOURCE_DOES_NOT_EXIST") return undefined;
      throw e;
    }
  }

  async logBatch(
    runId: string,
    batch: { params?: [string, string][]; tags?: [string, string][] },
  ): Promise<void> {
    const body: Json = { "run_id": runId };
    if (batch.params?.length) body.params = batch.params.map(([key, value]) => ({ key, value }));
    if (batch.tags?.length) body.tags = batch.tags.map(([key, value]) => ({ key, value }));
    await this.call("POST", "/api/2.0/mlflow/runs/log-batch", body);
  }

  async updateRun(
    runId: string,
    status: RunStatus,
    endTime: number | null,
    options: { signal?: AbortSignal } = {},
  ): Promise<void> {
    const send = () =>
      this.call("POST", "/api/2.0/mlflow/runs/update", {
        run_uuid: runId,
        run_id: runId,
        status,
        ...(endTime !== null ? { end_time: endTime } : {}),
      }, options);
    if (isTerminal(status)) {
      await this.#untilRecorded(`status ${status} of run '${runId}'`, send, options.signal);
    } else await send();
  }

  async endRun(
    runId: string,
    status: RunStatus,
    endTime: number,
    options: { signal?: AbortSignal } = {},
  ): Promise<RunStatus> {
    return await this.#untilRecorded(`status ${status} of run '${runId}'`, async () => {
      const info = await this.getRun(runId, options);
      if (info === undefined) throw new ExecutionException(`Run with id=${runId} not found`);
      if (isTerminal(info.status)) return info.status;
      await this.call("POST", "/api/2.0/mlflow/runs/update", {
        run_uuid: runId,
        run_id: runId,
        status,
        end_time: endTime,
      }, options);
      return status;
    }, options.signal);
  }

  /** Retries a terminal-status write until it succeeds, fails for good, or `signal` aborts. */
  async #untilRecorded<T>(what: string, fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    let last = "interrupted";
    for (let round = 1;; round++) {
      try {
        return await fn();
      } catch (e) {
        if (signal?.aborted) {
          throw new ExecutionException(`Stopped before ${what} was recorded: ${last}`);
        }
        if (!isTransientError(e)) throw e;
        last = e instanceof Error ? e.message : String(e);
        const seconds = Math.min(120, this.#retry.backoffFactor * 2 ** round);
        const ms = Math.max(50, seconds * 1000);
        this.#reporter?.log(
          "WARNING",
          `=== Could not record ${what} yet: ${e instanceof Error ? e.message : e}. Retrying in ${
            Math.round(ms / 100) / 10
          } s until it is recorded (interrupt to stop) ===`,
        );
        try {
          await sleep(ms, signal);
        } catch {
          throw new ExecutionException(`Stopped before ${what} was recorded: ${last}`);
        }
      }
    }
  }

  close(): void {
    this.#client?.close();
  }
}

function toExperiment(value: unknown): Experiment | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const e = value as Json;
  if (e.experiment_id === undefined) return undefined;
  return {
    experimentId: String(e.experiment_id),
    name: String(e.name ?? ""),
    artifactLocation: String(e.artifact_location ?? ""),
    lifecycleStage: String(e.lifecycle_stage ?? "active"),
  };
}

function toRunInfo(value: unknown): RunInfo | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const r = value as Json;
  const runId = String(r.run_id ?? r.run_uuid ?? "");
  if (runId === "") return undefined;
  return {
    runId,
    experimentId: String(r.experiment_id ?? ""),
    runName: String(r.run_name ?? ""),
    status: String(r.status ?? "RUNNING") as RunStatus,
    startTime: Number(r.start_time ?? 0),
    endTime: r.end_time === undefined || r.end_time === null ? null : Number(r.end_time),
    artifactUri: String(r.artifact_uri ?? ""),
    userId: String(r.user_id ?? ""),
    lifecycleStage: String(r.lifecycle_stage ?? "active"),
  };
}

/**
 * Resolves the credentials of an `http(s)://` or `databricks…` URI and opens its REST store.
 *
 * @param uri The tracking URI.
 * @param options Environment, reporter, abort signal.
 * @returns The store.
 * @throws {ExecutionException} For bad credentials or settings (never echoing a secret).
 *
 * @example
 * ```ts ignore
 * import { openRestStore } from "./rest_store.ts";
 * const store = openRestStore("http://127.0.0.1:5000", { env: { MLFLOW_TRACKING_TOKEN: "t" } });
 * store.close();
 * ```
 */
export function openRestStore(uri: string, options: RestStoreOptions = {}): RestStore {
  const env = options.env ?? Deno.env.toObject();
  const creds = /^databricks(:|$)/i.test(uri)
    ? databricksHostCredentials(uri, env)
    : mlflowHostCredentials(uri, env);
  try {
    return new RestStore(uri, creds, { ...options, env });
  } catch (e) {
    if (e instanceof HttpSettingError) throw new ExecutionException(e.message);
    throw e;
  }
}
