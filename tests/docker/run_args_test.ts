import assert from "node:assert/strict";
import {
  containerCommand,
  dockerRunArgs,
  type DockerRunRequest,
  parseDockerArgs,
} from "../../lib/docker/run_args.ts";
import { ExecutionException } from "../../lib/system/errors.ts";
import type { LogLevel } from "../../lib/system/output.ts";
import { tempDir } from "../_helpers/cli.ts";

function request(extra: Partial<DockerRunRequest> = {}): DockerRunRequest {
  return {
    image: "proj:abc",
    command: containerCommand("python train.py --alpha 0.5"),
    runId: "run1",
    experimentId: "7",
    trackingUri: "file:///srv/mlruns",
    hostEnv: { PATH: "/usr/bin:/bin" },
    cwd: "/work",
    containerName: "c1",
    ...extra,
  };
}

/** The `-v` values, in order. */
function volumes(args: string[]): string[] {
  return args.flatMap((a, i) => a === "-v" ? [args[i + 1]!] : []);
}

/** The `-e` values, in order. */
function envFlags(args: string[]): string[] {
  return args.flatMap((a, i) => a === "-e" ? [args[i + 1]!] : []);
}

Deno.test("docker run argv follows MLflow's order: --rm, -A args, tracking, artifacts, volumes, env, image, command", () => {
  const inv = dockerRunArgs(request({
    dockerArgs: [["gpus", "all"], ["privileged", true]],
    artifactUri: "file:///srv/mlruns/7/run1/artifacts",
    volumes: ["/data:/data:ro"],
    environment: [["MODE", "fast"]],
  }));
  const a = inv.args;
  assert.deepEqual(a.slice(0, 6), [
    "run",
    "--rm",
    "--name",
    "c1",
    "--label",
    "org.mlproject.run-id=run1",
  ]);
  assert.deepEqual(a.slice(6, 9), ["--gpus", "all", "--privileged"]);
  assert.deepEqual(a.slice(9, 15), [
    "-v",
    "/srv/mlruns:/mlflow/tmp/mlruns",
    "-v",
    "/srv/mlruns/7/run1/artifacts:/srv/mlruns/7/run1/artifacts",
    "-v",
    "/data:/data:ro",
  ]);
  assert.deepEqual(envFlags(a), [
    "MLFLOW_RUN_ID",
    "MLFLOW_TRACKING_URI",
    "MLFLOW_EXPERIMENT_ID",
    "MODE",
  ]);
  assert.deepEqual(a.slice(-4), ["proj:abc", "sh", "-c", "python train.py --alpha 0.5"]);
  assert.deepEqual([...inv.containerEnv], [
    ["MLFLOW_RUN_ID", "run1"],
    ["MLFLOW_TRACKING_URI", "file:///mlflow/tmp/mlruns"],
    ["MLFLOW_EXPERIMENT_ID", "7"],
    ["MODE", "fast"],
  ]);
  assert.equal(inv.cliEnv.MLFLOW_TRACKING_URI, "file:///mlflow/tmp/mlruns");
  assert.deepEqual(inv.hostDirs, ["/srv/mlruns", "/srv/mlruns/7/run1/artifacts"]);
  assert.equal(inv.cliEnv.PATH, "/usr/bin:/bin");
});

Deno.test("-A items: one-letter names get one dash, flags have no value, repeated names are all kept", () => {
  const items = parseDockerArgs([
    "e=A=1",
    "e=B=two words",
    "privileged",
    "network=host",
    "v=/x:/y",
  ]);
  const a = dockerRunArgs(request({ dockerArgs: items })).args;
  const start = a.indexOf("--label") + 2;
  assert.deepEqual(a.slice(start, start + 9), [
    "-e",
    "A=1",
    "-e",
    "B=two words",
    "--privileged",
    "--network",
    "host",
    "-v",
    "/x:/y",
  ]);
  // A record (MLflow's dict) works too; false leaves the flag out.
  const b = dockerRunArgs(request({ dockerArgs: { rm: false, t: true, memory: "1g" } })).args;
  assert.ok(b.includes("-t") && b.includes("--memory") && !b.includes("--rm=false"));
});

