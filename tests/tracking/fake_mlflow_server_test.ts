// deno-lint-ignore-file camelcase -- MLflow's wire format is snake_case
/**
 * The fake MLflow server against the real MLflow 2.17 transcript: every recorded request is
 * replayed (ids substituted) and the fake must answer with the same status and the same
 * response shape (keys and value types, recursively); the error probes must give the same
 * status, error code and message.
 */
import assert from "node:assert/strict";
import { FIXTURES } from "../_helpers/cli.ts";
import { type FakeMlflowServer, startFakeMlflowServer } from "../fakes/fake_mlflow_server.ts";

// deno-lint-ignore no-explicit-any
type Json = any;

interface Entry {
  seq: number;
  method: string;
  path: string;
  request_headers: Record<string, string>;
  request_body: unknown;
  request_body_text?: string;
  response_status: number;
  response_body: unknown;
  probe?: string;
}

async function load(name: string): Promise<Entry[]> {
  return (await Deno.readTextFile(`${FIXTURES}/rest/${name}`)).trim().split("\n").map((l) =>
    JSON.parse(l)
  );
}

/** Keys and value types, recursively; arrays by the shape of their elements (merged). */
function shape(value: unknown): unknown {
  if (Array.isArray(value)) {
    const merged: Record<string, unknown> = {};
    for (const v of value) Object.assign(merged, shape(v) as Record<string, unknown>);
    return value.length === 0 ? [] : [typeof value[0] === "object" ? merged : typeof value[0]];
  }
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(
      Object.keys(value).sort().map((k) => [k, shape((value as Record<string, unknown>)[k])]),
    );
  }
  return typeof value;
}

async function replay(server: FakeMlflowServer, e: Entry, ids: Map<string, string>) {
  const swap = (text: string) => {
    let out = text;
    for (const [from, to] of ids) out = out.replaceAll(from, to);
    return out;
  };
  const body = e.request_body_text ??
    (e.request_body === null ? undefined : JSON.stringify(e.request_body));
  const response = await fetch(server.url + swap(e.path), {
    method: e.method,
    headers: e.request_headers["Content-Type"] !== undefined
      ? { "Content-Type": e.request_headers["Content-Type"] }
      : {},
    ...(body !== undefined ? { body: swap(body) } : {}),
  });
  const text = await response.text();
  let parsed: unknown = null;
  try {
    parsed = JSON.parse(text);
  } catch { /* html */ }
  return { status: response.status, body: parsed, text };
}

Deno.test("the fake server answers the recorded MLflow 2.17 run transcript with the same statuses and shapes", async () => {
  const transcript = await load("transcript.jsonl");
  await using server = await startFakeMlflowServer();
  const ids = new Map<string, string>();
  for (const e of transcript) {
    const got = await replay(server, e, ids);
    assert.equal(got.status, e.response_status, `seq ${e.seq} ${e.path}`);
    assert.deepEqual(shape(got.body), shape(e.response_body), `seq ${e.seq} ${e.path}`);
    // Learn the fake's ids for the recorded ones.
    const rec = e.response_body as Record<string, Json>;
    const mine = got.body as Record<string, Json>;
    if (rec?.experiment_id) ids.set(rec.experiment_id, mine.experiment_id);
    if (rec?.run?.info?.run_id) ids.set(rec.run.info.run_id, mine.run.info.run_id);
  }
  // Same end state: one FINISHED run with the runner's and the child's params, tags and metric.
  const [run] = [...server.runs.values()];
  assert.equal(run!.info.status, "FINISHED");
  assert.deepEqual([...run!.params.keys()].sort(), [
    "alpha",
    "count",
    "data_path",
    "echo_entry",
    "extra_undeclared",
    "name",
    "target_uri",
  ]);
  assert.equal(run!.tags.get("mlflow.project.backend"), "local");
  assert.equal(run!.metrics[0]!.key, "echo_argc");
});

Deno.test("the fake server answers the recorded error probes with MLflow's statuses, codes and messages", async () => {
  const transcript = await load("transcript.jsonl");
  const probes = await load("errors.jsonl");
  await using server = await startFakeMlflowServer();
  const ids = new Map<string, string>();
  for (const e of transcript.filter((t) => t.seq <= 4)) {
    const got = await replay(server, e, ids);
    const rec = e.response_body as Record<string, Json>;
    const mine = got.body as Record<string, Json>;
    if (rec?.experiment_id) ids.set(rec.experiment_id, mine.experiment_id);
    if (rec?.run?.info?.run_id) ids.set(rec.run.info.run_id, mine.run.info.run_id);
  }
  for (const e of probes) {
    const got = await replay(server, e, ids);
    assert.equal(got.status, e.response_status, e.probe);
    if (e.response_body !== null) {
      let expected = JSON.stringify(e.response_body);
      for (const [from, to] of ids) expected = expected.replaceAll(from, to);
      assert.deepEqual(got.body, JSON.parse(expected), e.probe);
    } else {
      assert.match(got.text, /405 Method Not Allowed/);
    }
  }
});

Deno.test("the fake server injects status bursts, resets, delays and auth failures", async () => {
  await using server = await startFakeMlflowServer({ authorization: "Bearer t" });
  server.addFault({ path: "/version", status: 503, times: 2, retryAfter: 1 });
  const first = await fetch(`${server.url}/version`);
  assert.equal(first.status, 503);
  assert.equal(first.headers.get("retry-after"), "1");
  await first.body?.cancel();
  await (await fetch(`${server.url}/version`)).body?.cancel();
  const unauth = await fetch(`${server.url}/api/2.0/mlflow/runs/get?run_id=x`);
  assert.equal(unauth.status, 401);
  await unauth.body?.cancel();
  const ok = await fetch(`${server.url}/version`, { headers: { authorization: "Bearer t" } });
  assert.equal(await ok.text(), "2.17.3.dev0");
  server.resetConnections(1);
  const client = Deno.createHttpClient({ poolMaxIdlePerHost: 0 });
  try {
    await assert.rejects(() => fetch(`${server.url}/version`, { client }));
    server.addFault({ delayMs: 200 });
    const started = performance.now();
    await (await fetch(`${server.url}/version`, { client })).body?.cancel();
    assert.ok(performance.now() - started >= 190);
  } finally {
    client.close();
  }
});
