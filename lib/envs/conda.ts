/**
 * The `conda` manager, as MLflow's `mlflow/utils/conda.py`: executables from
 * `MLFLOW_CONDA_HOME`/`CONDA_EXE`, creation with `MLFLOW_CONDA_CREATE_ENV_CMD` (e.g. `mamba`), the
 * env name `mlflow-<sha1 of the conda.yaml text>` (so envs MLflow created are reused), MLflow's
 * errors, a failed creation removed, and MLflow's activation command.
 *
 * @module
 */
import { ExecutionException } from "../errors.ts";
import { type Reporter, SILENT_REPORTER } from "../output.ts";
import { dirname, join } from "../paths.ts";
import { runCommand } from "../run_command.ts";
import { shellQuote } from "../shell_quote.ts";
import { readUserFile } from "../user_file.ts";
import { runStep } from "./_install.ts";
import { which } from "./_which.ts";
import { withCacheLock } from "./env_cache.ts";

/** A conda environment ready to run in. */
export interface CondaEnvironment {
  /** `mlflow-<sha1>`. */
  name: string;
  /** Whether the environment already existed. */
  existed: boolean;
  /** The activation prefix, joined to the command with ` && `. */
  activation: string;
  /** The env's directory as `conda env list` reports it (`undefined` if it does not list it). */
  prefix: string | undefined;
}

/**
 * Path of a conda executable as MLflow's `get_conda_bin_executable`: `$MLFLOW_CONDA_HOME/bin/NAME`,
 * else `dirname($CONDA_EXE)/NAME`, else `NAME`.
 *
 * @param name Executable name (`conda`, `mamba`, `activate`).
 * @param env The environment.
 * @returns The path or bare name.
 *
 * @example
 * ```ts
 * import { condaBinExecutable } from "./conda.ts";
 * console.assert(condaBinExecutable("mamba", { CONDA_EXE: "/abc/conda" }) === "/abc/mamba");
 * ```
 */
export function condaBinExecutable(name: string, env: Record<string, string>): string {
  if (env.MLFLOW_CONDA_HOME) return join(env.MLFLOW_CONDA_HOME, "bin", name);
  if (env.CONDA_EXE) return join(dirname(env.CONDA_EXE), name);
  return name;
}

/**
 * MLflow's conda env name: `mlflow-` + SHA-1 of the conda.yaml text (newlines as Python's text
 * mode reads them).
 *
 * @param text The conda.yaml content.
 * @returns The env name.
 *
 * @example
 * ```ts
 * import { condaEnvName } from "./conda.ts";
 * console.assert((await condaEnvName("name: x\n")).startsWith("mlflow-"));
 * ```
 */
