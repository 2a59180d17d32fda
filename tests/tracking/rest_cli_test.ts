/**
 * `mlproject run` (a real CLI subprocess) against the fake MLflow server and a fake Databricks
 * workspace: what is recorded, how many requests it takes, what the child receives, faults, TLS,
 * and secrets kept out of stdout, stderr, tags, params and every argv.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { cleanEnv, type CliResult, runCli, tempDir, writeFiles } from "../_helpers/cli.ts";
import { type FakeMlflowServer, startFakeMlflowServer } from "../fakes/fake_mlflow_server.ts";
import { makeTestCertificates, startMtlsProxy } from "../fakes/test_certificates.ts";

const CHILD = fileURLToPath(new URL("./testdata/rest_child.py", import.meta.url));
/** Deno's own cache, kept when the tests move HOME and XDG_CACHE_HOME. */
const DENO_DIR = Deno.env.get("DENO_DIR") ||
  `${Deno.env.get("XDG_CACHE_HOME") || `${Deno.env.get("HOME")}/.cache`}/deno`;

interface ChildView {
  argv: string[];
  env: Record<string, string>;
  cmdlines: string[][];
}

async function project(dir: string): Promise<string> {
  await writeFiles(dir, {
    "proj/MLproject": `name: rest
entry_points:
  main:
    parameters:
      alpha: {type: float, default: 0.5}
    command: "python3 ${CHILD} --alpha {alpha}"
`,
  });
  return `${dir}/proj`;
}

async function runAgainst(
  dir: string,
  extraArgs: string[],
  env: Record<string, string>,
): Promise<CliResult & { child: ChildView | undefined }> {
  const proj = await project(dir);
  const outFile = `${dir}/child-${crypto.randomUUID()}.json`;
  const result = await runCli(["run", proj, "--env-manager", "local", ...extraArgs], {
    cwd: dir,
    env: cleanEnv({
      DENO_DIR,
      XDG_CACHE_HOME: `${dir}/cache`,
      HOME: dir,
      OUT_FILE: outFile,
      MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR: "0.001",
      MLFLOW_HTTP_REQUEST_BACKOFF_JITTER: "0",
      MLFLOW_HTTP_REQUEST_MAX_RETRIES: "4",
      ...env,
    }),
  });
  let child: ChildView | undefined;
  try {
    child = JSON.parse(await Deno.readTextFile(outFile));
  } catch { /* the child did not run */ }
  return { ...result, child };
}

function runnerRequests(server: FakeMlflowServer) {
  return server.requests.filter((r) => r.headers["user-agent"]?.startsWith("mlproject/"));
}

function assertNoSecret(
  secret: string,
  result: CliResult & { child?: ChildView },
  server?: FakeMlflowServer,
) {
  assert.ok(!result.stdout.includes(secret), "secret in stdout");
  assert.ok(!result.stderr.includes(secret), "secret in stderr");
  for (const argv of result.child?.cmdlines ?? []) {
    assert.ok(!argv.join(" ").includes(secret), `secret in argv ${argv.join(" ")}`);
  }
  for (const run of server?.runs.values() ?? []) {
    for (const [k, v] of [...run.tags, ...run.params]) {
      assert.ok(!k.includes(secret) && !v.includes(secret), `secret in tag/param ${k}`);
    }
  }
}

Deno.test("run against an MLflow server records the run in 4 requests and hands the child the server", async () => {
  await using tmp = await tempDir();
  const token = "tok-abcdef-123456";
  await using server = await startFakeMlflowServer({ authorization: `Bearer ${token}` });
  const env = { MLFLOW_TRACKING_URI: server.url, MLFLOW_TRACKING_TOKEN: token };
  const first = await runAgainst(
    tmp.path,
    ["--experiment-name", "rest-exp", "-P", "alpha=0.7"],
    env,
  );
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stderr, /'rest-exp' does not exist\. Creating a new experiment/);
  assert.deepEqual(runnerRequests(server).map((r) => `${r.method} ${r.path.split("?")[0]}`), [
    "GET /api/2.0/mlflow/experiments/get-by-name",
    "POST /api/2.0/mlflow/experiments/create",
    "POST /api/2.0/mlflow/runs/create",
    "POST /api/2.0/mlflow/runs/log-batch",
    "GET /api/2.0/mlflow/runs/get",
    "POST /api/2.0/mlflow/runs/update",
  ]);
  const [run] = [...server.runs.values()];
  const runId = String(run!.info.run_id);
  assert.equal(run!.info.status, "FINISHED");
  assert.equal(run!.tags.get("mlflow.project.backend"), "local");
  assert.equal(run!.tags.get("mlflow.source.type"), "PROJECT");
  assert.equal(run!.tags.get("mlflow.user"), "test-user");
  assert.equal(run!.tags.get("mlflow.runName"), run!.info.run_name);
  assert.deepEqual(Object.fromEntries(run!.params), { alpha: "0.7", child_param: "yes" });
  assert.deepEqual(first.child!.env.MLFLOW_TRACKING_URI, server.url);
  assert.equal(first.child!.env.MLFLOW_RUN_ID, runId);
  assert.equal(first.child!.env.MLFLOW_EXPERIMENT_ID, String(run!.info.experiment_id));
  assert.match(first.stderr, new RegExp(`Run \\(ID '${runId}'\\) succeeded`));
  assertNoSecret(token, first, server);

  // The second run in the same experiment: 4 requests.
  server.requests.length = 0;
  const second = await runAgainst(tmp.path, ["--experiment-name", "rest-exp"], env);
  assert.equal(second.code, 0, second.stderr);
  assert.deepEqual(runnerRequests(server).map((r) => r.path.split("?")[0]), [
    "/api/2.0/mlflow/runs/create",
    "/api/2.0/mlflow/runs/log-batch",
    "/api/2.0/mlflow/runs/get",
    "/api/2.0/mlflow/runs/update",
  ]);
  assertNoSecret(token, second, server);
});

