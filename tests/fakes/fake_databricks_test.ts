/**
 * The fake Databricks workspace (tests/_helpers/fake_databricks.ts) answers as the real one for the
 * official `databricks-sdk` client (DBFS, Jobs, PAT and OAuth M2M auth, retries on 429), proxies
 * MLflow calls to a real `mlflow server`, and keeps the real API's limits and error bodies.
 */
import assert from "node:assert/strict";
import {
  failedScript,
  type FakeDatabricks,
  type RunScript,
  startFakeDatabricks,
} from "../_helpers/fake_databricks.ts";
import { skipWithout } from "../_helpers/components.ts";
import { TOOLS_HINT, toolsPython } from "../_helpers/test_tools.ts";
import { mlflowVenvRoot, testMlflowVenvs } from "../_helpers/mlflow_venvs.ts";
import { startMlflowServer } from "../_helpers/mlflow_server.ts";
import { projectTarball } from "../../lib/databricks/project_tarball.ts";

const PYTHON = toolsPython();
const noSdk = skipWithout("databricks-sdk tests", PYTHON !== undefined, TOOLS_HINT);
const VENV = testMlflowVenvs()[0];
const noMlflow = skipWithout(
  "fake Databricks MLflow proxy tests",
  VENV !== undefined,
  `no MLflow venv in ${mlflowVenvRoot()} (scripts/install_test_mlflow.sh installs them)`,
);

/** Runs Python of the tools venv with only the given Databricks settings; returns its JSON. */
async function sdk(code: string, env: Record<string, string>): Promise<Record<string, unknown>> {
  const home = await Deno.makeTempDir({ prefix: "mlproject-dbsdk-" });
  try {
    const out = await new Deno.Command(PYTHON!, {
      args: ["-c", code],
      clearEnv: true,
      env: {
        PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
        HOME: home,
        DATABRICKS_CONFIG_FILE: `${home}/none.cfg`,
        PYTHONWARNINGS: "ignore",
        ...env,
      },
      stdin: "null",
    }).output();
    const dec = new TextDecoder();
    assert.equal(out.code, 0, dec.decode(out.stderr));
    const lines = dec.decode(out.stdout).trim().split("\n");
    return JSON.parse(lines[lines.length - 1]!);
  } finally {
    await Deno.remove(home, { recursive: true });
  }
}

const SDK_DBFS = `
import base64, io, json, os
from databricks.sdk import WorkspaceClient
from databricks.sdk.errors import DatabricksError
w = WorkspaceClient(host=os.environ["HOST"], token=os.environ["TOKEN"])
out = {}
data = bytes((i * 7 + 3) % 256 for i in range(2_500_000))
w.dbfs.upload("/mlflow-experiments/0/projects-code/big.tar.gz", io.BytesIO(data), overwrite=True)
st = w.dbfs.get_status("/mlflow-experiments/0/projects-code/big.tar.gz")
out["status"] = {"path": st.path, "is_dir": st.is_dir, "file_size": st.file_size}
out["read"] = base64.b64decode(w.dbfs.read("dbfs:/mlflow-experiments/0/projects-code/big.tar.gz", offset=1000, length=16).data).hex()
with w.dbfs.download("/mlflow-experiments/0/projects-code/big.tar.gz") as f:
    out["download_ok"] = f.read() == data
w.dbfs.put("/small/hello.txt", contents=base64.b64encode(b"hello").decode(), overwrite=True)
w.dbfs.mkdirs("/small/sub/dir")
out["list"] = sorted(f.path for f in w.dbfs.list("/small"))
try:
    w.dbfs.get_status("/nope/missing.tar.gz")
except DatabricksError as e:
    out["missing"] = [type(e).__name__, e.error_code, str(e)]
try:
    w.dbfs.put("/small/hello.txt", contents=base64.b64encode(b"again").decode())
except DatabricksError as e:
    out["exists"] = [type(e).__name__, e.error_code]
try:
    w.api_client.do("POST", "/api/2.0/dbfs/delete", body={"path": "/small"})
except DatabricksError as e:
    out["not_empty"] = [type(e).__name__, e.error_code]
w.dbfs.delete("/small", recursive=True)
out["deleted"] = not w.dbfs.exists("/small/hello.txt")
print(json.dumps(out))
`;

