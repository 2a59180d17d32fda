/**
 * Loads an MLproject directory the way MLflow does: the `MLproject` file (any case), its entry
 * points, and which environment it asks for.
 *
 * @module
 */
import { join, resolve } from "../system/paths.ts";
import { escapeForMessage, ExecutionException } from "../system/errors.ts";
import { pathExists } from "../system/file_checks.ts";
import { COMMAND_MAX_BYTES, EntryPoint, type ParameterSpec } from "./entry_point.ts";
import { readUserFileSync } from "../system/user_file.ts";
import {
  isPyDict,
  PyDate,
  PyFloat,
  pyStr,
  type PyValue,
  YamlSyntaxError,
} from "../yaml/py_value.ts";
import { cachedYaml, cacheYaml } from "../yaml/yaml_cache.ts";

/** Environment kinds an MLproject can declare. */
export type EnvType = "python_env" | "conda_env" | "docker_env";

/** The `docker_env` section of an MLproject. */
export interface DockerEnvSpec {
  /** Base image. */
  image: string;
  /** `-v` volume specs. */
  volumes: string[];
  /** Variables: a name copies it from the host, a pair sets it. */
  environment: (string | [string, string])[];
}

/** A loaded MLproject. */
export interface ProjectSpec {
  /** The project directory. */
  dir: string;
  /** Path of the MLproject file, or `undefined` for a project without one. */
  file: string | undefined;
  /** The `name` field as text, or `undefined`. */
  name: string | undefined;
  /** Declared entry points, in file order. */
  entryPoints: Map<string, EntryPoint>;
  /** The environment kind (`python_env` when nothing is declared, as MLflow). */
  envType: EnvType;
  /** Absolute path of the env file (`python_env.yaml`, `conda.yaml`), if any. */
  envConfigPath: string | undefined;
  /** The docker section, for `docker_env` projects. */
  dockerEnv: DockerEnvSpec | undefined;
}

const ENV_KEYS: EnvType[] = ["docker_env", "python_env", "conda_env"];

function pySetRepr(items: string[]): string {
  return `{${items.map((s) => `'${s}'`).join(", ")}}`;
}

function truthy(v: PyValue | undefined): boolean {
  if (v === null || v === undefined || v === false || v === "" || v === 0n) return false;
  if (Array.isArray(v)) return v.length > 0;
  if (isPyDict(v)) return Object.keys(v).length > 0;
  return true;
}

/**
 * Finds the MLproject file of a directory (first entry whose lower-cased name is `mlproject`).
 *
 * @param dir The project directory.
 * @returns The file path, or `undefined`.
 *
 * @example
 * ```ts ignore
 * import { findProjectFile } from "./project_spec.ts";
 * findProjectFile("examples/demo"); // "examples/demo/MLproject"
 * ```
 */
export function findProjectFile(dir: string): string | undefined {
  for (const entry of Deno.readDirSync(dir)) {
    if (entry.name.toLowerCase() === "mlproject" && !entry.isDirectory) {
      return join(dir, entry.name);
    }
  }
  return undefined;
}

function invalid(file: string, detail: string): ExecutionException {
  return new ExecutionException(`Invalid MLproject file '${escapeForMessage(file)}': ${detail}`);
}

/** A key or name from the file, safe to embed in a one-line message (at most 200 characters). */
function esc(text: string): string {
  const escaped = escapeForMessage(text);
  return escaped.length > 200 ? `${escaped.slice(0, 200)}…` : escaped;
}

/** Python's `str()` of a value for a message: one line, at most 200 characters. */
function brief(value: PyValue): string {
  const text = escapeForMessage(pyStr(value));
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}

/** Python's type name of a value read from YAML (`int`, `list`, ...). */
function pyTypeName(value: PyValue): string {
  if (value === null) return "NoneType";
  if (typeof value === "boolean") return "bool";
  if (typeof value === "bigint") return "int";
  if (typeof value === "string") return "str";
  if (value instanceof PyFloat) return "float";
  if (value instanceof PyDate) return /:/.test(value.text) ? "datetime" : "date";
  return Array.isArray(value) ? "list" : "dict";
}

