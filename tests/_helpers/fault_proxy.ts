/**
 * A fault-injecting HTTP proxy on 127.0.0.1 in front of a real server (an `mlflow server`), with
 * per-endpoint rules: answer a status N times (without forwarding, or after the upstream
 * processed the request), garble the body of a 200, drop the connection after the upstream
 * processed the request (no status line reaches the client), or delay.
 *
 * A raw TCP front accepts each client connection and pipes it to an inner `Deno.serve`; the inner
 * handler knows which client connection a request came on, so it can close that connection.
 */

/** A scripted fault for the next `times` requests whose path ends with `path`. */
export interface FaultRule {
  /** Endpoint the request path (without query) must end with, e.g. `runs/create`. */
  path: string;
  /** Method the request must have (default: any). */
  method?: string;
  /** How many matching requests it applies to (default 1; `Infinity` for all). */
  times?: number;
  /** Answer this status with an MLflow error body. */
  status?: number;
  /** With `status`: forward first, so the server did process the request. */
  afterUpstream?: boolean;
  /** Forward, then answer 200 with a body that is not JSON. */
  garble?: boolean;
  /** Forward, wait for the full answer, then close the connection without answering. */
  drop?: boolean;
  /** Wait this long before forwarding (ms). */
  delayMs?: number;
}

/** One request the proxy saw. */
export interface ProxiedRequest {
  method: string;
  /** Path without the query string. */
  path: string;
  /** The fault applied (`status 503`, `garble`, `drop`, …), if any. */
  fault?: string;
}

interface Pair {
  client: Deno.Conn;
  inner: Deno.TcpConn;
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch { /* already closed */ }
}

/** A running proxy; dispose it with `await using`. */
export class FaultProxy implements AsyncDisposable {
  /** Base URL of the proxy. */
  url = "";
  /** Requests seen, in order. */
  readonly requests: ProxiedRequest[] = [];
  readonly #upstream: string;
  readonly #rules: (FaultRule & { left: number })[] = [];
  #server: Deno.HttpServer | undefined;
  #front: Deno.Listener | undefined;
  /** Client connections by the local port of the front's connection to the inner server. */
  readonly #pairs = new Map<number, Pair>();
  readonly #tasks = new Set<Promise<unknown>>();
  #arrivals: { endpoint: string; resolve: () => void }[] = [];
  readonly #closing = new AbortController();

  /** Proxies to `upstream` (`http://127.0.0.1:PORT`). */
  constructor(upstream: string) {
    this.#upstream = upstream.replace(/\/+$/, "");
  }

  /** Adds a rule (checked in the order added). */
  addRule(rule: FaultRule): void {
    this.#rules.push({ ...rule, left: rule.times ?? 1 });
  }

  /** Drops every rule. */
  clearRules(): void {
    this.#rules.length = 0;
  }

  /** Requests to an endpoint (`runs/create`). */
  calls(endpoint: string): ProxiedRequest[] {
    return this.requests.filter((r) => r.path.endsWith(`/${endpoint}`));
  }