Deno.test({
  name:
    "fake Databricks: databricks-sdk uploads in 1 MB blocks, reads, lists and deletes DBFS files, gets Databricks errors",
  ignore: noSdk,
  fn: async () => {
    await using fake = await startFakeDatabricks();
    const out = await sdk(SDK_DBFS, { HOST: fake.url, TOKEN: fake.token });
    assert.deepEqual(out.status, {
      path: "/mlflow-experiments/0/projects-code/big.tar.gz",
      is_dir: false,
      file_size: 2_500_000,
    });
    const stored = fake.dbfsFile("/dbfs/mlflow-experiments/0/projects-code/big.tar.gz")!;
    assert.equal(stored.length, 2_500_000);
    assert.equal(
      out.read,
      Array.from(stored.subarray(1000, 1016), (b) => b.toString(16).padStart(2, "0")).join(""),
    );
    assert.equal(out.download_ok, true);
    assert.equal(fake.count("/api/2.0/dbfs/create"), 1);
    assert.equal(fake.count("/api/2.0/dbfs/add-block"), 3); // 1 MB + 1 MB + the rest
    assert.equal(fake.count("/api/2.0/dbfs/close"), 1);
    assert.ok(
      fake.requests.filter((r) => r.path.startsWith("/api/")).every((r) => r.auth === "pat"),
    );
    assert.deepEqual(out.list, ["/small/hello.txt", "/small/sub"]);
    assert.equal((out.missing as string[])[0], "ResourceDoesNotExist");
    assert.equal((out.missing as string[])[1], "RESOURCE_DOES_NOT_EXIST");
    assert.deepEqual(out.exists, ["ResourceAlreadyExists", "RESOURCE_ALREADY_EXISTS"]);
    assert.equal((out.not_empty as string[])[1], "IO_ERROR");
    assert.equal(out.deleted, true);
    assert.deepEqual(fake.dbfsPaths(), ["/mlflow-experiments/0/projects-code/big.tar.gz"]);
  },
});

const SDK_JOBS = `
import json, os
from datetime import timedelta
from databricks.sdk import WorkspaceClient
from databricks.sdk.errors import DatabricksError
from databricks.sdk.service import compute, jobs
w = WorkspaceClient(host=os.environ["HOST"], token=os.environ["TOKEN"])
out = {}
cluster = compute.ClusterSpec(spark_version="15.4.x-scala2.12", node_type_id="i3.xlarge", num_workers=1)
task = jobs.SubmitTask(task_key="main", new_cluster=cluster,
                       spark_python_task=jobs.SparkPythonTask(python_file="dbfs:/x.py"))
waiter = w.jobs.submit(run_name="stepwise", tasks=[task])
rid = waiter.run_id
states = []
for _ in range(4):
    r = w.jobs.get_run(rid)
    states.append([r.state.life_cycle_state.value, r.state.result_state.value if r.state.result_state else None])
out["stepwise"] = {"run_id": rid, "states": states, "url": r.run_page_url, "job_id": r.job_id}
quick = w.jobs.submit(run_name="quick", tasks=[task]).result(timeout=timedelta(seconds=120))
out["quick"] = [quick.state.life_cycle_state.value, quick.state.result_state.value]
victim = w.jobs.submit(run_name="victim", tasks=[task]).run_id
w.jobs.get_run(victim)
w.jobs.cancel_run(victim)
cancelled = []
for _ in range(3):
    s = w.jobs.get_run(victim).state
    cancelled.append([s.life_cycle_state.value, s.result_state.value if s.result_state else None, s.state_message])
out["cancelled"] = cancelled
mlflow_shape = {
    "run_name": "MLflow Run for /p",
    "new_cluster": {"spark_version": "15.4.x-scala2.12", "num_workers": 1},
    "shell_command_task": {"command": ["bash", "-c", "mlflow run ..."],
                           "env_vars": {"MLFLOW_TRACKING_URI": "databricks", "MLFLOW_EXPERIMENT_ID": "0"}},
    "libraries": [{"pypi": {"package": "mlflow==2.17.2"}}],
}
out["v20"] = w.api_client.do("POST", "/api/2.0/jobs/runs/submit", body=mlflow_shape)
out["v20_get"] = w.api_client.do("GET", "/api/2.0/jobs/runs/get", query={"run_id": out["v20"]["run_id"]})
try:
    w.api_client.do("POST", "/api/2.0/jobs/runs/submit", body={"run_name": "x", "new_cluster": {}})
except DatabricksError as e:
    out["bad_submit"] = [type(e).__name__, e.error_code, str(e)]
try:
    w.jobs.get_run(999999)
except DatabricksError as e:
    out["no_run"] = [type(e).__name__, e.error_code, str(e)]
print(json.dumps(out))
`;

