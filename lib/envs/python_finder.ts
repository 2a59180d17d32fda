/**
 * Finding the Python interpreter an environment asks for: pyenv's versions, uv-managed Pythons
 * and `pythonX.Y` on `PATH`; `X.Y` picks the newest `X.Y.Z`. A missing version is installed with
 * `pyenv install` or `uv python install` when those exist; otherwise the error lists what is
 * installed.
 *
 * @module
 */
import { ExecutionException } from "../system/errors.ts";
import { type Reporter, SILENT_REPORTER } from "../system/output.ts";
import { runCommand, spawnProcess } from "../system/run_command.ts";
import { homeDir as home } from "../system/home_dir.ts";
import { isExecutable, which } from "./_which.ts";
import { listDir } from "../system/file_checks.ts";

const homeDir = (env: Record<string, string>): string => home(env) ?? "/";

/** An installed Python interpreter. */
export interface PythonInterpreter {
  /** Full version `X.Y.Z`. */
  version: string;
  /** Path of the executable. */
  path: string;
  /** Where it was found. */
  source: "pyenv" | "uv" | "path";
}

/** Options of {@linkcode findPython}. */
export interface FindPythonOptions {
  /** The caller's environment (`PATH`, `HOME`, `PYENV_ROOT`, `UV_PYTHON_INSTALL_DIR`, …). */
  env: Record<string, string>;
  /** Installers to try, in order, when the version is missing (default `["pyenv", "uv"]`). */
  installers?: ("pyenv" | "uv")[];
  /** Receives progress lines. */
  reporter?: Reporter;
  /** Aborting stops an installation. */
  signal?: AbortSignal;
}

const FULL_VERSION = /^\d+\.\d+\.\d+$/;
const REQUESTED_VERSION = /^\d+(\.\d+){0,2}$/;

function parts(version: string): number[] {
  return version.split(".").map(Number);
}

