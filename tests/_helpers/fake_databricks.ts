// deno-lint-ignore-file camelcase -- the Databricks wire format is snake_case
/**
 * A fake Databricks workspace on 127.0.0.1 for the Databricks backend's tests, validated with the
 * official `databricks-sdk` client (tests/fakes/fake_databricks_test.ts):
 * - DBFS (`/api/2.0/dbfs/`): `get-status`, `list`, `put` (JSON base64 `contents` ≤ 1 MB, or
 *   multipart), `create`/`add-block`/`close` (blocks ≤ 1 MB decoded, as the real limit), `read`
 *   (≤ 1 MB), `mkdirs`, `delete`; and MLflow's raw upload `POST /dbfs/<path>` (a second upload of
 *   the same path: `409` HTML "Error 409 … File already exists");
 * - Jobs (`/api/2.0|2.1|2.2/jobs/runs/`): `submit` (single-task 2.0 form or `tasks`; idempotency
 *   tokens), `get`, `cancel`, `get-output`, with a scripted life cycle per run that advances on
 *   each `runs/get` (no clocks): by default PENDING → RUNNING → TERMINATED/SUCCESS; `cancel` moves a
 *   live run to TERMINATING, then TERMINATED/CANCELED;
 * - the MLflow tracking API (`/api/2.0/mlflow/*`, `/ajax-api/2.0/mlflow/*`,
 *   `/api/2.0/mlflow-artifacts/*`) proxied to a real `mlflow server` so runs are recorded for real;
 * - auth: a personal access token, HTTP Basic (user/password), and OAuth M2M: `/oidc/v1/token`
 *   (`client_credentials`; client id/secret by Basic auth or form fields), its discovery document
 *   `/oidc/.well-known/oauth-authorization-server` and the host metadata
 *   `/.well-known/databricks-config` the SDK asks for first; issued tokens accepted as bearer until
 *   they expire;
 * - Databricks error bodies (`{"error_code": …, "message": …}`), 401 without credentials, 403 with
 *   bad ones;
 * - faults per path: N× a status (5xx, 429 with `Retry-After`), delayed headers, a stalled body,
 *   a dropped connection (before serving the request, or after: "answer lost");
 * - a request log (method, path, query, body summary, auth kind, status) and accessors for the
 *   stored DBFS files and the submitted run payloads.
 *
 * @example
 * ```ts ignore
 * await using fake = await startFakeDatabricks({ mlflowUrl: server.url });
 * // DATABRICKS_HOST=fake.url DATABRICKS_TOKEN=fake.token
 * fake.addFault({ path: "/jobs/runs/get", status: 503, times: 2 });
 * // … run the backend …
 * fake.count("/api/2.0/dbfs/add-block"); fake.dbfsFile("/mlflow-experiments/0/…"); fake.runs[0]!.payload;
 * ```
 */

import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { takeFault } from "./faults.ts";

/** Life cycle states of a Databricks job run. */
export type LifeCycleState =
  | "QUEUED"
  | "PENDING"
  | "RUNNING"
  | "TERMINATING"
  | "TERMINATED"
  | "SKIPPED"
  | "INTERNAL_ERROR"
  | "BLOCKED"
  | "WAITING_FOR_RETRY";

/** One step of a run's scripted life cycle. */
export interface RunStep {
  life_cycle_state: LifeCycleState;
  /** Present once the run ended (`SUCCESS`, `FAILED`, `TIMEDOUT`, `CANCELED`, …). */
  result_state?: string;
  /** Default `""`. */
  state_message?: string;
  /** How many `runs/get` answers show this step before the next (default 1; the last step stays). */
  polls?: number;
}

/** What {@linkcode FakeDatabricksOptions.runScript} returns for a submitted run. */
export type RunScript = RunStep[];

/** A run submitted to the fake. */
export interface FakeRun {
  run_id: number;
  /** `undefined` when the fake was told to omit job ids. */
  job_id: number | undefined;
  number_in_job: number;
  /** The `runs/submit` body as received. */
  payload: Record<string, unknown>;
  /** API version of the submit call (`2.0`, `2.1`, `2.2`). */
  apiVersion: string;
  run_page_url: string;
  /** Remaining scripted steps; the first is the current state. */
  steps: RunStep[];
  /** `runs/get` answers served in the current step. */
  pollsInStep: number;
  /** Every state the run was in, in order (`LIFE/RESULT`). */
  history: string[];
  /** `runs/get` calls answered for this run. */
  polls: number;
  /** `runs/cancel` calls received for this run. */
  cancels: number;
  start_time: number;
  end_time: number;
  /** Returned by `runs/get-output` as `logs`. */
  logs?: string;
}

/** One request the fake received. */
export interface LoggedRequest {
  method: string;
  /** Path without the query. */
  path: string;
  /** Query parameters. */
  query: Record<string, string>;
  /** JSON body with long base64 fields shortened to `<N bytes>`; `<N bytes>` for raw bodies. */
  body: unknown;
  /** `pat`, `oauth` (a token this fake issued), `basic`, `none` or `invalid`. */
  auth: "pat" | "oauth" | "basic" | "none" | "invalid";
  /** The status answered (0 when the connection was dropped by a `reset` fault). */
  status: number;
}

