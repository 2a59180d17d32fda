/**
 * Reading kubeconfig files as `kubectl` does: the `KUBECONFIG` list (`:`-separated, `;` on
 * Windows) merged first-wins per named entry, else `~/.kube/config`; the context given, else
 * `current-context`; relative paths resolved against the file that holds the entry; `*-data`
 * fields as base64 PEM.
 *
 * @module
 */
import { ExecutionException } from "../system/errors.ts";
import { homeDir } from "../system/home_dir.ts";
import { dirname, isAbsolute, join, resolve } from "../system/paths.ts";
import { statOrUndefined } from "../system/file_checks.ts";
import { readUserFileSync } from "../system/user_file.ts";
import { isPyDict, parsePythonYaml, type PyValue } from "../yaml/python_yaml.ts";

/** A kubeconfig that cannot be used (bad file, missing context, cluster or user). */
export class KubeconfigError extends ExecutionException {
  /**
   * Creates the error.
   *
   * @example
   * ```ts
   * import { KubeconfigError } from "./kubeconfig.ts";
   * console.assert(new KubeconfigError("x").exitCode === 1);
   * ```
   */
  constructor(message: string) {
    super(message);
    this.name = "KubeconfigError";
  }
}

/** An exec credential plugin (`users[].user.exec`). */
export interface ExecPluginConfig {
  /** `client.authentication.k8s.io/v1` or `…/v1beta1`. */
  readonly apiVersion: string;
  /** The program (a relative path with a `/` is resolved against the kubeconfig's directory). */
  readonly command: string;
  /** Its arguments. */
  readonly args: readonly string[];
  /** Variables added to the plugin's environment. */
  readonly env: readonly { name: string; value: string }[];
  /** `Never`, `IfAvailable` or `Always` (v1 requires it; v1beta1 defaults to `IfAvailable`). */
  readonly interactiveMode: "Never" | "IfAvailable" | "Always";
  /** Pass the cluster in `KUBERNETES_EXEC_INFO`. */
  readonly provideClusterInfo: boolean;
  /** Shown when the program is missing. */
  readonly installHint?: string;
}

/** How to reach and authenticate to one cluster. */
export interface ClusterAccess {
  /** Where it came from, for messages (`context 'dev' of ~/.kube/config`, `in-cluster`). */
  readonly source: string;
  /** The context's name (kubeconfig only). */
  readonly context?: string;
  /** API server URL, e.g. `https://10.0.0.1:6443`. */
  readonly server: string;
  /** The context's namespace, if any (MLflow does not use it: the template's wins). */
  readonly namespace?: string;
  /** PEM of the CA certificates to trust. */
  readonly caPem?: string;
  /** `insecure-skip-tls-verify`: the server certificate is not verified. */
  readonly insecureSkipTlsVerify: boolean;
  /** `proxy-url`. */
  readonly proxyUrl?: string;
  /** `tls-server-name`: the name checked in the server certificate and sent as SNI. */
  readonly tlsServerName?: string;
  /** Client certificate PEM (mutual TLS). */
  readonly clientCertPem?: string;
  /** Client key PEM. */
  readonly clientKeyPem?: string;
  /** Bearer token. */
  readonly token?: string;
  /** File holding the bearer token, read again for each request (tokens rotate). */
  readonly tokenFile?: string;
  /** Basic auth user name. */
  readonly username?: string;
  /** Basic auth password. */
  readonly password?: string;
  /** Exec credential plugin. */
  readonly exec?: ExecPluginConfig;
  /** The cluster entry as written (for `provideClusterInfo`). */
  readonly cluster?: Readonly<Record<string, unknown>>;
}

interface Entry {
  value: Record<string, PyValue>;
  file: string;
}

interface Merged {
  files: string[];
  currentContext?: string;
  clusters: Map<string, Entry>;
  users: Map<string, Entry>;
  contexts: Map<string, Entry>;
}

/**
 * The kubeconfig files `kubectl` would read: the existing files of `KUBECONFIG` in order, else
 * `~/.kube/config` when it exists.
 *
 * @param env The environment (`KUBECONFIG`, `HOME`).
 * @returns Paths of existing files (empty: no kubeconfig).
 *
 * @example
 * ```ts
 * import { kubeconfigFiles } from "./kubeconfig.ts";
 * console.assert(kubeconfigFiles({ KUBECONFIG: "/nonexistent/a:/nonexistent/b" }).length === 0);
 * ```
 */
export function kubeconfigFiles(env: Record<string, string | undefined>): string[] {
  const separator = Deno.build.os === "windows" ? ";" : ":";
  if (env.KUBECONFIG) {
    const seen = new Set<string>();
    return env.KUBECONFIG.split(separator).filter((p) => {
      if (p === "" || seen.has(p)) return false;
      seen.add(p);
      return statOrUndefined(p)?.isFile === true;
    });
  }
  const home = homeDir(env);
  if (home === undefined) return [];
  const path = join(home, ".kube", "config");
  return statOrUndefined(path)?.isFile ? [path] : [];
}

