/**
 * A content-keyed cache of `parsePythonYaml` (`python_yaml.ts`): the value parsed from a text is
 * stored as JSON beside that exact text, so an unchanged MLproject file is read back without
 * loading or running the YAML parser (which costs a few milliseconds in every process). An entry is used only when
 * its text equals the text being parsed and it was written by the same parser
 * ({@linkcode PARSER_REVISION}); values the JSON form cannot hold exactly (shared alias nodes,
 * odd mapping keys) are never stored. A missing, unreadable or corrupt entry means a parse.
 *
 * @module
 */
import { join } from "../system/paths.ts";
import { hashText } from "../system/text_hash.ts";
import { VERSION } from "../system/version.ts";
import { PyDate, PyFloat, type PyValue } from "./py_value.ts";

/**
 * What the cached values depend on besides the text: the mlproject version and a revision of
 * the parser (`python_yaml.ts`, `_yaml_scalars.ts`, js-yaml). Bump it with any change to what
 * they produce.
 */
export const PARSER_REVISION = `${VERSION}/1`;

/** Entries larger than this are not read (a parsed MLproject is a few kilobytes). */
const MAX_ENTRY_BYTES = 4 * 1024 * 1024;

/** Tagged JSON of a value: every object form carries its kind. */
type Encoded =
  | null
  | boolean
  | string
  | { i: string }
  | { f: string }
  | { d: string }
  | { a: Encoded[] }
  | { o: [string, Encoded][] };

/** The JSON form of a value, or `undefined` when it cannot be held exactly. */
function encode(value: PyValue, seen: Set<object>): Encoded | undefined {
  if (value === null || typeof value === "boolean" || typeof value === "string") return value;
  if (typeof value === "bigint") return { i: value.toString() };
  if (typeof value !== "object") return undefined;
  if (value instanceof PyFloat) {
    const x = value.value;
    return { f: Object.is(x, -0) ? "-0" : String(x) };
  }
  if (value instanceof PyDate) return { d: value.text };
  // A node reached twice (an alias) is one shared object: JSON would make two.
  if (seen.has(value)) return undefined;
  seen.add(value);
  if (Array.isArray(value)) {
    if (Object.getPrototypeOf(value) !== Array.prototype) return undefined;
    const items: Encoded[] = [];
    for (const item of value) {
      const e = encode(item, seen);
      if (e === undefined) return undefined;
      items.push(e);
    }
    return { a: items };
  }
  if (Object.getPrototypeOf(value) !== Object.prototype) return undefined;
  const entries: [string, Encoded][] = [];
  for (const [k, v] of Object.entries(value)) {
    const e = encode(v, seen);
    if (e === undefined) return undefined;
    entries.push([k, e]);
  }
  return { o: entries };
}

class CorruptEntry extends Error {}

function decode(e: unknown): PyValue {
  if (e === null || typeof e === "boolean" || typeof e === "string") return e;
  if (typeof e !== "object") throw new CorruptEntry();
  const tagged = e as Record<string, unknown>;
  if (typeof tagged.i === "string") return BigInt(tagged.i);
  if (typeof tagged.f === "string") return new PyFloat(Number(tagged.f));
  if (typeof tagged.d === "string") return new PyDate(tagged.d);
  if (Array.isArray(tagged.a)) return tagged.a.map(decode);
  if (Array.isArray(tagged.o)) {
    const obj: { [key: string]: PyValue } = {};
    for (const pair of tagged.o) {
      if (!Array.isArray(pair) || typeof pair[0] !== "string") throw new CorruptEntry();
      obj[pair[0]] = decode(pair[1]);
    }
    return obj;
  }
  throw new CorruptEntry();
}

function readEntry(path: string, text: string): PyValue | undefined {
  try {
    const stat = Deno.statSync(path);
    if (!stat.isFile || stat.size > MAX_ENTRY_BYTES) return undefined;
    const entry = JSON.parse(Deno.readTextFileSync(path));
    if (entry?.parser !== PARSER_REVISION || entry.text !== text) return undefined;
    return decode(entry.value);
  } catch {
    return undefined;
  }
}

function writeEntry(dir: string, path: string, text: string, value: Encoded): void {
  try {
    Deno.mkdirSync(dir, { recursive: true });
    // Written aside and renamed: a reader sees a whole entry or none.
    const tmp = `${path}.${Deno.pid}.${crypto.randomUUID()}.tmp`;
    Deno.writeTextFileSync(tmp, JSON.stringify({ parser: PARSER_REVISION, text, value }));
    try {
      Deno.renameSync(tmp, path);
    } catch {
      Deno.removeSync(tmp);
    }
  } catch { /* the cache is optional */ }
}

/**
 * The value stored for this exact text by {@linkcode cacheYaml}, if any.
 *
 * @param text The YAML text.
 * @param options `dir`: the cache directory (nothing is found when unset).
 * @returns The value `parsePythonYaml(text)` returned when it was stored, or `undefined`.
 *
 * @example
 * ```ts
 * import { cachedYaml, cacheYaml } from "./yaml_cache.ts";
 * const dir = Deno.makeTempDirSync();
 * cacheYaml("a: yes", { a: true }, { dir });
 * console.assert((cachedYaml("a: yes", { dir }) as Record<string, unknown>).a === true);
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
export function cachedYaml(
  text: string,
  options: { dir?: string | undefined } = {},
): PyValue | undefined {
  if (options.dir === undefined) return undefined;
  return readEntry(join(options.dir, `${hashText(text)}.json`), text);
}

/**
 * Stores the value `parsePythonYaml(text)` returned, for {@linkcode cachedYaml}; a value JSON
 * cannot hold exactly (shared alias nodes) is not stored. Failures are ignored: the cache is
 * optional.
 *
 * @param text The YAML text.
 * @param value What `parsePythonYaml(text)` returned.
 * @param options `dir`: the cache directory (nothing is stored when unset).
 *
 * @example
 * ```ts
 * import { cacheYaml } from "./yaml_cache.ts";
 * cacheYaml("a: 1", { a: 1n }, {});
 * ```
 */
export function cacheYaml(
  text: string,
  value: PyValue,
  options: { dir?: string | undefined } = {},
): void {
  const { dir } = options;
  if (dir === undefined) return;
  const encoded = encode(value, new Set());
  if (encoded !== undefined) writeEntry(dir, join(dir, `${hashText(text)}.json`), text, encoded);
}
