/**
 * Databricks credentials for `databricks` and `databricks://<profile>` tracking URIs, as MLflow
 * resolves them: a URI profile is read alone from the config file; otherwise `DATABRICKS_HOST`
 * with `DATABRICKS_TOKEN` (or `DATABRICKS_USERNAME`/`DATABRICKS_PASSWORD`, or OAuth M2M
 * `DATABRICKS_CLIENT_ID`/`DATABRICKS_CLIENT_SECRET`), filled in from the
 * profile `$DATABRICKS_CONFIG_PROFILE` (default `DEFAULT`) of `$DATABRICKS_CONFIG_FILE`
 * (default `~/.databrickscfg`).
 *
 * @module
 */
import { ExecutionException } from "../system/errors.ts";
import { basicAuthorization } from "../http/http_client.ts";
import { join } from "../system/paths.ts";
import { parseIni } from "./_ini.ts";
import { readUserFileSync } from "../system/user_file.ts";
import { booleanSetting, type HostCredentials } from "./host_credentials.ts";
import { databricksOAuthToken } from "./databricks_oauth.ts";

/**
 * The profile a Databricks tracking URI names: `undefined` for `databricks`, the name for
 * `databricks://<profile>`.
 *
 * @param uri The tracking URI.
 * @returns The profile name, or `undefined`.
 * @throws {ExecutionException} For secret-scope URIs, an empty profile or a bad profile name.
 *
 * @example
 * ```ts
 * import { databricksProfileOf } from "./databricks_config.ts";
 * console.assert(databricksProfileOf("databricks://staging") === "staging");
 * console.assert(databricksProfileOf("databricks") === undefined);
 * ```
 */
