/**
 * The image a docker project runs in, as MLflow chooses it: `docker_env.image` as is (pulled
 * when missing), or with `--build-image` an image `FROM` it with the project copied to
 * `/mlflow/projects/code/`. Built images are content-addressed: the tag comes from a hash of the
 * build context (project minus `.dockerignore`) and the generated Dockerfile, and a label holds
 * the base image id, so an unchanged project is never rebuilt.
 *
 * @module
 */
import { escapeForMessage, ExecutionException } from "../system/errors.ts";
import type { Reporter } from "../system/output.ts";
import { withFileLock } from "../system/file_lock.ts";
import { cacheDir } from "../system/home_dir.ts";
import { parseTrackingUri } from "../tracking/tracking_uri.ts";
import { docker, lastErrorLine } from "./_docker_cli.ts";
import {
  CONTEXT_DOCKERFILE,
  contextHash,
  contextTar,
  generatedDockerfile,
  scanBuildContext,
  type TarStreamReport,
} from "./build_context.ts";

/** Label holding the full context hash of a built image. */
export const CONTEXT_LABEL = "org.mlproject.context-sha256";
/** Label holding the id of the base image a built image was made from. */
export const BASE_ID_LABEL = "org.mlproject.base-image-id";

/** The image a run uses. */
export interface DockerImage {
  /** Reference passed to `docker run` and recorded as `mlflow.docker.image.uri`. */
  uri: string;
  /** Image id (`sha256:…`), recorded as `mlflow.docker.image.id`. */
  id: string;
  /** Whether this call built the image. */
  built: boolean;
  /** Whether this call pulled the base image. */
  pulled: boolean;
  /** Hash of the build context and Dockerfile (`--build-image` only). */
  contextHash?: string;
  /** The `docker` subcommands this call ran, in order (`image inspect`, `pull`, `build`, …). */
  commands: string[];
}

/** Options of {@linkcode resolveDockerImage}. */
export interface ResolveDockerImageOptions {
  /** MLflow's `--build-image`: build an image with the project copied in. */
  buildImage?: boolean;
  /** Environment of the `docker` CLI (and of the lock directory); default this process's. */
  env?: Record<string, string>;
  /** Progress lines (`Pulling …`, `=== Building docker image … ===`, one per build step). */
  reporter?: Reporter;
  /** Aborting stops a pull or build. */
  signal?: AbortSignal;
  /**
   * Absolute paths left out of the build context when inside the project: pass the run's local
   * tracking store (`mlruns/`, or `mlflow.db` with its `-wal`, `-shm`, `-journal`) and artifact
   * root, which change on every run and would otherwise force a rebuild each time.
   */
  excludePaths?: readonly string[];
}

/** The project fields the image needs. */
export interface DockerImageProject {
  /** The MLproject `name` (image repository). */
  name: string | undefined;
  /** The project directory (build context). */
  dir: string;
  /** The `docker_env` section. */
  dockerEnv: { image: string } | undefined;
}

/**
 * A Docker repository name from a project name: lower case, characters Docker refuses replaced
 * by `-` (MLflow passes the name unchanged and fails on, e.g., upper case). No name gives
 * MLflow's `docker-project`.
 *
 * @param name The project name.
 * @returns A valid repository name.
 *
 * @example
 * ```ts
 * import { imageRepository } from "./image.ts";
 * console.assert(imageRepository("My Project") === "my-project");
 * console.assert(imageRepository("team/train_v2") === "team/train_v2");
 * ```
 */
export function imageRepository(name: string | undefined): string {
  const parts = (name ?? "").toLowerCase().split("/").map((part) =>
    part.replace(/[^a-z0-9._-]+/g, "-").replace(/^[._-]+|[._-]+$/g, "").replace(
      /([._-])[._-]+/g,
      (_m, first: string) => first === "_" ? "__" : first,
    )
  ).filter((part) => part !== "");
  return parts.length === 0 ? "docker-project" : parts.join("/");
}

/**
 * The tags a docker run records: `mlflow.docker.image.uri`, `mlflow.docker.image.id` and
 * `mlflow.project.env=docker`.
 *
 * @param image The resolved image.
 * @returns Tag name → value.
 *
 * @example
 * ```ts
 * import { dockerImageTags } from "./image.ts";
 * const t = dockerImageTags({ uri: "p:1", id: "sha256:ab" });
 * console.assert(t["mlflow.docker.image.id"] === "sha256:ab");
 * ```
 */
