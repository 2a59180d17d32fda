/** A static file server on 127.0.0.1 for archive and `path` download tests, with a counter. */

/** A running file server. */
export interface FileServer extends AsyncDisposable {
  /** Base URL (ends with `/`). */
  url: string;
  /** Requests served so far. */
  requests(): number;
  /** Paths requested, in order. */
  paths: string[];
  /** Stops the server. */
  stop(): Promise<void>;
}

/**
 * Serves the files under `root`. `statuses` maps a path (e.g. `/missing.zip`) to a status to
 * answer instead (404, 500, …); missing files give 404.
 */
export function startFileServer(
  root: string,
  options: { statuses?: Record<string, number> } = {},
): FileServer {
  const paths: string[] = [];
  const controller = new AbortController();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, signal: controller.signal, onListen: () => {} },
    async (req) => {
      const path = decodeURIComponent(new URL(req.url).pathname);
      paths.push(path);
      const forced = options.statuses?.[path];
      if (forced !== undefined) return new Response("forced", { status: forced });
      if (path.split("/").includes("..")) return new Response("bad", { status: 400 });
      try {
        const file = await Deno.open(`${root}${path}`, { read: true });
        const { size } = await file.stat();
        return new Response(file.readable, {
          headers: { "content-length": String(size) },
        });
      } catch {
        return new Response("not found", { status: 404 });
      }
    },
  );
  const stop = async () => {
    controller.abort();
    await server.finished;
  };
  return {
    url: `http://127.0.0.1:${server.addr.port}/`,
    requests: () => paths.length,
    paths,
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