Deno.test("a -A name=… becomes the container's name instead of the generated one", () => {
  const inv = dockerRunArgs(request({ containerName: undefined, dockerArgs: [["name", "mine"]] }));
  assert.equal(inv.containerName, "mine");
  assert.equal(inv.args.filter((a) => a === "--name").length, 1);
  const generated = dockerRunArgs(request({ containerName: undefined }));
  assert.match(generated.containerName, /^mlproject-run1-[0-9a-f]{8}$/);
});

Deno.test("a SQLite store is mounted by its directory so the -wal and -shm files are shared", () => {
  const inv = dockerRunArgs(request({ trackingUri: "sqlite:////srv/db/mlflow.db" }));
  assert.deepEqual(volumes(inv.args), ["/srv/db:/mlflow/tmp/mlruns"]);
  assert.equal(
    inv.containerEnv.get("MLFLOW_TRACKING_URI"),
    "sqlite:////mlflow/tmp/mlruns/mlflow.db",
  );
  // A relative URI belongs to cwd (MLflow mounts '/mlflow.db' of the host root instead).
  const rel = dockerRunArgs(request({ trackingUri: "sqlite:///mlflow.db" }));
  assert.deepEqual(volumes(rel.args), ["/work:/mlflow/tmp/mlruns"]);
  const plain = dockerRunArgs(request({ trackingUri: "mlruns" }));
  assert.deepEqual(volumes(plain.args), ["/work/mlruns:/mlflow/tmp/mlruns"]);
});

Deno.test("http tracking URIs pass unchanged; a loopback host warns unless the network is the host's", () => {
  const logs: [LogLevel, string][] = [];
  const reporter = { log: (level: LogLevel, m: string) => void logs.push([level, m]) };
  const inv = dockerRunArgs(request({ trackingUri: "http://127.0.0.1:5000", reporter }));
  assert.equal(inv.containerEnv.get("MLFLOW_TRACKING_URI"), "http://127.0.0.1:5000");
  assert.deepEqual(volumes(inv.args), []);
  assert.equal(logs.length, 1);
  assert.equal(logs[0]![0], "WARNING");
  assert.match(logs[0]![1], /'http:\/\/127\.0\.0\.1:5000' names this machine.*-A network=host/);
  dockerRunArgs(
    request({ trackingUri: "http://localhost:5000", reporter, dockerArgs: [["network", "host"]] }),
  );
  dockerRunArgs(request({ trackingUri: "https://mlflow.example.com", reporter }));
  assert.equal(logs.length, 1);
});

Deno.test("Databricks: the store's child variables are passed, their values never in the argv", () => {
  const inv = dockerRunArgs(request({
    trackingUri: "databricks",
    trackingEnv: {
      MLFLOW_TRACKING_URI: "databricks",
      DATABRICKS_HOST: "https://adb.example.net",
      DATABRICKS_TOKEN: "dapi-secret",
    },
  }));
  assert.deepEqual(envFlags(inv.args), [
    "MLFLOW_RUN_ID",
    "MLFLOW_TRACKING_URI",
    "MLFLOW_EXPERIMENT_ID",
    "DATABRICKS_HOST",
    "DATABRICKS_TOKEN",
  ]);
  assert.equal(inv.cliEnv.DATABRICKS_TOKEN, "dapi-secret");
  assert.ok(!inv.args.some((a) => a.includes("dapi-secret")));
  assert.ok(!inv.display.includes("dapi-secret"));
});

