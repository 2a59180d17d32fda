/**
 * Components the tests take from the machine (an interpreter, `uv`, MLflow venvs): lookup, and
 * the one-line skip of tests whose component is missing.
 */

const reported = new Set<string>();

/**
 * Whether tests needing a component must be skipped; prints ONE line (`SKIP <what>: <why>`) per
 * missing component and test file.
 *
 * @param what The skipped tests, e.g. `uv tests`.
 * @param present Whether the component is there.
 * @param why What is missing and how to get it.
 * @returns `true` when the tests must be ignored.
 * @example
 * ```ts ignore
 * const UV = findExecutable("uv");
 * const ignore = skipWithout("uv tests", UV !== undefined, "no uv on PATH (pip install uv)");
 * Deno.test({ name: "…", ignore, fn });
 * ```
 */
export function skipWithout(what: string, present: boolean, why: string): boolean {
  if (present) return false;
  if (!reported.has(what)) {
    reported.add(what);
    // deno-lint-ignore no-console -- the one line that says why tests are skipped
    console.log(`SKIP ${what}: ${why}`);
  }
  return true;
}

/**
 * Finds an executable on `PATH` (the test process's unless given).
 *
 * @param name Executable name.
 * @param options `path`: the `PATH` value to search.
 * @returns Its path, or `undefined`.
 * @example
 * ```ts
 * import { findExecutable } from "./components.ts";
 * findExecutable("sh", { path: "/usr/bin:/bin" }); // "/usr/bin/sh"
 * ```
 */
export function findExecutable(name: string, options: { path?: string } = {}): string | undefined {
  for (const dir of (options.path ?? Deno.env.get("PATH") ?? "").split(":")) {
    if (dir === "") continue;
    try {
      const info = Deno.statSync(`${dir}/${name}`);
      if (info.isFile && ((info.mode ?? 0o111) & 0o111) !== 0) return `${dir}/${name}`;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** A real interpreter of the machine. */
export interface HostPython {
  /** Its executable (`sys.executable`, not a pyenv shim). */
  path: string;
  /** Full version `X.Y.Z`. */
  version: string;
  /** `X.Y`. */
  minor: string;
}

let host: Promise<HostPython> | undefined;

/**
 * The `python3` first on `PATH`, resolved to the interpreter it runs (CI installs python3).
 *
 * @returns Path and version of the interpreter.
 * @throws {Error} When there is no working `python3` on `PATH`.
 * @example
 * ```ts ignore
 * const py = await hostPython(); // { path: "/usr/bin/python3.11", version: "3.11.2", minor: "3.11" }
 * ```
 */
export function hostPython(): Promise<HostPython> {
  host ??= (async () => {
    const out = await new Deno.Command("python3", {
      args: ["-c", "import sys, platform; print(sys.executable); print(platform.python_version())"],
      stdin: "null",
      stderr: "null",
    }).output().catch(() => undefined);
    const [path, version] = new TextDecoder().decode(out?.stdout).trim().split("\n");
    if (!out?.success || !path || !version) {
      throw new Error("the tests need a working python3 on PATH");
    }
    return { path, version, minor: version.split(".").slice(0, 2).join(".") };
  })();
  return host;
}
