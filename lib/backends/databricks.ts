/**
 * The Databricks backend (`-b databricks`), MLflow's `mlflow/projects/databricks.py`: the project
 * is uploaded to DBFS once (content-addressed, MLflow's path and tarball), a one-time job run
 * (`jobs/runs/submit`) executes `mlflow run` on a new job cluster or on an existing cluster
 * (`existing_cluster_id`, which MLflow refuses), in the MLflow run recorded here. The job builds
 * the project's environment itself: nothing is built locally. The run is followed until the job
 * ends; cancelling (`cancel()`, SIGINT, SIGTERM) cancels the job and waits for it to end.
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
import { ExecutionException } from "../system/errors.ts";
import { type DatabricksConfig, parseDatabricksConfig } from "../databricks/backend_config.ts";
import type { JobRun, JobsClient } from "../databricks/jobs_client.ts";
import type { WorkspaceClient } from "../databricks/workspace_client.ts";
import { databricksHostCredentials } from "../tracking/databricks_config.ts";
import { sleep } from "../system/sleep.ts";
import { readUserFileSync } from "../system/user_file.ts";
import { cacheDir } from "../system/home_dir.ts";

/** The tarball cache of a run's environment (`$MLPROJECT_CACHE_DIR/databricks-tarballs`, …). */
function tarballCache(env: Record<string, string | undefined> | undefined): { cacheDir?: string } {
  const dir = cacheDir(env ?? Deno.env.toObject(), "databricks-tarballs");
  return dir !== undefined ? { cacheDir: dir } : {};
}

/** The modules a launch needs, loaded then (the CLI starts without them). */
async function launchModules() {
  const [dbfs, jobs, upload, follower, submit, workspace, rest] = await Promise.all([
    import("../databricks/dbfs_client.ts"),
    import("../databricks/jobs_client.ts"),
    import("../databricks/project_upload.ts"),
    import("../databricks/run_follower.ts"),
    import("../databricks/submit_request.ts"),
    import("../databricks/workspace_client.ts"),
    import("../tracking/rest_store.ts"),
  ]);
  return {
    DbfsClient: dbfs.DbfsClient,
    JobsClient: jobs.JobsClient,
    runStatusOf: jobs.runStatusOf,
    uploadProject: upload.uploadProject,
    JobRunFollower: follower.JobRunFollower,
    submitRequest: submit.submitRequest,
    openWorkspace: workspace.openWorkspace,
    isTransientError: rest.isTransientError,
  };
}

type LaunchModules = Awaited<ReturnType<typeof launchModules>>;

/**
 * The checks MLflow makes before a Databricks run (`before_run_validations`), with MLflow's
 * messages, except that `existing_cluster_id` is supported. Makes no API call.
 *
 * @param config The parsed backend configuration (`{}` when none was given).
 * @param trackingUri The run's tracking URI.
 * @param options `environment`: the project's environment kind (docker is refused).
 * @returns The parsed configuration.
 * @throws {ExecutionException} With MLflow's message.
 *
 * @example
 * ```ts
 * import { checkDatabricksRun } from "./databricks.ts";
 * let message = "";
 * try {
 *   checkDatabricksRun({ num_workers: 1 }, "sqlite:///mlflow.db");
 * } catch (e) {
 *   message = (e as Error).message;
 * }
 * console.assert(message.startsWith("When running on Databricks, the MLflow tracking URI"));
 * ```
 */
export function checkDatabricksRun(
  config: Readonly<Record<string, unknown>>,
  trackingUri: string,
  options: { environment?: string } = {},
): DatabricksConfig {
  if (Object.keys(config).length === 0) {
    throw new ExecutionException(
      "Backend spec must be provided when launching MLflow project runs on Databricks.",
    );
  }
  if (!/^databricks(:|$)/i.test(trackingUri) && !/^https?:\/\//i.test(trackingUri)) {
    throw new ExecutionException(
      `When running on Databricks, the MLflow tracking URI must be of the form 'databricks' or 'databricks://profile', or a remote HTTP URI accessible to both the current client and code running on Databricks. Got local tracking URI ${trackingUri}. Please specify a valid tracking URI via mlflow.set_tracking_uri or by setting the MLFLOW_TRACKING_URI environment variable.`,
    );
  }
  if (options.environment === "docker") {
    throw new ExecutionException(
      "Running docker-based projects on Databricks is not yet supported.",
    );
  }
  return parseDatabricksConfig(config);
}

/** Runs projects as Databricks job runs. */
export class DatabricksBackend implements Backend {
  readonly name = "databricks";
  readonly remoteEnvironment = true;

  check(request: BackendCheckRequest): BackendCheckResult {
    checkDatabricksRun(request.config, request.trackingUri, { environment: request.environment });
    if (request.projectFile !== undefined) {
      const text = readUserFileSync(request.projectFile);
      if (/^databricks_spark_job\s*:/m.test(text)) {
        throw new ExecutionException(
          `Projects with a 'databricks_spark_job' section (${request.projectFile}) are not supported yet: declare the script as an entry point ('python my_job.py …') to run it with mlflow run on the cluster`,
        );
      }
    }
    // Credentials are resolved now (no request yet), so a missing token fails before the run.
    const uri = /^databricks(:|$)/i.test(request.trackingUri) ? request.trackingUri : "databricks";
    databricksHostCredentials(uri, { ...(request.env ?? Deno.env.toObject()) });
    return { tags: [] };
  }

