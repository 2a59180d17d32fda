/**
 * "Did you mean …?" suggestions, chosen as click chooses them (Python's
 * `difflib.get_close_matches`: Ratcliff/Obershelp similarity ≥ 0.6, at most 3).
 *
 * @module
 */

/** Characters of the matching blocks of `a` and `b` (difflib's recursive longest-match split). */
function matchingCharacters(a: string, b: string): number {
  let total = 0;
  const queue: [number, number, number, number][] = [[0, a.length, 0, b.length]];
  while (queue.length > 0) {
    const [alo, ahi, blo, bhi] = queue.pop()!;
    // Longest common substring, earliest in a, then earliest in b (difflib's tie rule).
    let bestI = alo;
    let bestJ = blo;
    let bestSize = 0;
    let previous = new Map<number, number>();
    for (let i = alo; i < ahi; i++) {
      const current = new Map<number, number>();
      for (let j = blo; j < bhi; j++) {
        if (a[i] !== b[j]) continue;
        const k = (previous.get(j - 1) ?? 0) + 1;
        current.set(j, k);
        if (k > bestSize) {
          bestI = i - k + 1;
          bestJ = j - k + 1;
          bestSize = k;
        }
      }
      previous = current;
    }
    if (bestSize === 0) continue;
    total += bestSize;
    if (alo < bestI && blo < bestJ) queue.push([alo, bestI, blo, bestJ]);
    if (bestI + bestSize < ahi && bestJ + bestSize < bhi) {
      queue.push([bestI + bestSize, ahi, bestJ + bestSize, bhi]);
    }
  }
  return total;
}

/**
 * The similarity of two strings as difflib's `SequenceMatcher(None, a, b).ratio()`: twice the
 * matching characters over the total length.
 *
 * @param a One string.
 * @param b The other.
 * @returns A number in [0, 1].
 *
 * @example
 * ```ts
 * import { similarity } from "./close_matches.ts";
 * console.assert(similarity("abcd", "bcde") === 0.75);
 * ```
 */
export function similarity(a: string, b: string): number {
  const length = a.length + b.length;
  return length === 0 ? 1 : (2 * matchingCharacters(a, b)) / length;
}

/**
 * The candidates close to `word`, best first, as `difflib.get_close_matches` returns them.
 *
 * @param word What the user typed.
 * @param candidates The valid words.
 * @param options `n`: at most this many (default 3); `cutoff`: the least similarity (0.6).
 * @returns The close candidates, best first (equal scores: the greater string first, as difflib).
 *
 * @example
 * ```ts
 * import { closeMatches } from "./close_matches.ts";
 * const found = closeMatches("--env-manger", ["--env-manager", "--entry-point", "--json"]);
 * console.assert(found.length === 1 && found[0] === "--env-manager");
 * ```
 */
export function closeMatches(
  word: string,
  candidates: readonly string[],
  options: { n?: number; cutoff?: number } = {},
): string[] {
  const { n = 3, cutoff = 0.6 } = options;
  return candidates
    .map((candidate) => ({ candidate, score: similarity(candidate, word) }))
    .filter((m) => m.score >= cutoff)
    .sort((x, y) =>
      y.score - x.score || (x.candidate < y.candidate ? 1 : x.candidate > y.candidate ? -1 : 0)
    )
    .slice(0, n)
    .map((m) => m.candidate);
}