export async function condaEnvName(text: string): Promise<string> {
  const normalized = text.replace(/\r\n?/g, "\n");
  const digest = await crypto.subtle.digest("SHA-1", new TextEncoder().encode(normalized));
  return "mlflow-" +
    [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * MLflow's activation command for a conda env.
 *
 * @param name The env name.
 * @param env The environment (`CONDA_EXE`, `MLFLOW_CONDA_HOME`).
 * @returns The prefix to join with ` && `.
 *
 * @example
 * ```ts
 * import { condaActivation } from "./conda.ts";
 * console.assert(condaActivation("mlflow-x", {}) === "source activate mlflow-x 1>&2");
 * ```
 */
export function condaActivation(name: string, env: Record<string, string>): string {
  if ("CONDA_EXE" in env || env.MLFLOW_CONDA_HOME) {
    const conda = condaBinExecutable("conda", env);
    return `source ${
      shellQuote(dirname(conda) + "/../etc/profile.d/conda.sh")
    } && conda activate ${name} 1>&2`;
  }
  return `source ${shellQuote(condaBinExecutable("activate", env))} ${name} 1>&2`;
}

function prefixNamed(prefixes: string[], name: string): string | undefined {
  return prefixes.find((p) => p.slice(p.lastIndexOf("/") + 1) === name);
}

function resolvable(executable: string, env: Record<string, string>): string | undefined {
  return which(executable, { path: env.PATH });
}

/** The env directories `conda env list --json` reports. */
async function condaEnvPrefixes(
  conda: string,
  env: Record<string, string>,
  signal?: AbortSignal,
): Promise<string[]> {
  const out = await runCommand(conda, ["env", "list", "--json"], {
    env,
    ...(signal !== undefined ? { signal } : {}),
  });
  if (!out.success) {
    throw new ExecutionException(
      `'${conda} env list --json' exited with code ${out.code}: ${
        (out.stderr || out.stdout).trim().split("\n").at(-1) ?? ""
      }`,
    );
  }
  try {
    const parsed = JSON.parse(out.stdout) as { envs?: unknown };
    const envs = Array.isArray(parsed.envs) ? parsed.envs : [];
    return envs.map((p) => String(p).replace(/\/+$/, ""));
  } catch {
    throw new ExecutionException(`'${conda} env list --json' did not print JSON`);
  }
}

/**
 * Creates (or reuses) the conda environment of a conda project, as MLflow does.
 *
 * @param condaYaml Path of the project's conda.yaml.
 * @param options Environment, reporter, abort signal.
 * @returns The env name, whether it existed, and its activation prefix.
 * @throws {ExecutionException} With MLflow's messages when conda (or the creation command) is
 * missing, or when creation fails (the half-created env is removed first).
 *
 * @example
 * ```ts ignore
 * import { prepareConda } from "./conda.ts";
 * const conda = await prepareConda("/proj/conda.yaml", { env: Deno.env.toObject() });
 * ```
 */
export async function prepareConda(
  condaYaml: string,
  options: { env: Record<string, string>; reporter?: Reporter; signal?: AbortSignal },
): Promise<CondaEnvironment> {
  const { env } = options;
  const reporter = options.reporter ?? SILENT_REPORTER;
  const condaPath = condaBinExecutable("conda", env);
  const conda = resolvable(condaPath, env);
  if (conda === undefined) {
    throw new ExecutionException(
      `Could not find Conda executable at ${condaPath}. Ensure Conda is installed as per the instructions at https://conda.io/projects/conda/en/latest/user-guide/install/index.html. You can also configure MLflow to look for a specific Conda executable by setting the MLFLOW_CONDA_HOME environment variable to the path of the Conda executable`,
    );
  }
  const createPath = condaBinExecutable(env.MLFLOW_CONDA_CREATE_ENV_CMD || "conda", env);
  const create = resolvable(createPath, env);
  if (create === undefined) {
    throw new ExecutionException(
      `You have set the env variable MLFLOW_CONDA_CREATE_ENV_CMD, but ${createPath} does not exist or it is not working properly. Note that ${createPath} and the conda executable need to be in the same conda environment. You can change the search path bymodifying the env variable MLFLOW_CONDA_HOME`,
    );
  }
  const text = await readUserFile(condaYaml, { label: "conda environment file" });
  const name = await condaEnvName(text);
  const activation = condaActivation(name, env);
  return await withCacheLock(name, { env }, async () => {
    const existing = prefixNamed(await condaEnvPrefixes(conda, env, options.signal), name);
    if (existing !== undefined) {
      reporter.log("INFO", `Conda environment ${name} already exists.`);
      return { name, existed: true, activation, prefix: existing };
    }
    reporter.log("INFO", `=== Creating conda environment ${name} ===`);
    try {
      await runStep("creating the conda environment", [
        create,
        "env",
        "create",
        "-n",
        name,
        "--file",
        condaYaml,
      ], {
        env,
        cwd: dirname(condaYaml),
        reporter,
        ...(options.signal !== undefined ? { signal: options.signal } : {}),
      });
    } catch (e) {
      const prefixes = await condaEnvPrefixes(conda, env).catch(() => [] as string[]);
      if (prefixNamed(prefixes, name) !== undefined) {
        reporter.log(
          "WARNING",
          `Encountered unexpected error while creating conda environment. Removing ${name}.`,
        );
        await runStep("removing the failed conda environment", [
          conda,
          "remove",
          "--yes",
          "--name",
          name,
          "--all",
        ], { env, cwd: dirname(condaYaml), reporter }).catch(() => {});
      }
      throw e;
    }
    // Where conda put it (its first writable envs dir): ask rather than guess.
    const prefixes = await condaEnvPrefixes(conda, env).catch(() => [] as string[]);
    return { name, existed: false, activation, prefix: prefixNamed(prefixes, name) };
  });
}
