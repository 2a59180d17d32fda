/**
 * The MLflow a run's entry point will import, found without starting Python: the `mlflow` or
 * `mlflow-skinny` distribution metadata in the import path of the interpreter the run uses.
 *
 * @module
 */
import { join, resolve } from "../system/paths.ts";
import { pythonSitePath, type PythonSitePathOptions } from "./python_site.ts";
import { readDirProbe, readTextProbe, statProbe } from "./_fs_probe.ts";

/** The MLflow an interpreter imports. */
export interface MlflowInstall {
  /** Its version, as `mlflow.__version__` prints it (e.g. `2.17.2`). */
  version: string;
  /** The interpreter (a pyenv shim is replaced by the interpreter it selects). */
  python: string;
  /** The directory on the import path that holds it (a site-packages, user site, or
   * `PYTHONPATH` entry). */
  sitePackages: string;
  /** The distribution that provides it (`mlflow` when both are installed). */
  distribution: "mlflow" | "mlflow-skinny";
}

/** Options of {@linkcode detectMlflow}: the environment and cwd the interpreter runs with. */
export type DetectMlflowOptions = PythonSitePathOptions;

type Distribution = MlflowInstall["distribution"];

interface Found {
  version: string;
  distribution: Distribution;
}

/** `Version:` from the header of a METADATA / PKG-INFO file. */
function metadataVersion(path: string): string | undefined {
  const text = readTextProbe(path);
  if (text === undefined) return undefined;
  for (const line of text.split("\n", 64)) {
    const header = line.trimEnd();
    if (header === "") return undefined; // end of the headers
    if (header.startsWith("Version:")) return header.slice("Version:".length).trim() || undefined;
  }
  return undefined;
}

/** `VERSION = "…"` of an `mlflow` package directory (what `mlflow.__version__` is). */
function packageVersion(packageDir: string): string | undefined {
  const text = readTextProbe(join(packageDir, "version.py"));
  return text === undefined ? undefined : /^VERSION\s*=\s*["']([^"']+)["']/m.exec(text)?.[1];
}

const KINDS = [".dist-info", ".egg-info", ".egg-link", ".egg"] as const;

/** An `mlflow`/`mlflow-skinny` metadata entry of a directory, by its name. */
interface Candidate {
  entry: string;
  kind: typeof KINDS[number];
  /** The version the name carries (`""` for `mlflow.egg-info`, `mlflow.egg-link`). */
  fromName: string;
  distribution: Distribution;
}

/** Parses `mlflow-2.17.2.dist-info`, `mlflow_skinny-2.0-py3.8.egg-info`, `mlflow.egg-link`… */
function parseEntry(entry: string): Candidate | undefined {
  const lower = entry.toLowerCase();
  const kind = KINDS.find((k) => lower.endsWith(k));
  if (kind === undefined) return undefined;
  const stem = lower.slice(0, -kind.length);
  let distribution: Distribution;
  let rest: string;
  if (/^mlflow[-_.]skinny(-|$)/.test(stem)) {
    distribution = "mlflow-skinny";
    rest = stem.slice("mlflow-skinny".length);
  } else if (stem === "mlflow" || stem.startsWith("mlflow-")) {
    distribution = "mlflow";
    rest = stem.slice("mlflow".length);
  } else {
    return undefined;
  }
  if (rest === "" && (kind === ".dist-info" || kind === ".egg")) return undefined;
  // The version keeps its spelling; an egg's `-pyX.Y` suffix is dropped.
  const fromName = entry.slice(stem.length - rest.length + 1, stem.length).split("-")[0]!;
  return { entry, kind, fromName, distribution };
}

/** The version one metadata entry of a directory records. */
function entryVersion(dir: string, entry: string, kind: Candidate["kind"]): string | undefined {
  const path = join(dir, entry);
  if (kind === ".dist-info") return metadataVersion(join(path, "METADATA"));
  if (kind === ".egg") return metadataVersion(join(path, "EGG-INFO", "PKG-INFO"));
  if (kind === ".egg-info") {
    // A directory (setuptools) or a single PKG-INFO file (distutils).
    return metadataVersion(join(path, "PKG-INFO")) ?? metadataVersion(path);
  }
  // egg-link (`setup.py develop`): its first line is the project directory.
  const link = readTextProbe(path);
  if (link === undefined) return undefined;
  const target = link.split(/\r?\n/)[0]!.trim();
  const project = resolve(dir, target);
  const name = entry.slice(0, -".egg-link".length);
  for (const info of [name, name.replace(/-/g, "_")]) {
    const v = metadataVersion(join(project, `${info}.egg-info`, "PKG-INFO"));
    if (v !== undefined) return v;
  }
  return packageVersion(join(project, "mlflow"));
}

