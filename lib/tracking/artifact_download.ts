/**
 * Downloads of `runs:/` and `mlflow-artifacts:/` values of `path` parameters.
 *
 * - `mlflow-artifacts:/<path>` (and `mlflow-artifacts://host:port/<path>`) go through the
 *   tracking server's artifact proxy: `GET /api/2.0/mlflow-artifacts/artifacts?path=<path>`
 *   lists a directory (empty for a file, as MLflow decides), `GET
 *   /api/2.0/mlflow-artifacts/artifacts/<path>` downloads a file.
 * - `runs:/<run id>/<path>` reads the run's `artifact_uri` (`runs/get`, or the local store for
 *   `sqlite:`/`file:` tracking URIs), then downloads from the proxy when it is
 *   `mlflow-artifacts:`, or copies when it is a local path or `file:` URI.
 *
 * @module
 */
import { ExecutionException } from "../system/errors.ts";
import { httpRequest } from "../http/http_client.ts";
import { dirname, fileUrlToPath, join, normalize } from "../system/paths.ts";
import type { PathDownload } from "../http/path_download.ts";
import type { RestStore } from "./rest_store.ts";
import { openTrackingStore, parseTrackingUri } from "./tracking_uri.ts";

const PROXY = "/api/2.0/mlflow-artifacts/artifacts";

function fail(request: PathDownload, detail: string): ExecutionException {
  return new ExecutionException(
    `Parameter ${request.name} has value ${request.value}: ${detail}`,
  );
}

function encodePath(path: string): string {
  return path.split("/").map(encodeURIComponent).join("/");
}

function baseName(path: string): string {
  const trimmed = path.replace(/\/+$/, "");
  return trimmed.slice(trimmed.lastIndexOf("/") + 1);
}

/** Splits `runs:/<run id>/<path>` into the run id and the artifact path. */
function parseRunsUri(request: PathDownload): { runId: string; path: string } {
  const m = /^runs:\/+([^/]+)\/?(.*)$/.exec(request.value);
  if (m === null || m[1] === "") {
    throw fail(request, "expected runs:/<run_id>/<artifact path>");
  }
  return { runId: m[1]!, path: m[2]!.replace(/\/+$/, "") };
}

/** The artifact path and the server of an `mlflow-artifacts:` URI. */
function parseMlflowArtifactsUri(
  value: string,
  request: PathDownload,
): { path: string; authority?: string } {
  const m = /^mlflow-artifacts:(?:\/\/([^/]*))?(\/.*)?$/.exec(value);
  if (m === null) throw fail(request, "expected mlflow-artifacts:/<path>");
  const path = decodeURIComponent((m[2] ?? "/").replace(/^\/+/, "")).replace(/\/+$/, "");
  if (normalize(`/${path}`) !== `/${path}` && path !== "") {
    throw fail(request, "the artifact path must not contain '..' segments");
  }
  return { path, ...(m[1] ? { authority: m[1] } : {}) };
}

async function copyLocal(source: string, target: string): Promise<void> {
  const info = await Deno.stat(source);
  if (info.isDirectory) {
    await Deno.mkdir(target, { recursive: true });
    for await (const entry of Deno.readDir(source)) {
      await copyLocal(join(source, entry.name), join(target, entry.name));
    }
  } else {
    await Deno.mkdir(dirname(target), { recursive: true });
    await Deno.copyFile(source, target);
  }
}

/** Downloads through the artifact proxy; returns the local path. */
async function downloadViaProxy(
  store: RestStore,
  artifactPath: string,
  targetDir: string,
  request: PathDownload,
  base?: string,
): Promise<string> {
  const signal = request.options.signal;
  const opts = signal !== undefined ? { signal } : {};
  const list = async (path: string): Promise<{ path: string; is_dir?: boolean }[]> => {
    const body = await store.call("GET", PROXY, path === "" ? {} : { path }, opts);
    return Array.isArray(body.files) ? body.files as { path: string; is_dir?: boolean }[] : [];
  };
  const fetchFile = async (path: string, local: string): Promise<void> => {
    const response = base === undefined
      ? await store.request("GET", `${PROXY}/${encodePath(path)}`, {}, opts)
      : await httpRequest(`${base}${PROXY}/${encodePath(path)}`, opts);
    if (response.status !== 200) {
      await response.body?.cancel();
      throw fail(
        request,
        `the tracking server answered HTTP ${response.status} for artifact '${path}'`,
      );
    }
    await Deno.mkdir(dirname(local), { recursive: true });
    const file = await Deno.open(local, { write: true, create: true, truncate: true });
    await response.body?.pipeTo(file.writable);
  };
  const walk = async (path: string, local: string): Promise<void> => {
    await Deno.mkdir(local, { recursive: true });
    for (const entry of await list(path)) {
      // The proxy lists paths relative to the artifact root.
      const child = entry.path.startsWith(`${path}/`) || path === ""
        ? entry.path
        : `${path}/${baseName(entry.path)}`;
      const name = baseName(child);
      if (name === "" || name === "." || name === "..") continue;
      if (entry.is_dir) await walk(child, join(local, name));
      else await fetchFile(child, join(local, name));
    }
  };
  const entries = artifactPath === "" ? [{ path: "", is_dir: true }] : await list(artifactPath);
  const local = join(targetDir, baseName(artifactPath) || "artifacts");
  if (entries.length > 0) await walk(artifactPath, local);
  else await fetchFile(artifactPath, local);
  return local;
}