/** A scripted fault: applies to the next `times` requests that match. */
export interface DatabricksFault {
  /** Substring of the path (without query), or a pattern (default: any path). */
  path?: string | RegExp;
  /** Method a request must have (default: any). */
  method?: string;
  /** Answer with this status and a Databricks error body instead of serving the request. */
  status?: number;
  /** `Retry-After` header (seconds) with the status. */
  retryAfter?: number;
  /** Delay (ms) before the response headers. */
  delayMs?: number;
  /** Serve the request, but stall this long (ms) after the headers before the body. */
  bodyDelayMs?: number;
  /** Close the connection without answering and without serving the request. */
  reset?: boolean;
  /** Serve the request (a run is created, a file stored…), then close the connection unanswered. */
  dropAnswer?: boolean;
  /** How many matching requests it applies to (default 1). */
  times?: number;
}

/** Options of {@linkcode startFakeDatabricks}. */
export interface FakeDatabricksOptions {
  /** The accepted personal access token (default `dapi-fake-token`). */
  token?: string;
  /** OAuth M2M client (default `fake-client-id` / `fake-client-secret`). */
  oauth?: { clientId: string; clientSecret: string };
  /** `expires_in` of issued OAuth tokens, seconds (default 3600). */
  tokenLifetimeSeconds?: number;
  /** Accepted Basic credentials (default: none accepted). */
  basic?: { username: string; password: string };
  /** Base URL of a real `mlflow server` the tracking API is proxied to (default: 404s). */
  mlflowUrl?: string;
  /** The life cycle of each submitted run (default: PENDING, RUNNING, TERMINATED/SUCCESS). */
  runScript?: (payload: Record<string, unknown>, runId: number) => RunScript;
  /** Answer `runs/get` without `job_id` (as some workspaces do for one-time runs). */
  omitJobId?: boolean;
  /** The workspace id shown in `run_page_url` (`?o=`) and the host metadata (default 1234567890). */
  workspaceId?: string;
  /** Called whenever a run enters a new step (e.g. to act as the cluster at RUNNING). */
  onRunStep?: (run: FakeRun, step: RunStep) => void | Promise<void>;
}

/** DBFS blocks (`add-block`, `put` contents, `read` length) are limited to 1 MB. */
export const DBFS_MAX_BLOCK = 1024 * 1024;

/** The default life cycle: one poll PENDING, one RUNNING, then TERMINATED/SUCCESS. */
export const SUCCESS_SCRIPT: RunScript = [
  { life_cycle_state: "PENDING", state_message: "Waiting for cluster" },
  { life_cycle_state: "RUNNING", state_message: "In run" },
  { life_cycle_state: "TERMINATED", result_state: "SUCCESS", state_message: "" },
];

/**
 * A script ending in FAILED with a message.
 *
 * @param message The final `state_message`.
 * @returns The steps.
 */
export function failedScript(message = "Task failed with error."): RunScript {
  return [
    { life_cycle_state: "PENDING" },
    { life_cycle_state: "RUNNING" },
    { life_cycle_state: "TERMINATED", result_state: "FAILED", state_message: message },
  ];
}

const TASK_KEYS = [
  "notebook_task",
  "spark_jar_task",
  "spark_python_task",
  "spark_submit_task",
  "shell_command_task",
  "python_wheel_task",
  "sql_task",
  "dbt_task",
  "pipeline_task",
  "run_job_task",
  "condition_task",
  "for_each_task",
];

/** Marks the internal answer that stands for "drop the connection". */
const RESET_HEADER = "x-fake-databricks-reset";

const TERMINAL: ReadonlySet<string> = new Set(["TERMINATED", "SKIPPED", "INTERNAL_ERROR"]);

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", ...headers },
  });
}

function apiError(status: number, error_code: string, message: string): Response {
  return json(status, { error_code, message });
}

function decodeBase64(text: string): Uint8Array | undefined {
  try {
    const bin = atob(text);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  } catch {
    return undefined;
  }
}

function encodeBase64(bytes: Uint8Array): string {
  let bin = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(bin);
}

function summarize(body: unknown): unknown {
  if (typeof body !== "object" || body === null || Array.isArray(body)) return body;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(body)) {
    out[k] = (k === "data" || k === "contents") && typeof v === "string"
      ? `<${decodeBase64(v)?.length ?? v.length} bytes>`
      : v;
  }
  return out;
}

/**
 * A request as read by the `node:http` listener. (`Deno.serve` drops the body of a GET, and MLflow
 * sends `dbfs/get-status` as a GET with a JSON body, which the real API reads.)
 */
interface Incoming {
  method: string;
  url: string;
  headers: Headers;
  raw: Uint8Array<ArrayBuffer>;
}

/** The request's parameters: the JSON body, and for GET also the query (which wins). */
function requestArgs(req: Incoming, url: URL, body: unknown): Record<string, unknown> {
  const fromBody = typeof body === "object" && body !== null && !Array.isArray(body)
    ? body as Record<string, unknown>
    : {};
  return req.method === "GET" ? { ...fromBody, ...Object.fromEntries(url.searchParams) } : fromBody;
}

interface DbfsEntry {
  bytes: Uint8Array;
  modification_time: number;
}