function compareLoose(a: string, b: string): number {
  const pa = a.split(/[^0-9]+/).filter(Boolean).map(Number);
  const pb = b.split(/[^0-9]+/).filter(Boolean).map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? -1) - (pb[i] ?? -1);
    if (d !== 0) return d;
  }
  return 0;
}

/** The MLflow one directory provides: its metadata (`mlflow` before `mlflow-skinny`), else a
 * bare `mlflow` package (a source checkout on `PYTHONPATH`). */
function scanDir(dir: string): Found | undefined {
  const entries = readDirProbe(dir);
  if (entries === undefined) return undefined;
  const candidates: Candidate[] = [];
  let hasPackage = false;
  for (const e of entries) {
    if (e.name === "mlflow") {
      hasPackage = e.isDirectory || e.isSymlink;
      continue;
    }
    if (e.name.length < 7 || e.name.slice(0, 6).toLowerCase() !== "mlflow") continue;
    const candidate = parseEntry(e.name);
    if (candidate !== undefined) candidates.push(candidate);
  }
  // Both distributions install the same package (`mlflow` wins the name); leftovers of an old
  // install lose to the newest.
  candidates.sort((a, b) =>
    (a.distribution === b.distribution ? 0 : a.distribution === "mlflow" ? -1 : 1) ||
    compareLoose(b.fromName, a.fromName)
  );
  for (const c of candidates) {
    const version = entryVersion(dir, c.entry, c.kind) ?? (c.fromName || undefined);
    if (version !== undefined) return { version, distribution: c.distribution };
  }
  if (hasPackage) {
    const version = packageVersion(join(dir, "mlflow"));
    if (version !== undefined) return { version, distribution: "mlflow" };
  }
  return undefined;
}

const scans = new Map<string, { stamp: string; found: Found | undefined }>();

function scanDirCached(dir: string, cache: boolean): Found | undefined {
  if (!cache) return scanDir(dir);
  const info = statProbe(dir);
  if (info === undefined) return undefined;
  const stamp = `${info.mtime?.getTime()}:${info.ino}:${info.nlink}`;
  const cached = scans.get(dir);
  if (cached !== undefined && cached.stamp === stamp) return cached.found;
  const found = scanDir(dir);
  scans.set(dir, { stamp, found });
  return found;
}

/**
 * Finds the MLflow an interpreter would import, from files alone: the first directory of its
 * import path (see {@linkcode pythonSitePath}: `PYTHONPATH`, user site, site-packages) that
 * holds `mlflow` or `mlflow-skinny` metadata (`*.dist-info/METADATA`, `*.egg-info`,
 * `*.egg-link` of a `setup.py develop` install, `*.egg`), or else an `mlflow` package with its
 * `version.py`. Cached in-process per interpreter and per directory (path and modification
 * time), so a repeated call costs a few `stat`s; `cache: false` reads everything afresh.
 *
 * @param python The interpreter the run uses (a venv's `bin/python`, a pyenv shim, …).
 * @param options The environment and cwd the interpreter runs with; `cache`.
 * @returns The MLflow found, or `undefined` when the interpreter has none (or does not exist).
 *
 * @example
 * ```ts ignore
 * import { detectMlflow } from "./mlflow_version.ts";
 * detectMlflow("/proj/.venv/bin/python", { env: Deno.env.toObject() });
 * // { version: "2.17.2", distribution: "mlflow", python: "/proj/.venv/bin/python",
 * //   sitePackages: "/proj/.venv/lib/python3.11/site-packages" }
 * ```
 */
export function detectMlflow(
  python: string,
  options: DetectMlflowOptions,
): MlflowInstall | undefined {
  const site = pythonSitePath(python, options);
  if (site === undefined) return undefined;
  for (const dir of site.dirs) {
    const found = scanDirCached(dir, options.cache ?? true);
    if (found !== undefined) return { ...found, python: site.python, sitePackages: dir };
  }
  return undefined;
}
