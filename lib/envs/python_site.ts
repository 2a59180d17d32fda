/**
 * Where an interpreter imports packages from, worked out from files alone (no Python is run):
 * pyenv shims resolved as pyenv does, venvs (`pyvenv.cfg`, `include-system-site-packages`),
 * plain and conda installs (`<prefix>/lib/pythonX.Y/site-packages`), Debian's `dist-packages`,
 * the user site (`PYTHONUSERBASE`, `PYTHONNOUSERSITE`) and `PYTHONPATH`.
 *
 * @module
 */
import { dirname, resolve } from "../system/paths.ts";
import { homeDir as home } from "../system/home_dir.ts";
import { isExecutable, which } from "./_which.ts";
import { readDirProbe, readTextProbe, realPathProbe, statProbe } from "./_fs_probe.ts";

const statOrUndefined = statProbe;
const isDirectory = (path: string): boolean => statProbe(path)?.isDirectory ?? false;
const listDir = (path: string): string[] => (readDirProbe(path) ?? []).map((e) => e.name);

const homeDir = (env: Record<string, string>): string => home(env) ?? "/";

/** The import path of an interpreter, as far as installed packages go. */
export interface PythonSitePath {
  /** The interpreter that runs (a pyenv shim is replaced by the interpreter it selects). */
  python: string;
  /** `X.Y`, or `undefined` when no file says it. */
  pythonVersion: string | undefined;
  /** `sys.prefix`: the venv, conda env or installation directory. */
  prefix: string;
  /** Whether the interpreter is a venv's. */
  venv: boolean;
  /**
   * Existing directories that can hold packages, in `sys.path` order: `PYTHONPATH` entries,
   * the user site, then the site-packages (a venv's, then its base's when it includes them).
   */
  dirs: string[];
}

/** Options of {@linkcode pythonSitePath}. */
export interface PythonSitePathOptions {
  /**
   * The environment the interpreter runs with (`PYTHONPATH`, `PYTHONUSERBASE`,
   * `PYTHONNOUSERSITE`, `PYTHONHOME`, `HOME`, `PATH`, `PYENV_VERSION`, `PYENV_DIR`).
   */
  env: Record<string, string>;
  /** Directory it runs in: relative `PYTHONPATH` entries and `.python-version` files (default
   * the process cwd). */
  cwd?: string;
  /** Use (and fill) the in-process cache (default `true`); `false` reads everything afresh. */
  cache?: boolean;
}

const readText = readTextProbe;
const realPath = realPathProbe;

const SHIM_MAX_BYTES = 4096;

/** A pyenv shim's root, or `undefined` when the file is not a pyenv shim. */
function pyenvShimRoot(path: string): string | undefined {
  const info = statOrUndefined(path);
  if (info === undefined || !info.isFile || info.size > SHIM_MAX_BYTES) return undefined;
  const text = readText(path);
  if (text === undefined || !text.startsWith("#!") || !/pyenv"?\s+exec\b/.test(text)) {
    return undefined;
  }
  const exported = /^export PYENV_ROOT="([^"]+)"/m.exec(text)?.[1];
  if (exported !== undefined) return exported;
  // Older shims only name the pyenv executable: `exec "<root>/libexec/pyenv" exec …`.
  const libexec = /exec "([^"]+)\/libexec\/pyenv" exec/.exec(text)?.[1];
  return libexec ?? dirname(dirname(path));
}

function readVersionFile(path: string): string | undefined {
  const text = readText(path);
  if (text === undefined) return undefined;
  const versions = text.split(/\r?\n|\r/).map((line) => line.trim().split(/\s+/)[0] ?? "")
    .filter((v) => v !== "" && !v.startsWith("#") && v !== ".." && !v.includes("/"));
  return versions.length > 0 ? versions.join(":") : undefined;
}

function findVersionFile(start: string): string | undefined {
  let dir = start.replace(/\/+$/, "");
  while (true) {
    const candidate = `${dir}/.python-version`;
    if (statOrUndefined(candidate)?.isFile) return candidate;
    if (dir === "") return undefined;
    dir = dir.slice(0, dir.lastIndexOf("/"));
  }
}

function numericKey(version: string): number[] {
  return version.split(/[.-]/).map((p) => (/^\d+$/.test(p) ? Number(p) : -1));
}