export function dockerImageTags(image: Pick<DockerImage, "uri" | "id">): Record<string, string> {
  return {
    "mlflow.docker.image.uri": image.uri,
    "mlflow.docker.image.id": image.id,
    "mlflow.project.env": "docker",
  };
}

interface Inspected {
  id: string;
  labels: Record<string, string>;
}

const INSPECT_FORMAT = "{{json .Id}}\t{{json .Config.Labels}}";

function parseInspect(stdout: string): Inspected[] {
  const out: Inspected[] = [];
  for (const line of stdout.split("\n")) {
    const tab = line.indexOf("\t");
    if (tab === -1) continue;
    try {
      const id = JSON.parse(line.slice(0, tab));
      const labels = JSON.parse(line.slice(tab + 1)) ?? {};
      if (typeof id === "string") out.push({ id, labels });
    } catch {
      // not an inspect line
    }
  }
  return out;
}

class Session {
  readonly commands: string[] = [];
  constructor(
    readonly env: Record<string, string>,
    readonly reporter: Reporter | undefined,
    readonly signal: AbortSignal | undefined,
  ) {}

  run(args: string[], extra: Parameters<typeof docker>[1] = {}) {
    this.commands.push(args[0] === "image" ? `image ${args[1]}` : args[0]!);
    return docker(args, {
      env: this.env,
      ...(this.signal ? { signal: this.signal } : {}),
      ...extra,
    });
  }

  async inspect(refs: string[]): Promise<Inspected[]> {
    const out = await this.run(["image", "inspect", "--format", INSPECT_FORMAT, ...refs]);
    if (out.code === 127) {
      throw new ExecutionException(
        "Could not find Docker executable. Ensure Docker is installed as per the instructions at https://docs.docker.com/install/overview/.",
      );
    }
    const found = parseInspect(out.stdout);
    // A missing image is "No such image" (dockerd) or "image not known" (podman); only an engine
    // that cannot be reached is an error here.
    if (
      !out.success &&
      /cannot connect|error during connect|permission denied|daemon running/i.test(out.stderr)
    ) {
      throw new ExecutionException(
        `docker image inspect ${refs.join(" ")} failed: ${escapeForMessage(lastErrorLine(out))}`,
      );
    }
    return found;
  }

  async pull(image: string): Promise<void> {
    this.reporter?.log("INFO", `Pulling ${image}`);
    let last = "";
    const out = await this.run(["pull", image], {
      onLine: (line) => {
        const text = line.trim();
        if (text === "" || text === last) return;
        last = text;
        this.reporter?.log("INFO", `docker pull: ${text}`);
      },
    });
    if (!out.success) {
      throw new ExecutionException(
        `Pulling docker image '${escapeForMessage(image)}' failed: ${
          escapeForMessage(lastErrorLine(out))
        }`,
      );
    }
  }

  /** The base image's id, pulled first when it is not local. */
  async baseId(
    base: string,
    known: Inspected | undefined,
  ): Promise<{ id: string; pulled: boolean }> {
    if (known !== undefined) return { id: known.id, pulled: false };
    await this.pull(base);
    const [after] = await this.inspect([base]);
    if (after === undefined) {
      throw new ExecutionException(
        `Docker image '${escapeForMessage(base)}' is not available after pulling it`,
      );
    }
    return { id: after.id, pulled: true };
  }
}

/**
 * Resolves the image a docker project runs in.
 *
 * - Without `buildImage`: `docker_env.image` as is (one `docker image inspect`; `docker pull`
 *   with progress when it is missing). The project code is not in it (as MLflow).
 * - With `buildImage`: `<repository>:<16 hex of the context hash>`; an existing image with the
 *   same context hash and base image id is reused (one `docker image inspect`, 0 builds);
 *   otherwise one `docker build -` fed the context as a tar stream, under a lock so concurrent
 *   runs of the same project build once.
 *
 * @param project Name, directory and `docker_env` (a `ProjectSpec` fits).
 * @param options `buildImage`, CLI environment, reporter, abort signal.
 * @returns The image to run and what was done.
 * @throws {ExecutionException} When a pull or build fails, or the project changed during a build.
 *
 * @example
 * ```ts ignore
 * import { resolveDockerImage } from "./image.ts";
 * const image = await resolveDockerImage(project, { buildImage: true, reporter });
 * // image.uri "my-project:3f2a…", image.id "sha256:…", image.built false on a rerun
 * ```
 */
