/**
 * Tracking URI resolution with the rules of the MLflow the run uses, and opening the store a URI
 * names.
 *
 * @module
 */
import { cacheDir } from "../system/home_dir.ts";
import { fileUrlToPath, isAbsolute, join, pathToFileUrl, resolve } from "../system/paths.ts";
import { ExecutionException } from "../system/errors.ts";
import { comparePep440, parsePep440 } from "../system/pep440.ts";
import type { Reporter } from "../system/output.ts";
import type { TrackingStore } from "./tracking_store.ts";
import type { MlflowInstallation } from "./sqlite_store.ts";

/** MLflow's default tracking URI since 3.7. */
export const DEFAULT_TRACKING_URI = "sqlite:///mlflow.db";

/**
 * The first MLflow whose default store is `sqlite:///mlflow.db` (3.7.0rc0 has the rule; 3.6.0
 * defaults to `./mlruns`); its development builds are counted with it.
 */
export const SQLITE_DEFAULT_SINCE = "3.7.0.dev0";

/**
 * Whether an MLflow version defaults to the file store `./mlruns` whatever the directory holds
 * (every release before 3.7).
 *
 * @param version An MLflow version.
 * @returns `true` before 3.7; `false` from 3.7 on and for a version that is not PEP 440.
 *
 * @example
 * ```ts
 * import { defaultsToMlruns } from "./tracking_uri.ts";
 * console.assert(defaultsToMlruns("2.17.2") && !defaultsToMlruns("3.7.0"));
 * ```
 */
export function defaultsToMlruns(version: string): boolean {
  return parsePep440(version) !== undefined && comparePep440(version, SQLITE_DEFAULT_SINCE) < 0;
}

function hasMlrunsData(dir: string): boolean {
  try {
    for (const e of Deno.readDirSync(dir)) {
      if (e.isDirectory && /^\d+$/.test(e.name)) {
        try {
          if (Deno.statSync(join(dir, e.name, "meta.yaml")).isFile) return true;
        } catch { /* not an experiment */ }
      }
    }
  } catch { /* no mlruns */ }
  return false;
}

/** Options of {@linkcode resolveTrackingUri}. */
export interface ResolveTrackingUriOptions {
  /** Directory relative paths belong to (default the process cwd). */
  cwd?: string;
  /**
   * Version of the MLflow the entry point imports; `null` or `undefined` when it has none (or it
   * is unknown): the default store is then chosen with MLflow ≥ 3.7 rules.
   */
  mlflowVersion?: string | null;
}

/**
 * Resolves the tracking URI as the run's MLflow would: `MLFLOW_TRACKING_URI`; else for MLflow
 * before 3.7 `./mlruns` (as an absolute `file://` URI); else (MLflow ≥ 3.7, or no MLflow)
 * `./mlruns` when it holds experiment data, else `sqlite:///mlflow.db`.
 *
 * @param env Environment to read `MLFLOW_TRACKING_URI` from.
 * @param options `cwd` that relative paths belong to; `mlflowVersion` of the run's MLflow.
 * @returns The URI as the user gave it (or the default).
 *
 * @example
 * ```ts
 * import { resolveTrackingUri } from "./tracking_uri.ts";
 * console.assert(resolveTrackingUri({ MLFLOW_TRACKING_URI: "http://x" }) === "http://x");
 * console.assert(
 *   resolveTrackingUri({}, { cwd: "/work", mlflowVersion: "2.17.2" }) === "file:///work/mlruns",
 * );
 * ```
 */
export function resolveTrackingUri(
  env: Record<string, string | undefined>,
  options: ResolveTrackingUriOptions = {},
): string {
  const given = env.MLFLOW_TRACKING_URI;
  if (given !== undefined && given !== "") return given;
  const cwd = options.cwd ?? Deno.cwd();
  const mlruns = join(cwd, "mlruns");
  const version = options.mlflowVersion;
  if (version != null && defaultsToMlruns(version)) return pathToFileUrl(mlruns);
  if (hasMlrunsData(mlruns)) return pathToFileUrl(mlruns);
  return DEFAULT_TRACKING_URI;
}

/** A parsed local tracking URI. */
export type LocalTrackingTarget =
  | { kind: "sqlite"; path: string }
  | { kind: "file"; path: string };

/** A parsed tracking URI: a local store, or a REST server (`http(s)://`, `databricks…`). */
export type TrackingTarget = LocalTrackingTarget | { kind: "rest"; uri: string };

/**
 * Parses a tracking URI into the store it names; local paths are made absolute against `cwd`.
 *
 * @param uri The tracking URI.
 * @param cwd Directory relative paths belong to.
 * @returns The store kind and path (or the URI of a REST server).
 * @throws {ExecutionException} For schemes this version cannot write to.
 *
 * @example
 * ```ts
 * import { parseTrackingUri } from "./tracking_uri.ts";
 * const t = parseTrackingUri("sqlite:///mlflow.db", "/work");
 * console.assert(t.kind === "sqlite" && t.path === "/work/mlflow.db");
 * ```
 */
