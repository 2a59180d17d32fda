/**
 * Pushing an image to a registry with the `docker` CLI (its credential store and helpers apply):
 * tag, push with progress, read the manifest digest. An image the registry already holds under
 * that tag with the digest Docker recorded for it is not pushed again.
 *
 * @module
 */
import { escapeForMessage, ExecutionException } from "../system/errors.ts";
import type { Reporter } from "../system/output.ts";
import { docker, lastErrorLine } from "./_docker_cli.ts";

/** What {@linkcode pushDockerImage} did. */
export interface PushedImage {
  /** `<repository>:<tag>`. */
  readonly uri: string;
  /** The manifest digest in the registry (`sha256:…`). */
  readonly digest: string;
  /** Whether `docker push` ran (`false`: the registry had it already). */
  readonly pushed: boolean;
  /** The `docker` subcommands run, in order. */
  readonly commands: readonly string[];
}

/** Options of {@linkcode pushDockerImage}. */
export interface PushDockerImageOptions {
  /** Environment of the `docker` CLI (default this process's). */
  env?: Record<string, string>;
  /** Progress lines (`=== Pushing docker image … ===`, one per push step). */
  reporter?: Reporter;
  /** Aborting stops the push. */
  signal?: AbortSignal;
}

const DIGEST_RE = /\bdigest: (sha256:[0-9a-f]{64})\b/;

function repositoryOf(uri: string): string {
  const slash = uri.lastIndexOf("/");
  const colon = uri.lastIndexOf(":");
  return colon > slash ? uri.slice(0, colon) : uri;
}

/** Whether the registry host is a loopback address (the engine talks plain HTTP to it). */
function loopbackRegistry(repository: string): boolean {
  const host = repository.split("/")[0] ?? "";
  return /^(localhost|127\.\d+\.\d+\.\d+|\[::1\])(:\d+)?$/.test(host);
}

/**
 * Tags a local image as `target` and pushes it, unless the registry already has `target` with
 * the digest Docker recorded when it last pushed this image there.
 *
 * @param image The local image (reference or id).
 * @param target `<repository>:<tag>` to push to.
 * @param options CLI environment, reporter, abort signal.
 * @returns The pushed reference and its digest.
 * @throws {ExecutionException} `Error while pushing to docker registry: …` (MLflow's message), or
 *   when no digest can be found.
 *
 * @example
 * ```ts ignore
 * import { pushDockerImage } from "./push.ts";
 * const pushed = await pushDockerImage("proj:3f2a", "registry:5000/team/proj:3f2a");
 * `${pushed.uri}@${pushed.digest}`; // what a Kubernetes Job runs
 * ```
 */
export async function pushDockerImage(
  image: string,
  target: string,
  options: PushDockerImageOptions = {},
): Promise<PushedImage> {
  const env = options.env ?? Deno.env.toObject();
  const commands: string[] = [];
  const run = (args: string[], extra: Parameters<typeof docker>[1] = {}) => {
    commands.push(
      args[0] === "image" || args[0] === "manifest" ? `${args[0]} ${args[1]}` : args[0]!,
    );
    return docker(args, {
      env,
      ...(options.signal !== undefined ? { signal: options.signal } : {}),
      ...extra,
    });
  };
  const repository = repositoryOf(target);
  const inspected = await run(["image", "inspect", "--format", "{{json .RepoDigests}}", image]);
  if (!inspected.success) {
    throw new ExecutionException(
      `Docker image '${escapeForMessage(image)}' to push is not available: ${
        escapeForMessage(lastErrorLine(inspected))
      }`,
    );
  }
  let recorded: string[] = [];
  try {
    recorded = JSON.parse(inspected.stdout.trim()) ?? [];
  } catch {
    // no digests
  }
  const known = recorded.find((d) => d.startsWith(`${repository}@`))?.slice(repository.length + 1);
  if (known !== undefined) {
    const remote = await run([
      "manifest",
      "inspect",
      ...(loopbackRegistry(repository) ? ["--insecure"] : []),
      "--verbose",
      target,
    ]);
    let digest: unknown;
    try {
      digest = JSON.parse(remote.stdout)?.Descriptor?.digest;
    } catch {
      // not there, or a manifest list: push
    }
    if (remote.success && digest === known) {
      options.reporter?.log(
        "INFO",
        `=== Docker image ${target} is in the registry already (${known}) ===`,
      );
      return { uri: target, digest: known, pushed: false, commands };
    }
  }
  const tagged = await run(["tag", image, target]);
  if (!tagged.success) {
    throw new ExecutionException(
      `Tagging docker image '${escapeForMessage(image)}' as '${escapeForMessage(target)}' failed: ${
        escapeForMessage(lastErrorLine(tagged))
      }`,
    );
  }
  options.reporter?.log("INFO", `=== Pushing docker image ${target} ===`);
  let last = "";
  const out = await run(["push", target], {
    onLine: (line) => {
      const text = line.trim();
      if (text === "" || text === last) return;
      last = text;
      options.reporter?.log("INFO", `docker push: ${text}`);
    },
  });
  if (!out.success) {
    throw new ExecutionException(
      `Error while pushing to docker registry: ${escapeForMessage(lastErrorLine(out))}`,
    );
  }
  let digest = DIGEST_RE.exec(out.stdout)?.[1];
  if (digest === undefined) {
    const after = await run(["image", "inspect", "--format", "{{json .RepoDigests}}", target]);
    try {
      const list: string[] = JSON.parse(after.stdout.trim()) ?? [];
      digest = list.find((d) => d.startsWith(`${repository}@`))?.slice(repository.length + 1);
    } catch {
      // none
    }
  }
  if (digest === undefined) {
    throw new ExecutionException(
      `Pushed docker image '${escapeForMessage(target)}', but its registry digest is unknown`,
    );
  }
  return { uri: target, digest, pushed: true, commands };
}
