/**
 * Source-level helpers for `python_yaml.ts`: what kind of node starts at a position, and quoted
 * scalars decoded as PyYAML's scanner does (js-yaml keeps the spaces before a folded line break,
 * nodeca/js-yaml#307).
 *
 * @module
 */

/** How a node is written in the source. */
export type NodeStyle = "single" | "double" | "literal" | "folded" | "alias" | "other";

const LINE_BREAKS = "\r\n\x85\u2028\u2029";

function isBlank(ch: string | undefined): boolean {
  return ch === " " || ch === "\t";
}

function isSpace(ch: string | undefined): boolean {
  return ch === undefined || ch === " " || ch === "\t" || ch === "\n" || ch === "\r";
}

/**
 * Finds the style of the node whose text begins at `start` (before separation space, comments,
 * tags and anchors, as js-yaml's `open` event reports it).
 *
 * @param input The whole document.
 * @param start Where the node begins.
 * @returns The style and the position of its first character.
 *
 * @example
 * ```ts
 * import { nodeStyleAt } from "./_yaml_scalars.ts";
 * console.assert(nodeStyleAt("a: &x 'b'", 2).style === "single");
 * ```
 */
export function nodeStyleAt(input: string, start: number): { style: NodeStyle; at: number } {
  let i = start;
  for (;;) {
    const ch = input[i];
    if (ch === " " || ch === "\t" || ch === "\n" || ch === "\r") i++;
    else if (ch === "#" && (i === start || isSpace(input[i - 1]))) {
      while (i < input.length && input[i] !== "\n" && input[i] !== "\r") i++;
    } else if (ch === "!" || ch === "&") {
      while (i < input.length && !isSpace(input[i])) i++;
    } else break;
  }
  const styles: Record<string, NodeStyle> = {
    "'": "single",
    '"': "double",
    "|": "literal",
    ">": "folded",
    "*": "alias",
  };
  return { style: styles[input[i] ?? ""] ?? "other", at: i };
}

/**
 * Whether text holds a line break as PyYAML counts them (`\n`, `\r`, NEL, LS, PS).
 *
 * @param text The text.
 * @returns `true` when it has one.
 *
 * @example
 * ```ts
 * import { hasLineBreak } from "./_yaml_scalars.ts";
 * console.assert(hasLineBreak("a\nb") && !hasLineBreak("ab"));
 * ```
 */
export function hasLineBreak(text: string): boolean {
  for (const ch of LINE_BREAKS) if (text.includes(ch)) return true;
  return false;
}

const ESCAPES: Record<string, string> = {
  "0": "\0",
  "a": "\x07",
  "b": "\x08",
  "t": "\t",
  "\t": "\t",
  "n": "\n",
  "v": "\x0b",
  "f": "\x0c",
  "r": "\r",
  "e": "\x1b",
  " ": " ",
  '"': '"',
  "/": "/",
  "\\": "\\",
  "N": "\x85",
  "_": "\xa0",
  "L": "\u2028",
  "P": "\u2029",
};
const HEX_LENGTHS: Record<string, number> = { x: 2, u: 4, U: 8 };

/**
 * Decodes a quoted scalar (quotes included) as PyYAML's scanner does: escapes in double quotes,
 * `''` in single quotes, and line folding that drops the blanks around each line break.
 *
 * @param raw The scalar's source, from opening to closing quote.
 * @returns The value, or `undefined` when the text is not a complete quoted scalar.
 *
 * @example
 * ```ts
 * import { decodeQuotedScalar } from "./_yaml_scalars.ts";
 * console.assert(decodeQuotedScalar('"a \n  b"') === "a b");
 * console.assert(decodeQuotedScalar("'it''s\n\n x'") === "it's\nx");
 * ```
 */
export function decodeQuotedScalar(raw: string): string | undefined {
  const quote = raw[0];
  if ((quote !== '"' && quote !== "'") || raw.length < 2) return undefined;
  const double = quote === '"';
  let out = "";
  let i = 1;
  const lineBreak = (): string => {
    // PyYAML's scan_line_break: CR LF, CR, LF and NEL become "\n"; LS and PS stay.
    const ch = raw[i]!;
    if (ch === "\r" && raw[i + 1] === "\n") {
      i += 2;
      return "\n";
    }
    i++;
    return ch === "\u2028" || ch === "\u2029" ? ch : "\n";
  };
  const breaks = (): string => {
    let collected = "";
    for (;;) {
      while (isBlank(raw[i])) i++;
      if (i < raw.length && LINE_BREAKS.includes(raw[i]!)) collected += lineBreak();
      else return collected;
    }
  };
  while (i < raw.length) {
    const ch = raw[i]!;
    if (ch === quote) {
      if (!double && raw[i + 1] === "'") {
        out += "'";
        i += 2;
        continue;
      }
      return i === raw.length - 1 ? out : undefined;
    }
    if (double && ch === "\\") {
      const next = raw[i + 1];
      if (next === undefined) return undefined;
      if (ESCAPES[next] !== undefined) {
        out += ESCAPES[next];
        i += 2;
      } else if (HEX_LENGTHS[next] !== undefined) {
        const hex = raw.slice(i + 2, i + 2 + HEX_LENGTHS[next]!);
        if (!/^[0-9A-Fa-f]+$/.test(hex) || hex.length !== HEX_LENGTHS[next]) return undefined;
        const code = parseInt(hex, 16);
        if (code > 0x10ffff) return undefined;
        out += String.fromCodePoint(code);
        i += 2 + hex.length;
      } else if (LINE_BREAKS.includes(next)) {
        i++;
        lineBreak();
        out += breaks();
      } else return undefined;
      continue;
    }
    if (isBlank(ch)) {
      const from = i;
      while (isBlank(raw[i])) i++;
      if (i < raw.length && LINE_BREAKS.includes(raw[i]!)) continue; // folded away
      out += raw.slice(from, i);
      continue;
    }
    if (LINE_BREAKS.includes(ch)) {
      const first = lineBreak();
      const more = breaks();
      if (first !== "\n") out += first;
      else if (more === "") out += " ";
      out += more;
      continue;
    }
    out += ch;
    i++;
  }
  return undefined;
}
