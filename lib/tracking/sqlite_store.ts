/**
 * MLflow's SQL tracking schema in a SQLite file, through `node:sqlite`. Existing databases of any
 * MLflow 2.x/3.x revision are used as they are (only the columns present are written); a new
 * database gets the schema of {@linkcode MLFLOW_SCHEMA_RELEASE} so that MLflow opens it without
 * a migration. WAL mode and a busy timeout let the child's MLflow write to the same file.
 *
 * @module
 */
import { dirname, join } from "../paths.ts";
import { DatabaseSync } from "node:sqlite";
import { ExecutionException } from "../errors.ts";
import { validateKey } from "./validation.ts";
import {
  MLFLOW_SCHEMA_DDL,
  MLFLOW_SCHEMA_RELEASE,
  MLFLOW_SCHEMA_REVISION,
} from "./_sqlite_schema.ts";
import type {
  CreateRunRequest,
  Experiment,
  RunInfo,
  RunStatus,
  TrackingStore,
} from "./tracking_store.ts";

export { MLFLOW_SCHEMA_RELEASE, MLFLOW_SCHEMA_REVISION };

type Row = Record<string, unknown>;

const BUSY_TIMEOUT_MS = 30_000;

/** A SQLite tracking database. */
export class SqliteStore implements TrackingStore {
  readonly uri: string;
  readonly childEnv: Readonly<Record<string, string>> = {};
  readonly #db: DatabaseSync;
  readonly #path: string;
  readonly #columns = new Map<string, Set<string>>();

  /**
   * Opens the database at an absolute path, creating it with MLflow's schema when it is new.
   *
   * @example
   * ```ts ignore
   * import { SqliteStore } from "./sqlite_store.ts";
   * const store = new SqliteStore("/tmp/mlflow.db");
   * await store.findExperiment({ id: "0" });
   * store.close();
   * ```
   */
  constructor(path: string) {
    this.#path = path;
    this.uri = `sqlite:///${path}`;
    Deno.mkdirSync(dirname(path), { recursive: true });
    try {
      this.#db = new DatabaseSync(path, { timeout: BUSY_TIMEOUT_MS });
      this.#db.exec(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`);
      this.#db.exec("PRAGMA journal_mode = WAL");
      // In WAL mode NORMAL still never corrupts the database; it only skips an fsync per commit.
      this.#db.exec("PRAGMA synchronous = NORMAL");
    } catch (e) {
      throw new ExecutionException(
        `Cannot open tracking database '${path}': ${e instanceof Error ? e.message : e}`,
      );
    }
    this.#initialize();
  }

