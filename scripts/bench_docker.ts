/**
 * Benchmark of `--build-image` image reuse (`deno run -A scripts/bench_docker.ts`).
 *
 * A docker project (busybox base, entry point `true`, a 20 MB `data/` directory that
 * `.dockerignore` excludes) is run twice with `--build-image` through lib/docker (image, then
 * `docker run`): the first run builds, the second reuses the image; then, after an edit, twice
 * through the CLI end to end (`mlproject run --build-image`). Reported side by side: builds
 * (target 0 on the second run) and wall time of each run; and, when an MLflow venv with the
 * `docker` package is installed (scripts/install_test_mlflow.sh), the same two runs of real
 * `mlflow run --build-image` (which copies, tars and rebuilds every time).
 *
 * It is a report: targets are shown, never asserted. Without a docker engine (scripts/ci_docker.sh)
 * it prints one line and exits 0.
 *
 * @module
 */
import { dockerRunArgs, resolveDockerImage, startContainer } from "../lib/docker/mod.ts";
import { containerCommand } from "../lib/docker/run_args.ts";
import { runCommand } from "../lib/system/run_command.ts";
import { mlflowVenv, PINNED_MLFLOW_VERSIONS } from "../tests/_helpers/mlflow_venvs.ts";
import { printOut } from "../lib/system/output.ts";

const BASE = "mlproject-test/busybox:1";
/** One line on stdout (the output module's writer). */
const out = (line = ""): void => printOut(line);

const probe = await runCommand("docker", ["image", "inspect", "--format", "{{.Id}}", BASE]);
if (!probe.success) {
  out(`bench_docker: skipped: no docker engine or no ${BASE} (run scripts/ci_docker.sh)`);
  Deno.exit(0);
}

const dir = await Deno.makeTempDir({ prefix: "bench-docker-" });
const name = `bench-docker-${crypto.randomUUID().slice(0, 8)}`;
await Deno.writeTextFile(
  `${dir}/MLproject`,
  `name: ${name}\ndocker_env:\n  image: ${BASE}\nentry_points:\n  main:\n    command: "true"\n`,
);
await Deno.writeTextFile(`${dir}/.dockerignore`, "data\nmlruns\n");
await Deno.writeTextFile(`${dir}/train.py`, "print('train')\n");
await Deno.mkdir(`${dir}/data`);
const chunk = new Uint8Array(1024 * 1024);
const file = await Deno.open(`${dir}/data/big.bin`, { write: true, create: true });
for (let i = 0; i < 20; i++) {
  crypto.getRandomValues(chunk.subarray(0, 65536));
  await file.write(chunk);
}
file.close();

async function ours(): Promise<{ ms: number; builds: number }> {
  const t0 = performance.now();
  const image = await resolveDockerImage(
    { name, dir, dockerEnv: { image: BASE } },
    { buildImage: true },
  );
  const inv = dockerRunArgs({
    image: image.uri,
    command: containerCommand("true"),
    runId: crypto.randomUUID().replaceAll("-", ""),
    experimentId: "0",
    trackingUri: `file://${dir}/mlruns`,
    hostEnv: Deno.env.toObject(),
    cwd: dir,
  });
  const status = await startContainer(inv, { stdout: "null" }).status;
  if (status.code !== 0) throw new Error(`docker run failed (${status.code})`);
  return { ms: performance.now() - t0, builds: image.built ? 1 : 0 };
}

try {
  const first = await ours();
  const second = await ours();
  out("docker --build-image, unchanged project (busybox base, 20 MB ignored data/)");
  out(`  mlproject first run:  ${first.ms.toFixed(0)} ms, ${first.builds} build`);
  out(
    `  mlproject second run: ${second.ms.toFixed(0)} ms, ${second.builds} builds (target 0), ` +
      `${(first.ms / second.ms).toFixed(1)}x faster than the first`,
  );

  // The same through the CLI, end to end (plan, image, record, docker run, end of run).
  const cli = async (): Promise<{ ms: number; builds: number }> => {
    const t0 = performance.now();
    const r = await runCommand(Deno.execPath(), [
      "run",
      "-A",
      "--quiet",
      new URL("../main.ts", import.meta.url).pathname,
      "run",
      dir,
      "--build-image",
    ], { env: { ...Deno.env.toObject(), MLFLOW_TRACKING_URI: `file://${dir}.cli-mlruns` } });
    if (!r.success) throw new Error(`mlproject run failed: ${r.stderr.slice(-500)}`);
    return {
      ms: performance.now() - t0,
      builds: r.stderr.split("=== Building docker image").length - 1,
    };
  };
  await Deno.writeTextFile(`${dir}/train.py`, "print('train, edited')\n");
  const cliFirst = await cli();
  const cliSecond = await cli();
  out(
    `  mlproject run --build-image (CLI, after an edit): first ${cliFirst.ms.toFixed(0)} ms, ` +
      `${cliFirst.builds} build; second ${
        cliSecond.ms.toFixed(0)
      } ms, ${cliSecond.builds} builds ` +
      `(target 0)`,
  );

  const venv = [...PINNED_MLFLOW_VERSIONS].reverse().map((v) => mlflowVenv(v)).find((v) =>
    v !== undefined
  );
  const hasDockerPy = venv !== undefined &&
    (await runCommand(venv.python, ["-c", "import docker"])).success;
  if (venv === undefined || !hasDockerPy) {
    out("  mlflow run --build-image: skipped (no MLflow venv with the docker package)");
  } else {
    const store = `${dir}.mlflow-mlruns`;
    const env = {
      ...Deno.env.toObject(),
      MLFLOW_TRACKING_URI: `file://${store}`,
      MLFLOW_ALLOW_FILE_STORE: "true",
      PATH: `${venv.bin}:${Deno.env.get("PATH")}`,
    };
    const times: number[] = [];
    for (let i = 0; i < 2; i++) {
      const t0 = performance.now();
      const r = await runCommand(venv.mlflow, ["run", dir, "--build-image"], { env });
      if (!r.success) throw new Error(`mlflow run failed: ${r.stderr.slice(-500)}`);
      times.push(performance.now() - t0);
    }
    out(
      `  mlflow ${venv.version} run --build-image: first ${times[0]!.toFixed(0)} ms, second ${
        times[1]!.toFixed(0)
      } ms (copies, gzips and sends the whole project, data/ included, to docker build on every run)`,
    );
    out(
      `  second run: mlproject ${second.ms.toFixed(0)} ms vs mlflow ${times[1]!.toFixed(0)} ms (${
        (times[1]! / second.ms).toFixed(1)
      }x); mlproject CLI ${cliSecond.ms.toFixed(0)} ms (${(times[1]! / cliSecond.ms).toFixed(1)}x)`,
    );
  }
} finally {
  const ls = await runCommand("docker", [
    "image",
    "ls",
    "--format",
    "{{.Repository}}:{{.Tag}}",
    name,
  ]);
  const refs = ls.stdout.split("\n").filter((l) => l !== "");
  if (refs.length > 0) await runCommand("docker", ["image", "rm", "--force", ...refs]);
  await Deno.remove(dir, { recursive: true });
  await Deno.remove(`${dir}.mlflow-mlruns`, { recursive: true }).catch(() => {});
  await Deno.remove(`${dir}.cli-mlruns`, { recursive: true }).catch(() => {});
}
