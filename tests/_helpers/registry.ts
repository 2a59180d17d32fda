/**
 * A real image registry for tests: Debian's `docker-registry` (distribution 2.8) on 127.0.0.1
 * (a free port), storage in a temp dir. dockerd treats 127.0.0.0/8 registries as insecure, so
 * `docker push 127.0.0.1:<port>/repo:tag` works with no daemon configuration.
 */
import { findExecutable, skipWithout } from "./components.ts";

/** A running registry. */
export interface Registry extends AsyncDisposable {
  /** `127.0.0.1:<port>`: prefix image names with it. */
  host: string;
  /** Stops the registry and removes its storage. */
  close(): Promise<void>;
}

/** The `docker-registry` executable, when installed. */
export const DOCKER_REGISTRY: string | undefined = findExecutable("docker-registry") ??
  findExecutable("docker-registry", { path: "/usr/bin:/usr/sbin" });

async function engineAnswers(): Promise<boolean> {
  const out = await new Deno.Command("docker", {
    args: ["info", "--format", "{{.ServerVersion}}"],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).output().catch(() => undefined);
  return out?.success === true;
}

/**
 * `true` when tests needing the registry and a Docker engine must be skipped (ONE line printed).
 *
 * @example
 * ```ts ignore
 * const ignore = await skipWithoutRegistry("kubernetes image tests");
 * ```
 */
export async function skipWithoutRegistry(what: string): Promise<boolean> {
  if (DOCKER_REGISTRY === undefined) {
    return skipWithout(what, false, "no docker-registry (apt-get install docker-registry)");
  }
  return skipWithout(
    what,
    await engineAnswers(),
    "no docker engine answers (scripts/ci_docker.sh)",
  );
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/**
 * Starts `docker-registry serve` with its own config (no auth, deletes enabled) and waits until
 * `GET /v2/` answers.
 *
 * @example
 * ```ts ignore
 * await using registry = await startRegistry();
 * await docker(["tag", "mlproject-test/busybox:1", `${registry.host}/busybox:1`]);
 * await docker(["push", `${registry.host}/busybox:1`]);
 * ```
 */
export async function startRegistry(): Promise<Registry> {
  if (DOCKER_REGISTRY === undefined) throw new Error("docker-registry is not installed");
  const dir = await Deno.makeTempDir({ prefix: "registry-" });
  for (let attempt = 0;; attempt++) {
    const port = freePort();
    const config = [
      "version: 0.1",
      "log:",
      "  level: error",
      "  accesslog:",
      "    disabled: true",
      "storage:",
      "  filesystem:",
      `    rootdirectory: ${JSON.stringify(`${dir}/data`)}`,
      "  delete:",
      "    enabled: true",
      "http:",
      `  addr: 127.0.0.1:${port}`,
      "",
    ].join("\n");
    await Deno.writeTextFile(`${dir}/config.yml`, config);
    const child = new Deno.Command(DOCKER_REGISTRY, {
      args: ["serve", `${dir}/config.yml`],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const stderr = new Response(child.stderr).text();
    let exited = false;
    const status = child.status.then((s) => {
      exited = true;
      return s;
    });
    const host = `127.0.0.1:${port}`;
    let up = false;
    for (let i = 0; i < 200 && !exited; i++) {
      const ok = await fetch(`http://${host}/v2/`).then(async (r) => {
        await r.body?.cancel();
        return r.status === 200;
      }).catch(() => false);
      if (ok) {
        up = true;
        break;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    if (!up) {
      try {
        child.kill("SIGKILL");
      } catch { /* exited */ }
      await status;
      const why = await stderr;
      if (attempt < 3 && /address already in use/.test(why)) continue;
      await Deno.remove(dir, { recursive: true }).catch(() => {});
      throw new Error(`docker-registry did not start: ${why.trim().split("\n").at(-1)}`);
    }
    let closed = false;
    const close = async () => {
      if (closed) return;
      closed = true;
      try {
        child.kill("SIGTERM");
      } catch { /* exited */ }
      await status;
      await stderr.catch(() => "");
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    };
    return { host, close, [Symbol.asyncDispose]: close };
  }
}
