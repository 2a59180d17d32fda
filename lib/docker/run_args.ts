/**
 * The `docker run` invocation of a docker project, in MLflow's order and meaning
 * (`backend/local.py::_get_docker_command`): `--rm`, the `-A/--docker-args`, the tracking store
 * mount, the artifact store mounts, `docker_env.volumes`, the environment, the image, the command.
 *
 * Differences from MLflow, on purpose: the argv is a list (no value is re-split by a shell);
 * variable values travel in the `docker` CLI's environment (`-e NAME`), so they are neither
 * quoted nor visible in `ps`; a SQLite store is mounted by its directory (so `-wal`/`-shm`/journal
 * files are shared); the container has a name and a label tied to the run.
 *
 * @module
 */
import { escapeForMessage, ExecutionException } from "../system/errors.ts";
import type { Reporter } from "../system/output.ts";
import { fileUrlToPath, isAbsolute, normalize, resolve } from "../system/paths.ts";
import { parseTrackingUri } from "../tracking/tracking_uri.ts";
import { IMAGE_WORKDIR } from "./_image_workdir.ts";

/** One `-A/--docker-args` item: `name` with a value, or `true` for a flag. */
export type DockerArg = readonly [name: string, value: string | boolean];

/** Where MLflow mounts a local tracking store in the container. */
export const CONTAINER_TRACKING_DIR = "/mlflow/tmp/mlruns";
/** Label carrying the run id on every container of a run. */
export const RUN_ID_LABEL = "org.mlproject.run-id";

/** What {@linkcode dockerRunArgs} needs. */
export interface DockerRunRequest {
  /** The image reference (`DockerImage.uri`). */
  image: string;
  /** The command run in the container, as argv (see {@linkcode containerCommand}). */
  command: readonly string[];
  /** The run id (`MLFLOW_RUN_ID`, container name and label). */
  runId: string;
  /** The run's experiment id (`MLFLOW_EXPERIMENT_ID`). */
  experimentId: string;
  /** The tracking URI as the host sees it (the store's URI). */
  trackingUri: string;
  /** Extra variables the tracking store hands children (e.g. Databricks credentials). */
  trackingEnv?: Record<string, string>;
  /** The run's `artifact_uri` (decides the artifact-store mounts and variables). */
  artifactUri?: string;
  /** `-A/--docker-args` in order (repeated names allowed), or a name → value record. */
  dockerArgs?: readonly DockerArg[] | Record<string, string | boolean>;
  /** `docker_env.volumes`. */
  volumes?: readonly string[];
  /** `docker_env.environment`: `[NAME, VALUE]` pairs, or names copied from `hostEnv`. */
  environment?: readonly (string | readonly [string, string])[];
  /** The host environment (copied names, AWS/Azure/GCS/HDFS/Databricks variables, `HOME`). */
  hostEnv: Record<string, string>;
  /** Directory relative tracking and artifact paths belong to. */
  cwd: string;
  /** Container name (default `mlproject-<run id>-<random>`; a `-A name=…` wins). */
  containerName?: string;
  /** Receives the warning about `localhost` tracking URIs. */
  reporter?: Reporter;
}

/** A ready `docker run` invocation. */
export interface DockerRunInvocation {
  /** Arguments after `docker` (`["run", "--rm", …, image, …command]`). */
  args: string[];
  /** Environment of the `docker` CLI process: `hostEnv` plus the container variables' values. */
  cliEnv: Record<string, string>;
  /** The variables the container gets, in order (for display; values may be secrets). */
  containerEnv: Map<string, string>;
  /** The container's name (for `docker stop`/`docker rm -f`). */
  containerName: string;
  /** `docker run …` as one line with variable values left out (for the log). */
  display: string;
  /**
   * Host directories of the store mounts, created by `startContainer` when missing (dockerd would
   * create them root-owned; podman refuses a missing source).
   */
  hostDirs: string[];
}

/**
 * Parses `-A` items: `name=value` or a bare `name` (a flag). Repeated names are kept.
 *
 * @param items The raw `-A/--docker-args` values.
 * @returns The items in order.
 *
 * @example
 * ```ts
 * import { parseDockerArgs } from "./run_args.ts";
 * const a = parseDockerArgs(["gpus=all", "privileged", "e=A=1", "e=B=2"]);
 * console.assert(a.length === 4 && a[1]![1] === true && a[2]![1] === "A=1");
 * ```
 */
export function parseDockerArgs(items: readonly string[]): DockerArg[] {
  return items.map((item) => {
    const eq = item.indexOf("=");
    return eq === -1 ? [item, true] : [item.slice(0, eq), item.slice(eq + 1)];
  });
}