Deno.test({
  name:
    "fake Databricks: databricks-sdk submits runs (2.2 tasks and MLflow's 2.0 shell_command_task), follows the scripted life cycle, cancels",
  ignore: noSdk,
  fn: async () => {
    const script = (p: Record<string, unknown>): RunScript =>
      p.run_name === "quick"
        ? [{ life_cycle_state: "RUNNING" }, {
          life_cycle_state: "TERMINATED",
          result_state: "SUCCESS",
        }]
        : [{ life_cycle_state: "PENDING" }, { life_cycle_state: "RUNNING", polls: 2 }, {
          life_cycle_state: "TERMINATED",
          result_state: "SUCCESS",
        }];
    await using fake = await startFakeDatabricks({ runScript: script });
    const out = await sdk(SDK_JOBS, { HOST: fake.url, TOKEN: fake.token });
    const stepwise = out.stepwise as {
      run_id: number;
      states: unknown[];
      url: string;
      job_id: number;
    };
    assert.deepEqual(stepwise.states, [
      ["PENDING", null],
      ["RUNNING", null],
      ["RUNNING", null],
      ["TERMINATED", "SUCCESS"],
    ]);
    assert.equal(
      stepwise.url,
      `${fake.url}/?o=1234567890#job/${stepwise.job_id}/run/${stepwise.run_id}`,
    );
    assert.deepEqual(out.quick, ["TERMINATED", "SUCCESS"]);
    assert.deepEqual(out.cancelled, [
      ["TERMINATING", null, "Run cancellation requested."],
      ["TERMINATED", "CANCELED", "Run cancelled."],
      ["TERMINATED", "CANCELED", "Run cancelled."],
    ]);
    const v20 = fake.run((out.v20 as { run_id: number }).run_id)!;
    assert.equal(v20.apiVersion, "2.0");
    assert.deepEqual((v20.payload.shell_command_task as { command: string[] }).command, [
      "bash",
      "-c",
      "mlflow run ...",
    ]);
    const v20get = out.v20_get as Record<string, unknown>;
    assert.equal((v20get.state as Record<string, unknown>).life_cycle_state, "PENDING");
    assert.deepEqual(Object.keys(v20get.task as object), ["shell_command_task"]);
    assert.deepEqual((out.bad_submit as string[]).slice(0, 2), [
      "InvalidParameterValue",
      "INVALID_PARAMETER_VALUE",
    ]);
    // The SDK maps exactly the real API's 400 "Run … does not exist." to ResourceDoesNotExist.
    assert.deepEqual((out.no_run as string[]).slice(0, 2), [
      "ResourceDoesNotExist",
      "INVALID_PARAMETER_VALUE",
    ]);
    assert.equal(fake.count("/api/2.2/jobs/runs/submit", "POST"), 3);
    assert.equal(fake.count("/jobs/runs/cancel", "POST"), 1);
    assert.deepEqual(fake.submittedPayloads().map((p) => p.run_name), [
      "stepwise",
      "quick",
      "victim",
      "MLflow Run for /p",
    ]);
  },
});

const SDK_M2M = `
import json, os
from databricks.sdk import WorkspaceClient
out = {}
w = WorkspaceClient(host=os.environ["HOST"], client_id=os.environ["CID"], client_secret=os.environ["SECRET"])
out["auth_type"] = w.config.auth_type
out["root"] = w.dbfs.get_status("/").is_dir
out["again"] = w.dbfs.get_status("/").is_dir
try:
    WorkspaceClient(host=os.environ["HOST"], client_id=os.environ["CID"], client_secret="wrong").dbfs.get_status("/")
except Exception as e:
    out["wrong_secret"] = str(e)
print(json.dumps(out))
`;

