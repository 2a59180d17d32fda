/**
 * An exclusive lock on a file (`flock`: released by the OS when the process dies), for work that
 * concurrent runs must do once (building an environment, a docker image).
 *
 * @module
 */
import { ExecutionException } from "./errors.ts";

/**
 * Runs `fn` holding the exclusive lock of `<dir>/.locks/<name>.lock` (created when missing).
 *
 * @param dir The directory whose `.locks/` holds the lock file.
 * @param name The lock name (a key, an env name, an image hash).
 * @param fn What to do under the lock.
 * @returns What `fn` returns.
 * @throws {ExecutionException} When the lock directory cannot be created.
 *
 * @example
 * ```ts
 * import { withFileLock } from "./file_lock.ts";
 * const dir = await Deno.makeTempDir();
 * console.assert(await withFileLock(dir, "k", () => Promise.resolve(42)) === 42);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function withFileLock<T>(
  dir: string,
  name: string,
  fn: () => Promise<T>,
): Promise<T> {
  try {
    await Deno.mkdir(`${dir}/.locks`, { recursive: true });
  } catch (e) {
    throw new ExecutionException(
      `Cannot create the lock directory '${dir}/.locks': ${e instanceof Error ? e.message : e}`,
    );
  }
  const file = await Deno.open(`${dir}/.locks/${name}.lock`, {
    create: true,
    write: true,
    truncate: false,
  });
  try {
    await file.lock(true);
    return await fn();
  } finally {
    file.close(); // releases the lock
  }
}