export function databricksProfileOf(uri: string): string | undefined {
  if (uri === "databricks") return undefined;
  const m = /^databricks:\/\/([^/?#]*)\/?$/i.exec(uri);
  if (m === null || m[1] === "") {
    throw new ExecutionException(
      `Invalid Databricks tracking URI '${uri}': use 'databricks' or 'databricks://<profile>'`,
    );
  }
  const netloc = decodeURIComponent(m[1]!);
  if (netloc.includes(":")) {
    throw new ExecutionException(
      `Tracking URI '${uri}' names a Databricks secret scope, which only works inside Databricks: use 'databricks://<profile>' or DATABRICKS_HOST and DATABRICKS_TOKEN`,
    );
  }
  if (/[\s/]/.test(netloc)) {
    throw new ExecutionException(
      `Invalid Databricks profile '${netloc}' in tracking URI '${uri}': a profile name may not contain '/', ':' or spaces`,
    );
  }
  return netloc;
}

function failure(uri: string, detail: string): ExecutionException {
  return new ExecutionException(
    `Reading Databricks credential configuration failed with MLflow tracking URI '${uri}': ${detail}. Set DATABRICKS_HOST and DATABRICKS_TOKEN, or add a profile with 'host' and 'token' to ~/.databrickscfg (DATABRICKS_CONFIG_FILE) and use 'databricks://<profile>' or DATABRICKS_CONFIG_PROFILE`,
  );
}

interface DatabricksConfig {
  host?: string;
  token?: string;
  username?: string;
  password?: string;
  insecure?: string;
  clientId?: string;
  clientSecret?: string;
  authType?: string;
}

function fromSection(section: Map<string, string>): DatabricksConfig {
  const pick = (k: string) => {
    const v = section.get(k)?.trim();
    return v === undefined || v === "" ? undefined : v;
  };
  const out: DatabricksConfig = {};
  const set = (key: keyof DatabricksConfig, v: string | undefined) => {
    if (v !== undefined) out[key] = v;
  };
  set("host", pick("host"));
  set("token", pick("token"));
  set("username", pick("username"));
  set("password", pick("password"));
  set("insecure", pick("insecure"));
  set("clientId", pick("client_id"));
  set("clientSecret", pick("client_secret"));
  set("authType", pick("auth_type"));
  return out;
}

/**
 * Resolves Databricks host and credentials for a `databricks…` tracking URI, and the variables
 * MLflow hands the child (`MLFLOW_TRACKING_URI=databricks`, `DATABRICKS_HOST`, `DATABRICKS_TOKEN`
 * or `DATABRICKS_USERNAME`/`DATABRICKS_PASSWORD`, `DATABRICKS_INSECURE`).
 *
 * @param uri `databricks` or `databricks://<profile>`.
 * @param env The environment (`DATABRICKS_*`, `HOME`).
 * @returns The credentials.
 * @throws {ExecutionException} When no usable configuration is found (MLflow's message).
 *
 * @example
 * ```ts
 * import { databricksHostCredentials } from "./databricks_config.ts";
 * const c = databricksHostCredentials("databricks", {
 *   DATABRICKS_HOST: "adb-1.azuredatabricks.net",
 *   DATABRICKS_TOKEN: "dapi123",
 * });
 * console.assert(c.host === "https://adb-1.azuredatabricks.net");
 * ```
 */
export function databricksHostCredentials(
  uri: string,
  env: Record<string, string | undefined>,
): HostCredentials {
  const profile = databricksProfileOf(uri);
  const home = env.HOME || env.USERPROFILE || "";
  const file = env.DATABRICKS_CONFIG_FILE || (home !== "" ? join(home, ".databrickscfg") : "");
  const readProfile = (name: string, required: boolean): DatabricksConfig => {
    let text: string;
    try {
      text = readUserFileSync(file);
    } catch {
      if (required) throw failure(uri, `cannot read the config file '${file}'`);
      return {};
    }
    const section = parseIni(text).get(name);
    if (section === undefined) {
      if (required) throw failure(uri, `profile '${name}' not found in '${file}'`);
      return {};
    }
    return fromSection(section);
  };
  let config: DatabricksConfig;
  if (profile !== undefined) {
    config = readProfile(profile, true);
  } else {
    const fromEnv: DatabricksConfig = {};
    const envPairs: [keyof DatabricksConfig, string][] = [
      ["host", "DATABRICKS_HOST"],
      ["token", "DATABRICKS_TOKEN"],
      ["username", "DATABRICKS_USERNAME"],
      ["password", "DATABRICKS_PASSWORD"],
      ["insecure", "DATABRICKS_INSECURE"],
      ["clientId", "DATABRICKS_CLIENT_ID"],
      ["clientSecret", "DATABRICKS_CLIENT_SECRET"],
      ["authType", "DATABRICKS_AUTH_TYPE"],
    ];
    for (const [key, name] of envPairs) if (env[name]) fromEnv[key] = env[name]!.trim();
    const complete = fromEnv.host !== undefined &&
      (fromEnv.token !== undefined ||
        (fromEnv.username !== undefined && fromEnv.password !== undefined) ||
        (fromEnv.clientId !== undefined && fromEnv.clientSecret !== undefined));
    const named = env.DATABRICKS_CONFIG_PROFILE || undefined;
    const fromFile = complete && named === undefined
      ? {}
      : readProfile(named ?? "DEFAULT", named !== undefined);
    config = { ...fromFile, ...fromEnv };
  }
  if (config.authType === "databricks-cli") {
    throw failure(uri, "auth_type 'databricks-cli' is not supported; use a personal access token");
  }
  if (config.host === undefined) throw failure(uri, "no host is configured");
  const headers: Record<string, string> = {};
  const secrets: string[] = [];
  const childEnv: Record<string, string> = {};
  let authorize: HostCredentials["authorize"];
  let host = config.host.replace(/\/+$/, "");
  if (!/^https?:\/\//i.test(host)) host = `https://${host}`;
  childEnv.DATABRICKS_HOST = host;
  if (config.token !== undefined) {
    headers.Authorization = `Bearer ${config.token}`;
    secrets.push(config.token);
    childEnv.DATABRICKS_TOKEN = config.token;
  } else if (config.username !== undefined && config.password !== undefined) {
    headers.Authorization = basicAuthorization(config.username, config.password);
    secrets.push(config.password, headers.Authorization.slice("Basic ".length));
    childEnv.DATABRICKS_USERNAME = config.username;
    childEnv.DATABRICKS_PASSWORD = config.password;
  } else if (config.clientId !== undefined && config.clientSecret !== undefined) {
    // OAuth M2M: a token from the workspace's /oidc/v1/token, fetched on the first request.
    const oauth = { host, clientId: config.clientId, clientSecret: config.clientSecret };
    secrets.push(config.clientSecret, basicAuthorization(oauth.clientId, oauth.clientSecret));
    childEnv.DATABRICKS_CLIENT_ID = config.clientId;
    childEnv.DATABRICKS_CLIENT_SECRET = config.clientSecret;
    authorize = async (options) => {
      const token = await databricksOAuthToken(oauth, { ...options, env });
      if (!secrets.includes(token.accessToken)) secrets.push(token.accessToken);
      return { Authorization: `Bearer ${token.accessToken}` };
    };
  } else {
    throw failure(
      uri,
      `host '${host}' has no token, nor username and password, nor client_id and client_secret`,
    );
  }
  const insecure = booleanSetting({ insecure: config.insecure }, "insecure");
  if (config.insecure !== undefined) childEnv.DATABRICKS_INSECURE = config.insecure;
  return {
    host,
    headers,
    tls: {},
    insecureTls: insecure,
    insecureTlsSetting: profile === undefined && env.DATABRICKS_INSECURE
      ? "DATABRICKS_INSECURE"
      : "insecure (Databricks profile)",
    secrets,
    childUri: "databricks",
    childEnv,
    authHint: profile !== undefined
      ? `check 'token' of profile '${profile}' in '${file}'`
      : "check DATABRICKS_TOKEN (or the 'token' of your Databricks profile) and its permissions",
    databricks: true,
    ...(authorize !== undefined ? { authorize } : {}),
  };
}
