/**
 * What a Python environment must contain, read as MLflow reads it: `python_env.yaml` (`python`,
 * `build_dependencies`, `dependencies`), a `conda.yaml` converted for virtualenv/uv (python pin
 * and pip list kept, other conda dependencies dropped with a warning), or nothing (the current
 * Python, no dependencies). `-r`/`-c` files are resolved relative to the project and read, so
 * that their contents can be part of the cache key.
 *
 * @module
 */
import { escapeForMessage, ExecutionException } from "../errors.ts";
import { dirname, fileUrlToPath, join, resolve } from "../paths.ts";
import type { ProjectSpec } from "../project_spec.ts";
import { readUserFile, readUserFileSync, type UserFileError } from "../user_file.ts";
import {
  isPyDict,
  parsePythonYaml,
  pyRepr,
  type PyValue,
  YamlSyntaxError,
} from "../python_yaml.ts";

/** The content of a Python environment. */
export interface PythonEnvSpec {
  /** Requested Python version (`3.11`, `3.11.7`), or `undefined` for the current `python3`. */
  python: string | undefined;
  /** Installed first (MLflow's `build_dependencies`, e.g. `pip`, `setuptools`). */
  buildDependencies: string[];
  /** Installed second; may hold `-r file` / `-c file` lines. */
  dependencies: string[];
  /** The file the spec came from, for messages. */
  source: string | undefined;
  /** Things MLflow warns about (conda dependencies that are dropped, no python pin). */
  warnings: string[];
}

/** Requirement lines ready for pip, and everything they depend on for the cache key. */
export interface ResolvedRequirements {
  /** Build dependencies, `-r`/`-c` paths made absolute. */
  build: string[];
  /** Dependencies, `-r`/`-c` paths made absolute. */
  dependencies: string[];
  /** Lines naming every referenced file and its full text, in a stable order. */
  fingerprint: string[];
}

function readYaml(path: string): PyValue {
  const text = readUserFileSync(path, { label: "environment file" });
  try {
    return parsePythonYaml(text);
  } catch (e) {
    if (e instanceof YamlSyntaxError) {
      throw new ExecutionException(`Cannot parse environment file '${path}': ${e.message}`);
    }
    throw e;
  }
}

function stringList(path: string, field: string, value: PyValue | undefined): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || !value.every((v) => typeof v === "string")) {
    throw new ExecutionException(
      `Invalid environment file '${path}': \`${field}\` must be a list of strings, got '${
        pyRepr(value)
      }'`,
    );
  }
  return value as string[];
}

function fromPythonEnvYaml(path: string): PythonEnvSpec {
  const doc = readYaml(path);
  if (!isPyDict(doc)) {
    throw new ExecutionException(
      `Invalid environment file '${path}': expected a mapping with 'python', 'build_dependencies' and 'dependencies'`,
    );
  }
  const unknown = Object.keys(doc).filter((k) =>
    !["python", "build_dependencies", "dependencies"].includes(k)
  );
  if (unknown.length > 0) {
    throw new ExecutionException(
      `Invalid environment file '${path}': unexpected key '${
        unknown[0]
      }' (allowed: python, build_dependencies, dependencies)`,
    );
  }
  const python = doc.python;
  if (python !== undefined && python !== null && typeof python !== "string") {
    // As MLflow's _PythonEnv: an unquoted 3.10 would be the float 3.1.
    throw new ExecutionException(
      `Invalid environment file '${path}': \`python\` must be a string but got '${
        pyRepr(python)
      }' (quote it: python: "${pyRepr(python)}")`,
    );
  }
  return {
    python: typeof python === "string" ? python : undefined,
    buildDependencies: stringList(path, "build_dependencies", doc.build_dependencies),
    dependencies: stringList(path, "dependencies", doc.dependencies),
    source: path,
    warnings: [],
  };
}

const CONDA_DEPENDENCY = /^(python|pip|setuptools|wheel)(<|>|<=|>=|=|==|!=)?([\d.]+)?$/;

/**
 * Converts a conda environment file as MLflow's `_PythonEnv.from_conda_yaml` does.
 *
 * @param path The `conda.yaml` path.
 * @returns The Python environment it describes.
 * @throws {ExecutionException} For an unpinned python or a dependency that is neither text nor
 * `{pip: [...]}`.
 *
 * @example
 * ```ts ignore
 * import { pythonEnvFromCondaYaml } from "./python_env_spec.ts";
 * pythonEnvFromCondaYaml("/proj/conda.yaml").python; // "3.10"
 * ```
 */
