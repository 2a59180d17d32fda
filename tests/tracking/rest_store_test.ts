/**
 * The REST tracking store against the fake MLflow server: request shapes, round trips, error
 * mapping, retries and faults, auth, TLS and mTLS, secrets kept out of messages.
 */
import assert from "node:assert/strict";
import { ExecutionException } from "../../lib/system/errors.ts";
import type { LogLevel, Reporter } from "../../lib/system/output.ts";
import { openRestStore, RestError, type RestStore } from "../../lib/tracking/rest_store.ts";
import type { CreateRunRequest } from "../../lib/tracking/tracking_store.ts";
import { tempDir } from "../_helpers/cli.ts";
import { type FakeMlflowServer, startFakeMlflowServer } from "../fakes/fake_mlflow_server.ts";
import { makeTestCertificates, startMtlsProxy } from "../fakes/test_certificates.ts";

const FAST = {
  MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR: "0.001",
  MLFLOW_HTTP_REQUEST_BACKOFF_JITTER: "0",
  MLFLOW_HTTP_REQUEST_MAX_RETRIES: "3",
};

function recorder(): Reporter & { lines: string[] } {
  const lines: string[] = [];
  return { lines, log: (level: LogLevel, m: string) => void lines.push(`${level} ${m}`) };
}

function runRequest(experimentId: string, params: [string, string][] = []): CreateRunRequest {
  return {
    experimentId,
    userId: "alice",
    startTime: 1_700_000_000_000,
    runName: "brave-owl-1",
    tags: [["mlflow.user", "alice"], ["mlflow.source.type", "PROJECT"]],
    params,
  };
}

async function withStore<T>(
  server: FakeMlflowServer,
  env: Record<string, string>,
  fn: (store: RestStore, reporter: ReturnType<typeof recorder>) => Promise<T>,
): Promise<T> {
  const reporter = recorder();
  const store = openRestStore(server.url, { env: { ...FAST, ...env }, reporter });
  try {
    return await fn(store, reporter);
  } finally {
    store.close();
  }
}