Deno.test({
  name:
    "fake Databricks: OAuth M2M with databricks-sdk — discovery, client_credentials token by Basic auth, token accepted as bearer",
  ignore: noSdk,
  fn: async () => {
    await using fake = await startFakeDatabricks({ tokenLifetimeSeconds: 600 });
    const out = await sdk(SDK_M2M, {
      HOST: fake.url,
      CID: fake.oauth.clientId,
      SECRET: fake.oauth.clientSecret,
    });
    assert.equal(out.auth_type, "oauth-m2m");
    assert.equal(out.root, true);
    assert.equal(out.again, true);
    assert.match(String(out.wrong_secret), /invalid_client/);
    assert.equal(fake.issuedTokens.size, 1, "one token, reused until it expires");
    assert.equal(fake.count("/oidc/v1/token", "POST"), 2); // the good client, then the wrong secret
    const api = fake.requests.filter((r) => r.path === "/api/2.0/dbfs/get-status");
    assert.deepEqual(api.map((r) => r.auth), ["oauth", "oauth"]);
  },
});

const SDK_RETRY = `
import json, os
from databricks.sdk import WorkspaceClient
w = WorkspaceClient(host=os.environ["HOST"], token=os.environ["TOKEN"])
print(json.dumps({"is_dir": w.dbfs.get_status("/").is_dir}))
`;

Deno.test({
  name:
    "fake Databricks: injected 429 with Retry-After and 503 are retried by databricks-sdk; slow headers are served",
  ignore: noSdk,
  fn: async () => {
    await using fake = await startFakeDatabricks();
    fake.addFault({ path: "/dbfs/get-status", status: 429, retryAfter: 1 });
    fake.addFault({ path: "/dbfs/get-status", status: 503 });
    fake.addFault({ path: "/dbfs/get-status", delayMs: 200, bodyDelayMs: 200 });
    const out = await sdk(SDK_RETRY, { HOST: fake.url, TOKEN: fake.token });
    assert.equal(out.is_dir, true);
    assert.deepEqual(
      fake.requests.filter((r) => r.path === "/api/2.0/dbfs/get-status").map((r) => r.status),
      [429, 503, 200],
    );
    assert.equal(fake.faults.length, 0);
  },
});

const SDK_MLFLOW = `
import json, os
from databricks.sdk import WorkspaceClient
w = WorkspaceClient(host=os.environ["HOST"], token=os.environ["TOKEN"])
exp = w.experiments.create_experiment(name="/Users/fake@example.com/dbfake").experiment_id
run = w.experiments.create_run(experiment_id=exp, run_name="through-the-fake").run.info
w.experiments.log_param(run_id=run.run_id, key="alpha", value="0.5")
print(json.dumps({"experiment_id": exp, "run_id": run.run_id}))
`;

Deno.test({
  name:
    "fake Databricks: MLflow calls through the workspace reach the real mlflow server (runs recorded for real)",
  ignore: noSdk || noMlflow,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "mlproject-dbfake-mlflow-" });
    try {
      await using server = await startMlflowServer(VENV!, dir);
      await using fake = await startFakeDatabricks({ mlflowUrl: server.url });
      const out = await sdk(SDK_MLFLOW, { HOST: fake.url, TOKEN: fake.token });
      const got = await server.api(`runs/get?run_id=${out.run_id}`) as {
        run: { info: { experiment_id: string; run_name: string }; data: { params: unknown[] } };
      };
      assert.equal(got.run.info.experiment_id, out.experiment_id);
      assert.equal(got.run.info.run_name, "through-the-fake");
      assert.deepEqual(got.run.data.params, [{ key: "alpha", value: "0.5" }]);
      assert.equal(fake.count("/api/2.0/mlflow/"), 3);
      // Without credentials the proxy is closed, as the workspace is.
      const anonymous = await fetch(`${fake.url}/api/2.0/mlflow/experiments/get?experiment_id=0`);
      assert.equal(anonymous.status, 401);
      assert.equal((await anonymous.json()).error_code, "UNAUTHENTICATED");
      const plain = await fetch(`${fake.url}/ajax-api/2.0/mlflow/experiments/get?experiment_id=0`, {
        headers: { authorization: `Bearer ${fake.token}` },
      });
      assert.equal(plain.status, 200);
      assert.equal((await plain.json()).experiment.name, "Default");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

// ---- Without the SDK: the wire details MLflow's own client depends on ----

async function call(
  fake: FakeDatabricks,
  method: string,
  path: string,
  body?: Record<string, unknown> | Uint8Array<ArrayBuffer>,
  headers: Record<string, string> = {},
): Promise<{ status: number; text: string; json: Record<string, unknown> | undefined }> {
  const res = await fetch(`${fake.url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${fake.token}`,
      ...(body !== undefined && !(body instanceof Uint8Array)
        ? { "content-type": "application/json" }
        : {}),
      ...headers,
    },
    ...(body === undefined
      ? {}
      : { body: body instanceof Uint8Array ? body : JSON.stringify(body) }),
  });
  const text = await res.text();
  let json: Record<string, unknown> | undefined;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, text, json };
}