export function parseTrackingUri(uri: string, cwd: string): TrackingTarget {
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(uri);
  const scheme = m ? m[1]!.toLowerCase() : "";
  if (uri === "databricks" || scheme === "databricks") return { kind: "rest", uri };
  if (uri === "databricks-uc" || scheme === "databricks-uc") {
    throw new ExecutionException(
      `Tracking URI '${uri}' is a model registry URI: use 'databricks' or 'databricks://<profile>' for tracking`,
    );
  }
  if (scheme === "") return { kind: "file", path: resolve(cwd, uri) };
  if (scheme === "file") {
    if (uri.startsWith("file://")) {
      try {
        return { kind: "file", path: fileUrlToPath(uri) };
      } catch {
        throw new ExecutionException(
          `Invalid tracking URI '${uri}': a file URI must name a local path`,
        );
      }
    }
    return { kind: "file", path: resolve(cwd, decodeURIComponent(uri.slice("file:".length))) };
  }
  if (scheme === "sqlite") {
    const rest = uri.slice("sqlite://".length).split("?")[0]!;
    if (
      !uri.toLowerCase().startsWith("sqlite://") || rest === "" || rest === "/" ||
      rest === "/:memory:"
    ) {
      throw new ExecutionException(
        `Invalid tracking URI '${uri}': use sqlite:///relative/path.db or sqlite:////absolute/path.db`,
      );
    }
    const path = rest.slice(1);
    return { kind: "sqlite", path: isAbsolute(path) ? path : resolve(cwd, path) };
  }
  if (scheme === "http" || scheme === "https") {
    if (!/^https?:\/\/[^/?#]+/i.test(uri)) {
      throw new ExecutionException(`Invalid tracking URI '${uri}': an ${scheme} URI needs a host`);
    }
    return { kind: "rest", uri };
  }
  if (/^(postgresql|mysql|mssql)(\+.*)?$/.test(scheme)) {
    throw new ExecutionException(
      `Tracking URI '${uri}' is not supported: only the SQLite flavour of MLflow's SQL store is built in`,
    );
  }
  throw new ExecutionException(`Tracking URI '${uri}' has an unsupported scheme '${scheme}'`);
}

/** Options of {@linkcode openTrackingStore}. */
export interface OpenTrackingStoreOptions {
  /** Directory relative paths belong to (default the process cwd). */
  cwd?: string;
  /** Environment with credentials and HTTP settings for REST stores (default the process env). */
  env?: Record<string, string>;
  /** Receives retry warnings of REST stores. */
  reporter?: Reporter;
  /** Aborting stops REST requests (not the recording of a terminal status). */
  signal?: AbortSignal;
  /**
   * The MLflow the child will import. A new SQLite database gets its schema; an existing one
   * whose schema revision it would refuse is refused (see `upgradeDb`).
   */
  mlflow?: MlflowInstallation;
  /** Back up, then upgrade with `mlflow db upgrade`, a SQLite database older than `mlflow`. */
  upgradeDb?: boolean;
}

/**
 * Opens the tracking store a URI names. The REST store (`http(s)://`, `databricks…`) is loaded
 * only when such a URI is used.
 *
 * @param uri The tracking URI.
 * @param options `cwd` that relative paths belong to; `env`, `reporter`, `signal` for REST;
 * `mlflow`, `upgradeDb` (and `reporter`) for SQLite.
 * @returns The store; `store.uri` is the absolute URI to hand to the child.
 *
 * @example
 * ```ts ignore
 * import { openTrackingStore } from "./tracking_uri.ts";
 * const store = await openTrackingStore("sqlite:///mlflow.db");
 * store.close();
 * ```
 */
export async function openTrackingStore(
  uri: string,
  options: OpenTrackingStoreOptions = {},
): Promise<TrackingStore> {
  const target = parseTrackingUri(uri, options.cwd ?? Deno.cwd());
  if (target.kind === "rest") {
    const { openRestStore } = await import("./rest_store.ts");
    return openRestStore(target.uri, {
      ...(options.env !== undefined ? { env: options.env } : {}),
      ...(options.reporter !== undefined ? { reporter: options.reporter } : {}),
      ...(options.signal !== undefined ? { signal: options.signal } : {}),
    });
  }
  if (target.kind === "sqlite") {
    const { SqliteStore } = await import("./sqlite_store.ts");
    const templateDir = cacheDir(options.env ?? Deno.env.toObject(), "sqlite-templates");
    return await SqliteStore.open(target.path, {
      ...(templateDir !== undefined ? { templateDir } : {}),
      ...(options.mlflow !== undefined ? { mlflow: options.mlflow } : {}),
      ...(options.upgradeDb !== undefined ? { upgradeDb: options.upgradeDb } : {}),
      ...(options.reporter !== undefined ? { reporter: options.reporter } : {}),
    });
  }
  const { FileStore } = await import("./file_store.ts");
  return new FileStore(target.path);
}
