/**
 * MLflow's SQL tracking schema in a SQLite file, through `node:sqlite`.
 *
 * A new database gets exactly the schema (alembic head and DDL) of the MLflow the child will
 * import, so that this MLflow opens it without a migration; an MLflow newer than the schema data
 * creates the database itself. An existing database whose revision that MLflow would refuse is
 * refused before anything is written (or, with `upgradeDb`, backed up and upgraded by that
 * MLflow's own CLI). Existing databases are otherwise used as they are (only the columns present
 * are written). WAL mode and a busy timeout let the child's MLflow write to the same file.
 *
 * @module
 */
import { comparePep440, parsePep440 } from "../system/pep440.ts";
import { dirname, join } from "../system/paths.ts";
import { DatabaseSync } from "node:sqlite";
import { ExecutionException } from "../system/errors.ts";
import { type Reporter, SILENT_REPORTER } from "../system/output.ts";
import { runCommand } from "../system/run_command.ts";
import { sleep } from "../system/sleep.ts";
import { validateKey } from "./validation.ts";
import type { NewDatabase } from "./sqlite_releases.ts";
import type { SqliteSchema } from "./sqlite_schema.ts";
import type {
  CreateRunRequest,
  Experiment,
  RunEnd,
  RunInfo,
  RunStatus,
  RunUpdate,
  TrackingStore,
} from "./tracking_store.ts";

type Row = Record<string, unknown>;

const BUSY_TIMEOUT_MS = 30_000;

type Schemas = typeof import("./sqlite_schema.ts");
type Releases = typeof import("./sqlite_releases.ts");
let schemaModule: Promise<Schemas> | undefined;
let releaseModule: Promise<Releases> | undefined;

/**
 * The schema data (~100 KB of DDL): loaded only to create a database, not to record into an
 * existing one.
 */
function schemas(): Promise<Schemas> {
  return schemaModule ??= import("./sqlite_schema.ts");
}

/**
 * Which revision each release expects (~4 KB): what checking an existing database against the
 * child's MLflow needs.
 */
function releases(): Promise<Releases> {
  return releaseModule ??= import("./sqlite_releases.ts");
}

/** The revision a new database gets: the expected one when known, else the newest known. */
function newDatabaseFor(r: Releases, expected: string | undefined): NewDatabase {
  return (expected !== undefined ? r.newDatabase(expected) : undefined) ?? r.newDatabase()!;
}

/** The MLflow installation the child will import (found without starting Python). */
export interface MlflowInstallation {
  /** Its version (`mlflow` or `mlflow-skinny` distribution metadata), e.g. `2.17.2`. */
  version: string;
  /** The interpreter that imports it. */
  python: string;
  /** The site-packages directory that holds its `mlflow/` package. */
  sitePackages: string;
}

/** Options of {@linkcode SqliteStore.open}. */
export interface SqliteStoreOptions {
  /**
   * The MLflow the child will import: a new database gets its schema, and an existing one whose
   * revision it would refuse is refused. Without it, a new database gets the newest known schema
   * and an existing one is not checked.
   */
  mlflow?: MlflowInstallation;
  /**
   * Upgrade an existing database that is older than `mlflow` expects: back it up to
   * `<db>.<timestamp>.bak`, then run `<python> -m mlflow db upgrade`.
   */
  upgradeDb?: boolean;
  /** Receives progress lines (creating with MLflow, backup path, upgrade). */
  reporter?: Reporter;
  /**
   * A cache of new databases, one per schema: a new database is a copy of one (its default
   * experiment's location and times set for it) instead of being built statement by statement
   * (~13 ms for MLflow 3.x); one built is stored there. None when unset.
   */
  templateDir?: string;
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function isBusy(e: unknown): boolean {
  return /database (table )?is locked|SQLITE_BUSY|SQLITE_LOCKED/i.test(message(e));
}

/** Runs `fn`, retrying while SQLite reports the database busy, until `deadline` (epoch ms). */
async function retryBusy<T>(fn: () => T, deadline: number): Promise<T> {
  for (let wait = 5;; wait = Math.min(wait * 2, 200)) {
    try {
      return fn();
    } catch (e) {
      if (!isBusy(e) || Date.now() + wait > deadline) throw e;
    }
    await sleep(wait + Math.floor(Math.random() * wait));
  }
}

function sqlString(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}

function lastLine(text: string): string {
  return text.trim().split("\n").filter((l) => l.trim() !== "").pop() ?? "";
}

function timestamp(): string {
  return new Date().toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
}

/** Where a database stands against the revision the child's MLflow expects. */
type Standing = "older" | "newer";

/** A SQLite tracking database. */
export class SqliteStore implements TrackingStore {
  readonly uri: string;
  readonly childEnv: Readonly<Record<string, string>> = {};
  readonly #db: DatabaseSync;
  readonly #path: string;
  readonly #columns = new Map<string, Set<string>>();