  async launch(job: LaunchJob): Promise<Execution> {
    const remote = job.remote;
    if (remote === undefined) {
      throw new ExecutionException("The databricks backend needs the project to upload");
    }
    const config = checkDatabricksRun(job.config, remote.trackingUri);
    const { reporter } = job;
    for (const key of config.ignoredKeys) {
      reporter.log(
        "WARNING",
        `Ignoring backend config key '${key}': next to 'new_cluster'/'existing_cluster_id' only 'libraries', 'timeout_seconds', 'run_name', 'mlflow_version' and 'poll_interval_seconds' are used`,
      );
    }
    const m = await launchModules();
    const { JobsClient, submitRequest, uploadProject } = m;
    const workspace = m.openWorkspace(remote.trackingUri, { env: job.env, reporter });
    const signal = job.signal !== undefined ? { signal: job.signal } : {};
    let jobRunId: number;
    try {
      const uploaded = await uploadProject(remote.dir, {
        experimentId: job.experimentId,
        dbfs: new m.DbfsClient(workspace),
        reporter,
        ...signal,
        ...tarballCache(job.env),
      });
      reporter.log(
        "INFO",
        `=== Running entry point ${remote.entryPoint} of project ${remote.uri} on Databricks ===`,
      );
      const body = submitRequest({
        projectUri: remote.uri,
        config,
        dbfsFusePath: uploaded.fusePath,
        runId: job.runId,
        entryPoint: remote.entryPoint,
        ...(remote.envManager !== undefined ? { envManager: remote.envManager } : {}),
        parameters: remote.parameters,
        trackingUri: remote.trackingUri,
        experimentId: job.experimentId,
      });
      reporter.log("INFO", "=== Submitting a run to execute the MLflow project... ===");
      jobRunId = await new JobsClient(workspace).submit(body, signal);
    } catch (e) {
      workspace.close();
      throw e;
    }
    return this.#started(job, { workspace, jobRunId, config, m });
  }

  /** Logs and tags the submitted job run, then follows it. */
  async #started(
    job: LaunchJob,
    started: {
      workspace: WorkspaceClient;
      jobRunId: number;
      config: DatabricksConfig;
      m: LaunchModules;
    },
  ): Promise<Execution> {
    const { workspace, jobRunId, config, m } = started;
    const { reporter } = job;
    const jobs: JobsClient = new m.JobsClient(workspace);
    reporter.log(
      "INFO",
      `=== Launched MLflow run as Databricks job run with ID ${jobRunId}. Getting run status page URL... ===`,
    );
    // From here the job exists: an interrupt cancels it (through the execution), so no call
    // below is stopped by the launch's signal.
    let first: JobRun | undefined;
    try {
      first = await jobs.get(jobRunId);
      reporter.log("INFO", `=== Check the run's status at ${first.runPageUrl} ===`);
      const tags: [string, string][] = [
        ["mlflow.databricks.runURL", first.runPageUrl],
        ["mlflow.databricks.shellJobRunID", String(jobRunId)],
        ["mlflow.databricks.webappURL", workspace.host],
      ];
      if (first.jobId !== undefined) {
        tags.push(["mlflow.databricks.shellJobID", String(first.jobId)]);
      }
      await job.recordTags?.(tags);
    } catch (e) {
      reporter.log(
        "WARNING",
        `=== Could not record the Databricks job run's URL: ${
          e instanceof Error ? e.message : e
        } ===`,
      );
    }
    reporter.log(
      "INFO",
      `=== Following Databricks job run ${jobRunId} (state read every ${config.pollIntervalSeconds} s at most) ===`,
    );
    const follower = new m.JobRunFollower(jobs, jobRunId, {
      pollIntervalMs: config.pollIntervalSeconds * 1000,
      reporter,
      ...(first !== undefined ? { first } : {}),
    });
    const ended = follower.ended.finally(() => workspace.close());
    ended.catch(() => {});
    return {
      wait: async () => {
        try {
          return m.runStatusOf((await ended).state) === "FINISHED";
        } catch (e) {
          reporter.log(
            "ERROR",
            `=== Lost track of Databricks job run ${jobRunId}: ${
              e instanceof Error ? e.message : e
            }; it may still be running ===`,
          );
          return false;
        }
      },
      terminate: async () => {
        reporter.log("INFO", `=== Cancelling Databricks job run ${jobRunId} ===`);
        for (let attempt = 1;; attempt++) {
          try {
            await jobs.cancel(jobRunId);
            break;
          } catch (e) {
            if (!m.isTransientError(e) || attempt >= 5) {
              reporter.log(
                "ERROR",
                `=== Could not cancel Databricks job run ${jobRunId}: ${
                  e instanceof Error ? e.message : e
                } ===`,
              );
              follower.stop();
              await ended.catch(() => {});
              return;
            }
            await sleep(Math.min(10_000, 500 * 2 ** attempt));
          }
        }
        follower.cancelRequested();
        await ended.catch(() => {});
      },
    };
  }
}
