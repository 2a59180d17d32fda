// deno-lint-ignore-file camelcase -- MLflow's wire format is snake_case
/**
 * A fake MLflow tracking server (REST API 2.0 as MLflow 2.17 answers it, checked against the
 * recorded transcript by tests/tracking/fake_mlflow_server_test.ts), on 127.0.0.1, with:
 * - optional TLS (server certificate; put {@linkcode startMtlsProxy} in front for client certs),
 * - optional auth (an expected `Authorization` value; 401 without it, 403 with a wrong one),
 * - the artifact proxy (`/api/2.0/mlflow-artifacts/artifacts`),
 * - fault injection: status bursts (5xx/429 with `Retry-After`), connection resets (a raw TCP
 *   front closes accepted connections), slow responses, and a fixed latency per request,
 * - a log of every request (method, path, headers, body).
 */
import { takeFault } from "../_helpers/faults.ts";

/** One request the fake received. */
export interface RecordedRequest {
  method: string;
  /** Path with the query string. */
  path: string;
  headers: Record<string, string>;
  body: unknown;
}

/** A scripted fault: applies to the next `times` requests that match. */
export interface Fault {
  /** Substring of the path (with query) a request must contain (default: any). */
  path?: string;
  /** Method a request must have (default: any). */
  method?: string;
  /** Answer with this status and an MLflow error body. */
  status?: number;
  /** `Retry-After` header (seconds) for a status fault. */
  retryAfter?: number;
  /** Delay before answering (ms). */
  delayMs?: number;
  /** How many matching requests it applies to (default 1). */
  times?: number;
}

/** Options of {@linkcode startFakeMlflowServer}. */
export interface FakeMlflowOptions {
  /** TLS certificate and key (PEM) to serve https. */
  tls?: { cert: string; key: string };
  /** Expected `Authorization` header; requests without it get 401, with another value 403. */
  authorization?: string;
  /** Added latency per request (ms). */
  latencyMs?: number;
  /** Do not seed experiment 0 (as a Databricks workspace). */
  noDefaultExperiment?: boolean;
  /** Fixed port (to restart a server on the same address). */
  port?: number;
}

interface RunRecord {
  info: Record<string, unknown>;
  params: Map<string, string>;
  tags: Map<string, string>;
  metrics: { key: string; value: number; timestamp: number; step: number }[];
}

interface ExperimentRecord {
  experiment_id: string;
  name: string;
  artifact_location: string;
  lifecycle_stage: string;
  last_update_time: number;
  creation_time: number;
}

const ADJECTIVES = ["masked", "bold", "calm", "eager", "gentle", "brave", "clean"];
const NOUNS = ["mouse", "owl", "fox", "crab", "hare", "moth", "wolf"];

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body, null, status === 200 ? 2 : undefined), {
    status,
    headers: { "content-type": "application/json", ...headers },
  });
}

function error(status: number, code: string, message: string): Response {
  return json(status, { error_code: code, message });
}

const missing = (name: string) =>
  error(
    400,
    "INVALID_PARAMETER_VALUE",
    `Missing value for required parameter '${name}'. See the API docs for more information about request parameters.`,
  );

const POST_ROUTES = new Set([
  "experiments/create",
  "runs/create",
  "runs/update",
  "runs/set-tag",
  "runs/log-parameter",
  "runs/log-metric",
  "runs/log-batch",
  "runs/search",
]);
const GET_ROUTES = new Set(["experiments/get-by-name", "experiments/get", "runs/get"]);

/** A running fake server. */
export class FakeMlflowServer implements AsyncDisposable {
  /** Base URL (`http://127.0.0.1:PORT` or `https://…`). */
  url = "";
  /** Port of the public (front) listener. */
  port = 0;
  /** Requests received, in order (resets are not requests). */
  readonly requests: RecordedRequest[] = [];
  /** Connections closed by the reset fault. */
  resets = 0;
  readonly faults: Fault[] = [];
  readonly experiments = new Map<string, ExperimentRecord>();
  readonly runs = new Map<string, RunRecord>();
  /** Artifacts by path under the artifact root (`<exp>/<run>/artifacts/x.txt`). */
  readonly artifacts = new Map<string, Uint8Array>();
  #options: FakeMlflowOptions;
  #server: Deno.HttpServer | undefined;
  #front: Deno.Listener | undefined;
  #resetNext = 0;
  #conns = new Set<Deno.Conn>();
  #innerPort = 0;