Deno.test("run keeps the child's terminal status through 5xx bursts and connection resets", async () => {
  await using tmp = await tempDir();
  await using server = await startFakeMlflowServer();
  server.resetConnections(1);
  server.addFault({ path: "runs/create", status: 503, times: 2 });
  server.addFault({ path: "runs/get", status: 502, times: 1 });
  const result = await runAgainst(tmp.path, ["-P", "end=FAILED", "--json"], {
    MLFLOW_TRACKING_URI: server.url,
  });
  assert.equal(result.code, 1, result.stderr);
  const out = JSON.parse(result.stdout);
  assert.equal(out.status, "FAILED");
  assert.equal(out.tracking_uri, server.url);
  assert.equal(out.experiment_id, "0");
  const run = server.runs.get(out.run_id)!;
  assert.equal(run.info.status, "FAILED");
  assert.equal(run.info.end_time, 1, "the child's end time was kept");
  assert.equal(server.calls("runs/create").length, 3);
  assert.equal(server.runs.size, 1);
  assert.ok(server.resets >= 1);
});

Deno.test("run reports a terminal status the server refuses, and retries one it cannot reach yet", async () => {
  await using tmp = await tempDir();
  await using server = await startFakeMlflowServer();
  server.addFault({ path: "runs/update", status: 400, times: 1 });
  const refused = await runAgainst(tmp.path, [], { MLFLOW_TRACKING_URI: server.url });
  assert.match(
    refused.stderr,
    /ERROR mlproject: === Could not record status FINISHED of run '[0-9a-f]{32}'/,
  );
  // 6 failures with 2 attempts per round: recorded in the fourth round, with warnings.
  server.addFault({ path: "runs/update", status: 503, times: 6 });
  const retried = await runAgainst(tmp.path, ["--json"], {
    MLFLOW_TRACKING_URI: server.url,
    MLFLOW_HTTP_REQUEST_MAX_RETRIES: "1",
  });
  assert.equal(retried.code, 0, retried.stderr);
  assert.match(
    retried.stderr,
    /WARNING mlproject: === Could not record status FINISHED of run .* yet/,
  );
  assert.equal(server.runs.get(JSON.parse(retried.stdout).run_id)!.info.status, "FINISHED");
});

