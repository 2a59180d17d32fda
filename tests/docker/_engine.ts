/**
 * The Docker engine the tests in this folder use (CI: `scripts/ci_docker.sh` starts dockerd and
 * builds the offline base images). Without an answering engine and the images, the tests skip
 * with ONE line.
 */
import { skipWithout } from "../_helpers/components.ts";

/** Shell-only image (busybox). */
export const BUSYBOX = "mlproject-test/busybox:1";
/** Debian bookworm with python3. */
export const DEBIAN_PY = "mlproject-test/debian-py:12";

async function probe(): Promise<string | undefined> {
  const out = await new Deno.Command("docker", {
    args: ["image", "inspect", "--format", "{{.Id}}", BUSYBOX, DEBIAN_PY],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output().catch(() => undefined);
  if (out === undefined) return "no docker CLI on PATH";
  if (out.success) return undefined;
  const err = new TextDecoder().decode(out.stderr).trim().split("\n").at(-1) ?? "";
  return /no such image/i.test(err)
    ? `test images missing (${err.replace(/^Error[^:]*: /, "")})`
    : `no docker engine answers (${err})`;
}

const problem = await probe();

/** `true` when the real-container tests must be skipped (one line printed once). */
export const NO_ENGINE: boolean = skipWithout(
  "docker engine tests",
  problem === undefined,
  `${problem}; run scripts/ci_docker.sh`,
);

/** Runs `docker <args>` and returns trimmed stdout (throws on failure). */
export async function dockerOut(args: string[]): Promise<string> {
  const out = await new Deno.Command("docker", {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  const dec = new TextDecoder();
  if (!out.success) throw new Error(`docker ${args.join(" ")}: ${dec.decode(out.stderr)}`);
  return dec.decode(out.stdout).trim();
}

/** Containers (running or not) carrying a label value. */
export async function containersLabelled(label: string): Promise<string[]> {
  const out = await dockerOut(["ps", "-a", "--filter", `label=${label}`, "--format", "{{.Names}}"]);
  return out === "" ? [] : out.split("\n");
}

/** Removes every image of a repository (test cleanup). */
export async function removeRepository(repository: string): Promise<void> {
  const ids = await dockerOut(["image", "ls", "--format", "{{.Repository}}:{{.Tag}}", repository]);
  if (ids !== "") await dockerOut(["image", "rm", "--force", ...ids.split("\n")]);
}

/** mlflow-skinny 2.17.2 for the image's python3 3.11 (installed by scripts/ci_docker.sh). */
export const MLFLOW_SITE: string = `${
  Deno.env.get("MLPROJECT_DOCKER_CACHE") ??
    `${Deno.env.get("HOME") ?? "/nonexistent"}/.cache/mlproject/docker`
}/mlflow-skinny-2.17.2-py3.11`;

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** `true` when the tests of a real MLflow child in a container must be skipped. */
export const NO_MLFLOW_IN_CONTAINER: boolean = NO_ENGINE || skipWithout(
  "MLflow-in-container tests",
  exists(`${MLFLOW_SITE}/.complete`),
  `no ${MLFLOW_SITE}; run scripts/ci_docker.sh (needs uv and PyPI)`,
);