/** A running fake workspace. */
export class FakeDatabricks implements AsyncDisposable {
  /** `http://127.0.0.1:<port>` (the `DATABRICKS_HOST`). */
  url = "";
  /** The accepted personal access token. */
  readonly token: string;
  /** The OAuth M2M client. */
  readonly oauth: { clientId: string; clientSecret: string };
  /** Every request, in order. */
  readonly requests: LoggedRequest[] = [];
  /** Submitted runs, in submission order. */
  readonly runs: FakeRun[] = [];
  /** Pending faults. */
  readonly faults: DatabricksFault[] = [];
  /** OAuth tokens issued: token → expiry (ms since the epoch). */
  readonly issuedTokens = new Map<string, number>();
  #files = new Map<string, DbfsEntry>();
  #dirs = new Set<string>(["/"]);
  #handles = new Map<number, { path: string; chunks: Uint8Array[] }>();
  #idempotency = new Map<string, number>();
  #nextHandle = 1;
  #nextRunId = 1001;
  #nextJobId = 501;
  #options: FakeDatabricksOptions;
  #server: Server | undefined;

  constructor(options: FakeDatabricksOptions = {}) {
    this.#options = options;
    this.token = options.token ?? "dapi-fake-token";
    this.oauth = options.oauth ??
      { clientId: "fake-client-id", clientSecret: "fake-client-secret" };
  }

