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
