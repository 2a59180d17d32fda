/**
 * The Kubernetes backend (`-b kubernetes`): the project's image (built and pushed to
 * `repository-uri` by the docker environment) runs as a Job made from the user's template; the
 * Job and its pods are followed with their log streamed live; cancelling deletes the Job with
 * `propagationPolicy: Background` and waits until its pods are gone.
 *
 * @module
 */
import type {
  Backend,
  BackendCheckRequest,
  BackendCheckResult,
  Execution,
  LaunchJob,
} from "./backend.ts";
import { dockerEnvironment } from "../docker/run_args.ts";
import { parseTrackingUri } from "../tracking/tracking_uri.ts";
import { ExecutionException } from "../system/errors.ts";
import { writeText } from "../system/output.ts";
import { shellSplit } from "../system/shell_split.ts";
import { sleep } from "../system/sleep.ts";
import { type KubernetesConfig, parseKubernetesConfig } from "../kubernetes/backend_config.ts";
import { resolveClusterAccess } from "../kubernetes/cluster_access.ts";
import { buildJobManifest, dnsLabel } from "../kubernetes/job_manifest.ts";
import { followJob } from "../kubernetes/job_follow.ts";
import { KubeClient } from "../kubernetes/kube_client.ts";

/** Options of {@linkcode KubernetesBackend}. */
export interface KubernetesBackendOptions {
  /** Where the in-cluster service account is mounted (tests; default Kubernetes' path). */
  serviceAccountDir?: string;
  /** Longest wait between two polls of the Job (ms, default 2000). */
  maxPollMs?: number;
  /** How long cancelling waits for the Job's pods to go (ms, default 120 000). */
  deleteTimeoutMs?: number;
  /**
   * Receives each line of the pod's log instead of the job's stdout (to keep or upload it, e.g.
   * as a run artifact).
   */
  onLogLine?: (line: string) => void;
}

function isLoopbackHttp(uri: string): boolean {
  try {
    const host = new URL(uri).hostname;
    return /^https?:$/.test(new URL(uri).protocol) &&
      (host === "localhost" || /^127\./.test(host) || host === "[::1]");
  } catch {
    return false;
  }
}

/** Runs projects as Kubernetes Jobs. */
export class KubernetesBackend implements Backend {
  readonly name = "kubernetes";
  readonly #options: KubernetesBackendOptions;
  #config: KubernetesConfig | undefined;
  #projectName: string | undefined;

  /**
   * Creates the backend.
   *
   * @example
   * ```ts
   * import { KubernetesBackend } from "./kubernetes.ts";
   * console.assert(new KubernetesBackend().name === "kubernetes");
   * ```
   */
  constructor(options: KubernetesBackendOptions = {}) {
    this.#options = options;
  }