function named(
  doc: Record<string, PyValue>,
  key: "clusters" | "users" | "contexts",
  inner: string,
  file: string,
  into: Map<string, Entry>,
): void {
  const list = doc[key];
  if (list === undefined || list === null) return;
  if (!Array.isArray(list)) throw new KubeconfigError(`kubeconfig ${file}: '${key}' is not a list`);
  for (const item of list) {
    if (!isPyDict(item) || typeof item.name !== "string") {
      throw new KubeconfigError(`kubeconfig ${file}: an entry of '${key}' has no name`);
    }
    const value = item[inner];
    if (into.has(item.name)) continue; // first file that defines a name wins
    into.set(item.name, { value: isPyDict(value) ? { ...value } : {}, file });
  }
}

function mergeFiles(files: string[]): Merged {
  const merged: Merged = { files, clusters: new Map(), users: new Map(), contexts: new Map() };
  for (const file of files) {
    const text = readUserFileSync(file, { label: "kubeconfig file" });
    let doc: PyValue;
    try {
      doc = parsePythonYaml(text);
    } catch (e) {
      throw new KubeconfigError(
        `kubeconfig ${file} is not valid YAML: ${e instanceof Error ? e.message : e}`,
      );
    }
    if (doc === null) continue;
    if (!isPyDict(doc)) throw new KubeconfigError(`kubeconfig ${file} is not a mapping`);
    const current = doc["current-context"];
    if (merged.currentContext === undefined && typeof current === "string" && current !== "") {
      merged.currentContext = current;
    }
    named(doc, "clusters", "cluster", file, merged.clusters);
    named(doc, "users", "user", file, merged.users);
    named(doc, "contexts", "context", file, merged.contexts);
  }
  return merged;
}

function str(entry: Entry, key: string, what: string): string | undefined {
  const v = entry.value[key];
  if (v === undefined || v === null || v === "") return undefined;
  if (typeof v !== "string") {
    throw new KubeconfigError(`kubeconfig ${entry.file}: ${what} field '${key}' must be a string`);
  }
  return v;
}

function fileOf(entry: Entry, path: string): string {
  return isAbsolute(path) ? path : resolve(dirname(entry.file), path);
}

function readPem(entry: Entry, what: string, pathKey: string, dataKey: string): string | undefined {
  const data = str(entry, dataKey, what);
  if (data !== undefined) {
    try {
      return new TextDecoder().decode(
        Uint8Array.from(atob(data.replace(/\s+/g, "")), (c) => c.charCodeAt(0)),
      );
    } catch {
      throw new KubeconfigError(`kubeconfig ${entry.file}: ${what} '${dataKey}' is not base64`);
    }
  }
  const path = str(entry, pathKey, what);
  if (path === undefined) return undefined;
  const full = fileOf(entry, path);
  try {
    return readUserFileSync(full, { label: `${what} ${pathKey}` });
  } catch (e) {
    throw new KubeconfigError(
      `kubeconfig ${entry.file}: ${e instanceof Error ? e.message : e}`,
    );
  }
}

function execConfig(entry: Entry, userName: string): ExecPluginConfig | undefined {
  const exec = entry.value.exec;
  if (exec === undefined || exec === null) return undefined;
  const where = `kubeconfig ${entry.file}: user '${userName}' exec`;
  if (!isPyDict(exec)) throw new KubeconfigError(`${where} is not a mapping`);
  const { apiVersion, command } = exec;
  if (typeof command !== "string" || command === "") {
    throw new KubeconfigError(`${where} has no 'command'`);
  }
  if (
    apiVersion !== "client.authentication.k8s.io/v1" &&
    apiVersion !== "client.authentication.k8s.io/v1beta1"
  ) {
    throw new KubeconfigError(
      `${where}: apiVersion '${
        String(apiVersion)
      }' is not supported (client.authentication.k8s.io/v1 or v1beta1)`,
    );
  }
  const mode = exec.interactiveMode ?? (apiVersion.endsWith("v1beta1") ? "IfAvailable" : undefined);
  if (mode !== "Never" && mode !== "IfAvailable" && mode !== "Always") {
    throw new KubeconfigError(
      `${where}: interactiveMode must be Never, IfAvailable or Always, got '${String(mode)}'`,
    );
  }
  const args = Array.isArray(exec.args) ? exec.args.map((a) => String(a)) : [];
  const env = Array.isArray(exec.env)
    ? exec.env.map((e) => {
      if (!isPyDict(e) || typeof e.name !== "string") {
        throw new KubeconfigError(`${where}: an 'env' entry has no name`);
      }
      return {
        name: e.name,
        value: e.value === null || e.value === undefined ? "" : String(e.value),
      };
    })
    : [];
  return {
    apiVersion,
    command: command.includes("/") && !isAbsolute(command) ? fileOf(entry, command) : command,
    args,
    env,
    interactiveMode: mode,
    provideClusterInfo: exec.provideClusterInfo === true,
    ...(typeof exec.installHint === "string" ? { installHint: exec.installHint } : {}),
  };
}