function parseParameters(
  file: string,
  entryName: string,
  raw: PyValue | undefined,
): Map<string, ParameterSpec> {
  const params = new Map<string, ParameterSpec>();
  if (raw === undefined) return params;
  const field = `entry_points.${entryName}.parameters`;
  if (!isPyDict(raw)) {
    throw invalid(
      file,
      `field '${esc(field)}' must be a mapping of parameter names, got '${brief(raw)}'`,
    );
  }
  for (const [name, spec] of Object.entries(raw)) {
    if (typeof spec === "string") {
      params.set(name, { name, type: spec, default: undefined });
    } else if (isPyDict(spec)) {
      const type = spec.type === undefined || spec.type === null ? "string" : pyStr(spec.type);
      const def = spec.default === undefined || spec.default === null
        ? undefined
        : pyStr(spec.default);
      params.set(name, { name, type, default: def });
    } else {
      throw invalid(
        file,
        `parameter '${esc(field)}.${
          esc(name)
        }' must be a type name or a mapping with 'type' and 'default', got '${brief(spec)}'`,
      );
    }
  }
  return params;
}

function parseDockerEnv(raw: { [key: string]: PyValue }): DockerEnvSpec {
  const prefix = "Project configuration (MLproject file) was invalid: ";
  if (!truthy(raw.image)) {
    throw new ExecutionException(
      `${prefix}Docker environment specified but no image attribute found.`,
    );
  }
  const volumes = raw.volumes;
  if (truthy(volumes) && !(Array.isArray(volumes) && volumes.every((v) => typeof v === "string"))) {
    throw new ExecutionException(
      `${prefix}Docker volumes must be a list of strings, e.g.: '["/path1/:/path1", "/path2/:/path2"])'`,
    );
  }
  const env = raw.environment;
  const environment: (string | [string, string])[] = [];
  if (truthy(env)) {
    const ok = Array.isArray(env) &&
      env.every((v) => typeof v === "string" || Array.isArray(v));
    if (!ok) {
      throw new ExecutionException(
        `${prefix}environment must be a list containing either strings (to copy environment variables from host system) or lists of string pairs (to define new environment variables).E.g.: '[["NEW_VAR", "new_value"], "VAR_TO_COPY_FROM_HOST"])'`,
      );
    }
    for (const v of env as PyValue[]) {
      if (typeof v === "string") environment.push(v);
      else {
        const pair = v as PyValue[];
        environment.push([pyStr(pair[0]), pyStr(pair[1])]);
      }
    }
  }
  return {
    image: pyStr(raw.image),
    volumes: Array.isArray(volumes) ? (volumes as string[]) : [],
    environment,
  };
}

/** An MLproject file and its text. */
export interface ProjectFileText {
  /** The file's path. */
  readonly file: string;
  /** Its text. */
  readonly text: string;
}

/**
 * Reads the MLproject file of a directory, refusing what is not a regular UTF-8 text file.
 *
 * @param dir The project directory.
 * @returns The file and its text, or `undefined` when the directory has none.
 * @throws {ExecutionException} For an unreadable file, naming it.
 *
 * @example
 * ```ts ignore
 * import { readProjectFile } from "./project_spec.ts";
 * readProjectFile("examples/demo")?.text;
 * ```
 */
export function readProjectFile(dir: string): ProjectFileText | undefined {
  const file = findProjectFile(dir);
  if (file === undefined) return undefined;
  return { file, text: readUserFileSync(file, { label: "MLproject file" }) };
}

/**
 * The project of a directory from its MLproject text, exactly as MLflow reads it, with clear
 * errors where MLflow crashes.
 *
 * @param dir The project directory (absolute).
 * @param source Its MLproject file and text (`undefined`: it has none).
 * @param parse Parses the text as PyYAML's `safe_load` does (`parsePythonYaml`).
 * @returns The project spec.
 * @throws {ExecutionException} For an invalid MLproject file, naming the file and the field.
 *
 * @example
 * ```ts
 * import { projectFromText } from "./project_spec.ts";
 * const project = projectFromText("/p", undefined, () => null);
 * console.assert(project.entryPoints.size === 0);
 * ```
 */
