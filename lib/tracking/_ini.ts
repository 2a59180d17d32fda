/**
 * A reader for the INI files MLflow reads with Python's `ConfigParser` (`~/.databrickscfg`,
 * `~/.mlflow/credentials`): sections, `key = value` / `key: value`, `#`/`;` comment lines,
 * indented continuation lines. Each section holds only its own keys (no `[DEFAULT]` inheritance:
 * MLflow's reader ignores inherited keys).
 *
 * @module
 */

/**
 * Parses INI text into sections of keys (keys lower-cased, as ConfigParser does).
 *
 * @param text The file's text.
 * @returns Keys by section name.
 *
 * @example
 * ```ts
 * import { parseIni } from "./_ini.ts";
 * console.assert(parseIni("[a]\nHost = x\n").get("a")?.get("host") === "x");
 * ```
 */
export function parseIni(text: string): Map<string, Map<string, string>> {
  const sections = new Map<string, Map<string, string>>();
  let current: Map<string, string> | undefined;
  let lastKey: string | undefined;
  for (const raw of text.replace(/^\uFEFF/, "").split(/\r?\n/)) {
    const trimmed = raw.trim();
    if (trimmed === "" || trimmed.startsWith("#") || trimmed.startsWith(";")) {
      lastKey = undefined;
      continue;
    }
    if (/^\s/.test(raw) && current !== undefined && lastKey !== undefined) {
      current.set(lastKey, `${current.get(lastKey)}\n${trimmed}`);
      continue;
    }
    const section = /^\[(.+)\]$/.exec(trimmed);
    if (section) {
      const name = section[1]!.trim();
      current = sections.get(name) ?? new Map();
      sections.set(name, current);
      lastKey = undefined;
      continue;
    }
    const eq = /^([^=:]+?)\s*[=:]\s*(.*)$/.exec(trimmed);
    if (eq && current !== undefined) {
      lastKey = eq[1]!.toLowerCase();
      current.set(lastKey, eq[2]!);
    }
  }
  return sections;
}