function compareVersions(a: string, b: string): number {
  const pa = parts(a);
  const pb = parts(b);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

function matches(version: string, requested: string): boolean {
  const want = parts(requested);
  const have = parts(version);
  return want.every((n, i) => have[i] === n);
}

function pyenvRoot(env: Record<string, string>): string {
  return (env.PYENV_ROOT || `${homeDir(env)}/.pyenv`).replace(/\/+$/, "");
}

function uvPythonDir(env: Record<string, string>): string {
  if (env.UV_PYTHON_INSTALL_DIR) return env.UV_PYTHON_INSTALL_DIR.replace(/\/+$/, "");
  const data = env.XDG_DATA_HOME || `${homeDir(env)}/.local/share`;
  return `${data}/uv/python`;
}

function firstExecutable(dir: string, names: string[]): string | undefined {
  for (const name of names) {
    if (isExecutable(`${dir}/${name}`)) return `${dir}/${name}`;
  }
  return undefined;
}

/**
 * Lists the interpreters of pyenv (`$PYENV_ROOT/versions/X.Y.Z`) and of uv
 * (`$UV_PYTHON_INSTALL_DIR` or `~/.local/share/uv/python/cpython-X.Y.Z-…`), without running any.
 *
 * @param env The environment.
 * @returns The interpreters, newest first.
 *
 * @example
 * ```ts
 * import { listManagedPythons } from "./python_finder.ts";
 * console.assert(Array.isArray(listManagedPythons({ HOME: "/nonexistent" })));
 * ```
 */
export function listManagedPythons(env: Record<string, string>): PythonInterpreter[] {
  const found: PythonInterpreter[] = [];
  const versions = `${pyenvRoot(env)}/versions`;
  for (const name of listDir(versions)) {
    if (!FULL_VERSION.test(name)) continue;
    const [major, minor] = name.split(".");
    const path = firstExecutable(`${versions}/${name}/bin`, [
      "python",
      `python${major}.${minor}`,
      `python${major}`,
    ]);
    if (path !== undefined) found.push({ version: name, path, source: "pyenv" });
  }
  const uvDir = uvPythonDir(env);
  for (const name of listDir(uvDir)) {
    const m = /^cpython-(\d+\.\d+\.\d+)-/.exec(name);
    if (!m) continue;
    const path = firstExecutable(`${uvDir}/${name}/bin`, ["python3", "python"]);
    if (path !== undefined) found.push({ version: m[1]!, path, source: "uv" });
  }
  return found.sort((a, b) => compareVersions(b.version, a.version));
}

const PROBE = "import sys;print('.'.join(str(n) for n in sys.version_info[:3]))";

/**
 * Runs an interpreter to read its version.
 *
 * @param path The executable.
 * @param options The environment to run it with.
 * @returns Its `X.Y.Z` version, or `undefined` when it does not run.
 *
 * @example
 * ```ts ignore
 * import { probePython } from "./python_finder.ts";
 * await probePython("/usr/bin/python3", { env: {} }); // "3.11.2"
 * ```
 */
export async function probePython(
  path: string,
  options: { env: Record<string, string> },
): Promise<string | undefined> {
  const out = await runCommand(path, ["-c", PROBE], { env: options.env });
  const version = out.stdout.trim();
  return out.success && FULL_VERSION.test(version) ? version : undefined;
}

function shimDirs(env: Record<string, string>): string[] {
  return [`${pyenvRoot(env)}/shims`];
}

async function pathPythons(
  names: string[],
  env: Record<string, string>,
): Promise<PythonInterpreter[]> {
  const found: PythonInterpreter[] = [];
  const seen = new Set<string>();
  for (const name of names) {
    const path = which(name, { path: env.PATH, skip: shimDirs(env) });
    if (path === undefined || seen.has(path)) continue;
    seen.add(path);
    const version = await probePython(path, { env });
    if (version !== undefined) found.push({ version, path, source: "path" });
  }
  return found;
}

function pathNamesFor(requested: string): string[] {
  const [major, minor] = requested.split(".");
  return minor === undefined ? [`python${major}`] : [`python${major}.${minor}`];
}

function allPathNames(env: Record<string, string>): string[] {
  const names = new Set<string>(["python3", "python"]);
  for (const dir of (env.PATH ?? "").split(":")) {
    if (dir === "" || shimDirs(env).includes(dir)) continue;
    for (const name of listDir(dir)) {
      if (/^python\d+(\.\d+)?$/.test(name)) names.add(name);
    }
  }
  return [...names];
}

function best(
  candidates: PythonInterpreter[],
  requested: string,
): PythonInterpreter | undefined {
  return candidates.filter((c) => matches(c.version, requested))
    .sort((a, b) => compareVersions(b.version, a.version))[0];
}

async function tryInstall(
  installer: "pyenv" | "uv",
  requested: string,
  options: FindPythonOptions,
): Promise<string | undefined> {
  const { env } = options;
  const reporter = options.reporter ?? SILENT_REPORTER;
  const exe = installer === "pyenv"
    ? (isExecutable(`${pyenvRoot(env)}/bin/pyenv`)
      ? `${pyenvRoot(env)}/bin/pyenv`
      : which("pyenv", { path: env.PATH }))
    : which("uv", { path: env.PATH });
  if (exe === undefined) return undefined;
  let version = requested;
  if (installer === "pyenv" && !FULL_VERSION.test(requested)) {
    const latest = await runCommand(exe, ["latest", "--known", requested], { env });
    const known = latest.stdout.trim();
    if (!latest.success || !FULL_VERSION.test(known)) {
      return `'pyenv latest --known ${requested}' found no such version`;
    }
    version = known;
  }
  const args = installer === "pyenv"
    ? ["install", "--skip-existing", version]
    : ["python", "install", version];
  reporter.log("INFO", `=== Installing Python ${version}: ${installer} ${args.join(" ")} ===`);
  const child = spawnProcess(exe, args, {
    env,
    stdin: "null",
    stdout: "stderr",
    ...(options.signal !== undefined ? { signal: options.signal } : {}),
  });
  const status = await child.status;
  return status.success ? "" : `'${installer} ${args.join(" ")}' failed (exit ${status.code})`;
}

/**
 * Finds (or installs) the interpreter for a requested version.
 *
 * @param requested `X`, `X.Y` or `X.Y.Z` (the newest match wins), or `undefined` for the
 * `python3` on `PATH` (MLflow uses its own Python then).
 * @param options Environment, installers to try, reporter.
 * @returns The interpreter.
 * @throws {ExecutionException} For an invalid version, or one that is neither installed nor
 * installable; the message lists the installed versions.
 *
 * @example
 * ```ts ignore
 * import { findPython } from "./python_finder.ts";
 * const py = await findPython("3.11", { env: Deno.env.toObject() });
 * py.version; // "3.11.7"
 * ```
 */
export async function findPython(
  requested: string | undefined,
  options: FindPythonOptions,
): Promise<PythonInterpreter> {
  const { env } = options;
  if (requested === undefined) {
    for (const name of ["python3", "python"]) {
      // pyenv shims are fine here: they run the version pyenv selects.
      const path = which(name, { path: env.PATH });
      if (path === undefined) continue;
      const out = await runCommand(path, [
        "-c",
        `import sys,os;print(os.path.realpath(sys.executable));${PROBE}`,
      ], { env });
      const [real, version] = out.stdout.trim().split("\n");
      if (out.success && real && version && FULL_VERSION.test(version)) {
        return { version, path: real, source: "path" };
      }
    }
    throw new ExecutionException(
      "Cannot find a Python interpreter (python3) on PATH: set `python` in python_env.yaml or install Python",
    );
  }
  const wanted = requested.trim();
  if (!REQUESTED_VERSION.test(wanted)) {
    throw new ExecutionException(
      `Invalid Python version '${requested}': expected X.Y or X.Y.Z (e.g. 3.11 or 3.11.7)`,
    );
  }
  let found = best(listManagedPythons(env), wanted) ??
    best(await pathPythons(pathNamesFor(wanted), env), wanted);
  if (found !== undefined) return found;

  const failures: string[] = [];
  for (const installer of options.installers ?? ["pyenv", "uv"]) {
    const result = await tryInstall(installer, wanted, options);
    if (result === undefined) continue;
    if (result !== "") {
      failures.push(result);
      continue;
    }
    found = best(listManagedPythons(env), wanted);
    if (found !== undefined) return found;
    failures.push(`${installer} reported success but no Python ${wanted} appeared`);
  }
  const available = new Map<string, PythonInterpreter>();
  for (const p of [...listManagedPythons(env), ...await pathPythons(allPathNames(env), env)]) {
    if (!available.has(p.version)) available.set(p.version, p);
  }
  const listed = [...available.keys()].sort(compareVersions).join(", ") || "none";
  const tried = failures.length > 0
    ? failures.join("; ")
    : "neither pyenv nor uv is available to install it";
  throw new ExecutionException(
    `Python ${wanted} is not installed and could not be installed (${tried}). Available versions: ${listed}`,
  );
}
