/**
 * Kubernetes access for the `kubernetes` backend: kubeconfig and in-cluster configuration, exec
 * credential plugins, a small REST client, the Job made from the user's template, following a
 * Job with its log.
 *
 * Wiring: `parseKubernetesConfig(config, { cwd })` (plan stage) →
 * `resolveClusterAccess({ env, context })` → `new KubeClient(access, { env })` →
 * `buildJobManifest(template, …)` → `POST …/jobs` → `followJob(client, …)`.
 *
 * @module
 */
export { type KubernetesConfig, parseKubernetesConfig } from "./backend_config.ts";
export { resolveClusterAccess, type ResolveClusterAccessOptions } from "./cluster_access.ts";
export {
  type ExecCredential,
  runExecPlugin,
  type RunExecPluginOptions,
} from "./exec_credential.ts";
export { inClusterAccess, SERVICE_ACCOUNT_DIR } from "./in_cluster.ts";
export {
  type ClusterAccess,
  type ExecPluginConfig,
  KubeconfigError,
  kubeconfigFiles,
  loadKubeconfig,
} from "./kubeconfig.ts";
export {
  KubeApiError,
  KubeClient,
  type KubeClientOptions,
  type KubeRequestOptions,
} from "./kube_client.ts";
export {
  buildJobManifest,
  dnsLabel,
  type JobRequest,
  kubernetesJobName,
  templateContainer,
} from "./job_manifest.ts";
export {
  followJob,
  type FollowJobOptions,
  type JobOutcome,
  podStartFailure,
  START_FAILURES,
} from "./job_follow.ts";
export { streamPodLogs, type StreamPodLogsOptions } from "./log_stream.ts";
