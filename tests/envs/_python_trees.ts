/**
 * Fake Python installations for the import-path and MLflow detection tests: directory trees laid
 * out as CPython, venv, Debian and pyenv make them, with executables that are tiny scripts (the
 * code under test never runs them).
 */

/** Writes an executable script. */
export async function writeExecutable(path: string, text: string): Promise<void> {
  await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
  await Deno.writeTextFile(path, text);
  await Deno.chmod(path, 0o755);
}

/** Creates `<prefix>/bin/pythonX.Y` (plus `python3` → it), its stdlib landmark and site-packages. */
export async function fakeInstall(prefix: string, xy = "3.11"): Promise<string> {
  const exe = `${prefix}/bin/python${xy}`;
  await writeExecutable(exe, "#!/bin/sh\nexit 0\n");
  await Deno.symlink(`python${xy}`, `${prefix}/bin/python3`);
  await Deno.mkdir(`${prefix}/lib/python${xy}/site-packages`, { recursive: true });
  await Deno.writeTextFile(`${prefix}/lib/python${xy}/os.py`, "");
  return exe;
}

/** Options of {@linkcode fakeVenv}. */
export interface FakeVenvOptions {
  /** `include-system-site-packages` value. */
  includeSystem?: boolean;
  /** The `pyvenv.cfg` key naming the version (`python -m venv` writes `version`, uv and
   * virtualenv `version_info`). */
  versionKey?: "version" | "version_info";
}

/** Creates a venv over a base interpreter as `python -m venv` lays it out; returns `bin/python`. */
export async function fakeVenv(
  dir: string,
  baseExe: string,
  options: FakeVenvOptions = {},
): Promise<string> {
  const xy = /python(\d+\.\d+)$/.exec(baseExe)![1]!;
  await Deno.mkdir(`${dir}/bin`, { recursive: true });
  await Deno.symlink(baseExe, `${dir}/bin/python`);
  await Deno.mkdir(`${dir}/lib/python${xy}/site-packages`, { recursive: true });
  await Deno.symlink("lib", `${dir}/lib64`);
  await Deno.writeTextFile(
    `${dir}/pyvenv.cfg`,
    `home = ${baseExe.slice(0, baseExe.lastIndexOf("/"))}\n` +
      `include-system-site-packages = ${options.includeSystem ? "true" : "false"}\n` +
      `${options.versionKey ?? "version"} = ${xy}.7\n`,
  );
  return `${dir}/bin/python`;
}

/** Writes a `<name>-<version>.dist-info/METADATA` as pip installs it. */
export async function distInfo(site: string, name: string, version: string): Promise<void> {
  const dir = `${site}/${name.replace(/-/g, "_")}-${version}.dist-info`;
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(
    `${dir}/METADATA`,
    `Metadata-Version: 2.1\nName: ${name}\nVersion: ${version}\nSummary: test\n\nVersion: 0.0.0\n`,
  );
}

/** A pyenv root with the shims pyenv writes (`PYENV_ROOT` baked in) for `python`, `python3`. */
export async function fakePyenvRoot(root: string): Promise<void> {
  for (const program of ["python", "python3"]) {
    await writeExecutable(
      `${root}/shims/${program}`,
      `#!/usr/bin/env bash
set -e
[ -n "$PYENV_DEBUG" ] && set -x

program="\${0##*/}"

export PYENV_ROOT="${root}"
exec "${root}/libexec/pyenv" exec "$program" "$@"
`,
    );
  }
}
