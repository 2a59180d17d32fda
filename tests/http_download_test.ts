import assert from "node:assert/strict";
import { ExecutionException } from "../lib/errors.ts";
import { downloadHttpPath, httpOptionsFromEnv, urlBasename } from "../lib/http_download.ts";
import { SILENT_REPORTER } from "../lib/output.ts";
import type { PathDownload } from "../lib/remote_path.ts";
import { tempDir, writeFiles } from "./_helpers/cli.ts";
import { startFileServer } from "./_helpers/file_server.ts";

function request(value: string, targetDir: string, env: Record<string, string> = {}): PathDownload {
  return {
    value,
    name: "data",
    targetDir,
    options: { trackingUri: "sqlite:///x.db", env, reporter: SILENT_REPORTER },
  };
}

Deno.test("downloadHttpPath() downloads into the target dir under the URL's file name", async () => {
  await using dir = await tempDir();
  await writeFiles(dir.path, { "files/data set.csv": "a,b\n1,2\n" });
  await using server = startFileServer(`${dir.path}/files`);
  await using target = await tempDir();
  const local = await downloadHttpPath(request(`${server.url}data%20set.csv?v=2`, target.path));
  assert.equal(local, `${target.path}/data set.csv`);
  assert.equal(await Deno.readTextFile(local), "a,b\n1,2\n");
  assert.equal(server.requests(), 1);
});

Deno.test("downloadHttpPath() names the parameter, the URL and the status when it fails", async () => {
  await using dir = await tempDir();
  await using server = startFileServer(dir.path);
  await using target = await tempDir();
  const host = server.url.replace("http://", "");
  await assert.rejects(
    downloadHttpPath(request(`http://u:secret@${host}nope.csv`, target.path)),
    (e: unknown) => {
      assert.ok(e instanceof ExecutionException);
      assert.equal(
        e.message,
        `Could not download parameter data from http://${host}nope.csv: 404 Client Error: Not Found for url: http://${host}nope.csv`,
      );
      return true;
    },
  );
  assert.deepEqual([...Deno.readDirSync(target.path)], [], "no partial file is left");
});

Deno.test("downloadHttpPath() reports an unreachable server after the configured retries", async () => {
  await using target = await tempDir();
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  await assert.rejects(
    downloadHttpPath(
      request(`http://127.0.0.1:${port}/d.csv`, target.path, {
        MLFLOW_HTTP_REQUEST_MAX_RETRIES: "0",
      }),
    ),
    (e: unknown) =>
      e instanceof ExecutionException &&
      e.message.startsWith(
        `Could not download parameter data from http://127.0.0.1:${port}/d.csv: `,
      ),
  );
});

Deno.test("urlBasename() and httpOptionsFromEnv() helpers", () => {
  assert.equal(urlBasename("https://h/a/b.txt"), "b.txt");
  assert.equal(urlBasename("https://h/"), "download");
  assert.equal(urlBasename("https://h/a/%2e%2e"), "download");
  assert.deepEqual(
    httpOptionsFromEnv({
      MLFLOW_HTTP_REQUEST_MAX_RETRIES: "2",
      MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR: "0.5",
      MLFLOW_HTTP_REQUEST_TIMEOUT: "3",
    }),
    { maxRetries: 2, backoffFactor: 0.5, timeoutMs: 3000 },
  );
});

Deno.test("fetchProject() of an archive URL shows every retry with its wait between 'Fetching project' and the error", async () => {
  const { fetchProject } = await import("../lib/fetch_project.ts");
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  // Accepts connections and closes them at once.
  const closing = (async () => {
    try {
      for await (const conn of listener) conn.close();
    } catch { /* closed */ }
  })();
  const lines: string[] = [];
  try {
    await assert.rejects(
      fetchProject(`http://tok:s3cret@127.0.0.1:${port}/p.zip`, {
        env: {
          MLFLOW_HTTP_REQUEST_MAX_RETRIES: "2",
          MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR: "0.05",
          MLFLOW_HTTP_REQUEST_BACKOFF_JITTER: "0",
        },
        reporter: { log: (level, message) => lines.push(`${level} ${message}`) },
      }),
      (e: Error) =>
        e instanceof ExecutionException &&
        e.message.startsWith("Unable to retrieve ZIP file. Reason: Request to ") &&
        e.message.endsWith("(after 3 attempts)") && !e.message.includes("s3cret"),
    );
  } finally {
    listener.close();
    await closing;
  }
  const url = `http://127.0.0.1:${port}/p.zip`;
  assert.equal(lines.length, 3, lines.join("\n"));
  assert.match(lines[0]!, new RegExp(`^INFO === Fetching project from ${url} into `));
  assert.match(
    lines[1]!,
    /^WARNING Retrying http:\/\/127\.0\.0\.1:\d+\/p\.zip in 0\.0 s \(retry 1 of 2\): \S/,
  );
  assert.match(
    lines[2]!,
    /^WARNING Retrying http:\/\/127\.0\.0\.1:\d+\/p\.zip in 0\.1 s \(retry 2 of 2\): \S/,
  );
  assert.ok(lines.every((l) => !l.includes("s3cret")));
});

Deno.test("fetchProject() of an archive on a blocked port fails at once, without retries", async () => {
  const { fetchProject } = await import("../lib/fetch_project.ts");
  const lines: string[] = [];
  await assert.rejects(
    fetchProject("http://127.0.0.1:1/p.tar.gz", {
      env: {},
      reporter: { log: (level, message) => lines.push(`${level} ${message}`) },
    }),
    /^ExecutionException: Unable to retrieve TAR file\. Reason: Request to http:\/\/127\.0\.0\.1:1\/p\.tar\.gz failed: .*Requests to port 1 are blocked$/,
  );
  assert.equal(lines.filter((l) => l.startsWith("WARNING")).length, 0, lines.join("\n"));
});

Deno.test("fetchProject() of an archive URL that never answers times out after MLFLOW_HTTP_REQUEST_TIMEOUT, per attempt", async () => {
  const { fetchProject } = await import("../lib/fetch_project.ts");
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  const held: Deno.Conn[] = [];
  const accepting = (async () => {
    try {
      for await (const conn of listener) held.push(conn);
    } catch { /* closed */ }
  })();
  const lines: string[] = [];
  try {
    await assert.rejects(
      fetchProject(`http://127.0.0.1:${port}/p.zip`, {
        env: {
          MLFLOW_HTTP_REQUEST_TIMEOUT: "0.3",
          MLFLOW_HTTP_REQUEST_MAX_RETRIES: "1",
          MLFLOW_HTTP_REQUEST_BACKOFF_JITTER: "0",
        },
        reporter: { log: (level, message) => lines.push(`${level} ${message}`) },
      }),
      (e: Error) =>
        e.message ===
          `Unable to retrieve ZIP file. Reason: Request to http://127.0.0.1:${port}/p.zip failed: timed out after 0.3 s`,
    );
  } finally {
    listener.close();
    await accepting;
    for (const c of held) c.close();
  }
  assert.equal(held.length, 2);
  assert.match(
    lines[1]!,
    /^WARNING Retrying http:\/\/127\.0\.0\.1:\d+\/p\.zip in 0\.0 s \(retry 1 of 1\): Request to .* failed: timed out after 0\.3 s$/,
  );
});
