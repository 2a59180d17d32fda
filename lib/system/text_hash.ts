/**
 * A fast non-cryptographic hash of a text, for naming cache entries whose content is checked (or
 * whose name also carries what must match) when they are used.
 *
 * @module
 */

/**
 * cyrb53: a 53-bit hash of the text, in base 36, followed by the text's length.
 *
 * @param text The text.
 * @returns A short name such as `fw43l75lv0-215`.
 *
 * @example
 * ```ts
 * import { hashText } from "./text_hash.ts";
 * console.assert(hashText("a") === hashText("a") && hashText("a") !== hashText("b"));
 * ```
 */
export function hashText(text: string): string {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return (4294967296 * (2097151 & h2) + (h1 >>> 0)).toString(36) + `-${text.length}`;
}
