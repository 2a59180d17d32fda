/**
 * `runs:/` and `mlflow-artifacts:/` path parameters: through the fake server's artifact proxy,
 * from a local store's artifact directory, and the errors for what cannot be read.
 */
import assert from "node:assert/strict";
import { ExecutionException } from "../../lib/errors.ts";
import { SILENT_REPORTER } from "../../lib/output.ts";
import type { PathDownload } from "../../lib/remote_path.ts";
import { downloadArtifactPath } from "../../lib/tracking/artifact_download.ts";
import { SqliteStore } from "../../lib/tracking/sqlite_store.ts";
import { cleanEnv, runCli, tempDir, writeFiles } from "../_helpers/cli.ts";
import { startFakeMlflowServer } from "../fakes/fake_mlflow_server.ts";

const enc = new TextEncoder();

function request(
  value: string,
  targetDir: string,
  trackingUri: string,
  env: Record<string, string> = {},
): PathDownload {
  return {
    value,
    name: "data",
    targetDir,
    options: { trackingUri, env: { HOME: targetDir, ...env }, reporter: SILENT_REPORTER },
  };
}

Deno.test("downloadArtifactPath() fetches mlflow-artifacts: files and directories through the proxy", async () => {
  await using tmp = await tempDir();
  await using server = await startFakeMlflowServer({ authorization: "Bearer tok" });
  server.artifacts.set("1/r1/artifacts/data.csv", enc.encode("a,b\n1,2\n"));
  server.artifacts.set("1/r1/artifacts/model/weights.bin", enc.encode("W"));
  server.artifacts.set("1/r1/artifacts/model/sub/conf.json", enc.encode("{}"));
  const env = { MLFLOW_TRACKING_TOKEN: "tok" };
  const file = await downloadArtifactPath(
    request("mlflow-artifacts:/1/r1/artifacts/data.csv", tmp.path, server.url, env),
  );
  assert.equal(file, `${tmp.path}/data.csv`);
  assert.equal(await Deno.readTextFile(file), "a,b\n1,2\n");
  const dir = await downloadArtifactPath(
    request(
      `mlflow-artifacts://127.0.0.1:${server.port}/1/r1/artifacts/model`,
      tmp.path,
      server.url,
      env,
    ),
  );
  assert.equal(dir, `${tmp.path}/model`);
  assert.equal(await Deno.readTextFile(`${dir}/weights.bin`), "W");
  assert.equal(await Deno.readTextFile(`${dir}/sub/conf.json`), "{}");
  assert.equal(server.requests[0]!.headers.authorization, "Bearer tok");
  await assert.rejects(
    () =>
      downloadArtifactPath(
        request("mlflow-artifacts:/1/r1/artifacts/none.csv", tmp.path, server.url, env),
      ),
    (e: Error) => e instanceof ExecutionException && e.message.includes("HTTP 404"),
  );
  await assert.rejects(
    () => downloadArtifactPath(request("mlflow-artifacts:/x", tmp.path, "sqlite:///mlflow.db")),
    /needs an http\(s\):\/\/ tracking server/,
  );
});

Deno.test("downloadArtifactPath() resolves runs:/ through runs/get and the run's artifact_uri", async () => {
  await using tmp = await tempDir();
  await using server = await startFakeMlflowServer();
  const create = await fetch(`${server.url}/api/2.0/mlflow/runs/create`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ experiment_id: "0", start_time: 1 }),
  });
  const runId = (await create.json()).run.info.run_id as string;
  server.artifacts.set(`0/${runId}/artifacts/out/data.txt`, enc.encode("hello"));
  const local = await downloadArtifactPath(
    request(`runs:/${runId}/out/data.txt`, tmp.path, server.url),
  );
  assert.equal(await Deno.readTextFile(local), "hello");
  await assert.rejects(
    () => downloadArtifactPath(request(`runs:/${"0".repeat(32)}/x`, tmp.path, server.url)),
    /run '0{32}' not found/,
  );
  // An artifact store mlproject cannot read (s3:) is named in the error.
  server.runs.get(runId)!.info.artifact_uri = "s3://bucket/0/artifacts";
  await assert.rejects(
    () => downloadArtifactPath(request(`runs:/${runId}/x`, tmp.path, server.url)),
    /stored at 's3:\/\/bucket\/0\/artifacts', which mlproject cannot read yet/,
  );
});

Deno.test("run -P data=runs:/<id>/file with a local sqlite store copies the run's artifact", async () => {
  await using tmp = await tempDir();
  const store = await SqliteStore.open(`${tmp.path}/mlflow.db`);
  const run = await store.createRun({
    experimentId: "0",
    userId: "u",
    startTime: 1,
    runName: "src",
    tags: [],
  });
  store.close();
  const artifacts = run.artifactUri.replace(/^file:\/\//, "");
  await writeFiles(artifacts, { "data.csv": "x,y\n" });
  await writeFiles(tmp.path, {
    "proj/MLproject": `name: p
entry_points:
  main:
    parameters:
      data: {type: path}
    command: "cat {data}"
`,
  });
  const result = await runCli(
    [
      "run",
      "proj",
      "--env-manager",
      "local",
      "-P",
      `data=runs:/${run.runId}/data.csv`,
      "--storage-dir",
      "dl",
    ],
    { cwd: tmp.path, env: cleanEnv({ MLFLOW_TRACKING_URI: `sqlite:///${tmp.path}/mlflow.db` }) },
  );
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stdout, "x,y\n");
});