export async function resolveDockerImage(
  project: DockerImageProject,
  options: ResolveDockerImageOptions = {},
): Promise<DockerImage> {
  const base = project.dockerEnv?.image;
  if (!base) {
    throw new ExecutionException(
      "Project with docker environment must specify the docker image to use via an 'image' field under the 'docker_env' field.",
    );
  }
  const env = options.env ?? Deno.env.toObject();
  const s = new Session(env, options.reporter, options.signal);
  if (!options.buildImage) {
    const [found] = await s.inspect([base]);
    if (found !== undefined) options.reporter?.log("INFO", `${base} already exists`);
    const { id, pulled } = await s.baseId(base, found);
    return { uri: base, id, built: false, pulled, commands: s.commands };
  }

  const dockerfile = generatedDockerfile(base);
  const context = await scanBuildContext(project.dir, {
    ...(options.excludePaths ? { excludePaths: options.excludePaths } : {}),
  });
  const hash = contextHash(context, dockerfile);
  const uri = `${imageRepository(project.name)}:${hash.slice(0, 16)}`;
  const matches = (i: Inspected, baseId: string | undefined) =>
    i.labels[CONTEXT_LABEL] === hash &&
    (baseId === undefined || i.labels[BASE_ID_LABEL] === baseId);

  const first = await s.inspect([base, uri]);
  const target = first.find((i) => matches(i, undefined));
  const baseFound = first.find((i) => i !== target);
  if (target !== undefined && baseFound === undefined) {
    // The base is not local (removed, or never pulled here): nothing to compare; keep the image.
    options.reporter?.log("INFO", `=== Reusing docker image ${uri} (project unchanged) ===`);
    return {
      uri,
      id: target.id,
      built: false,
      pulled: false,
      contextHash: hash,
      commands: s.commands,
    };
  }
  const { id: baseId, pulled } = await s.baseId(base, baseFound);
  if (target !== undefined && matches(target, baseId)) {
    options.reporter?.log("INFO", `=== Reusing docker image ${uri} (project unchanged) ===`);
    return { uri, id: target.id, built: false, pulled, contextHash: hash, commands: s.commands };
  }

  // The lock lives in mlproject's cache (`~/.cache/mlproject/docker/.locks`, or the system's
  // temporary directory without a home).
  const lockDir = cacheDir(env, "docker") ?? `${env.TMPDIR || "/tmp"}/mlproject-docker`;
  return await withFileLock(lockDir, `build-${hash.slice(0, 32)}`, async () => {
    // Another run may have built it while this one waited for the lock.
    const again = (await s.inspect([uri])).find((i) => matches(i, baseId));
    if (again !== undefined) {
      options.reporter?.log("INFO", `=== Reusing docker image ${uri} (built by another run) ===`);
      return { uri, id: again.id, built: false, pulled, contextHash: hash, commands: s.commands };
    }
    options.reporter?.log("INFO", `=== Building docker image ${uri} ===`);
    const report: TarStreamReport = { changed: [] };
    const out = await s.run([
      "build",
      "--force-rm",
      "-f",
      CONTEXT_DOCKERFILE,
      "-t",
      uri,
      "--label",
      `${CONTEXT_LABEL}=${hash}`,
      "--label",
      `${BASE_ID_LABEL}=${baseId}`,
      "-",
    ], {
      input: contextTar(context, dockerfile, report),
      onLine: (line) => {
        const step = /^Step (\d+\/\d+) : (.*)$/.exec(line) ??
          /^#\d+ \[[^\]]*?(\d+\/\d+)\] (.*)$/.exec(line);
        if (step) options.reporter?.log("INFO", `docker build step ${step[1]}: ${step[2]}`);
      },
    });
    if (!out.success) {
      throw new ExecutionException(
        `Building docker image '${uri}' failed: ${escapeForMessage(lastErrorLine(out))}`,
      );
    }
    if (report.changed.length > 0) {
      await s.run(["image", "rm", uri]);
      throw new ExecutionException(
        `The project changed while its docker image was built ('${
          escapeForMessage(report.changed[0]!)
        }'): run again`,
      );
    }
    const [built] = await s.inspect([uri]);
    if (built === undefined) {
      throw new ExecutionException(`Docker image '${uri}' is missing right after its build`);
    }
    return { uri, id: built.id, built: true, pulled, contextHash: hash, commands: s.commands };
  });
}

