const UNSAFE = /[^\w@%+=:,./-]/;

/**
 * Quotes a string for a POSIX shell exactly as Python's `shlex.quote` does.
 *
 * @param value The text to quote.
 * @returns The text unchanged when it only holds safe characters, else single-quoted.
 *
 * @example
 * ```ts
 * import { shellQuote } from "./shell_quote.ts";
 * console.assert(shellQuote("it's") === `'it'"'"'s'`);
 * console.assert(shellQuote("") === "''");
 * ```
 */
export function shellQuote(value: string): string {
  if (value === "") return "''";
  // Python's \w in shlex is ASCII-only (re.ASCII): [A-Za-z0-9_].
  if (!UNSAFE.test(value)) return value;
  return "'" + value.replaceAll("'", `'"'"'`) + "'";
}