  /** Starts listening on a free port. */
  async start(): Promise<this> {
    const server = createServer((req, res) => void this.#serve(req, res));
    this.#server = server;
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return this;
  }

  async #serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const chunks: Uint8Array[] = [];
      for await (const chunk of req) chunks.push(chunk as Uint8Array);
      const raw = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
      let at = 0;
      for (const c of chunks) {
        raw.set(c, at);
        at += c.length;
      }
      const headers = new Headers();
      for (const [k, v] of Object.entries(req.headers)) {
        if (v !== undefined) headers.set(k, Array.isArray(v) ? v.join(", ") : v);
      }
      const response = await this.#handle({
        method: req.method ?? "GET",
        url: `${this.url}${req.url ?? "/"}`,
        headers,
        raw,
      });
      if (response.headers.has(RESET_HEADER)) {
        req.socket.destroy();
        return;
      }
      const out: Record<string, string> = {};
      response.headers.forEach((v, k) => (out[k] = v));
      res.writeHead(response.status, out);
      res.flushHeaders();
      if (response.body !== null) {
        for await (const chunk of response.body) res.write(chunk);
      }
      res.end();
    } catch (e) {
      if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" });
      res.end(`fake Databricks crashed: ${e instanceof Error ? e.stack : e}`);
    }
  }

  /** Stops the server and closes every connection. */
  async close(): Promise<void> {
    const server = this.#server;
    if (server === undefined) return;
    this.#server = undefined;
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** Adds a fault (applies to the next `times` matching requests, default 1). */
  addFault(fault: DatabricksFault): void {
    this.faults.push({ times: 1, ...fault });
  }

  /**
   * Number of requests whose path contains `path` (and with that method).
   *
   * @param path Substring of the path (without query), e.g. `/dbfs/add-block`.
   * @param method Only this method.
   */
  count(path: string, method?: string): number {
    return this.requests.filter((r) =>
      r.path.includes(path) && (method === undefined || r.method === method)
    ).length;
  }

  /**
   * The bytes of a DBFS file.
   *
   * @param path Absolute DBFS path (`/a/b`, `dbfs:/a/b` or the FUSE form `/dbfs/a/b`).
   */
  dbfsFile(path: string): Uint8Array | undefined {
    return this.#files.get(this.#normalize(path, true) ?? "")?.bytes;
  }

  /** Every DBFS file path, sorted. */
  dbfsPaths(): string[] {
    return [...this.#files.keys()].sort();
  }

  /**
   * Stores a DBFS file directly (e.g. a project archive "uploaded before").
   *
   * @param path Absolute DBFS path.
   * @param bytes Its content.
   */
  putDbfsFile(path: string, bytes: Uint8Array): void {
    this.#store(this.#normalize(path, true)!, bytes);
  }

  /** The `runs/submit` bodies received, in order. */
  submittedPayloads(): Record<string, unknown>[] {
    return this.runs.map((r) => r.payload);
  }

  /**
   * A run by id.
   *
   * @param runId The Databricks run id.
   */
  run(runId: number): FakeRun | undefined {
    return this.runs.find((r) => r.run_id === runId);
  }

  /** Makes every issued OAuth token expired (clients must fetch a new one). */
  expireTokens(): void {
    for (const token of this.issuedTokens.keys()) this.issuedTokens.set(token, 0);
  }

  // ---- plumbing ----

  #fault(method: string, path: string): DatabricksFault | undefined {
    return takeFault(this.faults, method, path);
  }

  #authKind(req: Incoming): LoggedRequest["auth"] {
    const header = req.headers.get("authorization");
    if (header === null) return "none";
    const [scheme, value = ""] = header.split(/\s+/, 2);
    if (scheme?.toLowerCase() === "bearer") {
      if (value === this.token) return "pat";
      const expiry = this.issuedTokens.get(value);
      return expiry !== undefined && expiry > Date.now() ? "oauth" : "invalid";
    }
    if (scheme?.toLowerCase() === "basic" && this.#options.basic !== undefined) {
      const { username, password } = this.#options.basic;
      return value === btoa(`${username}:${password}`) ? "basic" : "invalid";
    }
    return "invalid";
  }

  async #handle(req: Incoming): Promise<Response> {
    const url = new URL(req.url);
    const path = url.pathname;
    const query = Object.fromEntries(url.searchParams);
    const auth = this.#authKind(req);
    const raw = req.raw;
    const ctype = req.headers.get("content-type") ?? "";
    let body: unknown = undefined;
    if (ctype.startsWith("application/json") && raw.length > 0) {
      try {
        body = JSON.parse(new TextDecoder().decode(raw));
      } catch {
        body = undefined;
      }
    }
    const entry: LoggedRequest = {
      method: req.method,
      path,
      query,
      body: body !== undefined
        ? summarize(body)
        : raw.length > 0
        ? `<${raw.length} bytes${ctype ? ` ${ctype.split(";")[0]}` : ""}>`
        : undefined,
      auth,
      status: 0,
    };
    this.requests.push(entry);
    const fault = this.#fault(req.method, path);
    if (fault?.delayMs) await new Promise((r) => setTimeout(r, fault.delayMs));
    let response: Response;
    if (fault?.reset) {
      entry.status = 0;
      return new Response(null, { headers: { [RESET_HEADER]: "1" } });
    }
    if (fault?.status !== undefined) {
      const code = fault.status === 429
        ? "REQUEST_LIMIT_EXCEEDED"
        : fault.status === 503
        ? "TEMPORARILY_UNAVAILABLE"
        : "INTERNAL_ERROR";
      response = json(fault.status, {
        error_code: code,
        message: `Injected fault ${fault.status}`,
      }, fault.retryAfter !== undefined ? { "retry-after": String(fault.retryAfter) } : {});
    } else {
      response = await this.#route(req, url, auth, raw, body, ctype);
    }
    entry.status = response.status;
    if (fault?.dropAnswer) return new Response(null, { headers: { [RESET_HEADER]: "1" } });
    if (fault?.bodyDelayMs) return this.#stalled(response, fault.bodyDelayMs);
    return response;
  }

  #stalled(response: Response, ms: number): Response {
    const source = response.body;
    const stream = new ReadableStream<Uint8Array>({
      async start(controller) {
        controller.enqueue(new Uint8Array(0));
        await new Promise((r) => setTimeout(r, ms));
        if (source !== null) {
          for await (const chunk of source) controller.enqueue(chunk);
        }
        controller.close();
      },
    });
    return new Response(stream, { status: response.status, headers: response.headers });
  }

  async #route(
    req: Incoming,
    url: URL,
    auth: LoggedRequest["auth"],
    raw: Uint8Array<ArrayBuffer>,
    body: unknown,
    ctype: string,
  ): Promise<Response> {
    const path = url.pathname;
    if (path === "/.well-known/databricks-config" && req.method === "GET") {
      return json(200, {
        oidc_endpoint: `${this.url}/oidc`,
        workspace_id: this.#workspaceId(),
      });
    }
    if (path === "/oidc/.well-known/oauth-authorization-server" && req.method === "GET") {
      return json(200, {
        issuer: `${this.url}/oidc`,
        authorization_endpoint: `${this.url}/oidc/v1/authorize`,
        token_endpoint: `${this.url}/oidc/v1/token`,
        grant_types_supported: ["client_credentials", "authorization_code", "refresh_token"],
        token_endpoint_auth_methods_supported: ["client_secret_basic", "client_secret_post"],
        scopes_supported: ["all-apis", "offline_access", "openid", "profile", "email"],
      });
    }
    if (path === "/oidc/v1/token") return this.#oauthToken(req, raw);
    if (auth === "none") {
      return apiError(
        401,
        "UNAUTHENTICATED",
        "Credential was not sent or was of an unsupported type for this API.",
      );
    }
    if (auth === "invalid") return apiError(403, "PERMISSION_DENIED", "Invalid access token.");
    if (/^\/(api|ajax-api)\/2\.0\/(mlflow|mlflow-artifacts)\//.test(path)) {
      return await this.#proxyMlflow(req, url, raw);
    }
    if (path.startsWith("/dbfs/") && req.method === "POST") return this.#rawUpload(path, raw);
    const dbfs = /^\/api\/2\.0\/dbfs\/([a-z-]+)$/.exec(path);
    if (dbfs !== null) return await this.#dbfs(req, dbfs[1]!, url, body, ctype, raw);
    const jobs = /^\/api\/(2\.[0-2])\/jobs\/runs\/([a-z-]+)$/.exec(path);
    if (jobs !== null) return await this.#jobs(req, jobs[1]!, jobs[2]!, url, body);
    return apiError(404, "ENDPOINT_NOT_FOUND", `No API found for '${req.method} ${path}'`);
  }

  #workspaceId(): string {
    return this.#options.workspaceId ?? "1234567890";
  }

  // ---- OAuth ----

  #oauthToken(req: Incoming, raw: Uint8Array<ArrayBuffer>): Response {
    if (req.method !== "POST") {
      return json(405, { error: "invalid_request", error_description: "POST required" });
    }
    const form = new URLSearchParams(new TextDecoder().decode(raw));
    let id = form.get("client_id");
    let secret = form.get("client_secret");
    const header = req.headers.get("authorization");
    if (header?.toLowerCase().startsWith("basic ")) {
      const decoded = atob(header.slice(6).trim());
      const colon = decoded.indexOf(":");
      id = decodeURIComponent(decoded.slice(0, colon));
      secret = decodeURIComponent(decoded.slice(colon + 1));
    }
    if (form.get("grant_type") !== "client_credentials") {
      return json(400, {
        error: "unsupported_grant_type",
        error_description: `Unsupported grant type: ${form.get("grant_type")}`,
      });
    }
    if (id !== this.oauth.clientId || secret !== this.oauth.clientSecret) {
      return json(401, {
        error: "invalid_client",
        error_description: "Client authentication failed",
      });
    }
    const lifetime = this.#options.tokenLifetimeSeconds ?? 3600;
    const token = `fake-oauth-${crypto.randomUUID()}`;
    this.issuedTokens.set(token, Date.now() + lifetime * 1000);
    return json(200, {
      access_token: token,
      token_type: "Bearer",
      expires_in: lifetime,
      scope: form.get("scope") ?? "all-apis",
    });
  }

  // ---- MLflow proxy ----

  async #proxyMlflow(req: Incoming, url: URL, raw: Uint8Array<ArrayBuffer>): Promise<Response> {
    if (this.#options.mlflowUrl === undefined) {
      return apiError(404, "ENDPOINT_NOT_FOUND", "No MLflow server behind this fake workspace");
    }
    const headers = new Headers();
    for (const name of ["content-type", "accept"]) {
      const value = req.headers.get(name);
      if (value !== null) headers.set(name, value);
    }
    const target = `${this.#options.mlflowUrl.replace(/\/$/, "")}${url.pathname}${url.search}`;
    const upstream = await fetch(target, {
      method: req.method,
      headers,
      ...(req.method === "GET" || req.method === "HEAD" ? {} : { body: raw }),
    });
    const out = new Headers();
    const type = upstream.headers.get("content-type");
    if (type !== null) out.set("content-type", type);
    return new Response(await upstream.arrayBuffer(), { status: upstream.status, headers: out });
  }

  // ---- DBFS ----

  /** `/a/b`, `dbfs:/a/b` (or with `fuse`, `/dbfs/a/b`) → `/a/b`; `undefined` when not absolute. */
  #normalize(path: unknown, fuse = false): string | undefined {
    if (typeof path !== "string") return undefined;
    let p = path.startsWith("dbfs:") ? path.slice(5) : path;
    if (fuse && p.startsWith("/dbfs/")) p = p.slice(5);
    if (!p.startsWith("/")) return undefined;
    p = p.replace(/\/+/g, "/");
    return p.length > 1 ? p.replace(/\/$/, "") : p;
  }

  #parents(path: string): string[] {
    const parts = path.split("/").filter((s) => s !== "");
    return parts.slice(0, -1).map((_, i) => "/" + parts.slice(0, i + 1).join("/"));
  }

  #store(path: string, bytes: Uint8Array): void {
    for (const dir of this.#parents(path)) this.#dirs.add(dir);
    this.#files.set(path, { bytes, modification_time: Date.now() });
  }

  #info(path: string): Record<string, unknown> | undefined {
    const file = this.#files.get(path);
    if (file !== undefined) {
      return {
        path,
        is_dir: false,
        file_size: file.bytes.length,
        modification_time: file.modification_time,
      };
    }
    if (this.#dirs.has(path)) return { path, is_dir: true, file_size: 0, modification_time: 0 };
    return undefined;
  }

  #notFound(path: string): Response {
    return apiError(404, "RESOURCE_DOES_NOT_EXIST", `No file or directory exists on path ${path}.`);
  }

  #badPath(value: unknown): Response {
    return apiError(
      400,
      "INVALID_PARAMETER_VALUE",
      value === undefined || value === ""
        ? "Missing required field: path"
        : `Path must be absolute: ${value}`,
    );
  }

  #rawUpload(urlPath: string, raw: Uint8Array<ArrayBuffer>): Response {
    const path = this.#normalize(decodeURIComponent(urlPath), true)!;
    if (this.#files.has(path)) {
      return new Response(
        `<html>\n<head>\n<meta http-equiv="Content-Type" content="text/html;charset=utf-8"/>\n<title>Error 409 File already exists</title>\n</head>\n<body><h2>HTTP ERROR 409</h2>\n<p>Problem accessing ${urlPath}. Reason:\n<pre>    File already exists</pre></p>\n</body>\n</html>\n`,
        { status: 409, headers: { "content-type": "text/html;charset=utf-8" } },
      );
    }
    this.#store(path, raw);
    return new Response("", { status: 200 });
  }

  async #dbfs(
    req: Incoming,
    op: string,
    url: URL,
    body: unknown,
    ctype: string,
    raw: Uint8Array<ArrayBuffer>,
  ): Promise<Response> {
    const args = requestArgs(req, url, body);
    const needs = (method: string) =>
      req.method !== method
        ? apiError(
          405,
          "ENDPOINT_NOT_FOUND",
          `Method ${req.method} not allowed for /api/2.0/dbfs/${op}`,
        )
        : undefined;
    switch (op) {
      case "get-status": {
        const bad = needs("GET");
        if (bad) return bad;
        const path = this.#normalize(args.path);
        if (path === undefined) return this.#badPath(args.path);
        const info = this.#info(path);
        return info === undefined ? this.#notFound(path) : json(200, info);
      }
      case "list": {
        const bad = needs("GET");
        if (bad) return bad;
        const path = this.#normalize(args.path);
        if (path === undefined) return this.#badPath(args.path);
        const info = this.#info(path);
        if (info === undefined) return this.#notFound(path);
        if (!info.is_dir) return json(200, { files: [info] });
        const prefix = path === "/" ? "/" : `${path}/`;
        const children = [...this.#dirs, ...this.#files.keys()]
          .filter((p) =>
            p.startsWith(prefix) && p !== path && !p.slice(prefix.length).includes("/")
          )
          .sort()
          .map((p) => this.#info(p));
        return json(200, children.length > 0 ? { files: children } : {});
      }
      case "put": {
        const bad = needs("POST");
        if (bad) return bad;
        let path: string | undefined;
        let contents: Uint8Array | undefined;
        let overwrite = false;
        let given: unknown;
        if (ctype.startsWith("multipart/form-data")) {
          const form = await new Request("http://x/", {
            method: "POST",
            headers: { "content-type": ctype },
            body: raw,
          }).formData();
          given = form.get("path") ?? undefined;
          path = this.#normalize(given);
          const part = form.get("contents") ?? form.get("file");
          contents = part instanceof File
            ? new Uint8Array(await part.arrayBuffer())
            : typeof part === "string"
            ? new TextEncoder().encode(part)
            : new Uint8Array(0);
          overwrite = form.get("overwrite") === "true";
        } else {
          given = args.path;
          path = this.#normalize(args.path);
          overwrite = args.overwrite === true;
          if (args.contents !== undefined) {
            contents = typeof args.contents === "string" ? decodeBase64(args.contents) : undefined;
            if (contents === undefined) {
              return apiError(400, "INVALID_PARAMETER_VALUE", "contents is not valid base64");
            }
            if (contents.length > DBFS_MAX_BLOCK) {
              return apiError(
                400,
                "MAX_BLOCK_SIZE_EXCEEDED",
                `The contents exceed the limit of ${DBFS_MAX_BLOCK} bytes; use the streaming API (create, add-block, close).`,
              );
            }
          } else contents = new Uint8Array(0);
        }
        if (path === undefined) return this.#badPath(given);
        const conflict = this.#conflict(path, overwrite);
        if (conflict) return conflict;
        this.#store(path, contents);
        return json(200, {});
      }
      case "create": {
        const bad = needs("POST");
        if (bad) return bad;
        const path = this.#normalize(args.path);
        if (path === undefined) return this.#badPath(args.path);
        const conflict = this.#conflict(path, args.overwrite === true);
        if (conflict) return conflict;
        const handle = this.#nextHandle++;
        this.#handles.set(handle, { path, chunks: [] });
        return json(200, { handle });
      }
      case "add-block": {
        const bad = needs("POST");
        if (bad) return bad;
        const open = this.#handles.get(Number(args.handle));
        if (open === undefined) {
          return apiError(
            404,
            "RESOURCE_DOES_NOT_EXIST",
            `There is no open stream with handle ${args.handle}.`,
          );
        }
        const data = typeof args.data === "string" ? decodeBase64(args.data) : undefined;
        if (data === undefined) {
          return apiError(400, "INVALID_PARAMETER_VALUE", "data is missing or not valid base64");
        }
        if (data.length > DBFS_MAX_BLOCK) {
          return apiError(
            400,
            "MAX_BLOCK_SIZE_EXCEEDED",
            `The block of data exceeds the limit of ${DBFS_MAX_BLOCK} bytes (got ${data.length}).`,
          );
        }
        open.chunks.push(data);
        return json(200, {});
      }
      case "close": {
        const bad = needs("POST");
        if (bad) return bad;
        const handle = Number(args.handle);
        const open = this.#handles.get(handle);
        if (open === undefined) {
          return apiError(
            404,
            "RESOURCE_DOES_NOT_EXIST",
            `There is no open stream with handle ${args.handle}.`,
          );
        }
        this.#handles.delete(handle);
        const size = open.chunks.reduce((n, c) => n + c.length, 0);
        const bytes = new Uint8Array(size);
        let at = 0;
        for (const c of open.chunks) {
          bytes.set(c, at);
          at += c.length;
        }
        this.#store(open.path, bytes);
        return json(200, {});
      }
      case "read": {
        const bad = needs("GET");
        if (bad) return bad;
        const path = this.#normalize(args.path);
        if (path === undefined) return this.#badPath(args.path);
        const offset = args.offset === undefined ? 0 : Number(args.offset);
        const length = args.length === undefined ? DBFS_MAX_BLOCK / 2 : Number(args.length);
        if (this.#dirs.has(path)) {
          return apiError(400, "INVALID_PARAMETER_VALUE", `Cannot read a directory: ${path}`);
        }
        const file = this.#files.get(path);
        if (file === undefined) return this.#notFound(path);
        if (!(offset >= 0) || !(length >= 0)) {
          return apiError(400, "INVALID_PARAMETER_VALUE", "offset and length must be >= 0");
        }
        if (length > DBFS_MAX_BLOCK) {
          return apiError(
            400,
            "MAX_READ_SIZE_EXCEEDED",
            `Cannot read more than ${DBFS_MAX_BLOCK} bytes at once (asked ${length}).`,
          );
        }
        const slice = file.bytes.subarray(offset, offset + length);
        return json(200, { bytes_read: slice.length, data: encodeBase64(slice) });
      }
      case "mkdirs": {
        const bad = needs("POST");
        if (bad) return bad;
        const path = this.#normalize(args.path);
        if (path === undefined) return this.#badPath(args.path);
        for (const p of [...this.#parents(path), path]) {
          if (this.#files.has(p)) {
            return apiError(400, "RESOURCE_ALREADY_EXISTS", `A file exists at path ${p}.`);
          }
        }
        for (const p of [...this.#parents(path), path]) this.#dirs.add(p);
        return json(200, {});
      }
      case "delete": {
        const bad = needs("POST");
        if (bad) return bad;
        const path = this.#normalize(args.path);
        if (path === undefined) return this.#badPath(args.path);
        if (this.#files.delete(path)) return json(200, {});
        if (!this.#dirs.has(path)) return json(200, {});
        const prefix = `${path}/`;
        const below = [...this.#dirs, ...this.#files.keys()].filter((p) => p.startsWith(prefix));
        if (below.length > 0 && args.recursive !== true) {
          return apiError(
            400,
            "IO_ERROR",
            `Directory ${path} is not empty; set recursive to delete it.`,
          );
        }
        for (const p of below) {
          this.#files.delete(p);
          this.#dirs.delete(p);
        }
        if (path !== "/") this.#dirs.delete(path);
        return json(200, {});
      }
    }
    return apiError(404, "ENDPOINT_NOT_FOUND", `No API found for '${req.method} ${url.pathname}'`);
  }

  #conflict(path: string, overwrite: boolean): Response | undefined {
    if (this.#dirs.has(path)) {
      return apiError(400, "RESOURCE_ALREADY_EXISTS", `A directory already exists at ${path}.`);
    }
    if (this.#files.has(path) && !overwrite) {
      return apiError(
        400,
        "RESOURCE_ALREADY_EXISTS",
        `A file or directory already exists at the input path ${path}.`,
      );
    }
    for (const p of this.#parents(path)) {
      if (this.#files.has(p)) {
        return apiError(400, "RESOURCE_ALREADY_EXISTS", `A file exists at path ${p}.`);
      }
    }
    return undefined;
  }

  // ---- Jobs ----

  async #jobs(
    req: Incoming,
    version: string,
    op: string,
    url: URL,
    body: unknown,
  ): Promise<Response> {
    const args = requestArgs(req, url, body);
    const method = op === "get" || op === "get-output" ? "GET" : "POST";
    if (!["submit", "get", "cancel", "get-output"].includes(op)) {
      return apiError(
        404,
        "ENDPOINT_NOT_FOUND",
        `No API found for '${req.method} ${url.pathname}'`,
      );
    }
    if (req.method !== method) {
      return apiError(405, "ENDPOINT_NOT_FOUND", `Method ${req.method} not allowed`);
    }
    if (op === "submit") return await this.#submit(version, args);
    const run = this.#findRun(args.run_id);
    if (run instanceof Response) return run;
    switch (op) {
      case "get":
        run.polls++;
        await this.#advance(run);
        return json(200, this.#runJson(run, version));
      case "cancel":
        run.cancels++;
        if (!TERMINAL.has(run.steps[0]!.life_cycle_state)) {
          run.steps = [
            { life_cycle_state: "TERMINATING", state_message: "Run cancellation requested." },
            {
              life_cycle_state: "TERMINATED",
              result_state: "CANCELED",
              state_message: "Run cancelled.",
            },
          ];
          run.pollsInStep = 0;
          await this.#entered(run);
        }
        return json(200, {});
      default: {
        const step = run.steps[0]!;
        return json(200, {
          metadata: this.#runJson(run, version),
          ...(run.logs !== undefined ? { logs: run.logs } : {}),
          ...(step.result_state !== undefined && step.result_state !== "SUCCESS"
            ? { error: step.state_message ?? "" }
            : {}),
        });
      }
    }
  }

  #findRun(value: unknown): FakeRun | Response {
    if (value === undefined || value === "") {
      return apiError(400, "INVALID_PARAMETER_VALUE", "Missing required field: run_id");
    }
    const id = Number(value);
    const run = Number.isInteger(id) ? this.run(id) : undefined;
    if (run === undefined) {
      return apiError(400, "INVALID_PARAMETER_VALUE", `Run ${value} does not exist.`);
    }
    return run;
  }

  #validateSubmit(args: Record<string, unknown>): string | undefined {
    const tasks = args.tasks;
    const checkTask = (task: Record<string, unknown>, where: string): string | undefined => {
      const kinds = TASK_KEYS.filter((k) => task[k] !== undefined);
      if (kinds.length !== 1) {
        return `${where}: exactly one task type must be given (${TASK_KEYS.join(", ")}); got ${
          kinds.length === 0 ? "none" : kinds.join(", ")
        }`;
      }
      const cluster = ["new_cluster", "existing_cluster_id", "job_cluster_key", "environment_key"]
        .filter((k) => task[k] !== undefined);
      if (cluster.length > 1) return `${where}: only one of ${cluster.join(", ")} may be given`;
      if (task.new_cluster !== undefined) {
        const c = task.new_cluster;
        if (typeof c !== "object" || c === null || Array.isArray(c)) {
          return `${where}: new_cluster must be an object`;
        }
      }
      if (task.existing_cluster_id !== undefined && typeof task.existing_cluster_id !== "string") {
        return `${where}: existing_cluster_id must be a string`;
      }
      const shell = task.shell_command_task as Record<string, unknown> | undefined;
      if (shell !== undefined) {
        if (
          !Array.isArray(shell.command) || shell.command.some((c) => typeof c !== "string")
        ) return `${where}: shell_command_task.command must be a list of strings`;
        const env = shell.env_vars;
        if (
          env !== undefined &&
          (typeof env !== "object" || env === null ||
            Object.values(env).some((v) => typeof v !== "string"))
        ) return `${where}: shell_command_task.env_vars values must be strings`;
      }
      if (task.libraries !== undefined && !Array.isArray(task.libraries)) {
        return `${where}: libraries must be a list`;
      }
      return undefined;
    };
    if (tasks !== undefined) {
      if (!Array.isArray(tasks) || tasks.length === 0) return "tasks must be a non-empty list";
      for (const [i, t] of tasks.entries()) {
        if (typeof t !== "object" || t === null) return `tasks[${i}] must be an object`;
        const problem = checkTask(t as Record<string, unknown>, `tasks[${i}]`);
        if (problem) return problem;
      }
      return undefined;
    }
    return checkTask(args, "run");
  }

  async #submit(version: string, args: Record<string, unknown>): Promise<Response> {
    const problem = this.#validateSubmit(args);
    if (problem !== undefined) return apiError(400, "INVALID_PARAMETER_VALUE", problem);
    const token = args.idempotency_token;
    if (typeof token === "string" && this.#idempotency.has(token)) {
      return json(200, { run_id: this.#idempotency.get(token) });
    }
    const run_id = this.#nextRunId++;
    const job_id = this.#nextJobId++;
    const steps = (this.#options.runScript?.(args, run_id) ?? SUCCESS_SCRIPT).map((s) => ({
      ...s,
    }));
    if (steps.length === 0) throw new Error("a run script needs at least one step");
    const run: FakeRun = {
      run_id,
      job_id: this.#options.omitJobId ? undefined : job_id,
      number_in_job: run_id,
      payload: args,
      apiVersion: version,
      run_page_url: `${this.url}/?o=${this.#workspaceId()}#job/${job_id}/run/${run_id}`,
      steps,
      pollsInStep: 0,
      history: [],
      polls: 0,
      cancels: 0,
      start_time: Date.now(),
      end_time: 0,
    };
    this.runs.push(run);
    if (typeof token === "string") this.#idempotency.set(token, run_id);
    await this.#entered(run);
    return json(200, { run_id });
  }

  async #entered(run: FakeRun): Promise<void> {
    const step = run.steps[0]!;
    run.history.push(
      step.result_state ? `${step.life_cycle_state}/${step.result_state}` : step.life_cycle_state,
    );
    if (TERMINAL.has(step.life_cycle_state)) run.end_time = Date.now();
    await this.#options.onRunStep?.(run, step);
  }

  /** One `runs/get`: the current step is shown `polls` times, then the next one starts. */
  async #advance(run: FakeRun): Promise<void> {
    const step = run.steps[0]!;
    if (run.pollsInStep >= (step.polls ?? 1) && run.steps.length > 1) {
      run.steps.shift();
      run.pollsInStep = 0;
      await this.#entered(run);
    }
    run.pollsInStep++;
  }

  #runJson(run: FakeRun, version: string): Record<string, unknown> {
    const step = run.steps[0]!;
    const state: Record<string, unknown> = {
      life_cycle_state: step.life_cycle_state,
      state_message: step.state_message ?? "",
      user_cancelled_or_timedout: step.result_state === "CANCELED" ||
        step.result_state === "TIMEDOUT",
    };
    if (step.result_state !== undefined) state.result_state = step.result_state;
    const p = run.payload;
    const out: Record<string, unknown> = {
      ...(run.job_id !== undefined ? { job_id: run.job_id } : {}),
      run_id: run.run_id,
      number_in_job: run.number_in_job,
      original_attempt_run_id: run.run_id,
      creator_user_name: "fake-user@example.com",
      run_name: typeof p.run_name === "string" ? p.run_name : "Untitled",
      run_page_url: run.run_page_url,
      run_type: "SUBMIT_RUN",
      state,
      start_time: run.start_time,
      setup_duration: 0,
      execution_duration: 0,
      cleanup_duration: 0,
      ...(run.end_time ? { end_time: run.end_time } : {}),
    };
    if (version === "2.0" && p.tasks === undefined) {
      const task = Object.fromEntries(
        TASK_KEYS.filter((k) => p[k] !== undefined).map((k) => [
          k,
          p[k],
        ]),
      );
      out.task = task;
      out.cluster_spec = Object.fromEntries(
        ["new_cluster", "existing_cluster_id", "libraries"].filter((k) => p[k] !== undefined)
          .map((k) => [k, p[k]]),
      );
    } else {
      const tasks = Array.isArray(p.tasks) ? p.tasks as Record<string, unknown>[] : [p];
      out.tasks = tasks.map((t, i) => ({
        ...t,
        task_key: t.task_key ?? `task_${i}`,
        run_id: run.run_id * 10 + i,
        state,
      }));
    }
    return out;
  }
}

/**
 * Starts a fake workspace on a free port of 127.0.0.1.
 *
 * @param options Credentials, the MLflow server to proxy to, run scripts.
 * @returns The running fake; dispose it (or `close()`) to stop it.
 * @example
 * ```ts ignore
 * await using fake = await startFakeDatabricks({ mlflowUrl: server.url, runScript: () => failedScript("boom") });
 * ```
 */
export function startFakeDatabricks(options: FakeDatabricksOptions = {}): Promise<FakeDatabricks> {
  return new FakeDatabricks(options).start();
}