  #tableNames(): string[] {
    return this.#db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all()
      .map((r) => String((r as Row).name));
  }

  #initialize(): void {
    let tables = this.#tableNames();
    if (tables.length === 0) {
      // Check again under the write lock: a concurrent runner may have created the schema.
      this.#transaction(() => {
        tables = this.#tableNames();
        if (tables.length > 0) return;
        for (const ddl of MLFLOW_SCHEMA_DDL) this.#db.exec(ddl);
        this.#db.prepare("INSERT INTO alembic_version (version_num) VALUES (?)")
          .run(MLFLOW_SCHEMA_REVISION);
        const now = Date.now();
        this.#insert("experiments", {
          experiment_id: 0,
          name: "Default",
          artifact_location: join(dirname(this.#path), "mlruns", "0"),
          lifecycle_stage: "active",
          creation_time: now,
          last_update_time: now,
        });
        tables = ["runs", "experiments"];
      });
    }
    if (!tables.includes("runs") || !tables.includes("experiments")) {
      throw new ExecutionException(
        `Tracking database '${this.#path}' is not an MLflow database: it has no 'runs' or 'experiments' table`,
      );
    }
  }

  #transaction<T>(fn: () => T): T {
    this.#db.exec("BEGIN IMMEDIATE");
    try {
      const out = fn();
      this.#db.exec("COMMIT");
      return out;
    } catch (e) {
      this.#db.exec("ROLLBACK");
      throw e;
    }
  }

  #cols(table: string): Set<string> {
    let cols = this.#columns.get(table);
    if (cols === undefined) {
      cols = new Set(
        this.#db.prepare(`PRAGMA table_info("${table}")`).all().map((r) => String((r as Row).name)),
      );
      this.#columns.set(table, cols);
    }
    return cols;
  }

  #insert(table: string, values: Record<string, string | number | null>): void {
    const cols = this.#cols(table);
    const keys = Object.keys(values).filter((k) => cols.has(k));
    const sql = `INSERT INTO "${table}" (${keys.map((k) => `"${k}"`).join(", ")}) VALUES (${
      keys.map(() => "?").join(", ")
    })`;
    this.#db.prepare(sql).run(...keys.map((k) => values[k]!));
  }

  #toExperiment(row: Row | undefined): Experiment | undefined {
    if (row === undefined) return undefined;
    return {
      experimentId: String(row.experiment_id),
      name: String(row.name),
      artifactLocation: String(row.artifact_location ?? ""),
      lifecycleStage: String(row.lifecycle_stage ?? "active"),
    };
  }

  findExperiment(query: { id: string } | { name: string }): Promise<Experiment | undefined> {
    if ("id" in query) {
      if (!/^-?\d+$/.test(query.id)) return Promise.resolve(undefined);
      const row = this.#db.prepare("SELECT * FROM experiments WHERE experiment_id = ?")
        .get(Number(query.id)) as Row | undefined;
      return Promise.resolve(this.#toExperiment(row));
    }
    const row = this.#db.prepare("SELECT * FROM experiments WHERE name = ?").get(query.name) as
      | Row
      | undefined;
    const exp = this.#toExperiment(row);
    return Promise.resolve(exp?.lifecycleStage === "active" ? exp : undefined);
  }

  createExperiment(name: string): Promise<string> {
    if (name === "" || name.length > 500) {
      throw new ExecutionException(
        `Invalid experiment name '${name}': it must be 1 to 500 characters`,
      );
    }
    return Promise.resolve(this.#transaction(() => {
      const clash = this.#db.prepare("SELECT lifecycle_stage FROM experiments WHERE name = ?")
        .get(name) as Row | undefined;
      if (clash !== undefined) {
        const state = clash.lifecycle_stage === "deleted" ? " in deleted state" : "";
        throw new ExecutionException(`Experiment '${name}' already exists${state}.`);
      }
      const def = this.#db.prepare(
        "SELECT artifact_location FROM experiments WHERE experiment_id = 0",
      )
        .get() as Row | undefined;
      const defLocation = String(def?.artifact_location ?? "");
      const root = defLocation.endsWith("/0")
        ? defLocation.slice(0, -2)
        : join(dirname(this.#path), "mlruns");
      const now = Date.now();
      this.#insert("experiments", {
        name,
        lifecycle_stage: "active",
        creation_time: now,
        last_update_time: now,
      });
      const id = String(
        (this.#db.prepare("SELECT experiment_id FROM experiments WHERE name = ?").get(name) as Row)
          .experiment_id,
      );
      this.#db.prepare("UPDATE experiments SET artifact_location = ? WHERE experiment_id = ?")
        .run(`${root}/${id}`, Number(id));
      return id;
    }));
  }

  async createRun(request: CreateRunRequest): Promise<RunInfo> {
    const exp = await this.findExperiment({ id: request.experimentId });
    if (exp === undefined) {
      throw new ExecutionException(`Could not find experiment with ID ${request.experimentId}`);
    }
    if (exp.lifecycleStage !== "active") {
      throw new ExecutionException(
        `The experiment ${request.experimentId} must be in the 'active' state to create runs`,
      );
    }
    const runId = crypto.randomUUID().replaceAll("-", "");
    const artifactUri = `${exp.artifactLocation}/${runId}/artifacts`;
    this.#transaction(() => {
      this.#insert("runs", {
        run_uuid: runId,
        name: request.runName,
        source_type: "UNKNOWN",
        source_name: "",
        entry_point_name: "",
        user_id: request.userId,
        status: "RUNNING",
        start_time: request.startTime,
        end_time: null,
        deleted_time: null,
        source_version: "",
        lifecycle_stage: "active",
        artifact_uri: artifactUri,
        experiment_id: Number(request.experimentId),
      });
      const tags = request.tags.filter(([k]) => k !== "mlflow.runName");
      tags.push(["mlflow.runName", request.runName]);
      this.#writeTags(runId, tags);
      this.#writeParams(runId, request.params ?? []);
    });
    return {
      runId,
      experimentId: request.experimentId,
      runName: request.runName,
      status: "RUNNING",
      startTime: request.startTime,
      endTime: null,
      artifactUri,
      userId: request.userId,
      lifecycleStage: "active",
    };
  }

  #writeTags(runId: string, tags: [string, string][]): void {
    const upsert = this.#db.prepare(
      `INSERT INTO tags ("key", value, run_uuid) VALUES (?, ?, ?)
       ON CONFLICT ("key", run_uuid) DO UPDATE SET value = excluded.value`,
    );
    for (const [key, value] of tags) {
      validateKey("tag", key);
      upsert.run(key, value, runId);
      if (key === "mlflow.runName") {
        this.#db.prepare("UPDATE runs SET name = ? WHERE run_uuid = ?").run(value, runId);
      }
    }
  }

  getRun(runId: string): Promise<RunInfo | undefined> {
    const row = this.#db.prepare("SELECT * FROM runs WHERE run_uuid = ?").get(runId) as
      | Row
      | undefined;
    if (row === undefined) return Promise.resolve(undefined);
    return Promise.resolve({
      runId: String(row.run_uuid),
      experimentId: String(row.experiment_id),
      runName: String(row.name ?? ""),
      status: String(row.status ?? "RUNNING") as RunStatus,
      startTime: Number(row.start_time ?? 0),
      endTime: row.end_time === null || row.end_time === undefined ? null : Number(row.end_time),
      artifactUri: String(row.artifact_uri ?? ""),
      userId: String(row.user_id ?? ""),
      lifecycleStage: String(row.lifecycle_stage ?? "active"),
    });
  }

  async #activeRun(runId: string): Promise<RunInfo> {
    const info = await this.getRun(runId);
    if (info === undefined) throw new ExecutionException(`Run with id=${runId} not found`);
    if (info.lifecycleStage !== "active") {
      throw new ExecutionException(`The run ${runId} must be in the 'active' state.`);
    }
    return info;
  }

  async logBatch(
    runId: string,
    batch: { params?: [string, string][]; tags?: [string, string][] },
  ): Promise<void> {
    await this.#activeRun(runId);
    this.#transaction(() => {
      this.#writeParams(runId, batch.params ?? []);
      this.#writeTags(runId, batch.tags ?? []);
    });
  }

  #writeParams(runId: string, params: [string, string][]): void {
    if (params.length === 0) return;
    const get = this.#db.prepare('SELECT value FROM params WHERE "key" = ? AND run_uuid = ?');
    const add = this.#db.prepare('INSERT INTO params ("key", value, run_uuid) VALUES (?, ?, ?)');
    {
      for (const [key, value] of params) {
        validateKey("param", key);
        const old = get.get(key, runId) as Row | undefined;
        if (old !== undefined && old.value !== value) {
          throw new ExecutionException(
            `Changing param values is not allowed. Param with key='${key}' was already logged with value='${old.value}' for run ID='${runId}'. Attempted logging new value '${value}'.`,
          );
        }
        if (old === undefined) add.run(key, value, runId);
      }
    }
  }

  async updateRun(runId: string, status: RunStatus, endTime: number | null): Promise<void> {
    await this.#activeRun(runId);
    this.#db.prepare("UPDATE runs SET status = ?, end_time = ? WHERE run_uuid = ?")
      .run(status, endTime, runId);
  }

  async endRun(runId: string, status: RunStatus, endTime: number): Promise<RunStatus> {
    const result = this.#db.prepare(
      `UPDATE runs SET status = ?, end_time = ?
       WHERE run_uuid = ? AND status NOT IN ('FINISHED', 'FAILED', 'KILLED')`,
    ).run(status, endTime, runId);
    if (Number(result.changes) > 0) return status;
    const info = await this.#activeRun(runId);
    return info.status;
  }

  close(): void {
    if (this.#db.isOpen) this.#db.close();
  }
}
