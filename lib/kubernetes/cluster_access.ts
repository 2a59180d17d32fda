/**
 * Choosing how to reach the cluster, as MLflow does: the kubeconfig (`kube-context` or its
 * current context), else the in-cluster configuration, announced with MLflow's log line.
 *
 * @module
 */
import type { Reporter } from "../system/output.ts";
import { type ClusterAccess, KubeconfigError, loadKubeconfig } from "./kubeconfig.ts";
import { inClusterAccess } from "./in_cluster.ts";

/** Options of {@linkcode resolveClusterAccess}. */
export interface ResolveClusterAccessOptions {
  /** Environment (`KUBECONFIG`, `HOME`, `KUBERNETES_SERVICE_HOST`, `KUBERNETES_SERVICE_PORT`). */
  env: Record<string, string | undefined>;
  /** `kube-context` from the backend config. */
  context?: string;
  /** Receives MLflow's "No valid kube config found …" line. */
  reporter?: Reporter;
  /** Service account directory (tests; default the one Kubernetes mounts). */
  serviceAccountDir?: string;
}

/**
 * How to reach the cluster: the kubeconfig's context when there is a usable kubeconfig, else
 * the in-cluster configuration (logging `No valid kube config found, using in-cluster
 * configuration`, as MLflow).
 *
 * @param options Environment, context, reporter, service account directory.
 * @returns The cluster access.
 * @throws {KubeconfigError} When neither works: the kubeconfig's problem, or that there is no
 *   kubeconfig and no in-cluster configuration.
 *
 * @example
 * ```ts ignore
 * import { resolveClusterAccess } from "./cluster_access.ts";
 * const access = resolveClusterAccess({ env: Deno.env.toObject(), context: "dev" });
 * ```
 */
export function resolveClusterAccess(options: ResolveClusterAccessOptions): ClusterAccess {
  let problem: KubeconfigError | undefined;
  try {
    const access = loadKubeconfig({
      env: options.env,
      ...(options.context ? { context: options.context } : {}),
    });
    if (access !== undefined) return access;
  } catch (e) {
    if (!(e instanceof KubeconfigError)) throw e;
    problem = e;
  }
  options.reporter?.log("INFO", "No valid kube config found, using in-cluster configuration");
  const inCluster = inClusterAccess({
    env: options.env,
    ...(options.serviceAccountDir !== undefined
      ? { serviceAccountDir: options.serviceAccountDir }
      : {}),
  });
  if (inCluster !== undefined) return inCluster;
  throw problem ?? new KubeconfigError(
    "No kubeconfig found (KUBECONFIG, ~/.kube/config) and no in-cluster configuration (KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set)",
  );
}