  constructor(options: FakeMlflowOptions = {}) {
    this.#options = options;
    if (!options.noDefaultExperiment) {
      const now = Date.now();
      this.experiments.set("0", {
        experiment_id: "0",
        name: "Default",
        artifact_location: "mlflow-artifacts:/0",
        lifecycle_stage: "active",
        last_update_time: now,
        creation_time: now,
      });
    }
  }

  /** Closes the next `n` connections right after accepting them. */
  resetConnections(n: number): void {
    this.#resetNext += n;
  }

  /** Adds a fault. */
  addFault(fault: Fault): void {
    this.faults.push({ times: 1, ...fault });
  }

  /** Requests whose path starts with `/api/2.0/mlflow/<endpoint>`. */
  calls(endpoint?: string): RecordedRequest[] {
    return this.requests.filter((r) =>
      endpoint === undefined || r.path.split("?")[0] === `/api/2.0/mlflow/${endpoint}`
    );
  }

  /** Adds an experiment directly; returns its id. */
  seedExperiment(name: string, lifecycleStage = "active"): string {
    const id = String(100_000_000_000_000_000n + BigInt(Math.floor(Math.random() * 1e15)));
    const now = Date.now();
    this.experiments.set(id, {
      experiment_id: id,
      name,
      artifact_location: `mlflow-artifacts:/${id}`,
      lifecycle_stage: lifecycleStage,
      last_update_time: now,
      creation_time: now,
    });
    return id;
  }

  /** Starts listening. */
  async start(): Promise<this> {
    this.#server = Deno.serve({
      hostname: "127.0.0.1",
      port: 0,
      onListen: () => {},
      ...(this.#options.tls ?? {}),
    }, (req) => this.#handle(req));
    this.#innerPort = (this.#server.addr as Deno.NetAddr).port;
    this.#front = Deno.listen({ hostname: "127.0.0.1", port: this.#options.port ?? 0 });
    this.port = (this.#front.addr as Deno.NetAddr).port;
    this.url = `${this.#options.tls ? "https" : "http"}://127.0.0.1:${this.port}`;
    this.#acceptLoop();
    return await Promise.resolve(this);
  }

  async #acceptLoop(): Promise<void> {
    const front = this.#front!;
    while (true) {
      let conn: Deno.Conn;
      try {
        conn = await front.accept();
      } catch {
        return;
      }
      if (this.#resetNext > 0) {
        this.#resetNext--;
        this.resets++;
        conn.close();
        continue;
      }
      this.#pipe(conn);
    }
  }