/**
 * Loads the kubeconfig `kubectl` would use and returns how to reach the cluster of a context.
 *
 * @param options `env` (`KUBECONFIG`, `HOME`); `context`: the context to use (default
 *   `current-context`).
 * @returns The cluster access, or `undefined` when there is no kubeconfig file at all.
 * @throws {KubeconfigError} For an invalid file, an unknown context, cluster or user.
 *
 * @example
 * ```ts ignore
 * import { loadKubeconfig } from "./kubeconfig.ts";
 * const access = loadKubeconfig({ env: Deno.env.toObject(), context: "dev" });
 * access?.server; // "https://1.2.3.4:6443"
 * ```
 */
export function loadKubeconfig(
  options: { env: Record<string, string | undefined>; context?: string },
): ClusterAccess | undefined {
  const files = kubeconfigFiles(options.env);
  if (files.length === 0) return undefined;
  const merged = mergeFiles(files);
  const shown = files.join(", ");
  const contextName = options.context || merged.currentContext;
  if (contextName === undefined) {
    throw new KubeconfigError(
      `kubeconfig ${shown} sets no current-context: set 'kube-context' in the backend config`,
    );
  }
  const context = merged.contexts.get(contextName);
  if (context === undefined) {
    throw new KubeconfigError(`context '${contextName}' does not exist in kubeconfig ${shown}`);
  }
  const clusterName = str(context, "cluster", `context '${contextName}'`);
  if (clusterName === undefined) {
    throw new KubeconfigError(
      `kubeconfig ${context.file}: context '${contextName}' has no cluster`,
    );
  }
  const cluster = merged.clusters.get(clusterName);
  if (cluster === undefined) {
    throw new KubeconfigError(
      `cluster '${clusterName}' of context '${contextName}' does not exist in kubeconfig ${shown}`,
    );
  }
  const clusterWhat = `cluster '${clusterName}'`;
  const server = str(cluster, "server", clusterWhat);
  if (server === undefined) {
    throw new KubeconfigError(`kubeconfig ${cluster.file}: ${clusterWhat} has no server`);
  }
  const userName = str(context, "user", `context '${contextName}'`);
  const user = userName === undefined ? undefined : merged.users.get(userName);
  if (userName !== undefined && user === undefined) {
    throw new KubeconfigError(
      `user '${userName}' of context '${contextName}' does not exist in kubeconfig ${shown}`,
    );
  }
  const userWhat = `user '${userName}'`;
  const access: Record<string, unknown> = {
    source: `context '${contextName}' of kubeconfig ${shown}`,
    context: contextName,
    server: server.replace(/\/+$/, ""),
    insecureSkipTlsVerify: cluster.value["insecure-skip-tls-verify"] === true,
    cluster: cluster.value,
  };
  const namespace = str(context, "namespace", `context '${contextName}'`);
  if (namespace !== undefined) access.namespace = namespace;
  const ca = readPem(cluster, clusterWhat, "certificate-authority", "certificate-authority-data");
  if (ca !== undefined) access.caPem = ca;
  const proxy = str(cluster, "proxy-url", clusterWhat);
  if (proxy !== undefined) access.proxyUrl = proxy;
  const sni = str(cluster, "tls-server-name", clusterWhat);
  if (sni !== undefined) access.tlsServerName = sni;
  if (user !== undefined) {
    const cert = readPem(user, userWhat, "client-certificate", "client-certificate-data");
    const key = readPem(user, userWhat, "client-key", "client-key-data");
    if ((cert === undefined) !== (key === undefined)) {
      throw new KubeconfigError(
        `kubeconfig ${user.file}: ${userWhat} needs both a client certificate and a client key`,
      );
    }
    if (cert !== undefined) access.clientCertPem = cert;
    if (key !== undefined) access.clientKeyPem = key;
    const token = str(user, "token", userWhat);
    if (token !== undefined) access.token = token;
    const tokenFile = str(user, "tokenFile", userWhat);
    if (tokenFile !== undefined) access.tokenFile = fileOf(user, tokenFile);
    const username = str(user, "username", userWhat);
    const password = str(user, "password", userWhat);
    if (username !== undefined) access.username = username;
    if (password !== undefined) access.password = password;
    const exec = execConfig(user, userName!);
    if (exec !== undefined) access.exec = exec;
    const provider = user.value["auth-provider"];
    if (access.token === undefined && isPyDict(provider) && isPyDict(provider.config)) {
      // Legacy auth providers (oidc, gcp, azure) keep a usable token in their config.
      const cfg = provider.config;
      const legacy = cfg["id-token"] ?? cfg["access-token"];
      if (typeof legacy === "string" && legacy !== "") access.token = legacy;
    }
  }
  return access as unknown as ClusterAccess;
}
