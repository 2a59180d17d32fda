/**
 * `.dockerignore` with Docker's own rules (moby's `ignorefile` reader and `patternmatcher`):
 * `#` comments, trimmed lines, leading `/` dropped, paths cleaned, `*` `?` `[…]` within one path
 * element, `**` across elements, `!` exceptions where the last matching line wins, and a pattern
 * that matches a parent directory excludes everything under it.
 *
 * @module
 */
import { escapeForMessage, ExecutionException } from "../system/errors.ts";
import { normalize } from "../system/paths.ts";

/** Decides which context paths `.dockerignore` excludes. */
export interface DockerignoreMatcher {
  /** The cleaned patterns, in file order (`!` kept on exceptions). */
  readonly patterns: readonly string[];
  /** Whether some pattern is an exception (`!…`): excluded directories must still be walked. */
  readonly hasExceptions: boolean;
  /** Whether a slash-separated path relative to the context root is excluded. */
  excludes(path: string): boolean;
  /**
   * Whether an excluded directory must still be walked: an exception's text starts with it
   * (Docker's rule: a wildcard exception such as `!**` + `/keep` does not reach into it).
   */
  mayReinclude(dir: string): boolean;
}

/**
 * Reads `.dockerignore` text into patterns exactly as Docker's `ignorefile.ReadAll` does.
 *
 * @param text The file's content.
 * @returns The patterns (exceptions keep their `!`).
 *
 * @example
 * ```ts
 * import { parseDockerignore } from "./dockerignore.ts";
 * const p = parseDockerignore("# c\n/data/\n! /data/keep.txt\n");
 * console.assert(p.join(",") === "data,!data/keep.txt");
 * ```
 */
export function parseDockerignore(text: string): string[] {
  const patterns: string[] = [];
  const lines = text.replace(/^\uFEFF/, "").split(/\r?\n/);
  if (lines.at(-1) === "") lines.pop();
  for (const line of lines) {
    if (line.startsWith("#")) continue;
    let pattern = line.trim();
    if (pattern === "") continue;
    const invert = pattern.startsWith("!");
    if (invert) pattern = pattern.slice(1).trim();
    if (pattern !== "") {
      pattern = normalize(pattern);
      if (pattern.length > 1 && pattern.startsWith("/")) pattern = pattern.slice(1);
    }
    patterns.push(invert ? "!" + pattern : pattern);
  }
  return patterns;
}

type MatchKind = "exact" | "prefix" | "suffix" | "regexp";

interface CompiledPattern {
  text: string;
  exclusion: boolean;
  kind: MatchKind;
  regexp: RegExp | undefined;
}

const REGEXP_ESCAPED = new Set([..."." + "+()|{}$"]);

function checkSyntax(pattern: string, origin: string): void {
  // Go's filepath.Match rejects unclosed or empty character classes and a class ending in '\'.
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === "\\") {
      i++;
      continue;
    }
    if (c !== "[") continue;
    let j = i + 1;
    if (pattern[j] === "^") j++;
    let count = 0;
    for (; j < pattern.length && (pattern[j] !== "]" || count === 0); j++) {
      if (pattern[j] === "\\") j++;
      count++;
    }
    if (j >= pattern.length || count === 0) {
      throw new ExecutionException(
        `${origin}: syntax error in pattern '${escapeForMessage(pattern)}'`,
      );
    }
    i = j;
  }
}

function compile(text: string, exclusion: boolean): CompiledPattern {
  let re = "^";
  let kind: MatchKind = "exact";
  const chars = [...text];
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i]!;
    const first = i === 0;
    if (c === "*") {
      if (chars[i + 1] === "*") {
        i++;
        if (chars[i + 1] === "/") i++;
        if (i + 1 >= chars.length) {
          if (kind === "exact") kind = "prefix";
          else {
            re += ".*";
            kind = "regexp";
          }
        } else {
          re += "(.*/)?";
          kind = "regexp";
        }
        if (first) kind = "suffix";
      } else {
        re += "[^/]*";
        kind = "regexp";
      }
    } else if (c === "?") {
      re += "[^/]";
      kind = "regexp";
    } else if (REGEXP_ESCAPED.has(c)) {
      re += "\\" + c;
    } else if (c === "\\") {
      if (i + 1 < chars.length) {
        const next = chars[++i]!;
        re += /[A-Za-z0-9]/.test(next) ? next : "\\" + next;
        kind = "regexp";
      } else re += "\\\\";
    } else if (c === "[" || c === "]") {
      re += c;
      kind = "regexp";
    } else re += c;
  }
  let regexp: RegExp | undefined;
  if (kind === "regexp") {
    try {
      regexp = new RegExp(re + "$", "s");
    } catch {
      regexp = undefined;
    }
  }
  return { text, exclusion, kind, regexp };
}

