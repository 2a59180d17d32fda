/**
 * MLflow's `mlruns` file store: the directory layout and `meta.yaml` files real MLflow reads,
 * including `run_uuid` so MLflow 2.x can read runs written here.
 *
 * @module
 */
import { join, pathToFileUrl } from "../system/paths.ts";
import { ExecutionException } from "../system/errors.ts";
import { isDirectory } from "../system/file_checks.ts";
import { parseFlatYaml } from "../yaml/flat_yaml.ts";
import { pyStr, type PyValue } from "../yaml/py_value.ts";
import { dumpYaml } from "./_yaml_dump.ts";
import { validateKey } from "./validation.ts";
import {
  type CreateRunRequest,
  type Experiment,
  isTerminal,
  RUN_STATUS_CODES,
  type RunEnd,
  type RunInfo,
  type RunStatus,
  type RunUpdate,
  type TrackingStore,
} from "./tracking_store.ts";

const RESERVED = new Set(["tags", "datasets", "traces", "models"]);
const STATUS_BY_CODE = new Map(
  Object.entries(RUN_STATUS_CODES).map(([k, v]) => [v, k as RunStatus]),
);

/**
 * A `meta.yaml` as PyYAML reads it: what MLflow writes is read without a YAML parser
 * (`flat_yaml.ts`); the parser is loaded for anything else.
 */