export function pythonEnvFromCondaYaml(path: string): PythonEnvSpec {
  const doc = readYaml(path);
  const deps = isPyDict(doc) ? doc.dependencies : undefined;
  let python: string | undefined;
  let build: string[] | undefined;
  let pip: string[] | undefined;
  const unmatched: string[] = [];
  for (const dep of Array.isArray(deps) ? deps : []) {
    if (typeof dep === "string") {
      const m = CONDA_DEPENDENCY.exec(dep);
      if (!m) {
        unmatched.push(dep);
        continue;
      }
      const [, pkg, op, version] = m;
      if (python === undefined && pkg === "python") {
        if (op === undefined) {
          throw new ExecutionException(
            `Invalid dependency for python: ${dep}. It must be pinned (e.g. python=3.8.13).`,
          );
        }
        if (op === "<" || op === ">" || op === "!=") {
          throw new ExecutionException(
            `Invalid version comparator for python: '${op}'. Must be one of ['<=', '>=', '=', '=='].`,
          );
        }
        python = version ?? "";
        continue;
      }
      build ??= [];
      build.push(pkg! + (op === "=" ? "==" : op ?? "") + (version ?? ""));
    } else if (isPyDict(dep) && Object.keys(dep).length === 1 && Array.isArray(dep.pip)) {
      pip = stringList(path, "pip", dep.pip);
    } else {
      throw new ExecutionException(
        `Invalid conda dependency: ${
          pyRepr(dep)
        }. Must be str or dict in the form of {"pip": [...]}`,
      );
    }
  }
  const warnings: string[] = [];
  if (python === undefined) {
    warnings.push(
      `${path} does not include a python version specification. Using the current python version`,
    );
  }
  if (unmatched.length > 0) {
    warnings.push(
      `The following conda dependencies will not be installed in the resulting environment: [${
        unmatched.map((d) => `'${d}'`).join(", ")
      }]`,
    );
  }
  return {
    python,
    buildDependencies: build ?? [],
    dependencies: pip ?? [],
    source: path,
    warnings,
  };
}

/**
 * Reads what a project's Python environment must contain.
 *
 * @param project The loaded project (python_env or conda_env).
 * @returns The environment spec; a project without an env file gets the current Python and no
 * dependencies.
 * @throws {ExecutionException} For an invalid environment file, naming the file.
 *
 * @example
 * ```ts ignore
 * import { readPythonEnvSpec } from "./python_env_spec.ts";
 * readPythonEnvSpec(project).dependencies; // ["-r requirements.txt"]
 * ```
 */
export function readPythonEnvSpec(project: ProjectSpec): PythonEnvSpec {
  if (project.envConfigPath === undefined) {
    return {
      python: undefined,
      buildDependencies: [],
      dependencies: [],
      source: undefined,
      warnings: [],
    };
  }
  return project.envType === "conda_env"
    ? pythonEnvFromCondaYaml(project.envConfigPath)
    : fromPythonEnvYaml(project.envConfigPath);
}

const FILE_OPTION = /^(-r|--requirement|-c|--constraint)(?:\s*=\s*|\s+|(?=[^\s=-]))(.+)$/;

const LOCAL_REQUIREMENT =
  /^(?:(-e|--editable)(?:\s*=\s*|\s+))?((?:\.{1,2}|~)?\/\S*|\.{1,2}|file:\S+)$/;
const PACKAGING_FILES = ["pyproject.toml", "setup.py", "setup.cfg", "requirements.txt"];
const SKIPPED_DIRS = new Set([
  ".git",
  "__pycache__",
  ".tox",
  ".venv",
  "node_modules",
  "build",
  "dist",
]);
const MAX_TRACKED_FILES = 20_000;

/**
 * Adds what decides the content of a local-path requirement (`.`, `./pkg`, `-e ./pkg`,
 * `file:///…`) to the fingerprint: for an editable install only its packaging files (code changes
 * are live), otherwise every file's path, size and modification time. Paths are relative to the
 * directory of the file that lists them (the project directory for `python_env.yaml`).
 */
