/**
 * Real git servers on 127.0.0.1 for tests: `git daemon` (git://) and smart HTTP (`git
 * http-backend` as a CGI behind Deno.serve), each with a request counter.
 */

/** A running server; `dispose()` (or `await using`) stops it. */
export interface GitServer extends AsyncDisposable {
  /** Base URL; append `<repo>.git`. */
  url: string;
  /** Requests (HTTP) or connections (daemon) served so far. */
  requests(): number;
  /** Stops the server. */
  stop(): Promise<void>;
}

/** A port that was free a moment ago (git daemon cannot bind port 0). */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

async function canConnect(port: number): Promise<boolean> {
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    conn.close();
    return true;
  } catch {
    return false;
  }
}

/**
 * Starts `git daemon` exporting every repository under `baseDir` (git://127.0.0.1:PORT/<name>).
 * Picks a free port and retries on a collision. Connections are counted from its `--verbose` log.
 */
export async function startGitDaemon(baseDir: string): Promise<GitServer> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = freePort();
    const child = new Deno.Command("git", {
      args: [
        "daemon",
        "--reuseaddr",
        "--export-all",
        "--verbose",
        "--informative-errors",
        `--base-path=${baseDir}`,
        "--listen=127.0.0.1",
        `--port=${port}`,
        "--enable=upload-pack",
        baseDir,
      ],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    let connections = 0;
    let log = "";
    const reading = (async () => {
      const dec = new TextDecoder();
      for await (const chunk of child.stderr) {
        log += dec.decode(chunk, { stream: true });
        const lines = log.split("\n");
        log = lines.pop() ?? "";
        connections += lines.filter((l) => /Connection from/.test(l)).length;
      }
    })();
    let up = false;
    for (let i = 0; i < 100 && !up; i++) {
      up = await canConnect(port);
      if (!up) await new Promise((r) => setTimeout(r, 20));
    }
    if (!up) {
      try {
        child.kill("SIGKILL");
      } catch { /* gone */ }
      await child.status;
      await reading.catch(() => {});
      continue;
    }
    const stop = async () => {
      try {
        child.kill("SIGTERM");
      } catch { /* gone */ }
      await child.status;
      await reading.catch(() => {});
    };
    // The connection made by the readiness probe is not a request.
    await new Promise((r) => setTimeout(r, 30));
    const baseline = connections;
    return {
      url: `git://127.0.0.1:${port}/`,
      requests: () => connections - baseline,
      stop,
      [Symbol.asyncDispose]: stop,
    };
  }
  throw new Error("could not start git daemon");
}

function parseCgi(output: Uint8Array): { status: number; headers: Headers; body: Uint8Array } {
  let end = -1;
  let sep = 0;
  for (let i = 0; i < output.length - 1; i++) {
    if (output[i] === 10 && output[i + 1] === 10) {
      end = i;
      sep = 2;
      break;
    }
    if (output[i] === 13 && output[i + 1] === 10 && output[i + 2] === 13 && output[i + 3] === 10) {
      end = i;
      sep = 4;
      break;
    }
  }
  if (end === -1) return { status: 502, headers: new Headers(), body: output };
  const headerText = new TextDecoder().decode(output.subarray(0, end));
  const headers = new Headers();
  let status = 200;
  for (const line of headerText.split(/\r?\n/)) {
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim();
    const value = line.slice(colon + 1).trim();
    if (name.toLowerCase() === "status") status = parseInt(value, 10);
    else headers.append(name, value);
  }
  return { status, headers, body: output.subarray(end + sep) };
}

/**
 * Starts a smart-HTTP git server for the repositories under `root`
 * (http://127.0.0.1:PORT/<name>), running `git http-backend` as a CGI per request.
 * `failFirst` makes the first N requests answer 503 (for retry tests).
 */
export function startGitHttpServer(
  root: string,
  options: { onRequest?: (req: Request) => Response | undefined } = {},
): GitServer {
  let count = 0;
  const controller = new AbortController();
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    signal: controller.signal,
    onListen: () => {},
  }, async (req) => {
    count++;
    const override = options.onRequest?.(req);
    if (override !== undefined) return override;
    const url = new URL(req.url);
    const env: Record<string, string> = {
      GIT_PROJECT_ROOT: root,
      GIT_HTTP_EXPORT_ALL: "1",
      PATH_INFO: decodeURIComponent(url.pathname),
      REQUEST_METHOD: req.method,
      QUERY_STRING: url.search.replace(/^\?/, ""),
      CONTENT_TYPE: req.headers.get("content-type") ?? "",
      REMOTE_ADDR: "127.0.0.1",
      PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
      HOME: Deno.env.get("HOME") ?? "/tmp",
    };
    const protocol = req.headers.get("git-protocol");
    if (protocol !== null) env.GIT_PROTOCOL = protocol;
    const encoding = req.headers.get("content-encoding");
    if (encoding !== null) env.HTTP_CONTENT_ENCODING = encoding;
    const child = new Deno.Command("git", {
      args: ["http-backend"],
      env,
      clearEnv: true,
      stdin: "piped",
      stdout: "piped",
      stderr: "null",
    }).spawn();
    const writing = (async () => {
      if (req.body !== null) await req.body.pipeTo(child.stdin);
      else await child.stdin.close();
    })().catch(() => {});
    const out = await child.output();
    await writing;
    const { status, headers, body } = parseCgi(out.stdout);
    return new Response(body.slice() as Uint8Array<ArrayBuffer>, { status, headers });
  });
  const stop = async () => {
    controller.abort();
    await server.finished;
  };
  return {
    url: `http://127.0.0.1:${server.addr.port}/`,
    requests: () => count,
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
