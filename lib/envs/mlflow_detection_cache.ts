/**
 * A persistent cache of {@linkcode detectMlflow}: each answer is stored with every path the
 * detection looked at (`PATH` directories, pyenv shims and version files, `pyvenv.cfg`, the
 * site-packages directories, the MLflow metadata…) and what it saw there, keyed by the
 * interpreter, the cwd and the environment variables the detection reads. An answer is reused
 * only while every one of those paths is unchanged, so it is always the answer a fresh detection
 * would give.
 *
 * @module
 */
import { dirname } from "../system/paths.ts";
import { detectMlflow, type DetectMlflowOptions, type MlflowInstall } from "./mlflow_version.ts";
import { type Probe, probesHold, recordProbes } from "./_fs_probe.ts";

/** The variables a detection reads (see `pythonSitePath`, `resolvePyenvShim`). */
const ENV_KEYS = [
  "PATH",
  "PYTHONPATH",
  "PYTHONHOME",
  "PYTHONUSERBASE",
  "PYTHONNOUSERSITE",
  "HOME",
  "USERPROFILE",
  "PYENV_VERSION",
  "PYENV_DIR",
] as const;

/** Entries kept in the cache file (the most recently stored). */
const MAX_ENTRIES = 16;
/** A path modified this recently (ms) may change again within the same clock tick: not stored. */
const RACY_MS = 2000;

interface Entry {
  key: string;
  probes: Probe[];
  value: MlflowInstall | null;
}

/** Options of {@linkcode detectMlflowCached}. */
export interface DetectMlflowCachedOptions extends DetectMlflowOptions {
  /** The cache file (e.g. `cacheDir(env, "mlflow-detection.json")`); none: not cached. */
  cacheFile?: string | undefined;
  /** Receives the function that stores a new answer, to call once the run goes ahead (a plan
   * writes nothing); without it a new answer is stored at once. */
  storeLater?: (store: () => void) => void;
  /** An answer that looked at a path modified less than this many ms ago is not stored (it
   * could change again unseen within the file system's clock tick; default 2000). */
  racyMs?: number;
}

function readEntries(file: string): Entry[] {
  try {
    const data = JSON.parse(Deno.readTextFileSync(file));
    return Array.isArray(data?.entries) ? data.entries : [];
  } catch {
    return [];
  }
}

/** Whether a probe saw a path modified (or changed) within the last `racyMs`. */
function racy(probes: Probe[], now: number, racyMs: number): boolean {
  return probes.some(([kind, , seen]) => {
    if (kind !== "s" || seen === "-") return false;
    const [, mtime, ctime] = seen.split(":");
    return now - Number(mtime) < racyMs || now - Number(ctime) < racyMs;
  });
}

function store(file: string, entry: Entry): void {
  const entries = [entry, ...readEntries(file).filter((e) => e.key !== entry.key)]
    .slice(0, MAX_ENTRIES);
  try {
    Deno.mkdirSync(dirname(file), { recursive: true });
    const tmp = `${file}.${Deno.pid}.tmp`;
    Deno.writeTextFileSync(tmp, JSON.stringify({ version: 1, entries }));
    Deno.renameSync(tmp, file);
  } catch {
    // A cache that cannot be written only costs the next run a detection.
  }
}

/**
 * {@linkcode detectMlflow} with a persistent cache: a stored answer is returned when nothing it
 * depended on changed (a new MLflow installed, another interpreter first on `PATH`, a new
 * `.python-version`… all give a fresh detection).
 *
 * @param python The interpreter the run uses.
 * @param options The environment and cwd it runs with; `cacheFile`; `storeLater`.
 * @returns The MLflow found, or `undefined`.
 *
 * @example
 * ```ts ignore
 * import { detectMlflowCached } from "./mlflow_detection_cache.ts";
 * detectMlflowCached("python", { env: Deno.env.toObject(), cacheFile: "/tmp/c/mlflow.json" });
 * ```
 */
export function detectMlflowCached(
  python: string,
  options: DetectMlflowCachedOptions,
): MlflowInstall | undefined {
  const { cacheFile, storeLater, racyMs, ...detect } = options;
  if (cacheFile === undefined || detect.cache === false) return detectMlflow(python, detect);
  const cwd = detect.cwd ?? Deno.cwd();
  const key = JSON.stringify([python, cwd, ENV_KEYS.map((k) => detect.env[k] ?? null)]);
  const hit = readEntries(cacheFile).find((e) => e.key === key);
  if (hit !== undefined && Array.isArray(hit.probes) && probesHold(hit.probes)) {
    return hit.value ?? undefined;
  }
  const recorded = recordProbes(() => detectMlflow(python, { ...detect, cwd, cache: false }));
  const { value } = recorded;
  // Each path once; one seen two ways changed during the detection: not stored.
  const seen = new Map<string, string>();
  let changed = false;
  for (const [kind, path, stamp] of recorded.probes) {
    const before = seen.get(`${kind}${path}`);
    if (before !== undefined && before !== stamp) changed = true;
    seen.set(`${kind}${path}`, stamp);
  }
  const probes: Probe[] = [...seen].map(([k, stamp]) => [k[0] as Probe[0], k.slice(1), stamp]);
  if (!changed && !racy(probes, Date.now(), racyMs ?? RACY_MS)) {
    const save = () => store(cacheFile, { key, probes, value: value ?? null });
    if (storeLater !== undefined) storeLater(save);
    else save();
  }
  return value;
}