Deno.test("fake Databricks: MLflow's raw POST /dbfs/<path> upload is stored; a second one is a 409 HTML page", async () => {
  await using fake = await startFakeDatabricks();
  const path = "/mlflow-experiments/7/projects-code/abc.tar.gz";
  const bytes = new Uint8Array([1, 2, 3, 250]);
  assert.equal(
    (await call(fake, "GET", `/api/2.0/dbfs/get-status?path=${path}`)).json?.error_code,
    "RESOURCE_DOES_NOT_EXIST",
  );
  assert.equal((await call(fake, "POST", `/dbfs${path}`, bytes)).status, 200);
  assert.deepEqual(fake.dbfsFile(path), bytes);
  const again = await call(fake, "POST", `/dbfs${path}`, bytes);
  assert.equal(again.status, 409);
  assert.ok(again.text.includes("Error 409") && again.text.includes("File already exists"));
  const status = await call(fake, "GET", `/api/2.0/dbfs/get-status?path=${path}`);
  assert.equal(status.status, 200);
  assert.deepEqual(
    { ...status.json, modification_time: 0 },
    { path, is_dir: false, file_size: 4, modification_time: 0 },
  );
  assert.equal(fake.requests[1]!.body, "<4 bytes>");
});

Deno.test("fake Databricks: add-block over 1 MB is MAX_BLOCK_SIZE_EXCEEDED; unknown handles are RESOURCE_DOES_NOT_EXIST", async () => {
  await using fake = await startFakeDatabricks();
  const { json: created } = await call(fake, "POST", "/api/2.0/dbfs/create", {
    path: "/x.bin",
    overwrite: true,
  });
  const handle = created!.handle;
  const big = btoa("a".repeat(1024 * 1024 + 1));
  const tooBig = await call(fake, "POST", "/api/2.0/dbfs/add-block", { handle, data: big });
  assert.equal(tooBig.status, 400);
  assert.equal(tooBig.json?.error_code, "MAX_BLOCK_SIZE_EXCEEDED");
  const ok = await call(fake, "POST", "/api/2.0/dbfs/add-block", {
    handle,
    data: btoa("a".repeat(1024 * 1024)),
  });
  assert.equal(ok.status, 200);
  assert.equal(
    fake.requests.at(-1)!.body && (fake.requests.at(-1)!.body as { data: string }).data,
    "<1048576 bytes>",
  );
  assert.equal(fake.dbfsFile("/x.bin"), undefined, "visible only after close");
  assert.equal((await call(fake, "POST", "/api/2.0/dbfs/close", { handle })).status, 200);
  assert.equal(fake.dbfsFile("/x.bin")!.length, 1024 * 1024);
  const closed = await call(fake, "POST", "/api/2.0/dbfs/close", { handle });
  assert.equal(closed.json?.error_code, "RESOURCE_DOES_NOT_EXIST");
  const exists = await call(fake, "POST", "/api/2.0/dbfs/create", { path: "/x.bin" });
  assert.equal(exists.json?.error_code, "RESOURCE_ALREADY_EXISTS");
  const relative = await call(fake, "GET", "/api/2.0/dbfs/get-status?path=x.bin");
  assert.equal(relative.json?.error_code, "INVALID_PARAMETER_VALUE");
});