async function withRestStore<T>(
  request: PathDownload,
  fn: (store: RestStore) => Promise<T>,
): Promise<T> {
  const target = parseTrackingUri(request.options.trackingUri, request.options.cwd ?? Deno.cwd());
  if (target.kind !== "rest") {
    throw fail(
      request,
      `downloading mlflow-artifacts: URIs needs an http(s):// tracking server, but the tracking URI is '${request.options.trackingUri}'`,
    );
  }
  const { openRestStore } = await import("./rest_store.ts");
  const store = openRestStore(target.uri, {
    env: request.options.env,
    reporter: request.options.reporter,
    ...(request.options.signal !== undefined ? { signal: request.options.signal } : {}),
  });
  try {
    return await fn(store);
  } finally {
    store.close();
  }
}

async function downloadArtifactsUri(
  value: string,
  request: PathDownload,
  store?: RestStore,
): Promise<string> {
  const { path, authority } = parseMlflowArtifactsUri(value, request);
  const run = async (s: RestStore): Promise<string> => {
    let base: string | undefined;
    if (authority !== undefined) {
      // mlflow-artifacts://host:port/path: that server, with the tracking URI's scheme.
      const scheme = s.host.startsWith("https:") ? "https" : "http";
      base = `${scheme}://${authority}`;
      if (s.host.startsWith(base)) base = undefined; // the tracking server itself, with auth
    }
    return await downloadViaProxy(s, path, request.targetDir, request, base);
  };
  return store !== undefined ? await run(store) : await withRestStore(request, run);
}

/**
 * Downloads a `runs:/<run id>/<path>` or `mlflow-artifacts:/<path>` value into
 * `request.targetDir` and returns the local path (`<targetDir>/<last path segment>`, a file or a
 * directory).
 *
 * @param request The value, where it goes, and the tracking URI.
 * @returns The local path.
 * @throws {ExecutionException} For a missing run or artifact, or an artifact store that cannot be
 * read from here (e.g. `s3:` artifacts of a run).
 *
 * @example
 * ```ts ignore
 * const local = await downloadArtifactPath({ value: "runs:/abc/model.pkl", name: "model", targetDir, options });
 * ```
 */
export async function downloadArtifactPath(request: PathDownload): Promise<string> {
  const { reporter } = request.options;
  if (request.value.startsWith("mlflow-artifacts:")) {
    reporter.log("INFO", `=== Downloading ${request.value} for parameter ${request.name} ===`);
    return await downloadArtifactsUri(request.value, request);
  }
  const { runId, path } = parseRunsUri(request);
  reporter.log("INFO", `=== Downloading ${request.value} for parameter ${request.name} ===`);
  const target = parseTrackingUri(request.options.trackingUri, request.options.cwd ?? Deno.cwd());
  if (target.kind !== "rest") {
    // The run's store, as the run sees it: relative URIs belong to its cwd, credentials and
    // settings come from its environment.
    const store = await openTrackingStore(request.options.trackingUri, {
      env: request.options.env,
      reporter,
      ...(request.options.cwd !== undefined ? { cwd: request.options.cwd } : {}),
      ...(request.options.signal !== undefined ? { signal: request.options.signal } : {}),
    });
    let artifactUri: string;
    try {
      const info = await store.getRun(runId);
      if (info === undefined) throw fail(request, `run '${runId}' not found`);
      artifactUri = info.artifactUri;
    } finally {
      store.close();
    }
    return await fromArtifactUri(artifactUri, path, request);
  }
  return await withRestStore(request, async (store) => {
    const info = await store.getRun(runId);
    if (info === undefined) throw fail(request, `run '${runId}' not found`);
    return await fromArtifactUri(info.artifactUri, path, request, store);
  });
}

async function fromArtifactUri(
  artifactUri: string,
  path: string,
  request: PathDownload,
  store?: RestStore,
): Promise<string> {
  const root = artifactUri.replace(/\/+$/, "");
  if (root.startsWith("mlflow-artifacts:")) {
    return await downloadArtifactsUri(path === "" ? root : `${root}/${path}`, request, store);
  }
  let local: string | undefined;
  if (root.startsWith("file://")) local = fileUrlToPath(root);
  else if (root.startsWith("file:")) local = root.slice("file:".length);
  else if (root.startsWith("/")) local = root;
  if (local === undefined) {
    throw fail(
      request,
      `the run's artifacts are stored at '${artifactUri}', which mlproject cannot read yet (only mlflow-artifacts: through the tracking server and local paths)`,
    );
  }
  if (path.split("/").includes("..")) {
    throw fail(request, "the artifact path must not contain '..' segments");
  }
  const source = path === "" ? local : join(local, path);
  const dest = join(request.targetDir, baseName(source));
  try {
    await copyLocal(source, dest);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw fail(request, `artifact '${path}' not found in '${artifactUri}'`);
    }
    throw e;
  }
  return dest;
}