  private constructor(path: string, db: DatabaseSync) {
    this.#path = path;
    this.#db = db;
    this.uri = `sqlite:///${path}`;
  }

  /**
   * Opens the database at an absolute path, creating it when it is new with the schema of
   * `options.mlflow` (the newest known schema without it). The directory must exist.
   *
   * @param path Absolute path of the database file.
   * @param options The child's MLflow, `upgradeDb`, `reporter`.
   * @returns The open store.
   * @throws {ExecutionException} When the directory is missing, the file is not an MLflow
   * database, or its schema revision is not the one `options.mlflow` expects (and `upgradeDb`
   * is not set or cannot help).
   *
   * @example
   * ```ts ignore
   * import { SqliteStore } from "./sqlite_store.ts";
   * const store = await SqliteStore.open("/tmp/mlflow.db");
   * await store.findExperiment({ id: "0" });
   * store.close();
   * ```
   */
  static async open(path: string, options: SqliteStoreOptions = {}): Promise<SqliteStore> {
    const reporter = options.reporter ?? SILENT_REPORTER;
    const deadline = Date.now() + BUSY_TIMEOUT_MS;
    checkDirectory(path);
    const mlflow = options.mlflow;
    // The DDL is loaded only to build a database (no template yet, or an emptied file).
    let r = mlflow !== undefined ? await releases() : undefined;
    const expected = mlflow === undefined ? undefined : await expectedRevision(r!, mlflow);

    if (!hasContent(path)) {
      r ??= await releases();
      if (mlflow !== undefined && needsMlflowToCreate(r, mlflow, expected)) {
        reporter.log(
          "INFO",
          `Creating tracking database '${path}' with MLflow ${mlflow.version} itself (mlproject knows the schemas of MLflow up to ${r.NEWEST_KNOWN_RELEASE})`,
        );
        await createWithMlflow(path, mlflow);
      }
      if (!hasContent(path)) {
        try {
          await createDatabase(path, newDatabaseFor(r, expected), options.templateDir);
        } catch (e) {
          throw new ExecutionException(`Cannot create tracking database '${path}': ${message(e)}`);
        }
      }
    }
    let db = openConnection(path);
    try {
      // Everything that can refuse the file happens before anything is written to it.
      const current = await retryBusy(() => readRevision(db, path), deadline);
      if (mlflow !== undefined && expected !== undefined) {
        if (current !== undefined && current.revision !== expected) {
          const standing = await compareToExpected(r!, current.revision, expected, mlflow);
          if (options.upgradeDb !== true || standing === "newer") {
            throw mismatchError(r!, path, current.revision, expected, mlflow, standing, options);
          }
          db = await upgrade(db, path, current.revision, expected, mlflow, reporter);
        }
      }
      // WAL lets the child's MLflow write while we hold the file open; switch once, and retry
      // the switch while another process holds the lock (it needs an exclusive one).
      const mode = await retryBusy(
        () => String((db.prepare("PRAGMA journal_mode").get() as Row).journal_mode),
        deadline,
      );
      let wal = mode.toLowerCase() === "wal";
      if (!wal) {
        try {
          const now = await retryBusy(
            () => String((db.prepare("PRAGMA journal_mode = WAL").get() as Row).journal_mode),
            deadline,
          );
          wal = now.toLowerCase() === "wal";
        } catch (e) {
          // Held busy for the whole timeout: go on in the file's journal mode (writes still
          // wait for the lock) rather than fail the run.
          if (!isBusy(e)) throw e;
          reporter.log(
            "WARNING",
            `Tracking database '${path}' stays in ${mode} journal mode: another process held it locked for ${
              BUSY_TIMEOUT_MS / 1000
            } s`,
          );
        }
      }
      // In WAL mode NORMAL still never corrupts the database; it only skips an fsync per commit.
      if (wal) db.exec("PRAGMA synchronous = NORMAL");
      const store = new SqliteStore(path, db);
      // An existing MLflow database (its tables were checked with its revision) needs nothing; an
      // empty file (or one emptied since) gets the schema.
      if (current === undefined) {
        const s = await schemas();
        const schema = s.schemaForRevision(newDatabaseFor(s, expected).revision)!;
        await retryBusy(() => store.#initialize(schema), deadline);
      }
      return store;
    } catch (e) {
      if (db.isOpen) db.close();
      if (e instanceof ExecutionException) throw e;
      throw new ExecutionException(`Cannot open tracking database '${path}': ${message(e)}`);
    }
  }

  #tableNames(): string[] {
    return this.#db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all()
      .map((r) => String((r as Row).name));
  }

