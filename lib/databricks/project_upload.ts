/**
 * Uploads a project to DBFS as MLflow does (`_upload_project_to_dbfs`): MLflow's deterministic
 * tarball, content-addressed at `dbfs:/mlflow-experiments/<experiment>/projects-code/<sha256>.tar.gz`
 * (the same path MLflow computes for the same project, so the uploads are shared), checked with
 * `get-status` first and uploaded only when missing: with one `put`, or streamed a block at a time
 * (`create`/`add-block`/`close`) with a progress line per block for larger projects. With a cache
 * directory, an unchanged project's sha256 comes from the tarball cache (project_tarball_cache.ts):
 * no archive is built when DBFS has it, and the cached tarball is uploaded when it does not.
 *
 * @module
 */
import type { Reporter } from "../system/output.ts";
import { DBFS_BLOCK_BYTES, type DbfsClient } from "./dbfs_client.ts";
import { cachedProjectTarball } from "./project_tarball_cache.ts";

/** Where a project was put. */
export interface UploadedProject {
  /** DBFS path for the API (`/mlflow-experiments/<exp>/projects-code/<sha>.tar.gz`). */
  readonly dbfsPath: string;
  /** The same file through the driver's FUSE mount (`/dbfs/mlflow-experiments/…`). */
  readonly fusePath: string;
  /** sha256 of the tarball. */
  readonly sha256: string;
  /** Tarball size in bytes. */
  readonly size: number;
  /** `false` when the file was already there (no upload). */
  readonly uploaded: boolean;
}

/**
 * The DBFS path of a project tarball (relative, as MLflow's `dbfs_path`).
 *
 * @param experimentId The run's experiment.
 * @param sha256 The tarball's sha256.
 * @returns `mlflow-experiments/<experiment>/projects-code/<sha256>.tar.gz`.
 *
 * @example
 * ```ts
 * import { projectDbfsPath } from "./project_upload.ts";
 * console.assert(projectDbfsPath("7", "ab") === "mlflow-experiments/7/projects-code/ab.tar.gz");
 * ```
 */
export function projectDbfsPath(experimentId: string, sha256: string): string {
  return `mlflow-experiments/${experimentId}/projects-code/${sha256}.tar.gz`;
}

function kb(bytes: number): string {
  return String(Math.round((bytes / 1024) * 10) / 10);
}

function mb(bytes: number): string {
  return (bytes / (1024 * 1024)).toFixed(1);
}

/** Options of {@linkcode uploadProject}. */
export interface UploadProjectOptions {
  /** The run's experiment. */
  experimentId: string;
  /** The DBFS client. */
  dbfs: DbfsClient;
  /** Where the log lines go. */
  reporter: Reporter;
  /** Aborts the archive and the upload. */
  signal?: AbortSignal;
  /**
   * The tarball cache directory (`cacheDir(env, "databricks-tarballs")`): an unchanged project
   * is then neither archived nor compressed again. Without it every run builds the tarball.
   */
  cacheDir?: string;
}

/**
 * Archives the project (or takes its digest from the tarball cache) and uploads it unless DBFS
 * has it already.
 *
 * @param workDir The project directory.
 * @param options The experiment, the DBFS client, the reporter, an abort signal, the cache.
 * @returns Where the tarball is.
 * @throws {ExecutionException} For an unreadable project or an unexpected DBFS answer.
 *
 * @example
 * ```ts ignore
 * import { uploadProject } from "./project_upload.ts";
 * const up = await uploadProject("examples/demo", { experimentId: "1", dbfs, reporter });
 * console.log(up.fusePath, up.uploaded);
 * ```
 */
export async function uploadProject(
  workDir: string,
  options: UploadProjectOptions,
): Promise<UploadedProject> {
  const { reporter, dbfs } = options;
  const signal = options.signal !== undefined ? { signal: options.signal } : {};
  reporter.log("INFO", `=== Creating tarball from ${workDir} ===`);
  await using tarball = await cachedProjectTarball(workDir, {
    ...signal,
    ...(options.cacheDir !== undefined ? { cacheDir: options.cacheDir } : {}),
  });
  if (tarball.hit) {
    reporter.log("INFO", `=== Project unchanged since its last tarball (${tarball.sha256}) ===`);
  }
  const where = (sha256: string) => {
    const relative = projectDbfsPath(options.experimentId, sha256);
    return { dbfsPath: `/${relative}`, fusePath: `/dbfs/${relative}` };
  };
  let { dbfsPath, fusePath } = where(tarball.sha256);
  if (await dbfs.getStatus(dbfsPath, signal) !== undefined) {
    reporter.log("INFO", "=== Project already exists in DBFS ===");
    return { dbfsPath, fusePath, sha256: tarball.sha256, size: tarball.size, uploaded: false };
  }
  const opened = await tarball.open();
  using file = opened.file;
  if (opened.sha256 !== tarball.sha256) {
    // The project changed between its digest and its bytes: the path follows the bytes.
    ({ dbfsPath, fusePath } = where(opened.sha256));
    if (await dbfs.getStatus(dbfsPath, signal) !== undefined) {
      reporter.log("INFO", "=== Project already exists in DBFS ===");
      return { dbfsPath, fusePath, sha256: opened.sha256, size: opened.size, uploaded: false };
    }
  }
  const size = opened.size;
  reporter.log("INFO", `=== Uploading project tarball (size: ${kb(size)} KB) to ${fusePath} ===`);
  const done = await dbfs.upload(dbfsPath, { size, read: (p) => file.read(p) }, {
    ...signal,
    ...(size > DBFS_BLOCK_BYTES
      ? {
        onProgress: (p) =>
          reporter.log("INFO", `=== Uploaded ${mb(p.sent)} of ${mb(p.total)} MB ===`),
      }
      : {}),
  });
  if (!done.uploaded) {
    reporter.log("INFO", `=== Did not overwrite existing DBFS path ${fusePath} ===`);
  } else {
    reporter.log("INFO", `=== Finished uploading project to ${fusePath} ===`);
  }
  return { dbfsPath, fusePath, sha256: opened.sha256, size, uploaded: done.uploaded };
}