/** `pyenv latest -b <prefix>`: the newest installed final version under a prefix. */
function pyenvLatest(root: string, prefix: string): string | undefined {
  const candidates = listDir(`${root}/versions`).filter((name) =>
    (name.startsWith(`${prefix}.`) || name.startsWith(`${prefix}-`)) &&
    !/(-dev|-src|-latest|(a|b|rc)\d+|\dt)$/.test(name)
  );
  candidates.sort((a, b) => {
    const [ka, kb] = [numericKey(a), numericKey(b)];
    for (let i = 0; i < Math.max(ka.length, kb.length); i++) {
      const d = (kb[i] ?? -1) - (ka[i] ?? -1);
      if (d !== 0) return d;
    }
    return 0;
  });
  return candidates[0];
}

function pyenvVersionDir(root: string, version: string): string | undefined {
  const normalized = version.replace(/^python-/, "");
  for (const v of [version, normalized]) {
    if (isDirectory(`${root}/versions/${v}`)) return `${root}/versions/${v}`;
  }
  const latest = pyenvLatest(root, version) ?? pyenvLatest(root, normalized);
  return latest !== undefined ? `${root}/versions/${latest}` : undefined;
}

/**
 * The interpreter a pyenv shim runs, resolved as `pyenv exec` does: `PYENV_VERSION`, else the
 * nearest `.python-version` above `PYENV_DIR` or the cwd, else `$PYENV_ROOT/version`, else
 * `system`; each version (a prefix such as `3.11` picks the newest installed `3.11.Z`) is tried
 * for `$PYENV_ROOT/versions/<v>/bin/<name>`, then the `PATH` without the shims.
 *
 * @param path A path that may be a pyenv shim.
 * @param options The environment and cwd the shim runs with.
 * @returns The interpreter it runs, or `undefined` when `path` is not a shim or selects nothing.
 *
 * @example
 * ```ts
 * import { resolvePyenvShim } from "./python_site.ts";
 * console.assert(resolvePyenvShim("/bin/sh", { env: {} }) === undefined);
 * ```
 */
export function resolvePyenvShim(
  path: string,
  options: PythonSitePathOptions,
): string | undefined {
  const root = pyenvShimRoot(path)?.replace(/\/+$/, "");
  if (root === undefined) return undefined;
  const { env } = options;
  const cwd = options.cwd ?? Deno.cwd();
  const program = path.slice(path.lastIndexOf("/") + 1);
  let selected = env.PYENV_VERSION || undefined;
  if (selected === undefined) {
    const pyenvDir = env.PYENV_DIR ? resolve(cwd, env.PYENV_DIR) : cwd;
    const file = findVersionFile(pyenvDir) ??
      (pyenvDir !== cwd ? findVersionFile(cwd) : undefined) ?? `${root}/version`;
    selected = readVersionFile(file) ?? "system";
  }
  const shimDirs = [`${root}/shims`, dirname(path)];
  const systemPath = (env.PATH ?? "").split(":")
    .filter((dir) => !shimDirs.includes(dir.replace(/\/+$/, ""))).join(":");
  for (const version of [...selected.split(":"), "system"]) {
    if (version === "") continue;
    if (version === "system") {
      const found = which(program, { path: systemPath });
      if (found !== undefined) return found;
      continue;
    }
    const dir = pyenvVersionDir(root, version);
    if (dir !== undefined && isExecutable(`${dir}/bin/${program}`)) return `${dir}/bin/${program}`;
  }
  return undefined;
}

/**
 * The interpreter `--env-manager local` runs: the entry point's own `pythonX[.Y]` command when
 * it starts with one, else `python`, else `python3`, looked up on the child's `PATH` as its
 * shell would (pyenv shims included; see {@linkcode resolvePyenvShim}).
 *
 * @param env The child's environment (its `PATH`).
 * @param options `command`: the entry point's command line.
 * @returns The path found, or `undefined`.
 *
 * @example
 * ```ts
 * import { findLocalPython } from "./python_site.ts";
 * console.assert(findLocalPython({ PATH: "/nonexistent" }) === undefined);
 * ```
 */