  async #pipe(conn: Deno.Conn): Promise<void> {
    this.#conns.add(conn);
    let inner: Deno.Conn | undefined;
    try {
      inner = await Deno.connect({ hostname: "127.0.0.1", port: this.#innerPort });
      this.#conns.add(inner);
      await Promise.all([
        conn.readable.pipeTo(inner.writable).catch(() => {}),
        inner.readable.pipeTo(conn.writable).catch(() => {}),
      ]);
    } catch {
      /* peer gone */
    } finally {
      for (const c of [conn, inner]) {
        if (c === undefined) continue;
        this.#conns.delete(c);
        try {
          c.close();
        } catch { /* closed */ }
      }
    }
  }

  /** Stops the server and closes every connection. */
  async close(): Promise<void> {
    try {
      this.#front?.close();
    } catch { /* closed */ }
    for (const c of this.#conns) {
      try {
        c.close();
      } catch { /* closed */ }
    }
    this.#conns.clear();
    await this.#server?.shutdown();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #fault(method: string, path: string): Fault | undefined {
    return takeFault(this.faults, method, path);
  }

  async #handle(req: Request): Promise<Response> {
    const url = new URL(req.url);
    const path = url.pathname + url.search;
    const headers: Record<string, string> = {};
    req.headers.forEach((v, k) => (headers[k] = v));
    const text = req.method === "GET" ? "" : await req.text();
    let body: unknown = null;
    try {
      body = text === "" ? null : JSON.parse(text);
    } catch { /* malformed: MLflow reads it as {} */ }
    this.requests.push({ method: req.method, path, headers, body });
    if (this.#options.latencyMs) await new Promise((r) => setTimeout(r, this.#options.latencyMs));
    const fault = this.#fault(req.method, path);
    if (fault?.delayMs) await new Promise((r) => setTimeout(r, fault.delayMs));
    if (fault?.status !== undefined) {
      const code = fault.status === 429
        ? "REQUEST_LIMIT_EXCEEDED"
        : fault.status === 503
        ? "TEMPORARILY_UNAVAILABLE"
        : "INTERNAL_ERROR";
      return json(fault.status, { error_code: code, message: `Injected fault ${fault.status}` }, {
        ...(fault.retryAfter !== undefined ? { "retry-after": String(fault.retryAfter) } : {}),
      });
    }
    if (this.#options.authorization !== undefined) {
      const given = req.headers.get("authorization");
      if (given === null) {
        return error(
          401,
          "UNAUTHENTICATED",
          "Credential was not sent or was of an unsupported type for this API.",
        );
      }
      if (given !== this.#options.authorization) {
        return error(403, "PERMISSION_DENIED", "Invalid access token.");
      }
    }
    if (url.pathname === "/version") return new Response("2.17.3.dev0");
    if (url.pathname.startsWith("/api/2.0/mlflow-artifacts/artifacts")) {
      return this.#artifacts(req, url);
    }
    const m = /^\/api\/2\.0\/mlflow\/(.+)$/.exec(url.pathname);
    const route = m?.[1] ?? "";
    if (!POST_ROUTES.has(route) && !GET_ROUTES.has(route)) {
      return error(404, "ENDPOINT_NOT_FOUND", `No API endpoint found for ${url.pathname}`);
    }
    if ((req.method === "POST") !== POST_ROUTES.has(route)) {
      return new Response(
        "<!doctype html>\n<html lang=en>\n<title>405 Method Not Allowed</title>\n<h1>Method Not Allowed</h1>\n<p>The method is not allowed for the requested URL.</p>\n",
        { status: 405, headers: { "content-type": "text/html; charset=utf-8" } },
      );
    }
    let args: Record<string, unknown>;
    if (req.method === "POST") {
      const ctype = req.headers.get("content-type");
      if (ctype === null) {
        return error(
          400,
          "INVALID_PARAMETER_VALUE",
          "Bad Request. Content-Type header is missing.",
        );
      }
      if (!ctype.startsWith("application/json")) {
        return error(
          400,
          "INVALID_PARAMETER_VALUE",
          "Bad Request. Content-Type must be one of ['application/json'].",
        );
      }
      args = typeof body === "object" && body !== null && !Array.isArray(body)
        ? body as Record<string, unknown>
        : {};
    } else {
      args = Object.fromEntries(url.searchParams);
    }
    return this.#api(route, args);
  }

  #runName(): string {
    const pick = <T>(a: T[]) => a[Math.floor(Math.random() * a.length)]!;
    return `${pick(ADJECTIVES)}-${pick(NOUNS)}-${Math.floor(Math.random() * 1000)}`;
  }

