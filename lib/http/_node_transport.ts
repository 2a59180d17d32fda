/**
 * A private transport of the HTTP client over `node:https`, for TLS settings `Deno.createHttpClient`
 * cannot express: skipping certificate verification (`insecure-skip-tls-verify`) and verifying
 * against another name than the URL's host (`tls-server-name`, which also sets SNI). It answers
 * with a standard web `Response` whose body streams as the bytes arrive, so callers (and
 * `httpRequest`'s idle-read timeout) treat it as fetch's. Through an `http://` proxy, HTTPS goes
 * through a `CONNECT` tunnel (one per request) and plain HTTP as absolute-URI requests.
 *
 * @module
 */
import http from "node:http";
import https from "node:https";
import net from "node:net";
import tls from "node:tls";

/** TLS settings of a {@linkcode NodeTlsClient}. */
export interface NodeTlsSettings {
  /** Extra CA certificates (PEM), trusted besides the system roots. */
  caPem?: string[];
  /** Client certificate chain (PEM), with `keyPem`. */
  certPem?: string;
  /** Client private key (PEM). */
  keyPem?: string;
  /** Accept any server certificate. */
  insecureSkipVerify?: boolean;
  /** Name sent as SNI and checked against the server certificate instead of the URL's host. */
  serverName?: string;
  /** Never reuse a connection. */
  freshConnections?: boolean;
  /** An `http://` proxy (user and password in the URL become `Proxy-Authorization`). */
  proxyUrl?: string;
}

/** What {@linkcode NodeTlsClient.send} needs of a request. */
export interface NodeRequestInit {
  method: string;
  headers?: Record<string, string>;
  body?: BodyInit | null;
  signal: AbortSignal;
}

/** Statuses whose responses have no body. */
const NULL_BODY_STATUSES = [101, 103, 204, 205, 304];

/** A client holding the TLS settings and a connection pool; close it when done. */
export class NodeTlsClient {
  readonly #https: https.Agent;
  readonly #http: http.Agent;
  readonly #serverName: string | undefined;
  readonly #tls: tls.ConnectionOptions;
  readonly #proxy: URL | undefined;

  /**
   * Creates the client (no connection is opened yet).
   *
   * @example
   * ```ts
   * import { NodeTlsClient } from "./_node_transport.ts";
   * using client = new NodeTlsClient({ insecureSkipVerify: true });
   * ```
   */
  constructor(settings: NodeTlsSettings) {
    if (settings.proxyUrl !== undefined) {
      const proxy = URL.parse(settings.proxyUrl);
      if (proxy === null || proxy.protocol !== "http:") {
        throw new TypeError(
          `proxy '${settings.proxyUrl}' is not supported with these TLS settings: only http:// proxies are`,
        );
      }
      this.#proxy = proxy;
    }
    const keepAlive = !settings.freshConnections;
    const options: https.AgentOptions = {
      keepAlive,
      rejectUnauthorized: !settings.insecureSkipVerify,
    };
    // `ca` replaces the default roots in node:tls; keep them, as the Deno fetch path does.
    if (settings.caPem !== undefined && settings.caPem.length > 0) {
      options.ca = [...tls.rootCertificates, ...settings.caPem];
    }
    if (settings.certPem !== undefined && settings.keyPem !== undefined) {
      options.cert = settings.certPem;
      options.key = settings.keyPem;
    }
    if (settings.serverName !== undefined) options.servername = settings.serverName;
    this.#serverName = settings.serverName;
    this.#tls = options;
    this.#https = new https.Agent(options);
    this.#http = new http.Agent({ keepAlive });
  }