Deno.test("fake Databricks: no credentials → 401 UNAUTHENTICATED, a wrong token → 403, expired OAuth tokens → 403", async () => {
  await using fake = await startFakeDatabricks({ basic: { username: "u", password: "p" } });
  const none = await fetch(`${fake.url}/api/2.0/jobs/runs/get?run_id=1`);
  assert.equal(none.status, 401);
  assert.equal((await none.json()).error_code, "UNAUTHENTICATED");
  const wrong = await call(fake, "GET", "/api/2.0/dbfs/get-status?path=/", undefined, {
    authorization: "Bearer nope",
  });
  assert.equal(wrong.status, 403);
  assert.equal(wrong.json?.error_code, "PERMISSION_DENIED");
  const basic = await call(fake, "GET", "/api/2.0/dbfs/get-status?path=/", undefined, {
    authorization: `Basic ${btoa("u:p")}`,
  });
  assert.equal(basic.status, 200);
  const form = new URLSearchParams({
    grant_type: "client_credentials",
    scope: "all-apis",
    client_id: fake.oauth.clientId,
    client_secret: fake.oauth.clientSecret,
  });
  const tokenRes = await fetch(`${fake.url}/oidc/v1/token`, { method: "POST", body: form });
  const issued = await tokenRes.json();
  assert.equal(issued.token_type, "Bearer");
  assert.equal(issued.expires_in, 3600);
  const bearer = { authorization: `Bearer ${issued.access_token}` };
  assert.equal(
    (await call(fake, "GET", "/api/2.0/dbfs/get-status?path=/", undefined, bearer)).status,
    200,
  );
  fake.expireTokens();
  assert.equal(
    (await call(fake, "GET", "/api/2.0/dbfs/get-status?path=/", undefined, bearer)).status,
    403,
  );
  assert.deepEqual(fake.requests.map((r) => r.auth), [
    "none",
    "invalid",
    "basic",
    "none",
    "oauth",
    "invalid",
  ]);
});

Deno.test("fake Databricks: a failing script ends FAILED with its state_message; get-output carries the error; no job_id when told", async () => {
  await using fake = await startFakeDatabricks({
    omitJobId: true,
    runScript: () => failedScript("Command exited with code 1"),
  });
  const submit = await call(fake, "POST", "/api/2.0/jobs/runs/submit", {
    run_name: "r",
    new_cluster: { num_workers: 1 },
    shell_command_task: { command: ["bash", "-c", "false"] },
    idempotency_token: "tok-1",
  });
  const again = await call(fake, "POST", "/api/2.0/jobs/runs/submit", {
    run_name: "r",
    new_cluster: { num_workers: 1 },
    shell_command_task: { command: ["bash", "-c", "false"] },
    idempotency_token: "tok-1",
  });
  assert.equal(again.json?.run_id, submit.json?.run_id, "same idempotency token, same run");
  const id = submit.json!.run_id;
  const states: unknown[] = [];
  for (let i = 0; i < 3; i++) {
    const { json } = await call(fake, "GET", `/api/2.0/jobs/runs/get?run_id=${id}`);
    assert.equal(json!.job_id, undefined);
    states.push(json!.state);
  }
  assert.deepEqual(
    states.map((s) => (s as Record<string, unknown>).life_cycle_state),
    ["PENDING", "RUNNING", "TERMINATED"],
  );
  assert.deepEqual(states[2], {
    life_cycle_state: "TERMINATED",
    result_state: "FAILED",
    state_message: "Command exited with code 1",
    user_cancelled_or_timedout: false,
  });
  const output = await call(fake, "GET", `/api/2.1/jobs/runs/get-output?run_id=${id}`);
  assert.equal(output.json?.error, "Command exited with code 1");
  assert.deepEqual(fake.run(Number(id))!.history, ["PENDING", "RUNNING", "TERMINATED/FAILED"]);
  const cancelDone = await call(fake, "POST", "/api/2.0/jobs/runs/cancel", { run_id: id });
  assert.equal(cancelDone.status, 200);
  assert.equal(
    fake.run(Number(id))!.history.at(-1),
    "TERMINATED/FAILED",
    "cancel after the end changes nothing",
  );
});