export function findLocalPython(
  env: Record<string, string>,
  options: { command?: string } = {},
): string | undefined {
  const first = options.command?.trim().split(/\s+/)[0] ?? "";
  const own = /(^|\/)python[\d.]*$/.test(first) ? [first] : [];
  for (const name of [...own, "python", "python3"]) {
    const found = which(name, { path: env.PATH });
    if (found !== undefined) return found;
  }
  return undefined;
}

/** What does not depend on the run's environment, cached per interpreter. */
interface Layout {
  pythonVersion: string | undefined;
  prefix: string;
  venv: boolean;
  /** Site directories of the prefix (and of the base, when a venv includes them). */
  siteDirs: string[];
  /** Whether the user site applies (not in a venv that excludes system packages). */
  userSite: boolean;
}

const layouts = new Map<string, { stamp: string; layout: Layout }>();

function minorOf(version: string | undefined): string | undefined {
  const [major, minor] = (version ?? "").split(".");
  return major && minor && isDigits(major) && isDigits(minor.split(/\D/)[0]!)
    ? `${major}.${minor.split(/\D/)[0]}`
    : undefined;
}

function isDigits(text: string): boolean {
  if (text === "") return false;
  for (const c of text) if (c < "0" || c > "9") return false;
  return true;
}

function versionFromName(path: string): string | undefined {
  return minorOf(/python(\d+\.\d+)$/.exec(path)?.[1]);
}

/** `X.Y` from the `lib/pythonX.Y` directory that holds the standard library. */
function versionFromLib(prefix: string): string | undefined {
  const found = listDir(`${prefix}/lib`).filter((n) => /^python\d+\.\d+$/.test(n))
    .filter((n) => statOrUndefined(`${prefix}/lib/${n}/os.py`)?.isFile)
    .map((n) => n.slice("python".length))
    .sort((a, b) => numericKey(b)[1]! - numericKey(a)[1]!);
  return found[0];
}

function prefixSiteDirs(prefix: string, xy: string | undefined, venv: boolean): string[] {
  if (xy === undefined) return [];
  const dirs: string[] = [];
  if (!venv) {
    // Debian's Python: dist-packages under /usr/local and /usr.
    const debian = [
      `${prefix}/local/lib/python${xy}/dist-packages`,
      `${prefix}/lib/python3/dist-packages`,
      `${prefix}/lib/python${xy}/dist-packages`,
    ];
    if (isDirectory(debian[1]!) || isDirectory(debian[2]!)) return debian;
  }
  // lib64 is usually a link to lib (venvs): count the directory once.
  const lib = `${prefix}/lib/python${xy}/site-packages`;
  const lib64 = `${prefix}/lib64/python${xy}/site-packages`;
  const [libInfo, lib64Info] = [statOrUndefined(lib), statOrUndefined(lib64)];
  if (
    lib64Info?.isDirectory &&
    !(libInfo !== undefined && libInfo.ino === lib64Info.ino && libInfo.dev === lib64Info.dev)
  ) dirs.push(lib64);
  dirs.push(lib);
  return dirs;
}

function parseCfg(text: string): Record<string, string> {
  const cfg: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const eq = line.indexOf("=");
    if (eq > 0) cfg[line.slice(0, eq).trim().toLowerCase()] = line.slice(eq + 1).trim();
  }
  return cfg;
}

/** A plain (non-venv) installation: the prefix above the real executable's `bin`. */
function installLayout(python: string, home: string | undefined): Layout {
  const real = realPath(python);
  const binDir = dirname(real);
  const prefix = home ?? (/\/s?bin$/.test(binDir) ? dirname(binDir) : binDir);
  const pythonVersion = versionFromName(real) ?? versionFromName(python) ?? versionFromLib(prefix);
  return {
    pythonVersion,
    prefix,
    venv: false,
    siteDirs: prefixSiteDirs(prefix, pythonVersion, false),
    userSite: true,
  };
}

