/**
 * In-cluster configuration, as a pod sees its API server: `KUBERNETES_SERVICE_HOST` and
 * `KUBERNETES_SERVICE_PORT`, the service account's token (read again for each request: it
 * rotates) and CA certificate.
 *
 * @module
 */
import { join } from "../system/paths.ts";
import { statOrUndefined } from "../system/file_checks.ts";
import { readUserFileSync } from "../system/user_file.ts";
import { type ClusterAccess, KubeconfigError } from "./kubeconfig.ts";

/** Where Kubernetes mounts a pod's service account. */
export const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

/**
 * The in-cluster access of a pod.
 *
 * @param options `env` (`KUBERNETES_SERVICE_HOST`, `KUBERNETES_SERVICE_PORT`);
 *   `serviceAccountDir`: where the token and `ca.crt` are (default {@linkcode SERVICE_ACCOUNT_DIR}).
 * @returns The access, or `undefined` when the variables are not set (not in a pod).
 * @throws {KubeconfigError} When the variables are set but the token file is missing.
 *
 * @example
 * ```ts
 * import { inClusterAccess } from "./in_cluster.ts";
 * console.assert(inClusterAccess({ env: {} }) === undefined);
 * ```
 */
export function inClusterAccess(
  options: { env: Record<string, string | undefined>; serviceAccountDir?: string },
): ClusterAccess | undefined {
  const host = options.env.KUBERNETES_SERVICE_HOST;
  const port = options.env.KUBERNETES_SERVICE_PORT;
  if (!host || !port) return undefined;
  const dir = options.serviceAccountDir ?? SERVICE_ACCOUNT_DIR;
  const tokenFile = join(dir, "token");
  if (statOrUndefined(tokenFile)?.isFile !== true) {
    throw new KubeconfigError(
      `In-cluster configuration: service account token ${tokenFile} does not exist`,
    );
  }
  const caPath = join(dir, "ca.crt");
  const caPem = statOrUndefined(caPath)?.isFile
    ? readUserFileSync(caPath, { label: "service account CA certificate" })
    : undefined;
  const hostPart = host.includes(":") ? `[${host}]` : host;
  return {
    source: "in-cluster configuration",
    server: `https://${hostPart}:${port}`,
    insecureSkipTlsVerify: false,
    tokenFile,
    ...(caPem !== undefined ? { caPem } : {}),
  };
}