function matchOne(p: CompiledPattern, path: string): boolean {
  switch (p.kind) {
    case "exact":
      return path === p.text;
    case "prefix":
      return path.startsWith(p.text.slice(0, -2));
    case "suffix": {
      const suffix = p.text.slice(2);
      if (path.endsWith(suffix)) return true;
      return suffix.startsWith("/") && path === suffix.slice(1);
    }
    case "regexp":
      return p.regexp !== undefined && p.regexp.test(path);
  }
}

/**
 * Builds a matcher from `.dockerignore` patterns (Docker's `MatchesOrParentMatches`).
 *
 * @param patterns Patterns as {@linkcode parseDockerignore} returns them.
 * @param options `origin`: the file named in errors (default `.dockerignore`).
 * @returns The matcher.
 * @throws {ExecutionException} For a lone `!` or a malformed `[…]` class (Docker fails too).
 *
 * @example
 * ```ts
 * import { dockerignoreMatcher } from "./dockerignore.ts";
 * const m = dockerignoreMatcher(["data", "!data/keep.txt", "**\/*.pyc"]);
 * console.assert(m.excludes("data/big.bin") && !m.excludes("data/keep.txt"));
 * console.assert(m.excludes("src/x/y.pyc") && !m.excludes("src/y.py"));
 * ```
 */
export function dockerignoreMatcher(
  patterns: readonly string[],
  options: { origin?: string } = {},
): DockerignoreMatcher {
  const origin = options.origin ?? ".dockerignore";
  const compiled: CompiledPattern[] = [];
  for (const raw of patterns) {
    let p = raw.trim();
    if (p === "") continue;
    p = normalize(p);
    let exclusion = false;
    if (p.startsWith("!")) {
      if (p.length === 1) {
        throw new ExecutionException(`${origin}: illegal exclusion pattern: "!"`);
      }
      exclusion = true;
      p = p.slice(1);
    }
    checkSyntax(p, origin);
    compiled.push(compile(p, exclusion));
  }
  return {
    patterns: compiled.map((p) => (p.exclusion ? "!" : "") + p.text),
    hasExceptions: compiled.some((p) => p.exclusion),
    mayReinclude(dir: string): boolean {
      const prefix = normalize(dir) + "/";
      return compiled.some((p) => p.exclusion && (p.text + "/").startsWith(prefix));
    },
    excludes(path: string): boolean {
      const file = normalize(path);
      if (file === ".") return false;
      const slash = file.lastIndexOf("/");
      const parentDirs = slash === -1 ? [] : file.slice(0, slash).split("/");
      let matched = false;
      for (const pattern of compiled) {
        if (pattern.exclusion !== matched) continue;
        let match = matchOne(pattern, file);
        for (let i = 0; !match && i < parentDirs.length; i++) {
          match = matchOne(pattern, parentDirs.slice(0, i + 1).join("/"));
        }
        if (match) matched = !pattern.exclusion;
      }
      return matched;
    },
  };
}

/**
 * Reads `<dir>/.dockerignore` (none: nothing is excluded).
 *
 * @param dir The build context directory.
 * @returns The matcher.
 * @throws {ExecutionException} When the file cannot be read or has a bad pattern.
 *
 * @example
 * ```ts
 * import { readDockerignore } from "./dockerignore.ts";
 * const m = await readDockerignore(await Deno.makeTempDir());
 * console.assert(m.patterns.length === 0);
 * ```
 */
export async function readDockerignore(dir: string): Promise<DockerignoreMatcher> {
  const file = `${dir.replace(/\/+$/, "")}/.dockerignore`;
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return dockerignoreMatcher([]);
    throw new ExecutionException(
      `Cannot read '${escapeForMessage(file)}': ${e instanceof Error ? e.message : e}`,
    );
  }
  return dockerignoreMatcher(parseDockerignore(text), { origin: file });
}
