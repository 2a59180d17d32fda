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
import { ExecutionException } from "../system/errors.ts";
import { cacheDir } from "../system/home_dir.ts";
import {
  createTlsClient,
  httpRequest,
  HttpRequestError,
  type HttpRequestOptions,
  type HttpRetryOptions,
  httpRetryOptionsFromEnv,
  HttpSettingError,
  type TlsClient,
} from "../http/http_client.ts";
import type { Reporter } from "../system/output.ts";
import { dirname } from "../system/paths.ts";
import { VERSION } from "../system/version.ts";
import { databricksHostCredentials } from "./databricks_config.ts";
import { type HostCredentials, mlflowHostCredentials, scrubSecrets } from "./host_credentials.ts";
import {
  type CreateRunRequest,
  type Experiment,
  isTerminal,
  type RunEnd,
  type RunInfo,
  type RunStatus,
  type RunUpdate,
  type TrackingStore,
} from "./tracking_store.ts";
import { validateKey } from "./validation.ts";
import { sleep } from "../system/sleep.ts";

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

const CREATE_RUN = "/api/2.0/mlflow/runs/create";

/** How long ending a run this runner gave up on may take (ms). */
const ABANDON_TIMEOUT_MS = 20_000;

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

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
  return cacheDir(env, "experiment_ids.json");
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
  readonly #client: TlsClient | undefined;
  /** For requests that must not be sent twice (see `createTlsClient`'s `freshConnections`). */
  #freshClient: TlsClient | undefined;
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
    this.#client = createTlsClient(creds.tls, { insecureSkipVerify: creds.insecureTls });
    this.#reporter = options.reporter;
    this.#signal = options.signal;
    this.#cacheFile = cachePath(env);
    if (creds.insecureTls && creds.host.startsWith("https:")) {
      this.#reporter?.log(
        "WARNING",
        `${creds.insecureTlsSetting} is set: the TLS certificate of ${creds.host} is not verified`,
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
    options: { signal?: AbortSignal; retries?: number; once?: boolean } = {},
  ): Promise<Json> {
    const response = await this.request(method, path, payload, options);
    let text: string;
    try {
      text = await response.text();
    } catch (e) {
      // The connection broke in the middle of the answer.
      if ((options.signal ?? this.#signal)?.aborted) throw e;
      throw new RestConnectionError(
        this.#message(
          `API request to endpoint ${path.split("?")[0]} failed while reading the answer: ${
            e instanceof Error ? e.message : e
          }`,
        ),
      );
    }
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
    throw this.#errorOf(
      path,
      response.status,
      text,
      (options.retries ?? this.#retry.maxRetries) + 1,
    );
  }

  /**
   * Sends one request to the server with auth, TLS and retries; the caller reads the response.
   *
   * @param method HTTP method.
   * @param path Path under the host, possibly with a query string.
   * @param payload Query parameters (GET) or JSON body (POST).
   * @param options Abort signal; `retries` replaces the configured number of HTTP retries;
   *   `once` sends it on a fresh connection, so a lost answer is an error, never a silent resend.
   * @returns The response (any status).
   * @throws {RestConnectionError} When no response could be obtained.
   */
  async request(
    method: "GET" | "POST",
    path: string,
    payload: Json = {},
    options: { signal?: AbortSignal; retries?: number; once?: boolean } = {},
  ): Promise<Response> {
    let url = this.#creds.host + path;
    const headers: Record<string, string> = {
      ...this.#creds.headers,
      "User-Agent": `mlproject/${VERSION}`,
      Accept: "application/json",
    };
    const init: HttpRequestOptions = { method, headers, ...this.#retry };
    if (options.retries !== undefined) init.maxRetries = options.retries;
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
    if (options.once) {
      this.#freshClient ??= createTlsClient(this.#creds.tls, {
        freshConnections: true,
        insecureSkipVerify: this.#creds.insecureTls,
      });
      init.client = this.#freshClient!;
    } else if (this.#client !== undefined) init.client = this.#client;
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
      const authorize = this.#creds.authorize;
      if (authorize !== undefined) {
        const auth = { ...(signal !== undefined ? { signal } : {}), client: init.client };
        Object.assign(headers, await authorize(auth));
        const response = await httpRequest(url, init);
        this.requestCount++;
        if (response.status !== 401 && response.status !== 403) return response;
        // The token was revoked or expired early (Databricks: 403 "Invalid access token"): one
        // more try with a new one.
        await response.body?.cancel();
        Object.assign(headers, await authorize({ ...auth, refresh: true }));
      }
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
        ? ""
        : "; if the server uses a private CA, set MLFLOW_TRACKING_SERVER_CERT_PATH to its CA bundle (and MLFLOW_TRACKING_CLIENT_CERT_PATH for a client certificate)";
    }
    return this.#message(detail + hint);
  }

  #errorOf(path: string, status: number, text: string, attempts: number): RestError {
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
    if (status === 429 || status >= 500) {
      full += ` (after ${attempts} attempt${attempts === 1 ? "" : "s"})`;
    }
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
    let body: Json;
    const sent = this.requestCount;
    try {
      body = await this.call("POST", "/api/2.0/mlflow/experiments/create", { name }, {
        once: true,
      });
    } catch (e) {
      // An earlier attempt whose answer was lost created it: use it.
      const retried = this.requestCount - sent > 1;
      if (!(retried && e instanceof RestError && e.errorCode === "RESOURCE_ALREADY_EXISTS")) {
        throw e;
      }
      const exp = await this.#lookUpName(name);
      if (exp === undefined) throw e;
      return exp.experimentId;
    }
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
    let info: RunInfo;
    try {
      info = await this.#createRunOnce({ ...request, experimentId });
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
      info = await this.#createRunOnce({ ...request, experimentId });
    } finally {
      this.#unchecked.clear();
    }
    const params = request.params ?? [];
    try {
      for (let i = 0; i < params.length; i += MAX_PARAMS_PER_BATCH) {
        await this.logBatch(info.runId, { params: params.slice(i, i + MAX_PARAMS_PER_BATCH) });
      }
    } catch (e) {
      // The run exists but is not what was asked for: it must not stay RUNNING.
      await this.#abandonRun(
        info.runId,
        this.#signal?.aborted ? "KILLED" : "FAILED",
        "its params could not be logged",
      );
      throw e;
    }
    return info;
  }

  /**
   * `runs/create` without duplicates: an attempt whose answer is lost or unreadable (no answer,
   * a 5xx, a garbled body) may still have created the run, so before trying again the run is
   * looked for (same experiment, start time, name and tags); one found is used, and any extra
   * run an earlier attempt created after all is ended FAILED.
   */
  async #createRunOnce(request: CreateRunRequest): Promise<RunInfo> {
    const tags = request.tags.filter(([k]) => k !== "mlflow.runName");
    tags.push(["mlflow.runName", request.runName]);
    const payload = {
      "experiment_id": request.experimentId,
      "user_id": request.userId,
      "start_time": request.startTime,
      tags: tags.map(([key, value]) => ({ key, value })),
      "run_name": request.runName,
    };
    const maxRetries = this.#retry.maxRetries;
    let last: unknown;
    let unsure = false;
    for (let attempt = 0; attempt <= maxRetries; attempt++) {
      if (attempt > 0) {
        this.#reporter?.log(
          "WARNING",
          this.#message(
            `Retrying POST ${CREATE_RUN} (retry ${attempt} of ${maxRetries}): ${errorText(last)}`,
          ),
        );
        const base = attempt === 1
          ? 0
          : Math.min(120, this.#retry.backoffFactor * 2 ** (attempt - 1)) * 1000;
        await sleep(base + Math.random() * this.#retry.backoffJitter * 1000, this.#signal);
      }
      try {
        const body = await this.call("POST", CREATE_RUN, payload, { retries: 0, once: true });
        const info = toRunInfo((body.run as Json | undefined)?.info);
        if (info === undefined) {
          throw new RestError(
            "The server's answer to runs/create holds no run",
            "INTERNAL_ERROR",
            200,
          );
        }
        if (unsure) await this.#endDuplicates(request, info.runId);
        return info;
      } catch (e) {
        if (this.#signal?.aborted) {
          // Interrupted while the server may have been creating the run.
          await this.#endDuplicates(request, undefined, "KILLED");
          throw e;
        }
        const ambiguous = isTransientError(e) ||
          (e instanceof RestError && (e.httpStatus === 200 || e.httpStatus === 408));
        if (!ambiguous) throw e;
        last = e;
        unsure = true;
      }
      let found: RunInfo[];
      try {
        found = await this.#findCreated(request);
      } catch (e) {
        throw new ExecutionException(
          this.#message(
            `${
              errorText(last)
            }; and asking the server whether runs/create created the run anyway failed: ${
              errorText(e)
            }. A run named '${request.runName}' may be left RUNNING in experiment ${request.experimentId}`,
          ),
        );
      }
      if (found.length > 0) {
        this.#reporter?.log(
          "WARNING",
          this.#message(
            `runs/create failed (${errorText(last)}), but the server had created run '${
              found[0]!.runId
            }': using it`,
          ),
        );
        await this.#endDuplicates(request, found[0]!.runId);
        return found[0]!;
      }
    }
    throw last;
  }

  /** RUNNING runs that look like the ones `request` creates (newest attempt last). */
  async #findCreated(request: CreateRunRequest, signal?: AbortSignal): Promise<RunInfo[]> {
    const body = await this.call("POST", "/api/2.0/mlflow/runs/search", {
      experiment_ids: [request.experimentId],
      filter: `attributes.start_time = ${request.startTime}`,
      max_results: 100,
    }, signal !== undefined ? { signal } : {});
    const wanted = request.tags.filter(([k]) => k !== "mlflow.user" && k !== "mlflow.runName");
    const found: RunInfo[] = [];
    for (const run of Array.isArray(body.runs) ? body.runs as Json[] : []) {
      const info = toRunInfo(run.info);
      if (info === undefined || info.status !== "RUNNING") continue;
      if (info.runName !== request.runName || info.startTime !== request.startTime) continue;
      const data = (run.data ?? {}) as Json;
      const tags = new Map<string, string>();
      for (const t of Array.isArray(data.tags) ? data.tags as Json[] : []) {
        tags.set(String(t.key), String(t.value));
      }
      if (wanted.every(([k, v]) => tags.get(k) === v)) found.push(info);
    }
    return found;
  }

  /** Ends (`status`) the runs an earlier `runs/create` attempt created, except `keep`. */
  async #endDuplicates(
    request: CreateRunRequest,
    keep: string | undefined,
    status: RunStatus = "FAILED",
  ): Promise<void> {
    let found: RunInfo[];
    try {
      found = await this.#findCreated(request, AbortSignal.timeout(ABANDON_TIMEOUT_MS));
    } catch (e) {
      this.#reporter?.log(
        "WARNING",
        this.#message(
          `Could not check for a duplicate of run '${keep ?? request.runName}': ${errorText(e)}`,
        ),
      );
      return;
    }
    for (const run of found) {
      if (run.runId === keep) continue;
      await this.#abandonRun(
        run.runId,
        status,
        "a duplicate, created by an earlier runs/create attempt whose answer was lost",
      );
    }
  }

  /**
   * Ends a run this runner created and gave up on, with a few bounded attempts: after an
   * interrupt too, and without waiting long for a server that is down.
   */
  async #abandonRun(runId: string, status: RunStatus, why: string): Promise<void> {
    try {
      await this.call("POST", "/api/2.0/mlflow/runs/update", {
        run_uuid: runId,
        run_id: runId,
        status,
        end_time: Date.now(),
      }, {
        signal: AbortSignal.timeout(ABANDON_TIMEOUT_MS),
        retries: Math.min(2, this.#retry.maxRetries),
      });
      this.#reporter?.log("WARNING", `Ended run '${runId}' ${status}: ${why}`);
    } catch (e) {
      this.#reporter?.log(
        "WARNING",
        this.#message(
          `Could not end run '${runId}' ${status}: ${errorText(e)}; it may still show RUNNING`,
        ),
      );
    }
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

  async updateRun(runId: string, update: RunUpdate): Promise<void> {
    const { status, endTime } = update;
    const options = update.signal !== undefined ? { signal: update.signal } : {};
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

  async endRun(runId: string, end: RunEnd): Promise<RunStatus> {
    const { status, endTime } = end;
    const options = end.signal !== undefined ? { signal: end.signal } : {};
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
    this.#freshClient?.close();
    this.#freshClient = undefined;
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
