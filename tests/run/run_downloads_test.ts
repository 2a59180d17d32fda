/**
 * `run()` with remote `path` parameters: the download reads the store named relative to the
 * run's `cwd` with the run's `env`, and aborting the run's signal stops a download in progress.
 */
import assert from "node:assert/strict";
import { InterruptedError, run } from "../../lib/mod.ts";
import { SqliteStore } from "../../lib/tracking/sqlite_store.ts";
import { cleanEnv, tempDir, writeFiles } from "../_helpers/cli.ts";

const PROJECT = `name: p
entry_points:
  main:
    parameters:
      data: {type: path}
    command: "cp {data} copied.txt"
`;

Deno.test("run(uri, { cwd }) downloads runs:/ values from the store relative to that cwd, not the process cwd", async () => {
  await using tmp = await tempDir();
  const store = await SqliteStore.open(`${tmp.path}/mlflow.db`);
  const source = await store.createRun({
    experimentId: "0",
    userId: "u",
    startTime: 1,
    runName: "src",
    tags: [],
  });
  store.close();
  await writeFiles(source.artifactUri.replace(/^file:\/\//, ""), { "data.txt": "from-artifact\n" });
  await writeFiles(tmp.path, { "proj/MLproject": PROJECT });
  assert.notEqual(Deno.cwd(), tmp.path);
  const submitted = await run("proj", {
    cwd: tmp.path,
    env: cleanEnv(),
    envManager: "local",
    trackingUri: "sqlite:///mlflow.db",
    parameters: { data: `runs:/${source.runId}/data.txt` },
    stdout: "null",
  });
  assert.equal(await submitted.getStatus(), "FINISHED");
  assert.equal(await Deno.readTextFile(`${tmp.path}/proj/copied.txt`), "from-artifact\n");
});

Deno.test("aborting run()'s signal stops an http(s) path download in progress, before any run exists", async () => {
  await using tmp = await tempDir();
  await writeFiles(tmp.path, { "proj/MLproject": PROJECT });
  const stop = new AbortController();
  let requested!: () => void;
  const seen = new Promise<void>((r) => requested = r);
  // A server that answers headers, then sends nothing more: only the signal can end the wait.
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, () => {
    requested();
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode("partial"));
      },
    });
    return new Response(body, { headers: { "content-length": "1000" } });
  });
  try {
    const running = run("proj", {
      cwd: tmp.path,
      env: cleanEnv(),
      envManager: "local",
      trackingUri: "sqlite:///mlflow.db",
      parameters: { data: `http://127.0.0.1:${server.addr.port}/data.txt` },
      signal: stop.signal,
      stdout: "null",
    });
    await seen;
    stop.abort();
    await assert.rejects(running, InterruptedError);
    await assert.rejects(Deno.stat(`${tmp.path}/mlflow.db`), Deno.errors.NotFound);
    await assert.rejects(Deno.stat(`${tmp.path}/proj/copied.txt`), Deno.errors.NotFound);
  } finally {
    await server.shutdown();
  }
});