Deno.test("RestStore sends MLflow's request shapes: tags in runs/create, params in one log-batch", async () => {
  await using home = await tempDir();
  await using server = await startFakeMlflowServer();
  await withStore(server, { HOME: home.path }, async (store) => {
    const id = server.seedExperiment("shapes");
    const exp = await store.findExperiment({ name: "shapes" });
    assert.equal(exp?.experimentId, id);
    const run = await store.createRun(runRequest(id, [["alpha", "0.5"], ["it", "it's a b"]]));
    assert.equal(run.status, "RUNNING");
    assert.equal(run.runName, "brave-owl-1");
    assert.match(run.artifactUri, /^mlflow-artifacts:\//);
    assert.equal(
      await store.endRun(run.runId, { status: "FINISHED", endTime: 1_700_000_000_500 }),
      "FINISHED",
    );
  });
  const [lookup, create, batch, get, update] = server.requests;
  assert.equal(lookup!.path, "/api/2.0/mlflow/experiments/get-by-name?experiment_name=shapes");
  assert.equal(create!.headers["content-type"], "application/json");
  assert.deepEqual(create!.body, {
    experiment_id: server.calls("runs/create")[0]!.body &&
      (create!.body as { experiment_id: string }).experiment_id,
    user_id: "alice",
    start_time: 1_700_000_000_000,
    tags: [
      { key: "mlflow.user", value: "alice" },
      { key: "mlflow.source.type", value: "PROJECT" },
      { key: "mlflow.runName", value: "brave-owl-1" },
    ],
    run_name: "brave-owl-1",
  });
  const runId = [...server.runs.keys()][0]!;
  assert.deepEqual(batch!.body, {
    run_id: runId,
    params: [{ key: "alpha", value: "0.5" }, { key: "it", value: "it's a b" }],
  });
  assert.equal(get!.path, `/api/2.0/mlflow/runs/get?run_uuid=${runId}&run_id=${runId}`);
  assert.deepEqual(update!.body, {
    run_uuid: runId,
    run_id: runId,
    status: "FINISHED",
    end_time: 1_700_000_000_500,
  });
  assert.equal(typeof (update!.body as { end_time: unknown }).end_time, "number");
  assert.equal(server.runs.get(runId)!.info.status, "FINISHED");
});

Deno.test("RestStore needs at most 4 requests for a plain run in an existing experiment", async () => {
  await using home = await tempDir();
  await using server = await startFakeMlflowServer();
  const id = server.seedExperiment("counted");
  const env = { HOME: home.path };
  const plainRun = async (query: { id: string } | { name: string }) =>
    await withStore(server, env, async (store) => {
      const exp = await store.findExperiment(query);
      const run = await store.createRun(runRequest(exp!.experimentId, [["a", "1"]]));
      await store.endRun(run.runId, { status: "FINISHED", endTime: Date.now() });
      return store.requestCount;
    });
  // By name, first time: get-by-name + create + log-batch + get + update.
  assert.equal(await plainRun({ name: "counted" }), 5);
  // By name again: the id comes from the cache, runs/create checks it.
  assert.equal(await plainRun({ name: "counted" }), 4);
  // By id: used as given, as MLflow does.
  assert.equal(await plainRun({ id }), 4);
  // Without params, no log-batch.
  const noParams = await withStore(server, env, async (store) => {
    const run = await store.createRun(runRequest(id));
    await store.endRun(run.runId, { status: "FINISHED", endTime: Date.now() });
    return store.requestCount;
  });
  assert.equal(noParams, 3);
  const cache = JSON.parse(
    await Deno.readTextFile(`${home.path}/.cache/mlproject/experiment_ids.json`),
  );
  assert.deepEqual(cache, { [server.url]: { counted: id } });
});

Deno.test("RestStore keeps its experiment-id cache under MLPROJECT_CACHE_DIR when that is set", async () => {
  await using home = await tempDir();
  await using server = await startFakeMlflowServer();
  server.seedExperiment("cached-here");
  const env = { HOME: home.path, MLPROJECT_CACHE_DIR: `${home.path}/own-cache` };
  await withStore(server, env, async (store) => {
    await store.findExperiment({ name: "cached-here" });
  });
  const cache = JSON.parse(
    await Deno.readTextFile(`${home.path}/own-cache/experiment_ids.json`),
  );
  assert.equal(Object.keys(cache[server.url]).join(), "cached-here");
  await assert.rejects(
    Deno.stat(`${home.path}/.cache/mlproject/experiment_ids.json`),
    Deno.errors.NotFound,
  );
});

Deno.test("RestStore falls back to a lookup when a cached experiment id is stale", async () => {
  await using home = await tempDir();
  await using server = await startFakeMlflowServer();
  const env = { HOME: home.path };
  const oldId = server.seedExperiment("moving");
  await withStore(server, env, (s) => s.findExperiment({ name: "moving" }));
  // The experiment is gone for good and a new one has the name.
  server.experiments.delete(oldId);
  const newId = server.seedExperiment("moving");
  const run = await withStore(server, env, async (store) => {
    const exp = await store.findExperiment({ name: "moving" });
    assert.equal(exp?.experimentId, oldId);
    return await store.createRun(runRequest(exp!.experimentId));
  });
  assert.equal(run.experimentId, newId);
  // The experiment was deleted and nothing has the name: it is created, as a lookup miss would.
  server.experiments.get(newId)!.lifecycle_stage = "deleted";
  server.experiments.get(newId)!.name = "moving-deleted";
  const reporter = recorder();
  const store = openRestStore(server.url, { env: { ...FAST, ...env }, reporter });
  try {
    const exp = await store.findExperiment({ name: "moving" });
    const again = await store.createRun(runRequest(exp!.experimentId));
    assert.notEqual(again.experimentId, newId);
    assert.equal(server.experiments.get(again.experimentId)!.name, "moving");
    assert.ok(reporter.lines.some((l) => l.includes("'moving' does not exist")));
  } finally {
    store.close();
  }
});

Deno.test("RestStore reports a missing or deleted experiment id as MLflow's runner does", async () => {
  await using home = await tempDir();
  await using server = await startFakeMlflowServer();
  await withStore(server, { HOME: home.path }, async (store) => {
    const exp = await store.findExperiment({ id: "424242" });
    await assert.rejects(
      () => store.createRun(runRequest(exp!.experimentId)),
      (e: Error) =>
        e instanceof ExecutionException && e.message === "Could not find experiment with ID 424242",
    );
    const deleted = server.seedExperiment("gone", "deleted");
    await store.findExperiment({ id: deleted });
    await assert.rejects(
      () => store.createRun(runRequest(deleted)),
      new RegExp(`Experiment with ID ${deleted} is deleted`),
    );
  });
});

Deno.test("RestStore.endRun keeps a terminal status the child recorded, with one request", async () => {
  await using home = await tempDir();
  await using server = await startFakeMlflowServer();
  await withStore(server, { HOME: home.path }, async (store) => {
    const run = await store.createRun(runRequest("0"));
    server.runs.get(run.runId)!.info.status = "FAILED";
    const before = store.requestCount;
    assert.equal(
      await store.endRun(run.runId, { status: "FINISHED", endTime: Date.now() }),
      "FAILED",
    );
    assert.equal(store.requestCount - before, 1);
    assert.equal(server.runs.get(run.runId)!.info.status, "FAILED");
    await store.updateRun(run.runId, { status: "KILLED", endTime: 5 });
    assert.equal(server.runs.get(run.runId)!.info.status, "KILLED");
    assert.equal(await store.getRun("0".repeat(32)), undefined);
  });
});

Deno.test("RestStore maps MLflow error codes to clear errors", async () => {
  await using home = await tempDir();
  await using server = await startFakeMlflowServer();
  await withStore(server, { HOME: home.path }, async (store) => {
    await store.createExperiment("dup");
    await assert.rejects(
      () => store.createExperiment("dup"),
      (e: Error) =>
        e instanceof RestError && e.errorCode === "RESOURCE_ALREADY_EXISTS" &&
        e.httpStatus === 400 &&
        e.message === "RESOURCE_ALREADY_EXISTS: Experiment 'dup' already exists.",
    );
    const run = await store.createRun(runRequest("0", [["alpha", "0.5"]]));
    await assert.rejects(
      () => store.logBatch(run.runId, { params: [["alpha", "0.9"]] }),
      (e: Error) =>
        e instanceof RestError && e.errorCode === "INVALID_PARAMETER_VALUE" &&
        e.message.includes("Changing param values is not allowed"),
    );
    await assert.rejects(
      () => store.updateRun("f".repeat(32), { status: "RUNNING", endTime: null }),
      (e: Error) => e instanceof RestError && e.errorCode === "RESOURCE_DOES_NOT_EXIST",
    );
    await assert.rejects(
      () => store.call("GET", "/api/2.0/mlflow/runs/create"),
      (e: Error) =>
        e instanceof RestError && e.httpStatus === 405 &&
        e.message.includes("failed with error code 405 != 200"),
    );
  });
});

Deno.test("RestStore rejects invalid keys before any request", async () => {
  await using server = await startFakeMlflowServer();
  await withStore(server, {}, async (store) => {
    await assert.rejects(
      () => store.createRun(runRequest("0", [["../x", "1"]])),
      /Invalid param name '\.\.\/x'/,
    );
  });
  assert.equal(server.requests.length, 0);
});

Deno.test("RestStore retries 5xx bursts and 429 with Retry-After, POST included", async () => {
  await using server = await startFakeMlflowServer();
  server.addFault({ path: "runs/create", status: 503, times: 2 });
  server.addFault({ path: "runs/log-batch", status: 429, retryAfter: 0.2 });
  await withStore(server, {}, async (store, reporter) => {
    const started = performance.now();
    const run = await store.createRun(runRequest("0", [["a", "1"]]));
    assert.ok(performance.now() - started >= 190, "Retry-After was honoured");
    assert.equal(server.calls("runs/create").length, 3);
    assert.equal(server.calls("runs/log-batch").length, 2);
    assert.equal(server.runs.size, 1);
    assert.equal(server.runs.get(run.runId)!.params.get("a"), "1");
    assert.ok(reporter.lines.some((l) => l.startsWith("WARNING Retrying POST")));
  });
});

Deno.test("RestStore gives up after MLFLOW_HTTP_REQUEST_MAX_RETRIES and says so", async () => {
  await using server = await startFakeMlflowServer();
  server.addFault({ path: "experiments/get-by-name", status: 500, times: 10 });
  await withStore(server, { MLFLOW_HTTP_REQUEST_MAX_RETRIES: "2" }, async (store) => {
    await assert.rejects(
      () => store.findExperiment({ name: "x" }),
      (e: Error) =>
        e instanceof RestError && e.httpStatus === 500 && /after 3 attempts/.test(e.message),
    );
  });
  assert.equal(server.requests.length, 3);
});

Deno.test("RestStore retries connection resets and slow responses (MLFLOW_HTTP_REQUEST_TIMEOUT)", async () => {
  await using server = await startFakeMlflowServer();
  server.resetConnections(2);
  await withStore(server, {}, async (store) => {
    await store.findExperiment({ name: "nothing" });
  });
  assert.equal(server.resets, 2);
  server.addFault({ path: "get-by-name", delayMs: 1500 });
  await withStore(server, { MLFLOW_HTTP_REQUEST_TIMEOUT: "0.3" }, async (store) => {
    const started = performance.now();
    await store.findExperiment({ name: "nothing" });
    assert.ok(performance.now() - started < 1400);
  });
  await using down = await tempDir();
  void down;
  const store = openRestStore("http://127.0.0.1:9", {
    env: { ...FAST, MLFLOW_HTTP_REQUEST_MAX_RETRIES: "1" },
  });
  try {
    await assert.rejects(
      () => store.findExperiment({ name: "x" }),
      (e: Error) =>
        e instanceof ExecutionException && e.message.includes("http://127.0.0.1:9") &&
        !e.message.includes("\n    at "),
    );
  } finally {
    store.close();
  }
});

Deno.test("RestStore retries a terminal status until it is recorded, and stops when told to", async () => {
  await using server = await startFakeMlflowServer();
  await withStore(server, { MLFLOW_HTTP_REQUEST_MAX_RETRIES: "1" }, async (store, reporter) => {
    const run = await store.createRun(runRequest("0"));
    // 7 failures: more than one round of HTTP retries (2 attempts) can absorb.
    server.addFault({ path: "runs/update", status: 503, times: 7 });
    assert.equal(
      await store.endRun(run.runId, { status: "FAILED", endTime: Date.now() }),
      "FAILED",
    );
    assert.equal(server.runs.get(run.runId)!.info.status, "FAILED");
    assert.ok(reporter.lines.some((l) => l.includes("Could not record status FAILED")));
    // A permanent error is not retried.
    await assert.rejects(
      () => store.endRun("e".repeat(32), { status: "FINISHED", endTime: 1 }),
      /not found/,
    );
    // Told to stop: the loop ends with a clear error.
    const other = await store.createRun(runRequest("0"));
    server.addFault({ path: "runs/update", status: 503, times: 1000 });
    const stop = new AbortController();
    setTimeout(() => stop.abort(), 300);
    await assert.rejects(
      () =>
        store.endRun(other.runId, { status: "FINISHED", endTime: Date.now(), signal: stop.signal }),
      (e: Error) =>
        e instanceof ExecutionException &&
        e.message.startsWith(`Stopped before status FINISHED of run '${other.runId}' was recorded`),
    );
    server.faults.length = 0;
  });
});

Deno.test("RestStore sends Bearer or Basic auth (Basic wins) and explains 401/403 without secrets", async () => {
  await using home = await tempDir();
  const token = "s3cr3t-token-value";
  await using server = await startFakeMlflowServer({ authorization: `Bearer ${token}` });
  await withStore(server, { HOME: home.path, MLFLOW_TRACKING_TOKEN: token }, async (store) => {
    assert.equal(await store.findExperiment({ name: "none" }), undefined);
  });
  assert.equal(server.requests[0]!.headers.authorization, `Bearer ${token}`);
  await withStore(server, { HOME: home.path }, async (store) => {
    await assert.rejects(
      () => store.findExperiment({ name: "x" }),
      (e: Error) =>
        e instanceof RestError && e.httpStatus === 401 &&
        e.message.includes("set MLFLOW_TRACKING_TOKEN"),
    );
  });
  await withStore(
    server,
    { HOME: home.path, MLFLOW_TRACKING_TOKEN: "wrong-token-xyz" },
    async (store) => {
      await assert.rejects(
        () => store.findExperiment({ name: "x" }),
        (e: Error) =>
          e instanceof RestError && e.httpStatus === 403 &&
          e.message.includes("check MLFLOW_TRACKING_TOKEN") &&
          !e.message.includes("wrong-token-xyz"),
      );
    },
  );
  // Basic from env beats the token; user/password fall back to ~/.mlflow/credentials.
  await withStore(server, {
    HOME: home.path,
    MLFLOW_TRACKING_TOKEN: token,
    MLFLOW_TRACKING_USERNAME: "bob",
    MLFLOW_TRACKING_PASSWORD: "pw-123",
  }, (store) => store.findExperiment({ name: "x" }).catch(() => undefined));
  assert.equal(server.requests.at(-1)!.headers.authorization, `Basic ${btoa("bob:pw-123")}`);
  await Deno.mkdir(`${home.path}/.mlflow`);
  await Deno.writeTextFile(
    `${home.path}/.mlflow/credentials`,
    "[mlflow]\nmlflow_tracking_username = carol\nmlflow_tracking_password = pw-456\n",
  );
  await withStore(
    server,
    { HOME: home.path },
    (s) => s.findExperiment({ name: "x" }).catch(() => undefined),
  );
  assert.equal(server.requests.at(-1)!.headers.authorization, `Basic ${btoa("carol:pw-456")}`);
});

Deno.test("RestStore refuses a tracking URI with embedded credentials without echoing them", () => {
  assert.throws(
    () => openRestStore("http://bob:hunter22@127.0.0.1:5000", { env: {} }),
    (e: Error) =>
      e instanceof ExecutionException && e.message.includes("MLFLOW_TRACKING_USERNAME") &&
      !e.message.includes("hunter22"),
  );
});

Deno.test("RestStore validates MLflow's HTTP settings", () => {
  for (
    const [name, value] of [
      ["MLFLOW_HTTP_REQUEST_MAX_RETRIES", "10"],
      ["MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "120"],
      ["MLFLOW_HTTP_REQUEST_TIMEOUT", "0"],
      ["MLFLOW_TRACKING_INSECURE_TLS", "yes"],
    ]
  ) {
    assert.throws(
      () => openRestStore("http://127.0.0.1:9", { env: { [name!]: value! } }),
      (e: Error) => e instanceof ExecutionException && e.message.includes(name!),
      name,
    );
  }
});

Deno.test("RestStore over https trusts MLFLOW_TRACKING_SERVER_CERT_PATH and explains TLS failures", async () => {
  await using dir = await tempDir();
  const certs = await makeTestCertificates(dir.path);
  await using server = await startFakeMlflowServer({
    tls: { cert: certs.serverCert, key: certs.serverKey },
  });
  assert.ok(server.url.startsWith("https://"));
  await withStore(server, { MLFLOW_TRACKING_SERVER_CERT_PATH: certs.caCertPath }, async (store) => {
    assert.equal(await store.findExperiment({ name: "tls" }), undefined);
  });
  await withStore(server, { MLFLOW_HTTP_REQUEST_MAX_RETRIES: "0" }, async (store) => {
    await assert.rejects(
      () => store.findExperiment({ name: "tls" }),
      (e: Error) =>
        e instanceof ExecutionException && e.message.includes("MLFLOW_TRACKING_SERVER_CERT_PATH"),
    );
  });
  // MLFLOW_TRACKING_INSECURE_TLS skips verification (a server whose CA is not given), with one
  // warning.
  await withStore(
    server,
    { MLFLOW_HTTP_REQUEST_MAX_RETRIES: "0", MLFLOW_TRACKING_INSECURE_TLS: "true" },
    async (store, reporter) => {
      assert.equal(await store.findExperiment({ name: "tls" }), undefined);
      assert.equal(
        reporter.lines.filter((l) => l.includes("TLS certificate of https://")).length,
        1,
        reporter.lines.join("\n"),
      );
    },
  );
  assert.throws(
    () =>
      openRestStore(server.url, {
        env: {
          MLFLOW_TRACKING_INSECURE_TLS: "true",
          MLFLOW_TRACKING_SERVER_CERT_PATH: certs.caCertPath,
        },
      }),
    /only one of these environment variables may be set/,
  );
  assert.throws(
    () =>
      openRestStore(server.url, {
        env: { MLFLOW_TRACKING_SERVER_CERT_PATH: `${dir.path}/nope.pem` },
      }),
    /Cannot read MLFLOW_TRACKING_SERVER_CERT_PATH/,
  );
});

Deno.test("RestStore presents MLFLOW_TRACKING_CLIENT_CERT_PATH to a server that requires mTLS", async () => {
  await using dir = await tempDir();
  const certs = await makeTestCertificates(dir.path);
  await using server = await startFakeMlflowServer();
  await using proxy = await startMtlsProxy(certs, server.port);
  const base = { ...FAST, MLFLOW_TRACKING_SERVER_CERT_PATH: certs.caCertPath };
  const store = openRestStore(proxy.url, {
    env: { ...base, MLFLOW_TRACKING_CLIENT_CERT_PATH: certs.clientPemPath },
  });
  try {
    const run = await store.createRun(runRequest("0"));
    assert.equal(
      await store.endRun(run.runId, { status: "FINISHED", endTime: Date.now() }),
      "FINISHED",
    );
  } finally {
    store.close();
  }
  const without = openRestStore(proxy.url, {
    env: { ...base, MLFLOW_HTTP_REQUEST_MAX_RETRIES: "0" },
  });
  try {
    await assert.rejects(() => without.findExperiment({ name: "x" }), ExecutionException);
  } finally {
    without.close();
  }
  assert.throws(
    () =>
      openRestStore(proxy.url, {
        env: { ...base, MLFLOW_TRACKING_CLIENT_CERT_PATH: certs.caCertPath },
      }),
    /must hold both the client certificate and its private key/,
  );
});