async function fingerprintLocalRequirement(
  line: string,
  baseDir: string,
  fingerprint: string[],
): Promise<void> {
  const m = LOCAL_REQUIREMENT.exec(line);
  if (!m) return;
  const editable = m[1] !== undefined;
  let target = m[2]!;
  if (target.startsWith("file:")) {
    try {
      target = fileUrlToPath(target);
    } catch {
      return;
    }
  }
  const path = target.startsWith("~/") && Deno.env.get("HOME")
    ? `${Deno.env.get("HOME")}${target.slice(1)}`
    : resolve(baseDir, target);
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch {
    return; // pip reports a missing path itself.
  }
  if (!info.isDirectory) {
    fingerprint.push(`local ${path}`, `${info.size} ${info.mtime?.getTime() ?? 0}`);
    return;
  }
  if (editable) {
    for (const name of PACKAGING_FILES) {
      const text = await readUserFile(join(path, name)).catch(() => undefined);
      if (text !== undefined) fingerprint.push(`editable ${join(path, name)}`, text);
    }
    return;
  }
  const entries: string[] = [];
  const walk = async (dir: string, rel: string): Promise<void> => {
    for await (const entry of Deno.readDir(dir)) {
      if (entries.length >= MAX_TRACKED_FILES) return;
      if (entry.isDirectory && (SKIPPED_DIRS.has(entry.name) || entry.name.endsWith(".egg-info"))) {
        continue;
      }
      const full = join(dir, entry.name);
      const relPath = rel === "" ? entry.name : `${rel}/${entry.name}`;
      if (entry.isDirectory) await walk(full, relPath);
      else {
        const stat = await Deno.lstat(full).catch(() => undefined);
        if (stat) entries.push(`${relPath} ${stat.size} ${stat.mtime?.getTime() ?? 0}`);
      }
    }
  };
  await walk(path, "");
  entries.sort();
  fingerprint.push(`local ${path}`, ...entries);
}

async function expand(
  line: string,
  baseDir: string,
  fingerprint: string[],
  seen: Set<string>,
  origin: string,
): Promise<string> {
  const trimmed = line.trim();
  const m = FILE_OPTION.exec(trimmed);
  if (!m) {
    await fingerprintLocalRequirement(trimmed, baseDir, fingerprint);
    return line;
  }
  const option = m[1] === "-c" || m[1] === "--constraint" ? "-c" : "-r";
  const target = m[2]!.trim();
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(target)) {
    fingerprint.push(`${option} ${target} (remote file, not read)`);
    return line;
  }
  const path = resolve(baseDir, target);
  if (!seen.has(path)) {
    seen.add(path);
    let text: string;
    try {
      text = await readUserFile(path);
    } catch (e) {
      throw new ExecutionException(
        `Cannot read '${escapeForMessage(target)}' referenced by '${
          escapeForMessage(trimmed)
        }' in ${origin}: ${(e as UserFileError).reason ?? e}`,
      );
    }
    fingerprint.push(`${option} ${path}`, text);
    // Nested -r/-c lines are relative to the file that holds them (pip's rule).
    for (const nested of text.split(/\r?\n/)) {
      await expand(nested.replace(/(^|\s)#.*$/, ""), dirname(path), fingerprint, seen, `'${path}'`);
    }
  }
  return `${option} ${path}`;
}

/**
 * Makes the `-r`/`-c` paths of a spec absolute (relative to the project, as MLflow does) and
 * reads every referenced file, recursively, for the cache key.
 *
 * @param spec The environment spec.
 * @param projectDir The project directory.
 * @returns Lines for pip and the fingerprint of everything they reference.
 * @throws {ExecutionException} When a referenced file cannot be read.
 *
 * @example
 * ```ts ignore
 * import { resolveRequirements } from "./python_env_spec.ts";
 * const resolved = await resolveRequirements(spec, "/proj");
 * resolved.dependencies; // ["-r /proj/requirements.txt"]
 * ```
 */
export async function resolveRequirements(
  spec: PythonEnvSpec,
  projectDir: string,
): Promise<ResolvedRequirements> {
  const fingerprint: string[] = [];
  const seen = new Set<string>();
  const origin = spec.source !== undefined ? `'${spec.source}'` : "the project";
  const build: string[] = [];
  for (const line of spec.buildDependencies) {
    build.push(await expand(line, projectDir, fingerprint, seen, origin));
  }
  const dependencies: string[] = [];
  for (const line of spec.dependencies) {
    dependencies.push(await expand(line, projectDir, fingerprint, seen, origin));
  }
  return { build, dependencies, fingerprint };
}