function computeLayout(python: string, pythonHome: string | undefined): Layout {
  const binDir = dirname(python);
  const prefix = dirname(binDir);
  const cfgText = readText(`${prefix}/pyvenv.cfg`) ?? readText(`${binDir}/pyvenv.cfg`);
  if (cfgText === undefined) return installLayout(python, pythonHome);
  const cfg = parseCfg(cfgText);
  const includeSystem = (cfg["include-system-site-packages"] ?? "").toLowerCase() === "true";
  let pythonVersion = minorOf(cfg.version ?? cfg.version_info) ?? versionFromLib(prefix);
  let base: Layout | undefined;
  const home = cfg.home?.replace(/\/+$/, "");
  if (home !== undefined && (includeSystem || pythonVersion === undefined)) {
    const baseExe = [`python${pythonVersion ?? ""}`, "python3", "python"]
      .map((n) => `${home}/${n}`).find(isExecutable);
    base = baseExe !== undefined ? installLayout(baseExe, undefined) : undefined;
  }
  pythonVersion ??= base?.pythonVersion ?? versionFromName(realPath(python));
  const siteDirs = prefixSiteDirs(prefix, pythonVersion, true);
  if (includeSystem && base !== undefined) {
    for (const dir of prefixSiteDirs(base.prefix, pythonVersion, false)) {
      if (!siteDirs.includes(dir)) siteDirs.push(dir);
    }
  }
  return { pythonVersion, prefix, venv: true, siteDirs, userSite: includeSystem };
}

function layoutOf(python: string, pythonHome: string | undefined, cache: boolean): Layout {
  if (!cache) return computeLayout(python, pythonHome);
  const info = statOrUndefined(python);
  const stamp = `${info?.mtime?.getTime() ?? "-"}:${info?.ino ?? "-"}:${pythonHome ?? ""}`;
  const cached = layouts.get(python);
  if (cached !== undefined && cached.stamp === stamp) return cached.layout;
  const layout = computeLayout(python, pythonHome);
  layouts.set(python, { stamp, layout });
  return layout;
}

/**
 * The directories an interpreter imports installed packages from, in `sys.path` order, read from
 * files only: `PYTHONPATH` entries, the user site (`$PYTHONUSERBASE` or `~/.local`, unless
 * `PYTHONNOUSERSITE` is set or a venv excludes system packages), then the site-packages of the
 * venv (from `pyvenv.cfg` beside or above the executable) and of its base when
 * `include-system-site-packages = true`, or of the installation prefix (symlinks resolved;
 * Debian's `dist-packages` layout included). A pyenv shim is resolved first. The part that does
 * not depend on the environment is cached per interpreter path and modification time (unless
 * `cache: false`).
 *
 * @param python The interpreter as the run invokes it (e.g. `<venv>/bin/python`).
 * @param options The environment and cwd it runs with.
 * @returns Its import path, or `undefined` when `python` does not exist or a shim selects no
 * interpreter.
 *
 * @example
 * ```ts ignore
 * import { pythonSitePath } from "./python_site.ts";
 * pythonSitePath("/proj/.venv/bin/python", { env: {} })?.dirs;
 * // ["/proj/.venv/lib/python3.11/site-packages"]
 * ```
 */
export function pythonSitePath(
  python: string,
  options: PythonSitePathOptions,
): PythonSitePath | undefined {
  const { env } = options;
  const cwd = options.cwd ?? Deno.cwd();
  const absolute = resolve(cwd, python);
  const interpreter = resolvePyenvShim(absolute, options) ?? absolute;
  if (!isExecutable(interpreter)) return undefined;
  const pythonHome = env.PYTHONHOME ? env.PYTHONHOME.split(":")[0] : undefined;
  const layout = layoutOf(interpreter, pythonHome, options.cache ?? true);
  const dirs: string[] = [];
  const add = (dir: string) => {
    if (!dirs.includes(dir) && isDirectory(dir)) dirs.push(dir);
  };
  for (const entry of (env.PYTHONPATH ?? "").split(":")) {
    if (entry !== "") add(resolve(cwd, entry));
  }
  if (layout.userSite && !env.PYTHONNOUSERSITE && layout.pythonVersion !== undefined) {
    const userBase = env.PYTHONUSERBASE || `${homeDir(env)}/.local`;
    add(`${userBase}/lib/python${layout.pythonVersion}/site-packages`);
  }
  for (const dir of layout.siteDirs) add(dir);
  return {
    python: interpreter,
    pythonVersion: layout.pythonVersion,
    prefix: layout.prefix,
    venv: layout.venv,
    dirs,
  };
}