  /** Plan stage: a docker project, MLflow's backend config checks, a usable kubeconfig. */
  async check(request: BackendCheckRequest): Promise<BackendCheckResult> {
    if (request.environment !== "docker") {
      throw new ExecutionException(
        "The kubernetes backend runs the project's docker image: the MLproject file must have a 'docker_env' section with an 'image'",
      );
    }
    const config = await parseKubernetesConfig(request.config, {
      cwd: request.cwd ?? Deno.cwd(),
    });
    // A missing context or an unreadable kubeconfig fails before anything is built or recorded.
    resolveClusterAccess({
      env: request.env ?? Deno.env.toObject(),
      ...(config.context !== undefined ? { context: config.context } : {}),
      ...(this.#options.serviceAccountDir !== undefined
        ? { serviceAccountDir: this.#options.serviceAccountDir }
        : {}),
    });
    this.#config = config;
    this.#projectName = request.projectName;
    return { tags: [] };
  }

  async launch(job: LaunchJob): Promise<Execution> {
    const config = this.#config ?? await parseKubernetesConfig(job.config, { cwd: Deno.cwd() });
    const { invocation, reporter } = job;
    const container = invocation.container;
    if (container === undefined || !container.image.includes("@")) {
      throw new ExecutionException(
        "The kubernetes backend needs the project's image pushed to 'repository-uri' (a docker_env project)",
      );
    }
    const access = resolveClusterAccess({
      env: job.env,
      reporter,
      ...(config.context !== undefined ? { context: config.context } : {}),
      ...(this.#options.serviceAccountDir !== undefined
        ? { serviceAccountDir: this.#options.serviceAccountDir }
        : {}),
    });
    const env = new Map<string, string>([
      ["MLFLOW_RUN_ID", job.runId],
      ["MLFLOW_TRACKING_URI", job.env.KUBE_MLFLOW_TRACKING_URI ?? job.trackingUri],
      ["MLFLOW_EXPERIMENT_ID", job.experimentId],
    ]);
    for (const [k, v] of Object.entries(job.trackingEnv)) env.set(k, v);
    for (const [name, value] of dockerEnvironment(container.environment ?? [], job.env)) {
      env.set(name, value);
    }
    const podUri = env.get("MLFLOW_TRACKING_URI")!;
    if (
      job.env.KUBE_MLFLOW_TRACKING_URI === undefined &&
      parseTrackingUri(podUri, "/").kind !== "rest"
    ) {
      reporter.log(
        "WARNING",
        `Tracking URI '${podUri}' is a store on this machine, which the Job's pod cannot reach: set KUBE_MLFLOW_TRACKING_URI to a tracking server the pod can reach`,
      );
    } else if (isLoopbackHttp(podUri)) {
      reporter.log(
        "WARNING",
        `Tracking URI '${podUri}' names this machine: inside the pod it names the pod itself. Set KUBE_MLFLOW_TRACKING_URI to an address the pod can reach`,
      );
    }
    const projectName = this.#projectName ??
      (container.image.split("@")[0] ?? "").split("/").at(-1)?.split(":")[0] ?? "mlflow-project";
    const manifest = buildJobManifest(config.template, {
      projectName,
      image: container.image,
      command: shellSplit(invocation.command),
      env: [...env],
    });
    const name = (manifest.metadata as { name: string }).name;
    const namespace = config.namespace;
    const containerName = dnsLabel(projectName);
    const client = new KubeClient(access, { env: job.env, reporter });
    reporter.log("INFO", `=== Creating Job ${name} ===`);
    try {
      await client.json("POST", `/apis/batch/v1/namespaces/${namespace}/jobs`, {
        body: manifest,
        action: `create Job ${namespace}/${name} (${access.source})`,
      });
    } catch (e) {
      client.close();
      throw e;
    }
    const output = job.stdout === "inherit"
      ? "stdout"
      : job.stdout === "stderr"
      ? "stderr"
      : "null";
    const cancel = new AbortController();
    const jobPath = `/apis/batch/v1/namespaces/${namespace}/jobs/${name}`;
    const deleteJob = async () => {
      await client.request("DELETE", jobPath, {
        query: { propagationPolicy: "Background" },
        body: { apiVersion: "v1", kind: "DeleteOptions", propagationPolicy: "Background" },
        allow: [404],
        action: `delete Job ${namespace}/${name}`,
      }).then((res) => res.body?.cancel());
    };
    const followed = followJob(client, {
      namespace,
      name,
      container: containerName,
      reporter,
      onLogLine: this.#options.onLogLine ?? ((line) => writeText(output, line + "\n")),
      signal: cancel.signal,
      ...(this.#options.maxPollMs !== undefined ? { maxPollMs: this.#options.maxPollMs } : {}),
    });
    let terminating: Promise<void> | undefined;
    const ended = (async (): Promise<boolean> => {
      try {
        const outcome = await followed;
        if (outcome.startFailure !== undefined) {
          reporter.log("ERROR", outcome.startFailure);
          // The pod would retry forever: the Job goes with the failed run.
          await deleteJob().catch((e) =>
            reporter.log(
              "WARNING",
              `Could not delete Job ${name}: ${e instanceof Error ? e.message : e}`,
            )
          );
        }
        return outcome.status === "FINISHED";
      } catch (e) {
        if (cancel.signal.aborted) return false;
        reporter.log("ERROR", e instanceof Error ? e.message : String(e));
        return false;
      } finally {
        await terminating?.catch(() => {});
        client.close();
      }
    })();
    return {
      wait: () => ended,
      terminate: () => {
        terminating ??= (async () => {
          reporter.log("INFO", "Cancelling job.");
          cancel.abort();
          try {
            await deleteJob();
            await this.#waitGone(client, namespace, name);
            reporter.log("INFO", "Job cancelled.");
          } catch (e) {
            // The run still ends KILLED; say that the Job may outlive it.
            reporter.log(
              "ERROR",
              `Could not delete Job ${namespace}/${name}, it may still be running: ${
                e instanceof Error ? e.message : e
              }`,
            );
          }
        })();
        return terminating;
      },
    };
  }

  /** Waits until the Job and its pods are gone (bounded). */
  async #waitGone(client: KubeClient, namespace: string, name: string): Promise<void> {
    const deadline = Date.now() + (this.#options.deleteTimeoutMs ?? 120_000);
    let pause = 100;
    while (Date.now() < deadline) {
      const job = await client.json("GET", `/apis/batch/v1/namespaces/${namespace}/jobs/${name}`, {
        allow: [404],
      });
      const pods = await client.json<{ items?: unknown[] }>(
        "GET",
        `/api/v1/namespaces/${namespace}/pods`,
        { query: { labelSelector: `job-name=${name}` } },
      );
      if (job === undefined && (pods?.items ?? []).length === 0) return;
      await sleep(pause);
      pause = Math.min(pause * 2, 1000);
    }
    throw new ExecutionException(
      `Kubernetes Job ${namespace}/${name} was deleted, but its pods are still there after ${
        (this.#options.deleteTimeoutMs ?? 120_000) / 1000
      } s`,
    );
  }
}