/** What {@linkcode lookupDockerImage} found, without pulling or building. */
export interface DockerImageLookup {
  /** The image the run would use (for `--build-image`, the content-addressed tag). */
  uri: string;
  /** Whether it exists locally (with the same content and base when built). */
  present: boolean;
  /** Whether `--build-image` would build it. */
  mustBuild: boolean;
}

/**
 * Finds the image a run would use and whether it is ready, as {@linkcode resolveDockerImage}
 * would decide, but pulls and builds nothing (for the plan stage and `--dry-run`).
 *
 * @param project Name, directory and `docker_env`.
 * @param options `buildImage`, CLI environment, abort signal, paths left out of the context.
 * @returns The image reference and whether it is present or must be built.
 * @throws {ExecutionException} When the engine cannot be reached.
 *
 * @example
 * ```ts ignore
 * import { lookupDockerImage } from "./image.ts";
 * const { uri, mustBuild } = await lookupDockerImage(project, { buildImage: true });
 * ```
 */
export async function lookupDockerImage(
  project: DockerImageProject,
  options: Omit<ResolveDockerImageOptions, "reporter"> = {},
): Promise<DockerImageLookup> {
  const base = project.dockerEnv?.image;
  if (!base) {
    throw new ExecutionException(
      "Project with docker environment must specify the docker image to use via an 'image' field under the 'docker_env' field.",
    );
  }
  const s = new Session(options.env ?? Deno.env.toObject(), undefined, options.signal);
  if (!options.buildImage) {
    const [found] = await s.inspect([base]);
    return { uri: base, present: found !== undefined, mustBuild: false };
  }
  const dockerfile = generatedDockerfile(base);
  const context = await scanBuildContext(project.dir, {
    ...(options.excludePaths ? { excludePaths: options.excludePaths } : {}),
  });
  const hash = contextHash(context, dockerfile);
  const uri = `${imageRepository(project.name)}:${hash.slice(0, 16)}`;
  const found = await s.inspect([base, uri]);
  const target = found.find((i) => i.labels[CONTEXT_LABEL] === hash);
  const baseFound = found.find((i) => i !== target);
  const ready = target !== undefined &&
    (baseFound === undefined || target.labels[BASE_ID_LABEL] === baseFound.id);
  return { uri, present: ready, mustBuild: !ready };
}

/**
 * The paths of a local tracking store that change on every run (the `mlruns` directory, or the
 * SQLite file with its `-wal`, `-shm`, `-journal` and the default artifact directories next to
 * it): pass them as `excludePaths`, so a store inside the project does not force a rebuild.
 *
 * @param trackingUri The run's tracking URI.
 * @param cwd Directory relative URIs belong to.
 * @returns Absolute paths (none for remote stores).
 *
 * @example
 * ```ts
 * import { trackingStorePaths } from "./image.ts";
 * console.assert(trackingStorePaths("sqlite:////p/mlflow.db", "/").includes("/p/mlflow.db-wal"));
 * console.assert(trackingStorePaths("http://h:5000", "/").length === 0);
 * ```
 */
export function trackingStorePaths(trackingUri: string, cwd: string): string[] {
  let target: ReturnType<typeof parseTrackingUri>;
  try {
    target = parseTrackingUri(trackingUri, cwd);
  } catch {
    return [];
  }
  if (target.kind === "file") return [target.path];
  if (target.kind !== "sqlite") return [];
  const dir = target.path.slice(0, Math.max(target.path.lastIndexOf("/"), 1));
  return [
    target.path,
    ...["-wal", "-shm", "-journal"].map((s) => `${target.path}${s}`),
    `${dir}/mlruns`,
    `${dir}/mlartifacts`,
  ];
}