async function readYaml(path: string): Promise<Record<string, PyValue> | undefined> {
  try {
    const text = Deno.readTextFileSync(path);
    const flat = parseFlatYaml(text);
    if (flat !== undefined) return flat;
    const { parsePythonYaml } = await import("../yaml/python_yaml.ts");
    const v = parsePythonYaml(text);
    return typeof v === "object" && v !== null && !Array.isArray(v)
      ? v as Record<string, PyValue>
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Writes a file so that readers (the child's MLflow) never see it half-written: a temp file is
 * renamed into place, or hard-linked when `createNew` (then an existing file wins and `false` is
 * returned).
 */
function writeFileAtomic(
  path: string,
  text: string,
  options: { createNew?: boolean } = {},
): boolean {
  const tmp = `${path}.tmp-${crypto.randomUUID()}`;
  Deno.writeTextFileSync(tmp, text);
  try {
    if (!options.createNew) {
      Deno.renameSync(tmp, path);
      return true;
    }
    try {
      Deno.linkSync(tmp, path);
      return true;
    } catch (e) {
      if (e instanceof Deno.errors.AlreadyExists) return false;
      throw e;
    }
  } finally {
    try {
      Deno.removeSync(tmp);
    } catch { /* renamed */ }
  }
}

function text(v: PyValue | undefined): string {
  return v === undefined || v === null ? "" : pyStr(v);
}

function num(v: PyValue | undefined): number | null {
  return v === undefined || v === null ? null : Number(pyStr(v));
}

/**
 * Generates an experiment id as MLflow's file store does: 18 decimal digits, no leading zero.
 *
 * @returns The id.
 */
function newExperimentId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  let n = 0n;
  for (const b of bytes) n = (n << 8n) | BigInt(b);
  let id = (n % 10n ** 18n).toString().padStart(18, "0");
  while (id.startsWith("0")) {
    id = id.slice(1) + String(crypto.getRandomValues(new Uint8Array(1))[0]! % 10);
  }
  return id;
}

/** A file store rooted at a directory. */
export class FileStore implements TrackingStore {
  readonly uri: string;
  readonly childEnv: Readonly<Record<string, string>> = { MLFLOW_ALLOW_FILE_STORE: "true" };
  readonly #root: string;
  readonly #rootUri: string;

  /**
   * Opens (and creates when missing) a file store at an absolute directory.
   *
   * @example
   * ```ts ignore
   * import { FileStore } from "./file_store.ts";
   * const store = new FileStore("/tmp/mlruns");
   * await store.findExperiment({ id: "0" });
   * ```
   */
  constructor(root: string) {
    this.#root = root;
    this.#rootUri = pathToFileUrl(root).replace(/\/$/, "");
    this.uri = this.#rootUri;
    Deno.mkdirSync(join(root, ".trash"), { recursive: true });
  }

  #experimentDirs(includeTrash: boolean): string[] {
    const dirs: string[] = [];
    const scan = (base: string) => {
      for (const e of Deno.readDirSync(base)) {
        if (e.isDirectory && e.name !== ".trash" && e.name !== "models") {
          dirs.push(join(base, e.name));
        }
      }
    };
    scan(this.#root);
    if (includeTrash && isDirectory(join(this.#root, ".trash"))) scan(join(this.#root, ".trash"));
    return dirs;
  }

  async #readExperiment(dir: string): Promise<Experiment | undefined> {
    const meta = await readYaml(join(dir, "meta.yaml"));
    if (meta === undefined || meta.name === undefined) return undefined;
    return {
      experimentId: text(meta.experiment_id),
      name: text(meta.name),
      artifactLocation: text(meta.artifact_location),
      lifecycleStage: text(meta.lifecycle_stage) || "active",
    };
  }

  /** Experiment 0, written first when the store has none (a meta.yaml already there wins). */
  async #ensureDefault(): Promise<Experiment | undefined> {
    const dir = join(this.#root, "0");
    if (Deno.statSync(this.#root).isDirectory) {
      const exp = await this.#readExperiment(dir);
      if (exp !== undefined) return exp;
    }
    this.#writeExperiment("0", "Default");
    return await this.#readExperiment(dir);
  }

  #writeExperiment(id: string, name: string): void {
    const dir = join(this.#root, id);
    Deno.mkdirSync(dir, { recursive: true });
    const now = Date.now();
    // A concurrent runner may create experiment 0 at the same moment: the first one wins.
    writeFileAtomic(
      join(dir, "meta.yaml"),
      dumpYaml({
        artifact_location: `${this.#rootUri}/${id}`,
        creation_time: now,
        experiment_id: id,
        last_update_time: now,
        lifecycle_stage: "active",
        name,
      }),
      { createNew: true },
    );
  }

  async findExperiment(query: { id: string } | { name: string }): Promise<Experiment | undefined> {
    if ("id" in query) {
      if (query.id === "0") return await this.#ensureDefault();
      if (!/^[a-zA-Z0-9][\w-]{0,63}$/.test(query.id)) return undefined;
      return await this.#readExperiment(join(this.#root, query.id));
    }
    if (query.name === "Default") await this.#ensureDefault();
    for (const dir of this.#experimentDirs(false)) {
      const exp = await this.#readExperiment(dir);
      if (exp?.name === query.name) return exp;
    }
    return undefined;
  }

  async createExperiment(name: string): Promise<string> {
    if (name === "" || name.length > 500) {
      throw new ExecutionException(
        `Invalid experiment name '${name}': it must be 1 to 500 characters`,
      );
    }
    for (const dir of this.#experimentDirs(true)) {
      const exp = await this.#readExperiment(dir);
      if (exp?.name === name) {
        const state = exp.lifecycleStage === "deleted" ? " in deleted state" : "";
        throw new ExecutionException(`Experiment '${name}' already exists${state}.`);
      }
    }
    const id = newExperimentId();
    this.#writeExperiment(id, name);
    return id;
  }

  #runDir(runId: string): string | undefined {
    if (!/^[a-zA-Z0-9][\w-]{0,255}$/.test(runId)) return undefined;
    for (const dir of this.#experimentDirs(true)) {
      const candidate = join(dir, runId);
      if (!RESERVED.has(runId) && isDirectory(candidate)) return candidate;
    }
    return undefined;
  }

  #runMeta(runId: string, experimentId: string, info: RunInfo, created: boolean): string {
    return dumpYaml({
      artifact_uri: info.artifactUri,
      ...(created ? { deleted_time: null } : {}),
      end_time: info.endTime,
      entry_point_name: "",
      experiment_id: experimentId,
      lifecycle_stage: info.lifecycleStage,
      run_id: runId,
      run_name: info.runName,
      run_uuid: runId,
      source_name: "",
      source_type: 4,
      source_version: "",
      start_time: info.startTime,
      status: RUN_STATUS_CODES[info.status],
      tags: [],
      user_id: info.userId,
    });
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
    const dir = join(this.#root, request.experimentId, runId);
    for (const sub of ["artifacts", "metrics", "params", "tags"]) {
      Deno.mkdirSync(join(dir, sub), { recursive: true });
    }
    const info: RunInfo = {
      runId,
      experimentId: request.experimentId,
      runName: request.runName,
      status: "RUNNING",
      startTime: request.startTime,
      endTime: null,
      artifactUri: `${exp.artifactLocation}/${runId}/artifacts`,
      userId: request.userId,
      lifecycleStage: "active",
    };
    writeFileAtomic(
      join(dir, "meta.yaml"),
      this.#runMeta(runId, exp.experimentId, info, true),
    );
    const tags = request.tags.filter(([k]) => k !== "mlflow.runName");
    tags.push(["mlflow.runName", request.runName]);
    try {
      await this.logBatch(runId, { tags, params: request.params ?? [] });
    } catch (e) {
      // A run without its tags and params must not stay RUNNING.
      await this.updateRun(runId, { status: "FAILED", endTime: Date.now() }).catch(() => {});
      throw e;
    }
    return info;
  }

  async #readRun(dir: string): Promise<RunInfo | undefined> {
    const meta = await readYaml(join(dir, "meta.yaml"));
    if (meta === undefined) return undefined;
    const runId = text(meta.run_id) || text(meta.run_uuid);
    const status = meta.status === undefined || meta.status === null
      ? "RUNNING"
      : STATUS_BY_CODE.get(Number(pyStr(meta.status))) ?? "RUNNING";
    let runName = text(meta.run_name);
    if (runName === "") {
      try {
        runName = Deno.readTextFileSync(join(dir, "tags", "mlflow.runName"));
      } catch { /* no name */ }
    }
    return {
      runId,
      experimentId: text(meta.experiment_id),
      runName,
      status,
      startTime: num(meta.start_time) ?? 0,
      endTime: num(meta.end_time),
      artifactUri: text(meta.artifact_uri),
      userId: text(meta.user_id),
      lifecycleStage: text(meta.lifecycle_stage) || "active",
    };
  }

  async getRun(runId: string): Promise<RunInfo | undefined> {
    const dir = this.#runDir(runId);
    return dir === undefined ? undefined : await this.#readRun(dir);
  }

  async #activeRunDir(runId: string): Promise<string> {
    const dir = this.#runDir(runId);
    const info = dir === undefined ? undefined : await this.#readRun(dir);
    if (dir === undefined || info === undefined) {
      throw new ExecutionException(`Run '${runId}' not found`);
    }
    if (info.lifecycleStage !== "active") {
      throw new ExecutionException(`The run ${runId} must be in 'active' lifecycle_stage.`);
    }
    return dir;
  }

  async logBatch(
    runId: string,
    batch: { params?: [string, string][]; tags?: [string, string][] },
  ): Promise<void> {
    const dir = await this.#activeRunDir(runId);
    for (const [key, value] of batch.params ?? []) {
      validateKey("param", key);
      const path = join(dir, "params", key);
      let old: string | undefined;
      try {
        old = Deno.readTextFileSync(path);
      } catch { /* new */ }
      if (old !== undefined && old !== value) {
        throw new ExecutionException(
          `Changing param values is not allowed. Param with key='${key}' was already logged with value='${old}' for run ID='${runId}'. Attempted logging new value '${value}'.`,
        );
      }
      if (old === undefined) {
        Deno.mkdirSync(join(path, ".."), { recursive: true });
        Deno.writeTextFileSync(path, value);
      }
    }
    for (const [key, value] of batch.tags ?? []) {
      validateKey("tag", key);
      const path = join(dir, "tags", key);
      Deno.mkdirSync(join(path, ".."), { recursive: true });
      Deno.writeTextFileSync(path, value);
      if (key === "mlflow.runName") {
        const info = (await this.#readRun(dir))!;
        info.runName = value;
        writeFileAtomic(
          join(dir, "meta.yaml"),
          this.#runMeta(runId, info.experimentId, info, false),
        );
      }
    }
  }

  async updateRun(runId: string, { status, endTime }: RunUpdate): Promise<void> {
    const dir = await this.#activeRunDir(runId);
    const info = (await this.#readRun(dir))!;
    info.status = status;
    info.endTime = endTime;
    writeFileAtomic(
      join(dir, "meta.yaml"),
      this.#runMeta(runId, info.experimentId, info, false),
    );
  }

  async endRun(runId: string, { status, endTime }: RunEnd): Promise<RunStatus> {
    const dir = await this.#activeRunDir(runId);
    const info = (await this.#readRun(dir))!;
    if (isTerminal(info.status)) return info.status;
    info.status = status;
    info.endTime = endTime;
    writeFileAtomic(
      join(dir, "meta.yaml"),
      this.#runMeta(runId, info.experimentId, info, false),
    );
    return status;
  }

  close(): void {}
}