Deno.test("artifact stores: local paths (relative under the code dir), S3, Azure, GCS, HDFS as MLflow", async () => {
  await using home = await tempDir();
  await Deno.mkdir(`${home.path}/.aws`);
  const host = {
    HOME: home.path,
    AWS_ACCESS_KEY_ID: "id",
    AWS_SECRET_ACCESS_KEY: "key",
    MLFLOW_S3_ENDPOINT_URL: "http://minio:9000",
    AZURE_STORAGE_CONNECTION_STRING: "conn",
    GOOGLE_APPLICATION_CREDENTIALS: "/keys/gcs.json",
    MLFLOW_KERBEROS_TICKET_CACHE: "/tmp/krb5cc",
    MLFLOW_KERBEROS_USER: "me",
  };
  const run = (artifactUri: string) => dockerRunArgs(request({ artifactUri, hostEnv: host }));
  assert.deepEqual(volumes(run("./mlartifacts/1").args).slice(1), [
    "/work/mlartifacts/1:/mlflow/projects/code/mlartifacts/1",
  ]);
  const s3 = run("s3://bucket/path");
  assert.deepEqual(volumes(s3.args).slice(1), [`${home.path}/.aws:/.aws`]);
  assert.deepEqual(envFlags(s3.args).slice(3), [
    "AWS_SECRET_ACCESS_KEY",
    "AWS_ACCESS_KEY_ID",
    "MLFLOW_S3_ENDPOINT_URL",
  ]);
  assert.deepEqual(envFlags(run("wasbs://c@acct.blob.core.windows.net/p").args).slice(3), [
    "AZURE_STORAGE_CONNECTION_STRING",
  ]);
  const gs = run("gs://bucket/p");
  assert.deepEqual(volumes(gs.args).slice(1), ["/keys/gcs.json:/.gcs"]);
  assert.equal(gs.containerEnv.get("GOOGLE_APPLICATION_CREDENTIALS"), "/.gcs");
  const hdfs = run("hdfs://nn/p");
  assert.deepEqual(volumes(hdfs.args).slice(1), ["/tmp/krb5cc:/tmp/krb5cc"]);
  assert.deepEqual(envFlags(hdfs.args).slice(3), [
    "MLFLOW_KERBEROS_TICKET_CACHE",
    "MLFLOW_KERBEROS_USER",
  ]);
  assert.deepEqual(volumes(run("mlflow-artifacts:/1/r/artifacts").args).slice(1), []);
});

Deno.test("docker_env.environment: pairs set values, names copy the host's, values keep spaces", () => {
  const inv = dockerRunArgs(request({
    environment: [["GREETING", "hello big world"], "HOST_ONLY", ["MLFLOW_EXPERIMENT_ID", "x"]],
    hostEnv: { PATH: "/bin", HOST_ONLY: "a b;c$(d)" },
  }));
  assert.equal(inv.cliEnv.GREETING, "hello big world");
  assert.equal(inv.cliEnv.HOST_ONLY, "a b;c$(d)");
  // An update keeps the variable's first position (as MLflow's dict).
  assert.deepEqual(envFlags(inv.args), [
    "MLFLOW_RUN_ID",
    "MLFLOW_TRACKING_URI",
    "MLFLOW_EXPERIMENT_ID",
    "GREETING",
    "HOST_ONLY",
  ]);
  assert.equal(inv.containerEnv.get("MLFLOW_EXPERIMENT_ID"), "x");
});

Deno.test("a name the CLI itself reads (PATH, DOCKER_*) is passed as NAME=VALUE, not through the CLI's environment", () => {
  const inv = dockerRunArgs(request({
    environment: [["PATH", "/opt/bin:/usr/bin"], ["DOCKER_HOST", "inside"]],
  }));
  assert.ok(inv.args.includes("PATH=/opt/bin:/usr/bin"));
  assert.ok(inv.args.includes("DOCKER_HOST=inside"));
  assert.equal(inv.cliEnv.PATH, "/usr/bin:/bin");
  assert.equal(inv.cliEnv.DOCKER_HOST, undefined);
});

Deno.test("a missing host variable gives MLflow's message, also when the list mixes pairs (MLflow crashes)", () => {
  assert.throws(
    () => dockerRunArgs(request({ environment: ["A_SET", "NOT_SET_X"], hostEnv: { A_SET: "1" } })),
    (e: unknown) =>
      e instanceof ExecutionException &&
      e.message ===
        "This project expects the A_SET, NOT_SET_X environment variables to be set on the machine running the project, but NOT_SET_X was not set. Please ensure all expected environment variables are set",
  );
  assert.throws(
    () => dockerRunArgs(request({ environment: [["P", "v"], "NOT_SET_Y"], hostEnv: {} })),
    /expects the NOT_SET_Y environment variables .* but NOT_SET_Y was not set/,
  );
});

Deno.test("the display line quotes values with spaces and leaves variable values out", () => {
  const inv = dockerRunArgs(request({ environment: [["TOKEN", "s3cr3t"]] }));
  assert.match(
    inv.display,
    /^docker run --rm --name c1 .* -e TOKEN proj:abc sh -c 'python train.py --alpha 0\.5'$/,
  );
  assert.ok(!inv.display.includes("s3cr3t"));
});