Deno.test("fake Databricks: onRunStep sees each state as the run enters it", async () => {
  const seen: string[] = [];
  await using fake = await startFakeDatabricks({
    onRunStep: (run, step) => void seen.push(`${run.run_id}:${step.life_cycle_state}`),
  });
  const { json } = await call(fake, "POST", "/api/2.1/jobs/runs/submit", {
    tasks: [{
      task_key: "t",
      existing_cluster_id: "0123-abc",
      spark_python_task: { python_file: "dbfs:/a.py" },
    }],
  });
  const id = json!.run_id;
  await call(fake, "GET", `/api/2.1/jobs/runs/get?run_id=${id}`);
  await call(fake, "GET", `/api/2.1/jobs/runs/get?run_id=${id}`);
  await call(fake, "POST", "/api/2.1/jobs/runs/cancel", { run_id: id });
  const last = await call(fake, "GET", `/api/2.1/jobs/runs/get?run_id=${id}`);
  assert.deepEqual(seen, [`${id}:PENDING`, `${id}:RUNNING`, `${id}:TERMINATING`]);
  assert.equal((last.json!.tasks as Record<string, unknown>[])[0]!.existing_cluster_id, "0123-abc");
});

/** The oldest and newest installed MLflow: one with a token, one with OAuth M2M. */
const E2E = [...new Set([testMlflowVenvs()[0], testMlflowVenvs().at(-1)])].filter((v) =>
  v !== undefined
).map((venv, i) => ({ venv, auth: i === 0 ? "token" : "oauth-m2m" }));

