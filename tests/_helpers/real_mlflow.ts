// deno-lint-ignore-file camelcase -- MLflow's wire format is snake_case
/**
 * Real `mlflow server`s for tests, from the MLflow venvs CI installs under
 * `${MLPROJECT_TEST_MLFLOW_VENVS:-$HOME/.cache/mlproject/test-mlflow}/<version>/bin/mlflow`.
 */
import { type ChildHandle, spawnProcess } from "../../lib/run_command.ts";

/** One installed MLflow. */
export interface MlflowVenv {
  /** Version (the directory name). */
  version: string;
  /** Path of its `mlflow` executable. */
  bin: string;
}

/** Where the venvs live. */
export function mlflowVenvRoot(): string {
  return Deno.env.get("MLPROJECT_TEST_MLFLOW_VENVS") ||
    `${Deno.env.get("HOME") ?? ""}/.cache/mlproject/test-mlflow`;
}

function versionKey(v: string): number[] {
  return v.split(".").map((n) => Number.parseInt(n, 10) || 0);
}

/** The installed venvs with an `mlflow` executable, oldest version first. */
export function mlflowVenvs(): MlflowVenv[] {
  const root = mlflowVenvRoot();
  const found: MlflowVenv[] = [];
  try {
    for (const entry of Deno.readDirSync(root)) {
      if (!/^\d+\.\d+/.test(entry.name)) continue;
      const bin = `${root}/${entry.name}/bin/mlflow`;
      try {
        if (Deno.statSync(bin).isFile) found.push({ version: entry.name, bin });
      } catch { /* not installed (yet) */ }
    }
  } catch { /* no root */ }
  return found.sort((a, b) => {
    const [x, y] = [versionKey(a.version), versionKey(b.version)];
    for (let i = 0; i < Math.max(x.length, y.length); i++) {
      if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) - (y[i] ?? 0);
    }
    return 0;
  });
}

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

/** A running `mlflow server`. */
export class RealMlflowServer implements AsyncDisposable {
  readonly url: string;
  readonly version: string;
  /** Which backend store it uses (`sqlite` or `file`). */
  readonly store: string;
  readonly #child: ChildHandle;

  constructor(url: string, version: string, store: string, child: ChildHandle) {
    this.url = url;
    this.version = version;
    this.store = store;
    this.#child = child;
  }

  /** Calls the REST API directly (not through any proxy). */
  async api(path: string, body?: unknown): Promise<Record<string, unknown>> {
    const res = await fetch(`${this.url}/api/2.0/mlflow/${path}`, {
      method: body === undefined ? "GET" : "POST",
      headers: { "content-type": "application/json" },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${path}: HTTP ${res.status}: ${text}`);
    return text.trim() === "" ? {} : JSON.parse(text);
  }

  /** Every active run of the experiments (default experiment 0). */
  async runs(experimentIds: string[] = ["0"]): Promise<ServerRun[]> {
    const body = await this.api("runs/search", {
      experiment_ids: experimentIds,
      max_results: 1000,
    });
    return (body.runs as ServerRun[] | undefined) ?? [];
  }

  /** Stops the server (its whole process group). */
  async close(): Promise<void> {
    await this.#child.terminate();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/** How long a server may take to answer `/health`. */
const START_TIMEOUT_MS = 300_000;

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

async function startWith(
  venv: MlflowVenv,
  dir: string,
  backendStore: string,
): Promise<{ child: ChildHandle; url: string } | { log: string; exited: boolean }> {
  const port = freePort();
  const log = `${dir}/server.log`;
  const args = [
    "server",
    "--host",
    "127.0.0.1",
    "--port",
    String(port),
    "--backend-store-uri",
    backendStore,
    "--default-artifact-root",
    `${dir}/artifacts`,
    "--workers",
    "1",
  ];
  const child = spawnProcess("bash", ["-c", 'exec "$@" >"$0" 2>&1', log, venv.bin, ...args], {
    cwd: dir,
    stdin: "null",
    stdout: "null",
    newProcessGroup: true,
    killGraceMs: 3000,
  });
  let exited = false;
  child.status.then(() => exited = true);
  const url = `http://127.0.0.1:${port}`;
  // Start-up takes seconds (imports, migrations), minutes on a loaded machine: poll /health until
  // it answers or the server exits.
  const deadline = performance.now() + START_TIMEOUT_MS;
  while (!exited && performance.now() < deadline) {
    try {
      const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(2000) });
      await res.body?.cancel();
      if (res.ok) return { child, url };
    } catch { /* not up yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  await child.terminate();
  const text = await Deno.readTextFile(log).catch(() => "");
  return {
    log: exited ? text : `${text}\n(no answer on /health after ${START_TIMEOUT_MS} ms)`,
    exited,
  };
}

/**
 * Starts `mlflow server` on a free port with its stores under `dir`, and waits for `/health`.
 * It uses a SQLite backend store; a venv whose SQLAlchemy is too new for its MLflow (the server
 * exits at start-up) falls back to a file store, which records runs the same way.
 */
export async function startMlflowServer(venv: MlflowVenv, dir: string): Promise<RealMlflowServer> {
  const sqlite = await startWith(venv, dir, `sqlite:///${dir}/mlflow.db`);
  if ("child" in sqlite) {
    return new RealMlflowServer(sqlite.url, venv.version, "sqlite", sqlite.child);
  }
  const failed = (log: string) =>
    new Error(`mlflow ${venv.version} server did not start:\n${log.slice(-3000)}`);
  // Only a server that exited (could not open SQLite) is tried again with a file store.
  if (!sqlite.exited) throw failed(sqlite.log);
  const file = await startWith(venv, dir, `${dir}/mlruns`);
  if ("child" in file) return new RealMlflowServer(file.url, venv.version, "file", file.child);
  throw failed(`${sqlite.log.slice(-1500)}\n${file.log}`);
}
