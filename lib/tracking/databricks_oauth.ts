/**
 * Databricks OAuth machine-to-machine (M2M) tokens: a service principal's `client_id` and
 * `client_secret` are exchanged at the workspace's `POST {host}/oidc/v1/token`
 * (`grant_type=client_credentials`, `scope=all-apis`, HTTP Basic client authentication) for a
 * short-lived access token, sent as `Authorization: Bearer …`. Tokens are cached in the process
 * per workspace and client until shortly before they expire, so the tracking store and the
 * Databricks backend of one run share a single token request.
 *
 * @module
 */
import { ExecutionException } from "../system/errors.ts";
import {
  basicAuthorization,
  httpRequest,
  type HttpRetryOptions,
  httpRetryOptionsFromEnv,
} from "../http/http_client.ts";
import { scrubSecrets } from "./host_credentials.ts";

/** A service principal of a workspace. */
export interface OAuthClientCredentials {
  /** Workspace URL without a trailing slash (`https://adb-1.azuredatabricks.net`). */
  readonly host: string;
  /** The service principal's application (client) id. */
  readonly clientId: string;
  /** Its OAuth secret. */
  readonly clientSecret: string;
}

/** An access token and when it stops being used (epoch ms). */
export interface OAuthToken {
  /** The bearer token. */
  readonly accessToken: string;
  /** When it is refreshed (a little before it really expires), epoch ms. */
  readonly refreshAt: number;
}

/** Options of {@linkcode databricksOAuthToken}. */
export interface OAuthTokenOptions {
  /** Retries and timeouts (default: MLflow's variables in `env`). */
  retry?: HttpRetryOptions;
  /** Environment with `MLFLOW_HTTP_REQUEST_*` settings (default the process env). */
  env?: Record<string, string | undefined>;
  /** TLS settings. */
  client?: Deno.HttpClient;
  /** Aborting stops the request. */
  signal?: AbortSignal;
  /** Ignore a cached token (the server refused it). */
  refresh?: boolean;
}

const cache = new Map<string, OAuthToken | Promise<OAuthToken>>();

/**
 * The token endpoint of a workspace.
 *
 * @param host Workspace URL.
 * @returns `{host}/oidc/v1/token`.
 *
 * @example
 * ```ts
 * import { tokenEndpoint } from "./databricks_oauth.ts";
 * console.assert(tokenEndpoint("https://w.cloud.databricks.com/") ===
 *   "https://w.cloud.databricks.com/oidc/v1/token");
 * ```
 */
export function tokenEndpoint(host: string): string {
  return `${host.replace(/\/+$/, "")}/oidc/v1/token`;
}

async function requestToken(
  creds: OAuthClientCredentials,
  options: OAuthTokenOptions,
): Promise<OAuthToken> {
  const url = tokenEndpoint(creds.host);
  const secrets = [creds.clientSecret];
  const retry = options.retry ?? httpRetryOptionsFromEnv(options.env ?? Deno.env.toObject());
  const started = Date.now();
  let response: Response;
  try {
    response = await httpRequest(url, {
      ...retry,
      method: "POST",
      headers: {
        Authorization: basicAuthorization(creds.clientId, creds.clientSecret),
        "Content-Type": "application/x-www-form-urlencoded",
        Accept: "application/json",
      },
      body: "grant_type=client_credentials&scope=all-apis",
      ...(options.client !== undefined ? { client: options.client } : {}),
      ...(options.signal !== undefined ? { signal: options.signal } : {}),
    });
  } catch (e) {
    if (options.signal?.aborted) throw e;
    throw new ExecutionException(
      scrubSecrets(
        `Databricks OAuth token request to ${url} failed: ${e instanceof Error ? e.message : e}`,
        secrets,
      ),
    );
  }
  const text = await response.text();
  let body: Record<string, unknown> = {};
  try {
    const parsed = JSON.parse(text);
    if (typeof parsed === "object" && parsed !== null) body = parsed;
  } catch { /* below */ }
  const token = body.access_token;
  if (response.status !== 200 || typeof token !== "string" || token === "") {
    const reason = typeof body.error === "string"
      ? `${body.error}${
        typeof body.error_description === "string" ? `: ${body.error_description}` : ""
      }`
      : `'${text.slice(0, 200)}'`;
    throw new ExecutionException(
      scrubSecrets(
        `Databricks OAuth token request to ${url} failed with HTTP ${response.status}: ${reason} (check DATABRICKS_CLIENT_ID and DATABRICKS_CLIENT_SECRET, or 'client_id' and 'client_secret' of your Databricks profile)`,
        secrets,
      ),
    );
  }
  const seconds = Number(body.expires_in ?? 3600);
  const lifetimeMs = Number.isFinite(seconds) ? Math.max(0, seconds * 1000) : 3600_000;
  // Refreshed a minute early (half the lifetime for very short-lived tokens).
  return { accessToken: token, refreshAt: started + lifetimeMs - Math.min(60_000, lifetimeMs / 2) };
}

/**
 * Returns a valid access token for a service principal, from the cache or from the workspace's
 * `/oidc/v1/token` (one request at a time per workspace and client).
 *
 * @param creds Workspace and client credentials.
 * @param options Retries, TLS client, abort signal, `refresh` to skip the cache.
 * @returns The token.
 * @throws {ExecutionException} When the workspace refuses the credentials (the secret is never
 * shown).
 *
 * @example
 * ```ts ignore
 * import { databricksOAuthToken } from "./databricks_oauth.ts";
 * const t = await databricksOAuthToken({ host, clientId: "sp-id", clientSecret: "sp-secret" });
 * fetch(`${host}/api/2.0/jobs/runs/get?run_id=1`, {
 *   headers: { Authorization: `Bearer ${t.accessToken}` },
 * });
 * ```
 */
export async function databricksOAuthToken(
  creds: OAuthClientCredentials,
  options: OAuthTokenOptions = {},
): Promise<OAuthToken> {
  const key = `${creds.host}\0${creds.clientId}\0${creds.clientSecret}`;
  const cached = cache.get(key);
  if (cached !== undefined && !options.refresh) {
    if (cached instanceof Promise) return await cached;
    if (Date.now() < cached.refreshAt) return cached;
  }
  const pending = requestToken(creds, options);
  cache.set(key, pending);
  try {
    const token = await pending;
    cache.set(key, token);
    return token;
  } catch (e) {
    if (cache.get(key) === pending) cache.delete(key);
    throw e;
  }
}

/**
 * Forgets every cached token (tests).
 *
 * @example
 * ```ts
 * import { clearOAuthTokenCache } from "./databricks_oauth.ts";
 * clearOAuthTokenCache();
 * ```
 */
export function clearOAuthTokenCache(): void {
  cache.clear();
}