Deno.test("run fails clearly when the tracking server refuses the credentials", async () => {
  await using tmp = await tempDir();
  await using server = await startFakeMlflowServer({ authorization: "Bearer right-token" });
  const result = await runAgainst(tmp.path, [], {
    MLFLOW_TRACKING_URI: server.url,
    MLFLOW_TRACKING_TOKEN: "wrong-token-777",
  });
  assert.equal(result.code, 1);
  assert.match(
    result.stderr,
    /PERMISSION_DENIED: Invalid access token\. \(authentication failed for/,
  );
  assert.ok(!result.stderr.includes(" at "), "no stack trace");
  assertNoSecret("wrong-token-777", result);
  assert.equal(result.child, undefined);
});

Deno.test("run over https with a private CA and with mutual TLS", async () => {
  await using tmp = await tempDir();
  const certs = await makeTestCertificates(tmp.path);
  await using tls = await startFakeMlflowServer({
    tls: { cert: certs.serverCert, key: certs.serverKey },
  });
  const viaCa = await runAgainst(tmp.path, ["-P", "offline=1"], {
    MLFLOW_TRACKING_URI: tls.url,
    MLFLOW_TRACKING_SERVER_CERT_PATH: certs.caCertPath,
  });
  assert.equal(viaCa.code, 0, viaCa.stderr);
  assert.equal([...tls.runs.values()][0]!.info.status, "FINISHED");
  const noCa = await runAgainst(tmp.path, ["-P", "offline=1"], {
    MLFLOW_TRACKING_URI: tls.url,
    MLFLOW_HTTP_REQUEST_MAX_RETRIES: "0",
  });
  assert.equal(noCa.code, 1);
  assert.match(noCa.stderr, /set MLFLOW_TRACKING_SERVER_CERT_PATH/);

  await using plain = await startFakeMlflowServer();
  await using proxy = await startMtlsProxy(certs, plain.port);
  const mtls = await runAgainst(tmp.path, ["-P", "offline=1"], {
    MLFLOW_TRACKING_URI: proxy.url,
    MLFLOW_TRACKING_SERVER_CERT_PATH: certs.caCertPath,
    MLFLOW_TRACKING_CLIENT_CERT_PATH: certs.clientPemPath,
  });
  assert.equal(mtls.code, 0, mtls.stderr);
  assert.equal([...plain.runs.values()][0]!.info.status, "FINISHED");
  const key = (await Deno.readTextFile(`${tmp.path}/client.key`)).split("\n")[1]!;
  assertNoSecret(key, mtls);
});

Deno.test("run against Databricks uses ~/.databrickscfg profiles and hands the child MLflow's variables", async () => {
  await using tmp = await tempDir();
  const token = "dapi-secret-0123456789";
  await using server = await startFakeMlflowServer({
    authorization: `Bearer ${token}`,
    noDefaultExperiment: true,
  });
  await Deno.writeTextFile(
    `${tmp.path}/.databrickscfg`,
    `[DEFAULT]\nhost = https://wrong.example.com\ntoken = nope\n\n[staging]\nhost = ${server.url}/\ntoken = ${token}\n`,
  );
  const result = await runAgainst(tmp.path, ["--experiment-name", "/Users/me@x.com/exp"], {
    MLFLOW_TRACKING_URI: "databricks://staging",
  });
  assert.equal(result.code, 0, result.stderr);
  assert.deepEqual(
    Object.fromEntries(
      Object.entries(result.child!.env).filter(([k]) =>
        k !== "MLFLOW_RUN_ID" && k !== "MLFLOW_EXPERIMENT_ID" && !k.startsWith("MLFLOW_HTTP")
      ),
    ),
    {
      MLFLOW_TRACKING_URI: "databricks",
      DATABRICKS_HOST: server.url,
      DATABRICKS_TOKEN: token,
    },
  );
  const [run] = [...server.runs.values()];
  assert.equal(run!.params.get("child_param"), "yes");
  assert.equal(run!.info.status, "FINISHED");
  assertNoSecret(token, result, server);

  // `databricks` with DATABRICKS_CONFIG_PROFILE, and no experiment: MLflow's advice.
  const noExp = await runAgainst(tmp.path, [], {
    MLFLOW_TRACKING_URI: "databricks",
    DATABRICKS_CONFIG_PROFILE: "staging",
  });
  assert.equal(noExp.code, 1);
  assert.match(
    noExp.stderr,
    /pass --experiment-name \/Users\/<you>\/<experiment> or --experiment-id/,
  );
  assert.equal(noExp.child, undefined);

  // A missing profile: MLflow's message, naming the file.
  const missing = await runAgainst(tmp.path, [], { MLFLOW_TRACKING_URI: "databricks://prod" });
  assert.equal(missing.code, 1);
  assert.match(
    missing.stderr,
    /Reading Databricks credential configuration failed with MLflow tracking URI 'databricks:\/\/prod': profile 'prod' not found/,
  );
});

Deno.test("run against Databricks from DATABRICKS_HOST and DATABRICKS_TOKEN", async () => {
  await using tmp = await tempDir();
  const token = "dapi-env-token-42";
  await using server = await startFakeMlflowServer({
    authorization: `Bearer ${token}`,
    noDefaultExperiment: true,
  });
  const expId = server.seedExperiment("/Users/me@x.com/env");
  const result = await runAgainst(tmp.path, ["--experiment-id", expId, "-P", "offline=1"], {
    MLFLOW_TRACKING_URI: "databricks",
    DATABRICKS_HOST: server.url,
    DATABRICKS_TOKEN: token,
  });
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.child!.env.MLFLOW_TRACKING_URI, "databricks");
  assert.equal(result.child!.env.DATABRICKS_HOST, server.url);
  assert.equal(runnerRequests(server).length, 4, "create + log-batch + get + update");
  assertNoSecret(token, result, server);
});

Deno.test("SIGTERM while the tracking server is unreachable stops the retries and exits 130", async () => {
  await using tmp = await tempDir();
  await writeFiles(`${tmp.path}/proj`, {
    MLproject: "entry_points:\n  main:\n    command: 'true'\n",
  });
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  const { MAIN_TS } = await import("../_helpers/cli.ts");
  const cli = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", MAIN_TS, "run", `${tmp.path}/proj`, "--env-manager", "local"],
    cwd: tmp.path,
    env: cleanEnv({
      MLFLOW_TRACKING_URI: `http://127.0.0.1:${port}`,
      HOME: tmp.path,
      XDG_CACHE_HOME: `${tmp.path}/cache`,
    }),
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  await new Promise((r) => setTimeout(r, 1500));
  const started = performance.now();
  cli.kill("SIGTERM");
  const [status, , err] = await Promise.all([
    cli.status,
    new Response(cli.stdout).text(),
    new Response(cli.stderr).text(),
  ]);
  assert.equal(status.code, 130, err);
  assert.ok(performance.now() - started < 3000, "stopped promptly");
  assert.match(err, /Interrupted before the run started/);
});
