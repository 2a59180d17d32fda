/**
 * Where a REST tracking store lives and how to authenticate to it: MLflow's
 * `get_default_host_creds` for `http(s)://` URIs (token, user/password, CA bundle, client
 * certificate), with `~/.mlflow/credentials` as the fallback for user and password.
 *
 * @module
 */
import { ExecutionException } from "../system/errors.ts";
import { homeDir } from "../system/home_dir.ts";
import { basicAuthorization, type TlsFiles } from "../http/http_client.ts";
import { join } from "../system/paths.ts";
import { parseIni } from "./_ini.ts";
import { readUserFileSync } from "../system/user_file.ts";

/** A tracking server's address and credentials. */
export interface HostCredentials {
  /** Base URL without a trailing slash (`https://host:5000/prefix`). */
  host: string;
  /** Request headers that authenticate (`Authorization`); never logged. */
  headers: Record<string, string>;
  /** CA bundle and client certificate files. */
  tls: TlsFiles;
  /** Whether the user asked to skip certificate checks. */
  insecureTls: boolean;
  /** The env var that asked for `insecureTls`, for messages. */
  insecureTlsSetting: string;
  /** Secret values, scrubbed from every message. */
  secrets: string[];
  /** `MLFLOW_TRACKING_URI` for the child process. */
  childUri: string;
  /** Extra environment of the child (Databricks credentials). */
  childEnv: Record<string, string>;
  /** How to fix an authentication failure (names settings, never values). */
  authHint: string;
  /** Whether this is a Databricks workspace (no experiment 0, names are workspace paths). */
  databricks: boolean;
  /**
   * Headers that authenticate a request when they change over time (OAuth M2M access tokens),
   * merged over `headers` before every request; `refresh` asks for a new token after a 401.
   */
  authorize?: (
    options: { signal?: AbortSignal; client?: Deno.HttpClient; refresh?: boolean },
  ) => Promise<Record<string, string>>;
}

/**
 * Parses one of MLflow's boolean variables (`true|false|1|0`, any case).
 *
 * @param env The environment.
 * @param name Variable name.
 * @returns The value (`false` when unset or empty).
 * @throws {ExecutionException} For any other value.
 *
 * @example
 * ```ts
 * import { booleanSetting } from "./host_credentials.ts";
 * console.assert(booleanSetting({ X: "TRUE" }, "X"));
 * ```
 */
export function booleanSetting(env: Record<string, string | undefined>, name: string): boolean {
  const raw = (env[name] ?? "").trim();
  if (raw === "") return false;
  if (/^(true|1)$/i.test(raw)) return true;
  if (/^(false|0)$/i.test(raw)) return false;
  throw new ExecutionException(`${name} must be one of true, false, 1 or 0, got '${raw}'`);
}

/**
 * Replaces every secret in a text by `***`.
 *
 * @param text Any text (an error message).
 * @param secrets Values to hide.
 * @returns The text without the secrets.
 *
 * @example
 * ```ts
 * import { scrubSecrets } from "./host_credentials.ts";
 * console.assert(scrubSecrets("token abc", ["abc"]) === "token ***");
 * ```
 */
export function scrubSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) if (s.length >= 3) out = out.split(s).join("***");
  return out;
}

function credentialsFile(env: Record<string, string | undefined>): Map<string, string> {
  const home = homeDir(env);
  if (home === undefined) return new Map();
  try {
    return parseIni(readUserFileSync(join(home, ".mlflow", "credentials"))).get("mlflow") ??
      new Map();
  } catch {
    return new Map();
  }
}

/**
 * Credentials for an `http://` or `https://` tracking URI, from `MLFLOW_TRACKING_*` variables:
 * Basic auth when user and password are both known (env, else `~/.mlflow/credentials`), else
 * `Bearer $MLFLOW_TRACKING_TOKEN`; `MLFLOW_TRACKING_SERVER_CERT_PATH` (CA bundle),
 * `MLFLOW_TRACKING_CLIENT_CERT_PATH` (one PEM with certificate and key),
 * `MLFLOW_TRACKING_INSECURE_TLS`.
 *
 * @param uri The tracking URI.
 * @param env The environment.
 * @returns The credentials.
 * @throws {ExecutionException} For a URI with embedded credentials or conflicting TLS settings.
 *
 * @example
 * ```ts
 * import { mlflowHostCredentials } from "./host_credentials.ts";
 * const c = mlflowHostCredentials("http://127.0.0.1:5000/", { MLFLOW_TRACKING_TOKEN: "t0k" });
 * console.assert(c.host === "http://127.0.0.1:5000" && c.headers.Authorization === "Bearer t0k");
 * ```
 */
export function mlflowHostCredentials(
  uri: string,
  env: Record<string, string | undefined>,
): HostCredentials {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw new ExecutionException(`Invalid tracking URI '${uri}': not a valid URL`);
  }
  if (url.username !== "" || url.password !== "") {
    const shown = `${url.protocol}//***@${url.host}${url.pathname}`;
    throw new ExecutionException(
      `Tracking URI '${shown}' embeds credentials: put them in MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD (or MLFLOW_TRACKING_TOKEN) instead`,
    );
  }
  const file = credentialsFile(env);
  const username = env.MLFLOW_TRACKING_USERNAME || file.get("mlflow_tracking_username") || "";
  const password = env.MLFLOW_TRACKING_PASSWORD || file.get("mlflow_tracking_password") || "";
  const token = env.MLFLOW_TRACKING_TOKEN || "";
  const headers: Record<string, string> = {};
  const secrets: string[] = [];
  if (username !== "" && password !== "") {
    headers.Authorization = basicAuthorization(username, password);
    secrets.push(password, headers.Authorization.slice("Basic ".length));
  } else if (token !== "") {
    headers.Authorization = `Bearer ${token}`;
    secrets.push(token);
  }
  const insecureTls = booleanSetting(env, "MLFLOW_TRACKING_INSECURE_TLS");
  const caCertPath = env.MLFLOW_TRACKING_SERVER_CERT_PATH || undefined;
  if (insecureTls && caCertPath !== undefined) {
    throw new ExecutionException(
      "When 'ignore_tls_verification' is true then 'server_cert_path' must not be set! This error may have occurred because the 'MLFLOW_TRACKING_INSECURE_TLS' and 'MLFLOW_TRACKING_SERVER_CERT_PATH' environment variables are both set - only one of these environment variables may be set.",
    );
  }
  const clientCertPath = env.MLFLOW_TRACKING_CLIENT_CERT_PATH || undefined;
  return {
    host: uri.replace(/\/+$/, ""),
    headers,
    tls: {
      ...(caCertPath !== undefined ? { caCertPath } : {}),
      ...(clientCertPath !== undefined ? { clientCertPath } : {}),
      labels: {
        caCertPath: "MLFLOW_TRACKING_SERVER_CERT_PATH",
        clientCertPath: "MLFLOW_TRACKING_CLIENT_CERT_PATH",
      },
    },
    insecureTls,
    insecureTlsSetting: "MLFLOW_TRACKING_INSECURE_TLS",
    secrets,
    childUri: uri,
    childEnv: {},
    authHint: headers.Authorization === undefined
      ? "the server wants credentials: set MLFLOW_TRACKING_TOKEN, or MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD"
      : "check MLFLOW_TRACKING_TOKEN, or MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD (and the user's permissions)",
    databricks: false,
  };
}
