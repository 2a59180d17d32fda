/**
 * Benchmark of the Kubernetes backend (`deno run -A scripts/bench_kubernetes.ts`).
 *
 * A docker project (busybox base, entry point printing a line) runs through the CLI with
 * `-b kubernetes` against the fake API server (tests/_helpers/fake_kube.ts, whose kubelet pulls
 * the image from a real `docker-registry` and runs it with dockerd):
 *
 * 1. first run: builds and pushes the image (1 build, 1 push);
 * 2. second run of the unchanged project: target 0 builds, 0 pushes;
 * 3. time from launch (process start, and `=== Creating Job` line) to the first line of the
 *    pod's log on our stdout, against a baseline measured in the same run: the same project
 *    with the local docker backend (`docker run` of the same image, output inherited).
 *
 * It is a report: targets are shown, never asserted. Without dockerd, the test images or
 * `docker-registry` it prints one line and exits 0.
 *
 * @module
 */
import { runCommand } from "../lib/system/run_command.ts";
import { startFakeKube } from "../tests/_helpers/fake_kube.ts";
import { DOCKER_REGISTRY, startRegistry } from "../tests/_helpers/registry.ts";
import { printOut } from "../lib/system/output.ts";

const BASE = "mlproject-test/busybox:1";
/** One line on stdout (the output module's writer). */
const out = (line = ""): void => printOut(line);

const probe = await runCommand("docker", ["image", "inspect", "--format", "{{.Id}}", BASE]);
if (!probe.success || DOCKER_REGISTRY === undefined) {
  out(
    `bench_kubernetes: skipped: ${
      DOCKER_REGISTRY === undefined ? "no docker-registry" : `no docker engine or no ${BASE}`
    } (run scripts/ci_docker.sh)`,
  );
  Deno.exit(0);
}

interface Timed {
  code: number;
  ms: number;
  /** ms from process start to the first stdout line. */
  firstLineMs: number | undefined;
  /** ms from the `=== Creating Job` (or `=== Running command`) line to the first stdout line. */
  afterLaunchMs: number | undefined;
  stderr: string;
}

async function timedCli(args: string[], env: Record<string, string>, cwd: string): Promise<Timed> {
  const t0 = performance.now();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", new URL("../main.ts", import.meta.url).pathname, ...args],
    cwd,
    env,
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let firstLine: number | undefined;
  let launched: number | undefined;
  let stderr = "";
  const readOut = (async () => {
    for await (const _chunk of child.stdout) firstLine ??= performance.now();
  })();
  const readErr = (async () => {
    const dec = new TextDecoder();
    for await (const chunk of child.stderr) {
      stderr += dec.decode(chunk, { stream: true });
      if (launched === undefined && /=== (Creating Job|Running command)/.test(stderr)) {
        launched = performance.now();
      }
    }
  })();
  const status = await child.status;
  await Promise.all([readOut, readErr]);
  return {
    code: status.code,
    ms: performance.now() - t0,
    firstLineMs: firstLine === undefined ? undefined : firstLine - t0,
    afterLaunchMs: firstLine === undefined || launched === undefined
      ? undefined
      : firstLine - launched,
    stderr,
  };
}

const count = (text: string, marker: string) => text.split(marker).length - 1;
const ms = (n: number | undefined) => n === undefined ? "n/a" : `${n.toFixed(0)} ms`;

const dir = await Deno.makeTempDir({ prefix: "bench-kube-" });
const name = `bench-kube-${crypto.randomUUID().slice(0, 8)}`;
await using registry = await startRegistry();
await using kube = await startFakeKube({ kubelet: "docker" });
try {
  await kube.writeKubeconfig(`${dir}/kube/config`);
  await Deno.mkdir(`${dir}/proj`);
  await Deno.writeTextFile(
    `${dir}/proj/MLproject`,
    `name: ${name}\ndocker_env:\n  image: ${BASE}\nentry_points:\n  main:\n    command: "echo first line"\n`,
  );
  await Deno.writeTextFile(
    `${dir}/job.yaml`,
    "apiVersion: batch/v1\nkind: Job\nmetadata: {namespace: mlflow}\n" +
      "spec:\n  backoffLimit: 0\n  template:\n    spec:\n      restartPolicy: Never\n" +
      "      containers: [{name: x}]\n",
  );
  await Deno.writeTextFile(
    `${dir}/kube.json`,
    JSON.stringify({
      "kube-job-template-path": "job.yaml",
      "repository-uri": `${registry.host}/bench/${name}`,
    }),
  );
  const env = {
    ...Deno.env.toObject(),
    KUBECONFIG: `${dir}/kube/config`,
    MLFLOW_TRACKING_URI: `file://${dir}/mlruns`,
    KUBE_MLFLOW_TRACKING_URI: "http://mlflow.invalid:5000",
  };
  const kubeArgs = ["run", "proj", "-b", "kubernetes", "-c", "kube.json"];
  const first = await timedCli(kubeArgs, env, dir);
  if (first.code !== 0) throw new Error(`first run failed: ${first.stderr.slice(-800)}`);
  const second = await timedCli(kubeArgs, env, dir);
  if (second.code !== 0) throw new Error(`second run failed: ${second.stderr.slice(-800)}`);
  // Baseline: the same image through the local docker backend.
  const local = await timedCli(["run", "proj", "--build-image"], env, dir);
  if (local.code !== 0) throw new Error(`local run failed: ${local.stderr.slice(-800)}`);

  out("kubernetes backend (fake API server, real docker-registry and dockerd, busybox project)");
  out(
    `  first run:  ${ms(first.ms)}, ${count(first.stderr, "=== Building docker image")} build, ${
      count(first.stderr, "=== Pushing docker image")
    } push`,
  );
  out(
    `  second run (unchanged project): ${ms(second.ms)}, ${
      count(second.stderr, "=== Building docker image")
    } builds (target 0), ${count(second.stderr, "=== Pushing docker image")} pushes (target 0)`,
  );
  out(
    `  first log line: ${ms(second.firstLineMs)} after launch, ${
      ms(second.afterLaunchMs)
    } after '=== Creating Job' (streamed live; MLflow shows no log and polls every 5 s)`,
  );
  out(
    `  baseline, local docker backend, same image: first line ${
      ms(local.firstLineMs)
    } after launch, ${ms(local.afterLaunchMs)} after '=== Running command'`,
  );
} finally {
  const ls = await runCommand("docker", ["image", "ls", "--format", "{{.Repository}}:{{.Tag}}"]);
  const refs = ls.stdout.split("\n").filter((l) => l.includes(name));
  if (refs.length > 0) await runCommand("docker", ["image", "rm", "--force", ...refs]);
  await Deno.remove(dir, { recursive: true }).catch(() => {});
}