  /**
   * Sends one request; resolves with the response once its headers arrive. Aborting the signal
   * destroys the connection: before the headers the promise rejects with the signal's reason,
   * afterwards the body stream errors with it.
   *
   * @example
   * ```ts ignore
   * const res = await client.send("https://127.0.0.1:6443/version", {
   *   method: "GET",
   *   signal: AbortSignal.timeout(5000),
   * });
   * ```
   */
  async send(url: string, init: NodeRequestInit): Promise<Response> {
    const u = new URL(url);
    if (u.protocol !== "https:" && u.protocol !== "http:") {
      throw new TypeError(`scheme '${u.protocol.slice(0, -1)}' not supported`);
    }
    const headers: Record<string, string> = { ...init.headers };
    const has = (name: string) => Object.keys(headers).some((k) => k.toLowerCase() === name);
    let body: Uint8Array | undefined;
    if (init.body !== undefined && init.body !== null) {
      const wrapped = new Response(init.body);
      const type = wrapped.headers.get("content-type");
      if (type !== null && !has("content-type")) headers["content-type"] = type;
      body = new Uint8Array(await wrapped.arrayBuffer());
      headers["content-length"] = String(body.byteLength);
    }
    const signal = init.signal;
    signal.throwIfAborted();
    const secure = u.protocol === "https:";
    const hostname = u.hostname.replace(/^\[|\]$/g, "");
    const port = u.port === "" ? (secure ? 443 : 80) : Number(u.port);
    const proxy = this.#proxy;
    let target: http.RequestOptions;
    let tunnel: tls.TLSSocket | undefined;
    if (proxy === undefined) {
      target = {
        hostname,
        port,
        path: u.pathname + u.search,
        agent: secure ? this.#https : this.#http,
        ...(secure && this.#serverName !== undefined ? { servername: this.#serverName } : {}),
      };
    } else if (secure) {
      const socket = await this.#tunnel(proxy, hostname, port, signal);
      tunnel = socket;
      headers.host ??= u.host;
      target = { hostname, port, path: u.pathname + u.search, createConnection: () => socket };
    } else {
      const auth = proxyAuthorization(proxy);
      if (auth !== undefined) headers["proxy-authorization"] = auth;
      target = {
        hostname: proxy.hostname.replace(/^\[|\]$/g, ""),
        port: proxy.port === "" ? 80 : Number(proxy.port),
        path: u.href,
        agent: this.#http,
      };
    }
    return await new Promise<Response>((resolve, reject) => {
      let settled = false;
      // Over a tunnel the TLS is already set up: plain HTTP on that socket.
      const req = (secure && tunnel === undefined ? https : http).request({
        ...target,
        method: init.method,
        headers,
      }, (res) => {
        settled = true;
        const status = res.statusCode ?? 0;
        const responseHeaders = new Headers();
        const raw = res.rawHeaders;
        for (let i = 0; i + 1 < raw.length; i += 2) responseHeaders.append(raw[i]!, raw[i + 1]!);
        const responseInit = {
          status,
          statusText: res.statusMessage ?? "",
          headers: responseHeaders,
        };
        if (NULL_BODY_STATUSES.includes(status) || init.method.toUpperCase() === "HEAD") {
          res.resume();
          signal.removeEventListener("abort", onAbort);
          resolve(new Response(null, responseInit));
          return;
        }
        let finished = false;
        const finish = () => {
          finished = true;
          signal.removeEventListener("abort", onAbort);
          tunnel?.destroy();
        };
        const stream = new ReadableStream<Uint8Array>({
          start(controller) {
            res.on("data", (chunk: Uint8Array) => {
              if (finished) return;
              controller.enqueue(new Uint8Array(chunk));
              if ((controller.desiredSize ?? 0) <= 0) res.pause();
            });
            res.on("end", () => {
              if (finished) return;
              finish();
              controller.close();
            });
            const fail = (e?: unknown) => {
              if (finished) return;
              finish();
              controller.error(
                signal.aborted
                  ? signal.reason
                  : e ?? new Error("connection closed before the response body ended"),
              );
            };
            res.on("error", fail);
            res.on("close", () => fail());
          },
          pull() {
            res.resume();
          },
          cancel() {
            finish();
            req.destroy();
          },
        });
        resolve(new Response(stream, responseInit));
      });
      function onAbort() {
        req.destroy(signal.reason instanceof Error ? signal.reason : undefined);
        if (!settled) {
          settled = true;
          reject(signal.reason);
        }
      }
      signal.addEventListener("abort", onAbort, { once: true });
      req.on("error", (e: Error) => {
        if (settled) return;
        settled = true;
        signal.removeEventListener("abort", onAbort);
        tunnel?.destroy();
        reject(signal.aborted ? signal.reason : e);
      });
      req.end(body);
    });
  }

  /** A TLS connection to `host:port` through the proxy's `CONNECT` tunnel. */
  #tunnel(
    proxy: URL,
    host: string,
    port: number,
    signal: AbortSignal,
  ): Promise<tls.TLSSocket> {
    const authority = `${host.includes(":") ? `[${host}]` : host}:${port}`;
    return new Promise<tls.TLSSocket>((resolve, reject) => {
      let socket: net.Socket | tls.TLSSocket = net.connect({
        host: proxy.hostname.replace(/^\[|\]$/g, ""),
        port: proxy.port === "" ? 80 : Number(proxy.port),
      });
      const fail = (e: unknown) => {
        signal.removeEventListener("abort", onAbort);
        socket.destroy();
        reject(signal.aborted ? signal.reason : e);
      };
      const onAbort = () => fail(signal.reason);
      signal.addEventListener("abort", onAbort, { once: true });
      socket.on("error", fail);
      const raw = socket;
      raw.once("connect", () => {
        const auth = proxyAuthorization(proxy);
        raw.write(
          `CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n${
            auth === undefined ? "" : `Proxy-Authorization: ${auth}\r\n`
          }\r\n`,
        );
      });
      let head = "";
      const onData = (chunk: Uint8Array) => {
        head += new TextDecoder("latin1").decode(chunk);
        const end = head.indexOf("\r\n\r\n");
        if (end < 0) return;
        raw.off("data", onData);
        raw.pause();
        const statusLine = head.slice(0, head.indexOf("\r\n"));
        if (!/^HTTP\/1\.[01] 2\d\d/.test(statusLine)) {
          fail(new Error(`proxy ${proxy.host} refused CONNECT ${authority}: ${statusLine}`));
          return;
        }
        raw.off("error", fail);
        const secured = tls.connect({
          ...this.#tls,
          socket: raw,
          host,
          ...(net.isIP(host) === 0 && this.#serverName === undefined ? { servername: host } : {}),
        });
        socket = secured;
        secured.on("error", fail);
        secured.once("secureConnect", () => {
          secured.off("error", fail);
          signal.removeEventListener("abort", onAbort);
          resolve(secured);
        });
      };
      raw.on("data", onData);
    });
  }

  /** Closes the pooled connections. */
  close(): void {
    this.#https.destroy();
    this.#http.destroy();
  }

  /** Same as {@linkcode NodeTlsClient.close}. */
  [Symbol.dispose](): void {
    this.close();
  }
}

function proxyAuthorization(proxy: URL): string | undefined {
  if (proxy.username === "") return undefined;
  const text = `${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`;
  let binary = "";
  for (const b of new TextEncoder().encode(text)) binary += String.fromCharCode(b);
  return `Basic ${btoa(binary)}`;
}
