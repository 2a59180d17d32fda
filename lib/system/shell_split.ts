/**
 * Splitting a command line into words as Python's `shlex.split` does (POSIX mode, no comments).
 *
 * @module
 */
import { ExecutionException } from "./errors.ts";

/**
 * Splits a command into words like `shlex.split`: blanks separate words, `'…'` is literal,
 * `"…"` drops `\` only before `\` and `"`, and outside quotes `\`
 * escapes the next character.
 *
 * @param command The command text.
 * @returns The words, quotes removed.
 * @throws {ExecutionException} For an unclosed quote or a trailing `\` (MLflow: `ValueError`).
 *
 * @example
 * ```ts
 * import { shellSplit } from "./shell_split.ts";
 * const words = shellSplit(`python train.py --name 'a b' "c\\"d"`);
 * console.assert(words[3] === "a b" && words[4] === 'c"d');
 * ```
 */
export function shellSplit(command: string): string[] {
  const words: string[] = [];
  let word = "";
  let inWord = false;
  let i = 0;
  while (i < command.length) {
    const c = command[i]!;
    if (c === " " || c === "\t" || c === "\n" || c === "\r") {
      if (inWord) words.push(word);
      word = "";
      inWord = false;
      i++;
    } else if (c === "'") {
      const end = command.indexOf("'", i + 1);
      if (end === -1) throw new ExecutionException(`No closing quotation in command: ${command}`);
      word += command.slice(i + 1, end);
      inWord = true;
      i = end + 1;
    } else if (c === '"') {
      inWord = true;
      i++;
      for (;;) {
        if (i >= command.length) {
          throw new ExecutionException(`No closing quotation in command: ${command}`);
        }
        const d = command[i]!;
        if (d === '"') {
          i++;
          break;
        }
        if (d === "\\" && i + 1 < command.length && '\\"'.includes(command[i + 1]!)) {
          word += command[i + 1];
          i += 2;
        } else {
          word += d;
          i++;
        }
      }
    } else if (c === "\\") {
      if (i + 1 >= command.length) {
        throw new ExecutionException(`No escaped character in command: ${command}`);
      }
      word += command[i + 1];
      inWord = true;
      i += 2;
    } else {
      word += c;
      inWord = true;
      i++;
    }
  }
  if (inWord) words.push(word);
  return words;
}
