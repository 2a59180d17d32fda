import { normalize } from "../system/paths.ts";
import { ExecutionException } from "../system/errors.ts";

const NAME_RE = /^[\/\p{L}\p{N}_.\- :]*$/u;

/**
 * Checks a param or tag key with MLflow's rules (characters, no path escapes, ≤ 250 chars).
 *
 * @param kind `param` or `tag`, for the message.
 * @param key The key.
 * @throws {ExecutionException} For a key MLflow would refuse.
 *
 * @example
 * ```ts
 * import { validateKey } from "./validation.ts";
 * validateKey("param", "alpha");
 * ```
 */
export function validateKey(kind: string, key: string): void {
  const norm = normalize(key);
  const ok = key !== "" && key.length <= 250 && NAME_RE.test(key) && norm === key &&
    norm !== "." && !norm.startsWith("..") && !norm.startsWith("/");
  if (!ok) {
    throw new ExecutionException(
      `Invalid ${kind} name '${key}': names may only contain alphanumerics, underscores (_), dashes (-), periods (.), spaces ( ), colons (:) and slashes (/), must not escape their folder, and must be at most 250 characters`,
    );
  }
}
