/**
 * A Databricks workspace's REST API (`/api/2.0/…`) with the credentials of the tracking URI:
 * `databricks://<profile>` uses that profile, `databricks` and http(s) tracking URIs use the
 * default Databricks configuration (`DATABRICKS_HOST` with a token, user/password or OAuth M2M
 * client, else the `DEFAULT` profile), as MLflow's `DatabricksJobRunner` does. Transport, retries
 * (429 with `Retry-After`, 5xx), timeouts, TLS and error messages are the tracking store's.
 *
 * @module
 */
import { ExecutionException } from "../system/errors.ts";
import { HttpSettingError } from "../http/http_client.ts";
import type { Reporter } from "../system/output.ts";
import { databricksHostCredentials } from "../tracking/databricks_config.ts";
import { RestStore } from "../tracking/rest_store.ts";

type Json = Record<string, unknown>;

/** Options of {@linkcode openWorkspace}. */
export interface WorkspaceOptions {
  /** Environment (`DATABRICKS_*`, `MLFLOW_HTTP_REQUEST_*`); default the process env. */
  env?: Record<string, string>;
  /** Retry warnings. */
  reporter?: Reporter;
}

/** A workspace's REST API. */
export class WorkspaceClient {
  /** The workspace URL (`https://adb-1.azuredatabricks.net`), as in `mlflow.databricks.webappURL`. */
  readonly host: string;
  readonly #rest: RestStore;

  /**
   * Wraps a REST transport; prefer {@linkcode openWorkspace}.
   *
   * @example
   * ```ts ignore
   * const ws = new WorkspaceClient(new RestStore("databricks", creds));
   * ```
   */
  constructor(rest: RestStore) {
    this.#rest = rest;
    this.host = rest.host;
  }

  /** HTTP requests sent so far (each retry counts). */
  get requestCount(): number {
    return this.#rest.requestCount;
  }

  /**
   * `GET` with query parameters; the parsed JSON answer of a 200.
   *
   * @param path `/api/2.0/…`.
   * @param query Query parameters.
   * @param options Abort signal.
   * @returns The answer.
   * @throws {ExecutionException} `<ERROR_CODE>: <message>` for an error answer.
   */
  get(path: string, query: Json = {}, options: { signal?: AbortSignal } = {}): Promise<Json> {
    return this.#rest.call("GET", path, query, options);
  }

  /**
   * `POST` with a JSON body; the parsed JSON answer of a 200.
   *
   * @param path `/api/2.0/…`.
   * @param body The body.
   * @param options Abort signal.
   * @returns The answer.
   * @throws {ExecutionException} `<ERROR_CODE>: <message>` for an error answer.
   */
  post(
    path: string,
    body: Json,
    options: { signal?: AbortSignal } = {},
  ): Promise<Json> {
    return this.#rest.call("POST", path, body, options);
  }

  /**
   * A request whose answer the caller reads (any status).
   *
   * @param method `GET` or `POST`.
   * @param path `/api/2.0/…`.
   * @param payload Query or body.
   * @param options Abort signal.
   * @returns The response.
   */
  raw(
    method: "GET" | "POST",
    path: string,
    payload: Json,
    options: { signal?: AbortSignal } = {},
  ): Promise<Response> {
    return this.#rest.request(method, path, payload, options);
  }

  /** Releases connections. */
  close(): void {
    this.#rest.close();
  }
}

/**
 * Opens the workspace a run on Databricks uses, from the tracking URI.
 *
 * @param trackingUri `databricks`, `databricks://<profile>` or an http(s) URI.
 * @param options Environment, reporter.
 * @returns The client (close it when done).
 * @throws {ExecutionException} When no Databricks credentials are configured.
 *
 * @example
 * ```ts ignore
 * import { openWorkspace } from "./workspace_client.ts";
 * const ws = openWorkspace("databricks://staging");
 * await ws.get("/api/2.0/jobs/runs/get", { run_id: 1 });
 * ws.close();
 * ```
 */
export function openWorkspace(
  trackingUri: string,
  options: WorkspaceOptions = {},
): WorkspaceClient {
  const env = options.env ?? Deno.env.toObject();
  const uri = /^databricks(:|$)/i.test(trackingUri) ? trackingUri : "databricks";
  const creds = databricksHostCredentials(uri, env);
  try {
    return new WorkspaceClient(
      new RestStore(uri, creds, {
        env: { ...env, MLPROJECT_EXPERIMENT_CACHE: "0" },
        ...(options.reporter !== undefined ? { reporter: options.reporter } : {}),
      }),
    );
  } catch (e) {
    if (e instanceof HttpSettingError) throw new ExecutionException(e.message);
    throw e;
  }
}