/**
 * The container argv for an entry point's shell command: `sh -c <command>`, so the command's
 * shell syntax and `$VARIABLES` are evaluated in the container (MLflow splits it with the host's
 * bash instead, and runs the words without a shell).
 *
 * @param command The rendered entry-point command.
 * @returns `["sh", "-c", command]`.
 *
 * @example
 * ```ts
 * import { containerCommand } from "./run_args.ts";
 * console.assert(containerCommand("echo $MLFLOW_RUN_ID").length === 3);
 * ```
 */
export function containerCommand(command: string): string[] {
  return ["sh", "-c", command];
}

function flagName(name: string): string {
  return name.length === 1 ? `-${name}` : `--${name}`;
}

function schemeOf(uri: string): string {
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(uri);
  return m ? m[1]!.toLowerCase() : "";
}

function localPathOfUri(uri: string): string {
  if (uri.startsWith("file://")) return fileUrlToPath(uri);
  if (uri.startsWith("file:")) return decodeURIComponent(uri.slice("file:".length));
  return uri;
}

function isHostLoopback(uri: string): boolean {
  const m = /^https?:\/\/(?:[^@/?#]*@)?(\[[^\]]*\]|[^:/?#]*)/i.exec(uri);
  const host = (m?.[1] ?? "").toLowerCase();
  return host === "localhost" || host.endsWith(".localhost") || host.startsWith("127.") ||
    host === "[::1]" || host === "0.0.0.0";
}

const CLI_READS = /^(PATH|HOME|TMPDIR|DOCKER_.*|(HTTPS?|NO|ALL)_PROXY)$/i;

/**
 * Builds the `docker run` invocation of a run.
 *
 * @param request Image, command, run, tracking and artifact URIs, `-A` args, `docker_env`.
 * @returns The CLI arguments and environment.
 * @throws {ExecutionException} When a name in `docker_env.environment` is not set on the host
 *   (MLflow's "This project expects …" message).
 *
 * @example
 * ```ts
 * import { dockerRunArgs } from "./run_args.ts";
 * const inv = dockerRunArgs({
 *   image: "p:1", command: ["sh", "-c", "true"], runId: "r1", experimentId: "0",
 *   trackingUri: "file:///tmp/mlruns", hostEnv: {}, cwd: "/tmp", dockerArgs: [["gpus", "all"]],
 * });
 * console.assert(inv.args.includes("--gpus") && inv.args.includes("/tmp/mlruns:/mlflow/tmp/mlruns"));
 * ```
 */
export function dockerRunArgs(request: DockerRunRequest): DockerRunInvocation {
  const host = request.hostEnv;
  const args: string[] = ["run", "--rm"];
  const hostDirs: string[] = [];
  const dockerArgs: readonly DockerArg[] = Array.isArray(request.dockerArgs)
    ? request.dockerArgs
    : Object.entries(request.dockerArgs ?? {});
  const named = dockerArgs.find(([name, value]) => name === "name" && typeof value === "string");
  const containerName = (named?.[1] as string | undefined) ?? request.containerName ??
    `mlproject-${request.runId.replace(/[^A-Za-z0-9_.-]/g, "-")}-${
      crypto.randomUUID().slice(0, 8)
    }`;
  if (named === undefined) args.push("--name", containerName);
  args.push("--label", `${RUN_ID_LABEL}=${request.runId}`);

  // 2. -A/--docker-args, in order.
  for (const [name, value] of dockerArgs) {
    if (value === false) continue;
    if (value === true) args.push(flagName(name));
    else args.push(flagName(name), value);
  }
  const hostNetwork = dockerArgs.some(([name, value]) =>
    (name === "network" || name === "net") && value === "host"
  );

  // 5 (first part). The run's variables; later updates keep their position, as a Python dict.
  const env = new Map<string, string>([
    ["MLFLOW_RUN_ID", request.runId],
    ["MLFLOW_TRACKING_URI", request.trackingUri],
    ["MLFLOW_EXPERIMENT_ID", request.experimentId],
  ]);

  // 3. The tracking store.
  const target = parseTrackingUri(request.trackingUri, request.cwd);
  if (target.kind === "file") {
    args.push("-v", `${target.path}:${CONTAINER_TRACKING_DIR}`);
    hostDirs.push(target.path);
    env.set("MLFLOW_TRACKING_URI", `file://${CONTAINER_TRACKING_DIR}`);
  } else if (target.kind === "sqlite") {
    const slash = target.path.lastIndexOf("/");
    const dir = slash <= 0 ? "/" : target.path.slice(0, slash);
    const file = target.path.slice(slash + 1);
    args.push("-v", `${dir}:${CONTAINER_TRACKING_DIR}`);
    env.set("MLFLOW_TRACKING_URI", `sqlite:///${CONTAINER_TRACKING_DIR}/${file}`);
  } else if (/^https?:/i.test(request.trackingUri) && isHostLoopback(request.trackingUri)) {
    if (!hostNetwork) {
      request.reporter?.log(
        "WARNING",
        `Tracking URI '${request.trackingUri}' names this machine: inside the container it names the container itself. Pass -A network=host, or a tracking URI with an address the container can reach`,
      );
    }
  }
  for (const [k, v] of Object.entries(request.trackingEnv ?? {})) env.set(k, v);

  // 4. The artifact store.
  if (request.artifactUri !== undefined) {
    const uri = request.artifactUri;
    const scheme = schemeOf(uri);
    const copy = (...names: string[]) => {
      for (const n of names) if (host[n] !== undefined) env.set(n, host[n]!);
    };
    if (scheme === "" || scheme === "file") {
      const path = localPathOfUri(uri);
      const inContainer = isAbsolute(path) ? normalize(path) : normalize(IMAGE_WORKDIR + path);
      args.push("-v", `${resolve(request.cwd, path)}:${inContainer}`);
      hostDirs.push(resolve(request.cwd, path));
    } else if (scheme === "s3") {
      const home = host.HOME || host.USERPROFILE;
      if (home) {
        const aws = `${home.replace(/\/+$/, "")}/.aws`;
        try {
          Deno.statSync(aws);
          args.push("-v", `${aws}:/.aws`);
        } catch {
          // no ~/.aws
        }
      }
      copy(
        "AWS_SECRET_ACCESS_KEY",
        "AWS_ACCESS_KEY_ID",
        "MLFLOW_S3_ENDPOINT_URL",
        "MLFLOW_S3_IGNORE_TLS",
      );
    } else if (scheme === "wasbs") {
      copy("AZURE_STORAGE_CONNECTION_STRING", "AZURE_STORAGE_ACCESS_KEY");
    } else if (scheme === "gs") {
      const credentials = host.GOOGLE_APPLICATION_CREDENTIALS;
      if (credentials !== undefined) {
        args.push("-v", `${credentials}:/.gcs`);
        env.set("GOOGLE_APPLICATION_CREDENTIALS", "/.gcs");
      }
    } else if (scheme === "hdfs" || scheme === "viewfs") {
      copy("MLFLOW_KERBEROS_TICKET_CACHE", "MLFLOW_KERBEROS_USER", "MLFLOW_PYARROW_EXTRA_CONF");
      const cache = host.MLFLOW_KERBEROS_TICKET_CACHE;
      if (cache !== undefined) args.push("-v", `${cache}:${cache}`);
    }
  }

  // 5 (rest). docker_env.environment.
  for (const [name, value] of dockerEnvironment(request.environment ?? [], host)) {
    env.set(name, value);
  }

  // 6. Volumes.
  for (const v of request.volumes ?? []) args.push("-v", v);

  // 7. Variables: the value rides in the CLI's environment unless the CLI itself reads the name.
  const cliEnv: Record<string, string> = { ...host };
  const shown: string[] = [];
  for (const [k, v] of env) {
    if (CLI_READS.test(k) || k.includes("=")) {
      args.push("-e", `${k}=${v}`);
      shown.push("-e", `${k}=…`);
    } else {
      args.push("-e", k);
      cliEnv[k] = v;
      shown.push("-e", k);
    }
  }

  // 8. Image and command.
  args.push(request.image, ...request.command);
  const before = args.slice(0, args.length - request.command.length - 1 - shown.length);
  const display = ["docker", ...before, ...shown, request.image, ...request.command]
    .map((a) => /^[A-Za-z0-9_@%+=:,./-]+$/.test(a) ? a : `'${a.replaceAll("'", `'"'"'`)}'`)
    .join(" ");
  return { args, cliEnv, containerEnv: env, containerName, display, hostDirs };
}

/**
 * The variables of `docker_env.environment`: `[name, value]` pairs as given, and names copied
 * from the machine running the project (MLflow's message when one is not set).
 *
 * @param wanted The `environment` list of the MLproject file.
 * @param host The variables of the machine running the project.
 * @returns The pairs, in the file's order.
 * @throws {ExecutionException} When a copied variable is not set.
 * @example
 * ```ts
 * import { dockerEnvironment } from "./run_args.ts";
 * dockerEnvironment([["A", "1"], "HOME"], { HOME: "/root" }); // [["A", "1"], ["HOME", "/root"]]
 * ```
 */
export function dockerEnvironment(
  wanted: readonly (string | readonly [string, string])[],
  host: Readonly<Record<string, string>>,
): [string, string][] {
  const out: [string, string][] = [];
  for (const entry of wanted) {
    if (typeof entry !== "string") {
      out.push([entry[0], entry[1]]);
      continue;
    }
    const value = host[entry];
    if (value === undefined) {
      const names = wanted.filter((e): e is string => typeof e === "string");
      throw new ExecutionException(
        `This project expects the ${
          escapeForMessage(names.join(", "))
        } environment variables to be set on the machine running the project, but ${
          escapeForMessage(entry)
        } was not set. Please ensure all expected environment variables are set`,
      );
    }
    out.push([entry, value]);
  }
  return out;
}
