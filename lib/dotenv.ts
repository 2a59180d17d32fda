/**
 * Reading a dotenv file for the global `--env-file` option.
 *
 * @module
 */
import { UsageError } from "./errors.ts";
import { readUserFileSync, type UserFileError } from "./user_file.ts";

/**
 * Parses dotenv text: `KEY=value`, optional `export `, `#` comments, single quotes (literal),
 * double quotes (with `\n`, `\"`, `\\` escapes).
 *
 * @param text The file content.
 * @returns The variables in file order.
 *
 * @example
 * ```ts
 * import { parseDotenv } from "./dotenv.ts";
 * console.assert(parseDotenv("export A='x y' # c\nB=\"1\\n2\"").get("B") === "1\n2");
 * ```
 */
export function parseDotenv(text: string): Map<string, string> {
  const out = new Map<string, string>();
  const re =
    /^[ \t]*(?:export[ \t]+)?([A-Za-z_][A-Za-z0-9_.]*)[ \t]*=[ \t]*(?:'([^']*)'|"((?:\\.|[^"\\])*)"|([^#\n]*?))[ \t]*(?:#.*)?$/gm;
  for (const m of text.matchAll(re)) {
    const [, key, single, double, bare] = m;
    let value = single ?? bare ?? "";
    if (double !== undefined) {
      value = double.replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c === "t" ? "\t" : c));
    }
    out.set(key!, value);
  }
  return out;
}

/**
 * Loads a dotenv file into an environment without overriding variables already set.
 *
 * @param path The file.
 * @param env The environment to fill (mutated).
 * @returns The names that were set.
 * @throws {UsageError} When the file does not exist, is not a regular file, is over 10 MiB or
 *   not UTF-8.
 *
 * @example
 * ```ts ignore
 * import { loadDotenv } from "./dotenv.ts";
 * const env = Deno.env.toObject();
 * loadDotenv(".env", env);
 * ```
 */
export function loadDotenv(path: string, env: Record<string, string>): string[] {
  let text: string;
  try {
    text = readUserFileSync(path, { label: "environment file", usage: true });
  } catch (e) {
    if ((e as UserFileError).reason === "no such file") {
      throw new UsageError(`Environment file '${path}' does not exist.`);
    }
    throw e;
  }
  const set: string[] = [];
  for (const [key, value] of parseDotenv(text)) {
    if (env[key] === undefined) {
      env[key] = value;
      set.push(key);
    }
  }
  return set;
}