  #runJson(run: RunRecord): Record<string, unknown> {
    const data: Record<string, unknown> = {};
    if (run.metrics.length) data.metrics = run.metrics;
    if (run.params.size) {
      data.params = [...run.params].map(([key, value]) => ({ key, value }));
    }
    if (run.tags.size) data.tags = [...run.tags].map(([key, value]) => ({ key, value }));
    return { info: run.info, data, inputs: {} };
  }

  #activeRun(args: Record<string, unknown>): RunRecord | Response {
    const id = String(args.run_id ?? args.run_uuid ?? "");
    if (id === "") return missing("run_id");
    const run = this.runs.get(id);
    if (run === undefined) {
      return error(404, "RESOURCE_DOES_NOT_EXIST", `Run '${id}' not found`);
    }
    if (run.info.lifecycle_stage !== "active") {
      return error(
        400,
        "INVALID_PARAMETER_VALUE",
        `The run ${id} must be in the 'active' state. Current state is ${run.info.lifecycle_stage}.`,
      );
    }
    return run;
  }

  #logParams(run: RunRecord, params: unknown): Response | undefined {
    for (const p of Array.isArray(params) ? params : []) {
      const key = String(p.key);
      const value = String(p.value);
      const old = run.params.get(key);
      if (old !== undefined && old !== value) {
        return error(
          400,
          "INVALID_PARAMETER_VALUE",
          `Changing param values is not allowed. Param with key='${key}' was already logged with value='${old}' for run ID='${run.info.run_id}'. Attempted logging new value '${value}'.`,
        );
      }
      run.params.set(key, value);
    }
    return undefined;
  }

  #setTag(run: RunRecord, key: string, value: string): void {
    run.tags.set(key, value);
    if (key === "mlflow.runName") run.info.run_name = value;
  }

  #api(route: string, args: Record<string, unknown>): Response {
    switch (route) {
      case "experiments/get-by-name": {
        const name = args.experiment_name;
        if (typeof name !== "string" || name === "") return missing("experiment_name");
        const exp = [...this.experiments.values()].find((e) => e.name === name);
        if (exp === undefined) {
          return error(
            404,
            "RESOURCE_DOES_NOT_EXIST",
            `Could not find experiment with name '${name}'`,
          );
        }
        return json(200, { experiment: exp });
      }
      case "experiments/get": {
        const id = String(args.experiment_id ?? "");
        if (id === "") return missing("experiment_id");
        const exp = this.experiments.get(id);
        if (exp === undefined) {
          return error(404, "RESOURCE_DOES_NOT_EXIST", `Could not find experiment with ID ${id}`);
        }
        return json(200, { experiment: exp });
      }
      case "experiments/create": {
        const name = args.name;
        if (typeof name !== "string" || name === "") return missing("name");
        const clash = [...this.experiments.values()].find((e) => e.name === name);
        if (clash !== undefined) {
          return error(
            400,
            "RESOURCE_ALREADY_EXISTS",
            `Experiment '${name}' already exists${
              clash.lifecycle_stage === "deleted" ? " in deleted state" : ""
            }.`,
          );
        }
        return json(200, { experiment_id: this.seedExperiment(name) });
      }
      case "runs/create": {
        if (args.start_time !== undefined && typeof args.start_time !== "number") {
          return error(
            400,
            "INVALID_PARAMETER_VALUE",
            `Invalid value "${args.start_time}" for parameter 'start_time' supplied:  Hint: Value was of type '${
              typeof args.start_time === "string" ? "str" : typeof args.start_time
            }'. See the API docs for more information about request parameters.`,
          );
        }
        const expId = String(args.experiment_id ?? "");
        if (!/^\d+$/.test(expId)) {
          return error(400, "INVALID_PARAMETER_VALUE", `Invalid experiment ID: '${expId}'`);
        }
        const exp = this.experiments.get(expId);
        if (exp === undefined) {
          return error(
            404,
            "RESOURCE_DOES_NOT_EXIST",
            `Could not find experiment with ID ${expId}`,
          );
        }
        if (exp.lifecycle_stage !== "active") {
          return error(
            400,
            "INVALID_PARAMETER_VALUE",
            `The experiment ${expId} must be in the 'active' state to create runs. Current state is ${exp.lifecycle_stage}.`,
          );
        }
        const runId = crypto.randomUUID().replaceAll("-", "");
        const tags = Array.isArray(args.tags) ? args.tags : [];
        const tagName = tags.find((t) => t?.key === "mlflow.runName")?.value;
        const runName = String(args.run_name || tagName || this.#runName());
        const run: RunRecord = {
          info: {
            run_uuid: runId,
            experiment_id: expId,
            run_name: runName,
            user_id: String(args.user_id ?? ""),
            status: "RUNNING",
            start_time: Number(args.start_time ?? Date.now()),
            artifact_uri: `${exp.artifact_location}/${runId}/artifacts`,
            lifecycle_stage: "active",
            run_id: runId,
          },
          params: new Map(),
          tags: new Map(),
          metrics: [],
        };
        for (const t of tags) run.tags.set(String(t.key), String(t.value));
        run.tags.set("mlflow.runName", runName);
        this.runs.set(runId, run);
        return json(200, { run: this.#runJson(run) });
      }
      case "runs/get": {
        const id = String(args.run_id ?? args.run_uuid ?? "");
        if (id === "") return missing("run_id");
        const run = this.runs.get(id);
        if (run === undefined) {
          return error(404, "RESOURCE_DOES_NOT_EXIST", `Run '${id}' not found`);
        }
        return json(200, { run: this.#runJson(run) });
      }
      case "runs/update": {
        const run = this.#activeRun(args);
        if (run instanceof Response) return run;
        if (typeof args.status === "string") run.info.status = args.status;
        if (typeof args.end_time === "number") run.info.end_time = args.end_time;
        if (typeof args.run_name === "string" && args.run_name !== "") {
          this.#setTag(run, "mlflow.runName", args.run_name);
        }
        return json(200, { run_info: run.info });
      }
      case "runs/set-tag": {
        const run = this.#activeRun(args);
        if (run instanceof Response) return run;
        if (typeof args.key !== "string") return missing("key");
        this.#setTag(run, args.key, String(args.value ?? ""));
        return json(200, {});
      }
      case "runs/log-parameter": {
        const run = this.#activeRun(args);
        if (run instanceof Response) return run;
        if (typeof args.key !== "string") return missing("key");
        return this.#logParams(run, [{ key: args.key, value: args.value }]) ?? json(200, {});
      }
      case "runs/log-metric": {
        const run = this.#activeRun(args);
        if (run instanceof Response) return run;
        run.metrics.push({
          key: String(args.key),
          value: Number(args.value),
          timestamp: Number(args.timestamp ?? Date.now()),
          step: Number(args.step ?? 0),
        });
        return json(200, {});
      }
      case "runs/log-batch": {
        const run = this.#activeRun(args);
        if (run instanceof Response) return run;
        const params = Array.isArray(args.params) ? args.params : [];
        if (params.length > 100) {
          return error(
            400,
            "INVALID_PARAMETER_VALUE",
            `A batch logging request can contain at most 100 params. Got ${params.length} params.`,
          );
        }
        const bad = this.#logParams(run, params);
        if (bad !== undefined) return bad;
        for (const t of Array.isArray(args.tags) ? args.tags : []) {
          this.#setTag(run, String(t.key), String(t.value));
        }
        return json(200, {});
      }
      case "runs/search": {
        const ids = Array.isArray(args.experiment_ids) ? args.experiment_ids.map(String) : [];
        const runs = [...this.runs.values()].filter((r) =>
          ids.includes(String(r.info.experiment_id))
        );
        return json(200, runs.length ? { runs: runs.map((r) => this.#runJson(r)) } : {});
      }
    }
    return error(404, "ENDPOINT_NOT_FOUND", `No API endpoint found for ${route}`);
  }

  #artifacts(req: Request, url: URL): Response {
    const prefix = "/api/2.0/mlflow-artifacts/artifacts";
    const rest = decodeURIComponent(url.pathname.slice(prefix.length).replace(/^\//, ""));
    if (req.method !== "GET") {
      return error(404, "ENDPOINT_NOT_FOUND", `No API endpoint found for ${url.pathname}`);
    }
    if (rest === "") {
      // List: direct children of `path` (files and directories); a file lists as {}.
      const dir = (url.searchParams.get("path") ?? "").replace(/\/+$/, "");
      const children = new Map<string, { path: string; is_dir: boolean; file_size?: number }>();
      for (const [p, bytes] of this.artifacts) {
        if (dir !== "" && !p.startsWith(`${dir}/`)) continue;
        const tail = dir === "" ? p : p.slice(dir.length + 1);
        const first = tail.split("/")[0]!;
        const childPath = dir === "" ? first : `${dir}/${first}`;
        if (tail.includes("/")) children.set(childPath, { path: childPath, is_dir: true });
        else children.set(childPath, { path: childPath, is_dir: false, file_size: bytes.length });
      }
      return json(200, children.size ? { files: [...children.values()] } : {});
    }
    const bytes = this.artifacts.get(rest);
    if (bytes === undefined) {
      return error(404, "RESOURCE_DOES_NOT_EXIST", `File not found: ${rest}`);
    }
    return new Response(bytes as Uint8Array<ArrayBuffer>, {
      headers: { "content-type": "application/octet-stream" },
    });
  }
}

/**
 * Starts a fake MLflow server on 127.0.0.1 (close it with `await using`).
 *
 * @example
 * ```ts ignore
 * await using server = await startFakeMlflowServer({ latencyMs: 20 });
 * ```
 */
export function startFakeMlflowServer(options: FakeMlflowOptions = {}): Promise<FakeMlflowServer> {
  return new FakeMlflowServer(options).start();
}
