/**
 * Exec credential plugins (`client.authentication.k8s.io/v1` and `v1beta1` `ExecCredential`), as
 * cloud clusters use them (`aws eks get-token`, `gke-gcloud-auth-plugin`, `kubelogin`): the
 * plugin runs with `KUBERNETES_EXEC_INFO` and prints a credential with an optional expiry.
 *
 * @module
 */
import { escapeForMessage } from "../system/errors.ts";
import { spawnProcess } from "../system/run_command.ts";
import { type ExecPluginConfig, KubeconfigError } from "./kubeconfig.ts";

/** What a plugin returned. */
export interface ExecCredential {
  /** Bearer token. */
  readonly token?: string;
  /** Client certificate PEM. */
  readonly clientCertPem?: string;
  /** Client key PEM. */
  readonly clientKeyPem?: string;
  /** When it expires (ms since the epoch); unset: until the server refuses it. */
  readonly expiresAt?: number;
}

/** Options of {@linkcode runExecPlugin}. */
export interface RunExecPluginOptions {
  /** Base environment of the plugin (the plugin's `env` entries go on top). */
  env: Record<string, string>;
  /** The cluster entry, passed as `spec.cluster` when `provideClusterInfo` is set. */
  cluster?: Readonly<Record<string, unknown>>;
  /** Whether stdin is a terminal (default: asks Deno). */
  stdinIsTerminal?: boolean;
  /** Aborting stops the plugin. */
  signal?: AbortSignal;
}

function clusterInfo(cluster: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const info: Record<string, unknown> = { server: cluster.server };
  if (cluster["tls-server-name"]) info["tls-server-name"] = cluster["tls-server-name"];
  if (cluster["insecure-skip-tls-verify"]) info["insecure-skip-tls-verify"] = true;
  if (cluster["certificate-authority-data"]) {
    info["certificate-authority-data"] = cluster["certificate-authority-data"];
  }
  if (cluster["proxy-url"]) info["proxy-url"] = cluster["proxy-url"];
  const extensions = cluster.extensions;
  if (Array.isArray(extensions)) {
    const ext = extensions.find((e) => e?.name === "client.authentication.k8s.io/exec");
    if (ext?.extension !== undefined) info.config = ext.extension;
  }
  return info;
}

/**
 * Runs an exec credential plugin and reads its `ExecCredential`.
 *
 * @param plugin The `users[].user.exec` entry.
 * @param options Environment, cluster entry, terminal flag, abort signal.
 * @returns The credential.
 * @throws {KubeconfigError} When the plugin is missing, fails, needs a terminal it cannot have,
 *   or prints something that is not an `ExecCredential` of its `apiVersion`.
 *
 * @example
 * ```ts ignore
 * import { runExecPlugin } from "./exec_credential.ts";
 * const cred = await runExecPlugin(access.exec!, { env: Deno.env.toObject() });
 * cred.token; // "k8s-aws-v1.…"
 * ```
 */
export async function runExecPlugin(
  plugin: ExecPluginConfig,
  options: RunExecPluginOptions,
): Promise<ExecCredential> {
  const terminal = options.stdinIsTerminal ?? Deno.stdin.isTerminal();
  const interactive = plugin.interactiveMode === "Always" ||
    (plugin.interactiveMode === "IfAvailable" && terminal);
  const name = `exec plugin '${plugin.command}'`;
  if (plugin.interactiveMode === "Always" && !terminal) {
    throw new KubeconfigError(
      `${name} needs an interactive terminal (interactiveMode: Always), but stdin is not one`,
    );
  }
  const spec: Record<string, unknown> = { interactive };
  if (plugin.provideClusterInfo && options.cluster !== undefined) {
    spec.cluster = clusterInfo(options.cluster);
  }
  const env: Record<string, string> = { ...options.env };
  for (const { name: key, value } of plugin.env) env[key] = value;
  env.KUBERNETES_EXEC_INFO = JSON.stringify({
    apiVersion: plugin.apiVersion,
    kind: "ExecCredential",
    spec,
  });
  let child;
  try {
    child = spawnProcess(plugin.command, [...plugin.args], {
      env,
      stdin: interactive ? "inherit" : "null",
      stdout: "piped",
      stderr: "inherit",
      ...(options.signal !== undefined ? { signal: options.signal } : {}),
    });
  } catch (e) {
    const hint = plugin.installHint ? `\n${plugin.installHint.trim()}` : "";
    throw new KubeconfigError(
      `Cannot run ${name}: ${e instanceof Error ? e.message : e}${hint}`.split("\n").join(" "),
    );
  }
  const [status, out] = await Promise.all([child.status, child.output]);
  if (!status.success) {
    throw new KubeconfigError(`${name} failed with exit code ${status.code}`);
  }
  const text = new TextDecoder().decode(out.stdout);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new KubeconfigError(
      `${name} did not print an ExecCredential as JSON: '${escapeForMessage(text.slice(0, 120))}'`,
    );
  }
  const cred = parsed as {
    apiVersion?: unknown;
    kind?: unknown;
    status?: {
      token?: unknown;
      clientCertificateData?: unknown;
      clientKeyData?: unknown;
      expirationTimestamp?: unknown;
    };
  };
  if (cred?.kind !== "ExecCredential" || cred.apiVersion !== plugin.apiVersion) {
    throw new KubeconfigError(
      `${name} returned kind '${String(cred?.kind)}' apiVersion '${
        String(cred?.apiVersion)
      }', expected an ExecCredential of ${plugin.apiVersion}`,
    );
  }
  const st = cred.status ?? {};
  const result: { -readonly [K in keyof ExecCredential]: ExecCredential[K] } = {};
  if (typeof st.token === "string" && st.token !== "") result.token = st.token;
  if (typeof st.clientCertificateData === "string" && st.clientCertificateData !== "") {
    result.clientCertPem = st.clientCertificateData;
  }
  if (typeof st.clientKeyData === "string" && st.clientKeyData !== "") {
    result.clientKeyPem = st.clientKeyData;
  }
  if ((result.clientCertPem === undefined) !== (result.clientKeyPem === undefined)) {
    throw new KubeconfigError(`${name} returned a client certificate without its key`);
  }
  if (result.token === undefined && result.clientCertPem === undefined) {
    throw new KubeconfigError(`${name} returned neither a token nor a client certificate`);
  }
  if (typeof st.expirationTimestamp === "string") {
    const at = Date.parse(st.expirationTimestamp);
    if (Number.isNaN(at)) {
      throw new KubeconfigError(
        `${name} returned an invalid expirationTimestamp '${
          escapeForMessage(st.expirationTimestamp)
        }'`,
      );
    }
    result.expiresAt = at;
  }
  return result;
}