  /** Resolves when the next request to `endpoint` (`runs/log-batch`) arrives. */
  arrival(endpoint: string): Promise<void> {
    return new Promise((resolve) => this.#arrivals.push({ endpoint, resolve }));
  }

  /** Starts listening. */
  start(): Promise<this> {
    this.#server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      (req, info) => this.#handle(req, info),
    );
    const innerPort = (this.#server.addr as Deno.NetAddr).port;
    this.#front = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    this.url = `http://127.0.0.1:${(this.#front.addr as Deno.NetAddr).port}`;
    this.#track(this.#accept(innerPort));
    return Promise.resolve(this);
  }

  #track(task: Promise<unknown>): void {
    const t = task.catch(() => {}).finally(() => this.#tasks.delete(t));
    this.#tasks.add(t);
  }

  async #accept(innerPort: number): Promise<void> {
    const front = this.#front!;
    while (true) {
      let client: Deno.Conn;
      try {
        client = await front.accept();
      } catch {
        return;
      }
      let inner: Deno.TcpConn;
      try {
        inner = await Deno.connect({ hostname: "127.0.0.1", port: innerPort });
      } catch {
        closeQuietly(client);
        continue;
      }
      const key = (inner.localAddr as Deno.NetAddr).port;
      this.#pairs.set(key, { client, inner });
      const end = () => {
        closeQuietly(client);
        closeQuietly(inner);
        this.#pairs.delete(key);
      };
      this.#track(
        Promise.allSettled([
          client.readable.pipeTo(inner.writable),
          inner.readable.pipeTo(client.writable),
        ]).finally(end),
      );
    }
  }

  #take(req: Request, path: string): FaultRule | undefined {
    for (const rule of this.#rules) {
      if (rule.left <= 0 || !path.endsWith(`/${rule.path}`)) continue;
      if (rule.method !== undefined && rule.method !== req.method) continue;
      rule.left--;
      return rule;
    }
    return undefined;
  }

  async #forward(req: Request, url: URL, body: ArrayBuffer | undefined): Promise<Response> {
    const headers = new Headers(req.headers);
    headers.delete("host");
    const res = await fetch(`${this.#upstream}${url.pathname}${url.search}`, {
      method: req.method,
      headers,
      ...(body !== undefined ? { body } : {}),
    });
    const bytes = await res.arrayBuffer();
    const out = new Headers();
    const type = res.headers.get("content-type");
    if (type !== null) out.set("content-type", type);
    return new Response(bytes, { status: res.status, headers: out });
  }

  async #handle(req: Request, info: Deno.ServeHandlerInfo): Promise<Response> {
    const url = new URL(req.url);
    const rule = this.#take(req, url.pathname);
    const record: ProxiedRequest = { method: req.method, path: url.pathname };
    this.requests.push(record);
    this.#arrivals = this.#arrivals.filter((a) => {
      if (!url.pathname.endsWith(`/${a.endpoint}`)) return true;
      a.resolve();
      return false;
    });
    const body = req.method === "GET" || req.method === "HEAD"
      ? undefined
      : await req.arrayBuffer();
    if (rule?.delayMs !== undefined) {
      record.fault = `delay ${rule.delayMs}`;
      // Cut short when the client goes away or the proxy closes.
      const stop = AbortSignal.any([req.signal, this.#closing.signal]);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, rule.delayMs);
        stop.addEventListener("abort", () => {
          clearTimeout(timer);
          resolve();
        }, { once: true });
      });
      if (stop.aborted) return new Response(null, { status: 499 });
    }
    const error = (status: number) =>
      new Response(
        JSON.stringify({
          error_code: status >= 500 ? "TEMPORARILY_UNAVAILABLE" : "BAD_REQUEST",
          message: `injected ${status}`,
        }),
        { status, headers: { "content-type": "application/json" } },
      );
    if (rule?.status !== undefined && !rule.afterUpstream) {
      record.fault = `status ${rule.status}`;
      return error(rule.status);
    }
    const res = await this.#forward(req, url, body);
    if (rule?.status !== undefined) {
      record.fault = `status ${rule.status} after upstream`;
      return error(rule.status);
    }
    if (rule?.garble) {
      record.fault = "garble";
      const text = await res.text();
      return new Response(`<html>${text.slice(0, text.length >> 1)}`, {
        status: 200,
        headers: { "content-type": "application/json" },
      });
    }
    if (rule?.drop) {
      record.fault = "drop";
      const pair = this.#pairs.get((info.remoteAddr as Deno.NetAddr).port);
      if (pair !== undefined) {
        closeQuietly(pair.client);
        closeQuietly(pair.inner);
      }
      return new Response(null, { status: 204 });
    }
    return res;
  }

  /** Stops the proxy and closes every connection. */
  async close(): Promise<void> {
    this.#closing.abort();
    try {
      this.#front?.close();
    } catch { /* closed */ }
    for (const { client, inner } of this.#pairs.values()) {
      closeQuietly(client);
      closeQuietly(inner);
    }
    await this.#server?.shutdown();
    await Promise.allSettled([...this.#tasks]);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/**
 * Starts a fault proxy on 127.0.0.1 in front of `upstream`.
 *
 * @example
 * ```ts ignore
 * await using proxy = await startFaultProxy(server.url);
 * proxy.addRule({ path: "runs/create", drop: true });
 * ```
 */
export function startFaultProxy(upstream: string): Promise<FaultProxy> {
  return new FaultProxy(upstream).start();
}