export function projectFromText(
  dir: string,
  source: ProjectFileText | undefined,
  parse: (text: string) => PyValue,
): ProjectSpec {
  const file = source?.file;
  let doc: { [key: string]: PyValue } = {};
  if (source !== undefined) {
    let parsed: PyValue;
    try {
      parsed = parse(source.text);
    } catch (e) {
      if (e instanceof YamlSyntaxError) {
        throw new ExecutionException(
          `Cannot parse MLproject file '${esc(source.file)}': ${escapeForMessage(e.message)}`,
        );
      }
      throw e;
    }
    if (parsed === null) throw invalid(source.file, "the file is empty");
    if (!isPyDict(parsed)) {
      throw invalid(source.file, `the top level must be a mapping, got '${brief(parsed)}'`);
    }
    doc = parsed;
  }
  const shown = file ?? join(dir, "MLproject");

  const present = ENV_KEYS.filter((k) => k in doc);
  if (present.length > 1) {
    throw new ExecutionException(
      `Project cannot contain multiple environment fields: ${pySetRepr(present)}`,
    );
  }

  const entryPoints = new Map<string, EntryPoint>();
  const rawEntries = doc.entry_points;
  if (rawEntries !== undefined && rawEntries !== null) {
    if (!isPyDict(rawEntries)) {
      throw invalid(shown, `field 'entry_points' must be a mapping, got '${brief(rawEntries)}'`);
    }
    for (const [name, spec] of Object.entries(rawEntries)) {
      if (!isPyDict(spec)) {
        throw invalid(
          shown,
          `entry point 'entry_points.${esc(name)}' must be a mapping with 'command', got '${
            brief(spec)
          }'`,
        );
      }
      if (spec.command === undefined || spec.command === null) {
        throw invalid(shown, `entry point '${esc(name)}' has no 'command' field`);
      }
      if (typeof spec.command !== "string") {
        throw invalid(
          shown,
          `field 'command' of entry point '${esc(name)}' must be a string, got ${
            pyTypeName(spec.command)
          } '${brief(spec.command)}'`,
        );
      }
      const command = spec.command;
      const size = new TextEncoder().encode(command).length;
      if (size > COMMAND_MAX_BYTES) {
        throw invalid(
          shown,
          `field 'command' of entry point '${esc(name)}' is ${size} bytes, over the ${
            COMMAND_MAX_BYTES / 1024
          } KiB limit (Linux refuses a longer argument to bash -c)`,
        );
      }
      const params = parseParameters(shown, name, spec.parameters);
      entryPoints.set(name, new EntryPoint(name, command, params, shown));
    }
  }

  let envType: EnvType = "python_env";
  let envConfigPath: string | undefined;
  let dockerEnv: DockerEnvSpec | undefined;
  if (truthy(doc.docker_env)) {
    envType = "docker_env";
    dockerEnv = parseDockerEnv(isPyDict(doc.docker_env) ? doc.docker_env : {});
  } else if (truthy(doc.python_env)) {
    const path = resolve(dir, pyStr(doc.python_env));
    if (!pathExists(path)) {
      throw new ExecutionException(
        `Project specified python_env file ${esc(path)}, but no such file was found.`,
      );
    }
    envConfigPath = path;
  } else if (truthy(doc.conda_env)) {
    const path = resolve(dir, pyStr(doc.conda_env));
    if (!pathExists(path)) {
      throw new ExecutionException(
        `Project specified conda environment file ${esc(path)}, but no such file was found.`,
      );
    }
    envType = "conda_env";
    envConfigPath = path;
  } else if (pathExists(join(dir, "python_env.yaml"))) {
    envConfigPath = join(dir, "python_env.yaml");
  } else if (pathExists(join(dir, "conda.yaml"))) {
    envType = "conda_env";
    envConfigPath = join(dir, "conda.yaml");
  }

  const name = doc.name === undefined || doc.name === null ? undefined : pyStr(doc.name);
  return { dir, file, name, entryPoints, envType, envConfigPath, dockerEnv };
}

/**
 * Loads the project in `dir` as {@linkcode projectFromText} reads it. An MLproject text found in
 * the cache (`lib/yaml/yaml_cache.ts`) is not parsed again, and the YAML parser is then not even
 * loaded; a text parsed is stored there, or, with `storeLater`, when the caller says so.
 *
 * @param dir The project directory (absolute).
 * @param options `yamlCacheDir`: the cache of parsed MLproject texts (none when unset);
 * `storeLater`: receives the function that stores a parsed text, instead of storing it now (a
 * plan writes nothing).
 * @returns The project spec.
 * @throws {ExecutionException} For an invalid MLproject file, naming the file and the field.
 *
 * @example
 * ```ts ignore
 * import { readProject } from "./project_spec.ts";
 * const project = await readProject("/abs/examples/demo", { yamlCacheDir: "/tmp/yaml" });
 * ```
 */
export async function readProject(
  dir: string,
  options: {
    yamlCacheDir?: string | undefined;
    storeLater?: (store: () => void) => void;
  } = {},
): Promise<ProjectSpec> {
  const cache = { dir: options.yamlCacheDir };
  const source = readProjectFile(dir);
  const cached = source === undefined ? null : cachedYaml(source.text, cache);
  if (cached !== undefined) return projectFromText(dir, source, () => cached);
  const { parsePythonYaml } = await import("../yaml/python_yaml.ts");
  return projectFromText(dir, source, (text) => {
    const value = parsePythonYaml(text);
    const store = () => cacheYaml(text, value, cache);
    if (options.storeLater !== undefined) options.storeLater(store);
    else store();
    return value;
  });
}