for (const { venv, auth } of E2E) {
  Deno.test({
    name:
      `fake Databricks: real \`mlflow run -b databricks\` of MLflow ${venv.version} (${auth}) uploads our tarball's sha256, submits, tags the run; a second run uploads nothing`,
    ignore: noMlflow,
    fn: async () => {
      const dir = await Deno.makeTempDir({ prefix: "mlproject-dbfake-e2e-" });
      try {
        await using server = await startMlflowServer(venv, dir);
        await using fake = await startFakeDatabricks({ mlflowUrl: server.url });
        const project = `${dir}/project`;
        await Deno.mkdir(`${project}/mlruns/0`, { recursive: true });
        await Deno.writeTextFile(
          `${project}/MLproject`,
          "name: p\nentry_points:\n  main:\n    parameters:\n      alpha: {type: float, default: 0.1}\n    command: python train.py {alpha}\n",
        );
        await Deno.writeTextFile(`${project}/train.py`, "print(1)\n");
        await Deno.writeTextFile(`${project}/mlruns/0/meta.yaml`, "left out\n");
        await Deno.symlink("train.py", `${project}/link.py`);
        await Deno.writeTextFile(
          `${dir}/cluster.json`,
          JSON.stringify({ spark_version: "15.4.x-scala2.12", num_workers: 1 }),
        );
        const mlflowRun = async () => {
          const out = await new Deno.Command(venv.mlflow, {
            args: [
              "run",
              project,
              "-b",
              "databricks",
              "--backend-config",
              `${dir}/cluster.json`,
              "-P",
              "alpha=0.5",
            ],
            clearEnv: true,
            env: {
              PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
              HOME: dir,
              MLFLOW_TRACKING_URI: "databricks",
              DATABRICKS_HOST: fake.url,
              ...(auth === "token" ? { DATABRICKS_TOKEN: fake.token } : {
                DATABRICKS_CLIENT_ID: fake.oauth.clientId,
                DATABRICKS_CLIENT_SECRET: fake.oauth.clientSecret,
              }),
              MLFLOW_EXPERIMENT_ID: "0",
              DATABRICKS_CONFIG_FILE: `${dir}/none.cfg`,
              MLFLOW_DISABLE_TELEMETRY: "true",
              PYTHONWARNINGS: "ignore",
            },
            stdin: "null",
          }).output();
          const stderr = new TextDecoder().decode(out.stderr);
          assert.equal(out.code, 0, stderr);
          return stderr;
        };
        const first = await mlflowRun();
        const ours = await projectTarball(project);
        try {
          const dbfsPath = `/mlflow-experiments/0/projects-code/${ours.sha256}.tar.gz`;
          assert.deepEqual(fake.dbfsPaths(), [dbfsPath], "MLflow uploaded the archive we build");
          assert.deepEqual(fake.dbfsFile(dbfsPath), await Deno.readFile(ours.path));
          assert.ok(first.includes(`=== Uploading project to DBFS path /dbfs${dbfsPath} ===`));
        } finally {
          await Deno.remove(ours.path);
        }
        assert.equal(fake.count(`/dbfs/mlflow-experiments/`, "POST"), 1);
        const payload = fake.submittedPayloads()[0]!;
        const task = payload.shell_command_task as { command: string[]; env_vars: unknown };
        assert.deepEqual(task.command.slice(0, 2), ["bash", "-c"]);
        assert.match(task.command[2]!, /-P alpha=0\.5/);
        assert.deepEqual(task.env_vars, {
          MLFLOW_TRACKING_URI: "databricks",
          MLFLOW_EXPERIMENT_ID: "0",
        });
        assert.deepEqual(payload.libraries, [{ pypi: { package: `mlflow==${venv.version}` } }]);
        const [run] = await server.runs();
        const tags = Object.fromEntries(run!.data.tags!.map((t) => [t.key, t.value]));
        const submitted = fake.runs[0]!;
        assert.equal(tags["mlflow.databricks.runURL"], submitted.run_page_url);
        assert.equal(tags["mlflow.databricks.shellJobRunID"], String(submitted.run_id));
        assert.equal(tags["mlflow.databricks.shellJobID"], String(submitted.job_id));
        assert.equal(tags["mlflow.databricks.webappURL"], fake.url);
        assert.equal(tags["mlflow.project.backend"], "databricks");
        // The same project again: get-status finds it, nothing is uploaded.
        const second = await mlflowRun();
        assert.ok(second.includes("=== Project already exists in DBFS ==="), second);
        assert.equal(fake.count(`/dbfs/mlflow-experiments/`, "POST"), 1);
        assert.deepEqual(
          fake.requests.filter((r) => r.path === "/api/2.0/dbfs/get-status").map((r) => r.status),
          [404, 200],
        );
        const apiAuth = new Set(
          fake.requests.filter((r) => r.path.startsWith("/api/")).map((r) => r.auth),
        );
        assert.deepEqual([...apiAuth], [auth === "token" ? "pat" : "oauth"]);
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    },
  });
}

Deno.test("fake Databricks: a reset fault drops the connection without an answer; the next request is served", async () => {
  await using fake = await startFakeDatabricks();
  fake.addFault({ path: "/jobs/runs/get", reset: true });
  await assert.rejects(() => call(fake, "GET", "/api/2.0/jobs/runs/get?run_id=1"));
  const next = await call(fake, "GET", "/api/2.0/jobs/runs/get?run_id=1");
  assert.equal(next.status, 400);
  assert.equal(next.json?.message, "Run 1 does not exist.");
  assert.deepEqual(fake.requests.map((r) => r.status), [0, 400]);
});

Deno.test("fake Databricks: multipart put stores the file part; JSON put over 1 MB is MAX_BLOCK_SIZE_EXCEEDED", async () => {
  await using fake = await startFakeDatabricks();
  const form = new FormData();
  form.set("path", "dbfs:/uploads/big.bin");
  form.set("overwrite", "true");
  form.set("contents", new File([new Uint8Array(3 * 1024 * 1024).fill(7)], "big.bin"));
  const res = await fetch(`${fake.url}/api/2.0/dbfs/put`, {
    method: "POST",
    headers: { authorization: `Bearer ${fake.token}` },
    body: form,
  });
  assert.equal(res.status, 200, await res.text());
  assert.equal(fake.dbfsFile("/uploads/big.bin")!.length, 3 * 1024 * 1024);
  const tooBig = await call(fake, "POST", "/api/2.0/dbfs/put", {
    path: "/uploads/inline.bin",
    contents: btoa("b".repeat(1024 * 1024 + 1)),
  });
  assert.equal(tooBig.json?.error_code, "MAX_BLOCK_SIZE_EXCEEDED");
  const listing = await call(fake, "GET", "/api/2.0/dbfs/list?path=/uploads");
  assert.deepEqual(
    (listing.json!.files as { path: string }[]).map((f) => f.path),
    ["/uploads/big.bin"],
  );
});

Deno.test("fake Databricks: a dropAnswer fault serves the request, then drops the connection (a lost submit answer)", async () => {
  await using fake = await startFakeDatabricks();
  fake.addFault({ path: "/jobs/runs/submit", dropAnswer: true });
  const submit = {
    "run_name": "lost",
    "new_cluster": { "num_workers": 1 },
    "shell_command_task": { command: ["bash", "-c", "true"] },
  };
  await assert.rejects(() => call(fake, "POST", "/api/2.0/jobs/runs/submit", submit));
  assert.equal(fake.runs.length, 1, "the run exists although its id never reached the client");
  assert.equal(fake.requests[0]!.status, 200);
});
