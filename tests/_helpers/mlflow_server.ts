// deno-lint-ignore-file camelcase -- MLflow's wire format is snake_case
/**
 * A real `mlflow server` of an installed MLflow venv on 127.0.0.1 (a free port), started in its
 * own process group with no telemetry and no job runner, ready once `/health` answers, stopped
 * with its workers on dispose. (Pinned releases before 3.8 need `sqlalchemy<2.1` in their venv
 * for the SQLite backend store: see `mlflow_venvs.ts`.)
 */
import type { MlflowVenv } from "./mlflow_venvs.ts";
import { alive, groupMembers } from "./processes.ts";

/** A run as `runs/search` returns it. */
export interface ServerRun {
  info: {
    run_id: string;
    run_name?: string;
    status: string;
    experiment_id: string;
    end_time?: number;
    lifecycle_stage?: string;
  };
  data: { params?: { key: string; value: string }[]; tags?: { key: string; value: string }[] };
}

/** A running server. */
export interface MlflowServer extends AsyncDisposable {
  /** `http://127.0.0.1:<port>`. */
  url: string;
  /** The MLflow version it runs. */
  version: string;
  /**
   * Calls its REST API directly (`/api/2.0/mlflow/<path>`; GET without a body, else POST).
   * Throws on an HTTP error status.
   */
  api(path: string, body?: unknown): Promise<Record<string, unknown>>;
  /** The active runs of experiments (default: experiment `0`). */
  runs(experimentIds?: string[]): Promise<ServerRun[]>;
  /** The server's process (and process group) id. */
  pid: number;
  /** Stops the server and every worker; idempotent. */
  stop(): Promise<void>;
}

/** Options of {@linkcode startMlflowServer}. */
export interface MlflowServerOptions {
  /** Backend store URI (default: the SQLite database `<dir>/server-mlflow.db`). */
  backendStoreUri?: string;
  /** How long to wait for `/health` (default 180 s: the machine may be loaded). */
  readyTimeoutMs?: number;
}

/** A port that was free a moment ago. */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

function killGroup(pgid: number, signal: Deno.Signal): void {
  try {
    Deno.kill(-pgid, signal);
  } catch {
    // already gone
  }
}

/**
 * Starts `mlflow server` of a venv, serving artifacts from `<dir>/server-artifacts`.
 *
 * @param venv The MLflow venv (its own `mlflow` CLI runs the server).
 * @param dir A writable directory for the server's stores and log (`<dir>/server.log`).
 * @param options Backend store URI, readiness timeout.
 * @returns The server; dispose it (or call `stop()`) to end it.
 * @throws {Error} When the server exits or is not healthy in time (with its log's tail).
 * @example
 * ```ts ignore
 * await using server = await startMlflowServer(mlflowVenv("3.7.0")!, tmp.path);
 * // MLFLOW_TRACKING_URI=server.url
 * ```
 */
export async function startMlflowServer(
  venv: MlflowVenv,
  dir: string,
  options: MlflowServerOptions = {},
): Promise<MlflowServer> {
  const log = `${dir}/server.log`;
  const port = freePort();
  const args = [
    "server",
    "--host",
    "127.0.0.1",
    "--port",
    String(port),
    "--workers",
    "1",
    "--backend-store-uri",
    options.backendStoreUri ?? `sqlite:///${dir}/server-mlflow.db`,
    "--serve-artifacts",
    "--artifacts-destination",
    `${dir}/server-artifacts`,
  ];
  // The venv's python starts a new session, sends its output to the log, then becomes
  // `mlflow server`: its workers share the process group, which stop() ends as a whole.
  const child = new Deno.Command(venv.python, {
    args: [
      "-c",
      "import os, sys\n" +
      "os.setsid()\n" +
      "fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)\n" +
      "os.dup2(fd, 1); os.dup2(fd, 2)\n" +
      "os.execv(sys.argv[2], sys.argv[2:])",
      log,
      venv.mlflow,
      ...args,
    ],
    cwd: dir,
    env: {
      PATH: `${venv.bin}:/usr/bin:/bin`,
      HOME: dir,
      LANG: "C.UTF-8",
      // No telemetry (no network), no job runner (MLflow >= 3.x starts huey workers otherwise).
      MLFLOW_DISABLE_TELEMETRY: "true",
      DO_NOT_TRACK: "true",
      MLFLOW_SERVER_ENABLE_JOB_EXECUTION: "false",
    },
    clearEnv: true,
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  const pid = child.pid;
  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      killGroup(pid, "SIGTERM");
      const exited = child.status.then(() => true);
      const timeout = new Promise<boolean>((r) => {
        const id = setTimeout(() => r(false), 15_000);
        exited.then(() => clearTimeout(id));
      });
      if (!(await Promise.race([exited, timeout]))) killGroup(pid, "SIGKILL");
      await child.status;
      // Workers that outlive the master.
      for (let i = 0; i < 100 && groupMembers(pid).length > 0; i++) {
        if (i === 50) killGroup(pid, "SIGKILL");
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    return stopped;
  };
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + (options.readyTimeoutMs ?? 180_000);
  let exited = false;
  child.status.then(() => exited = true);
  while (true) {
    try {
      const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(5_000) });
      await res.body?.cancel();
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (exited || !alive(pid) || Date.now() > deadline) {
      await stop();
      const tail = (await Deno.readTextFile(log)).trim().split("\n").slice(-15).join("\n");
      throw new Error(
        `mlflow server ${venv.version} ${exited ? "exited" : "was not healthy in time"}:\n${tail}`,
      );
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  const api = async (path: string, body?: unknown): Promise<Record<string, unknown>> => {
    const res = await fetch(`${url}/api/2.0/mlflow/${path}`, {
      method: body === undefined ? "GET" : "POST",
      headers: { "content-type": "application/json" },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${path}: HTTP ${res.status}: ${text}`);
    return text.trim() === "" ? {} : JSON.parse(text);
  };
  const runs = async (experimentIds: string[] = ["0"]): Promise<ServerRun[]> => {
    const body = await api("runs/search", { experiment_ids: experimentIds, max_results: 1000 });
    return (body.runs as ServerRun[] | undefined) ?? [];
  };
  return { url, version: venv.version, pid, api, runs, stop, [Symbol.asyncDispose]: stop };
}