  /** Writes the schema into a database that had no tables when it was opened. */
  #initialize(schema: SqliteSchema): void {
    let tables: string[] = [];
    // Under the write lock: a concurrent runner may have created the schema meanwhile.
    this.#transaction(() => {
      tables = this.#tableNames();
      if (tables.length > 0) return;
      writeSchema(this.#db, schema, this.#path);
      tables = ["runs", "experiments"];
    });
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

  async updateRun(runId: string, { status, endTime }: RunUpdate): Promise<void> {
    await this.#activeRun(runId);
    this.#db.prepare("UPDATE runs SET status = ?, end_time = ? WHERE run_uuid = ?")
      .run(status, endTime, runId);
  }

  async endRun(runId: string, { status, endTime }: RunEnd): Promise<RunStatus> {
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

/** MLflow fails on a database in a missing directory; so do we (and never create it). */
function checkDirectory(path: string): void {
  const dir = dirname(path);
  let info: Deno.FileInfo;
  try {
    info = Deno.statSync(dir);
  } catch {
    throw new ExecutionException(
      `Cannot open tracking database '${path}': directory '${dir}' does not exist (create it first)`,
    );
  }
  if (!info.isDirectory) {
    throw new ExecutionException(
      `Cannot open tracking database '${path}': '${dir}' is not a directory`,
    );
  }
}

/**
 * Creates a new database of `target`'s revision beside `path` and links it into place, so that
 * nobody ever sees a half-made file: copied from the revision's template (its DDL is loaded only
 * when there is none yet) or built without a journal or per-statement syncs (it is private until
 * the link), switched to WAL, synced once. When another process linked its database first, that
 * one is kept (and opened as any existing database).
 */
async function createDatabase(
  path: string,
  target: NewDatabase,
  templateDir?: string,
): Promise<void> {
  const tmp = `${path}.${crypto.randomUUID().slice(0, 8)}.tmp`;
  const template = templateDir === undefined
    ? undefined
    : join(templateDir, `${target.revision}-${target.ddlDigest}.db`);
  try {
    const copied = template !== undefined && fromTemplate(template, tmp, target, path);
    if (!copied) {
      const schema = (await schemas()).schemaForRevision(target.revision)!;
      fillPrivately(
        tmp,
        (db) => writeSchema(db, schema, path),
        // Kept before the switch to WAL: a template opened by anything leaves no -wal/-shm.
        () => {
          if (template !== undefined) storeTemplate(tmp, template);
        },
      );
    }
    const file = Deno.openSync(tmp, { read: true, write: true });
    try {
      file.syncSync();
    } finally {
      file.close();
    }
    try {
      Deno.linkSync(tmp, path);
    } catch (e) {
      if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
    }
  } finally {
    removeWithJournal(tmp);
  }
}

/**
 * Fills a database that is private until it is linked into place: no journal, no syncs, one
 * transaction; `committed` runs after the commit, then the file is switched to WAL.
 */
function fillPrivately(
  file: string,
  fill: (db: DatabaseSync) => void,
  committed: () => void = () => {},
): void {
  const db = new DatabaseSync(file);
  try {
    db.exec("PRAGMA journal_mode = OFF");
    db.exec("PRAGMA synchronous = OFF");
    db.exec("BEGIN");
    fill(db);
    db.exec("COMMIT");
    committed();
    db.exec("PRAGMA journal_mode = WAL");
  } finally {
    db.close();
  }
}

function removeWithJournal(file: string): void {
  for (const leftover of [file, `${file}-wal`, `${file}-shm`]) {
    try {
      Deno.removeSync(leftover);
    } catch { /* not there */ }
  }
}

/** The default experiment's columns (those the schema has) for a database at `path`. */
function defaultExperiment(
  db: DatabaseSync,
  schema: NewDatabase,
  path: string,
): [string, string | number][] {
  const cols = new Set(
    db.prepare(`PRAGMA table_info("experiments")`).all().map((r) => String((r as Row).name)),
  );
  const now = Date.now();
  const values: [string, string | number][] = [
    ["experiment_id", 0],
    ["name", "Default"],
    ["artifact_location", schema.defaultArtifactLocation.replaceAll("{cwd}", dirname(path))],
    ["lifecycle_stage", "active"],
    ["creation_time", now],
    ["last_update_time", now],
  ];
  return values.filter(([k]) => cols.has(k));
}

/** Writes `schema`, its `alembic_version` row and the default experiment into an empty database. */
function writeSchema(db: DatabaseSync, schema: SqliteSchema, path: string): void {
  db.exec(schema.ddl.join(";\n"));
  db.prepare("INSERT INTO alembic_version (version_num) VALUES (?)").run(schema.revision);
  const values = defaultExperiment(db, schema, path);
  db.prepare(
    `INSERT INTO experiments (${values.map(([k]) => `"${k}"`).join(", ")}) VALUES (${
      values.map(() => "?").join(", ")
    })`,
  ).run(...values.map(([, v]) => v));
}

/**
 * Copies a database built earlier for `schema` to `tmp` and sets its default experiment for
 * `path`; `false` (and nothing left at `tmp`) when there is no such copy or it is not one.
 */
function fromTemplate(template: string, tmp: string, schema: NewDatabase, path: string): boolean {
  try {
    Deno.copyFileSync(template, tmp);
  } catch {
    return false;
  }
  try {
    fillPrivately(tmp, (db) => {
      const row = db.prepare("SELECT version_num FROM alembic_version").get() as Row | undefined;
      if (row?.version_num !== schema.revision) throw new Error("another revision");
      const values = defaultExperiment(db, schema, path).filter(([k]) => k !== "experiment_id");
      const changed = db.prepare(
        `UPDATE experiments SET ${
          values.map(([k]) => `"${k}" = ?`).join(", ")
        } WHERE experiment_id = 0`,
      ).run(...values.map(([, v]) => v));
      if (Number(changed.changes) !== 1) throw new Error("no default experiment");
    });
    return true;
  } catch {
    removeWithJournal(tmp);
    return false;
  }
}

/** Keeps a copy of a database just built as the template of its schema (best effort). */
function storeTemplate(built: string, template: string): void {
  const partial = `${template}.${crypto.randomUUID().slice(0, 8)}.tmp`;
  try {
    Deno.mkdirSync(dirname(template), { recursive: true });
    Deno.copyFileSync(built, partial);
    Deno.renameSync(partial, template);
  } catch {
    try {
      Deno.removeSync(partial);
    } catch { /* not there */ }
  }
}

function hasContent(path: string): boolean {
  try {
    return Deno.statSync(path).size > 0;
  } catch {
    return false;
  }
}

/** The head revision the child's MLflow expects: from the data, else from its migration files. */
async function expectedRevision(
  s: Releases,
  mlflow: MlflowInstallation,
): Promise<string | undefined> {
  return s.headRevisionForVersion(mlflow.version) ??
    (await s.readMigrationChain(mlflow.sitePackages))?.head;
}

/** A new database needs the child's MLflow to create it when mlproject lacks its schema. */
function needsMlflowToCreate(
  r: Releases,
  mlflow: MlflowInstallation,
  expected: string | undefined,
): boolean {
  if (expected !== undefined) return r.newDatabase(expected) === undefined;
  return parsePep440(mlflow.version) !== undefined &&
    comparePep440(mlflow.version, r.NEWEST_KNOWN_RELEASE) > 0;
}

const CREATE_SCRIPT = [
  "import sys",
  "from mlflow.tracking import MlflowClient",
  'MlflowClient(tracking_uri=sys.argv[1]).get_experiment("0")',
].join("\n");

async function createWithMlflow(path: string, mlflow: MlflowInstallation): Promise<void> {
  const out = await runCommand(mlflow.python, ["-c", CREATE_SCRIPT, `sqlite:///${path}`], {
    cwd: dirname(path),
  });
  if (!out.success) {
    throw new ExecutionException(
      `MLflow ${mlflow.version} (${mlflow.python}) could not create the tracking database '${path}' (exit ${out.code}): ${
        lastLine(out.stderr)
      }`,
    );
  }
}

function openConnection(path: string): DatabaseSync {
  try {
    const db = new DatabaseSync(path, { timeout: BUSY_TIMEOUT_MS });
    db.exec(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`);
    return db;
  } catch (e) {
    throw new ExecutionException(`Cannot open tracking database '${path}': ${message(e)}`);
  }
}

/** The database's `alembic_version`, or `undefined` for a new (empty) database. */
function readRevision(db: DatabaseSync, path: string): { revision: string } | undefined {
  const tables = new Set(
    db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all()
      .map((r) => String((r as Row).name)),
  );
  if (tables.size === 0) return undefined;
  if (!tables.has("runs") || !tables.has("experiments")) {
    throw new ExecutionException(
      `Tracking database '${path}' is not an MLflow database: it has no 'runs' or 'experiments' table`,
    );
  }
  if (!tables.has("alembic_version")) return { revision: "(none)" };
  const row = db.prepare("SELECT version_num FROM alembic_version").get() as Row | undefined;
  return { revision: row === undefined ? "(none)" : String(row.version_num) };
}

/** Whether the database's revision is older or newer than the expected one. */
async function compareToExpected(
  s: Releases,
  current: string,
  expected: string,
  mlflow: MlflowInstallation,
): Promise<Standing> {
  // The child's own migration chain knows every older revision, including ones of releases
  // missing from the data; a revision it does not know is newer (or foreign).
  const chain = await s.readMigrationChain(mlflow.sitePackages);
  if (chain !== undefined && chain.head === expected) {
    return chain.revisions.has(current) || current === "(none)" ? "older" : "newer";
  }
  const order = s.compareRevisions(current, expected);
  if (order !== undefined) return order < 0 ? "older" : "newer";
  return current === "(none)" ? "older" : "newer";
}

function mismatchError(
  s: Releases,
  path: string,
  current: string,
  expected: string,
  mlflow: MlflowInstallation,
  standing: Standing,
  options: SqliteStoreOptions,
): ExecutionException {
  const uri = `sqlite:///${path}`;
  const head =
    `Tracking database '${path}' has schema revision ${current} (${s.describeRevision(current)})` +
    `, but the project's MLflow ${mlflow.version} expects ${expected}`;
  if (standing === "older") {
    return new ExecutionException(
      `${head}: the database is older and MLflow would refuse it. Back up the file, then run 'mlflow db upgrade ${uri}' with MLflow ${mlflow.version}, or pass --upgrade-db to do both`,
    );
  }
  const first = s.releasesWithRevision(current)[0];
  const newer = first !== undefined ? `MLflow ${first} or newer` : "the MLflow that wrote it";
  const cannot = options.upgradeDb === true ? "--upgrade-db cannot help: " : "";
  return new ExecutionException(
    `${head}: the database is newer, and ${cannot}a database cannot be downgraded. Use ${newer} in the project's environment, or another tracking URI`,
  );
}

/** Backs the database up, then upgrades it with the child's own MLflow CLI. */
async function upgrade(
  db: DatabaseSync,
  path: string,
  current: string,
  expected: string,
  mlflow: MlflowInstallation,
  reporter: Reporter,
): Promise<DatabaseSync> {
  const backup = `${path}.${timestamp()}.bak`;
  try {
    // A consistent copy even when the database has a WAL or another process is writing.
    db.exec(`VACUUM INTO ${sqlString(backup)}`);
  } catch (e) {
    throw new ExecutionException(
      `Cannot back up tracking database '${path}' to '${backup}': ${message(e)}`,
    );
  }
  db.close();
  reporter.log("INFO", `Backed up tracking database '${path}' to '${backup}'`);
  const uri = `sqlite:///${path}`;
  reporter.log(
    "INFO",
    `Upgrading tracking database '${path}' from schema revision ${current} to ${expected} with MLflow ${mlflow.version}: ${mlflow.python} -m mlflow db upgrade ${uri}`,
  );
  const out = await runCommand(mlflow.python, ["-m", "mlflow", "db", "upgrade", uri], {
    cwd: dirname(path),
  });
  if (!out.success) {
    throw new ExecutionException(
      `'mlflow db upgrade ${uri}' failed (exit ${out.code}): ${
        lastLine(out.stderr)
      }; the backup is '${backup}'`,
    );
  }
  const reopened = openConnection(path);
  const after = readRevision(reopened, path)?.revision;
  if (after !== expected) {
    reopened.close();
    throw new ExecutionException(
      `'mlflow db upgrade ${uri}' left schema revision ${after} instead of ${expected}; the backup is '${backup}'`,
    );
  }
  return reopened;
}
