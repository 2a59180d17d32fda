/**
 * The one wrapper over `Deno.Command`: working directory, environment, output routing,
 * cancellation through an `AbortSignal`, and process-group kill (TERM, then KILL after a grace
 * period) for children that lead their own group.
 *
 * @module
 */
import { sleep } from "./sleep.ts";

/** Where a child's output goes. `stderr` routes the child's stdout to our stderr. */
export type OutputMode = "inherit" | "piped" | "null" | "stderr";

/** Options for {@linkcode spawnProcess} and {@linkcode runCommand}. */
export interface SpawnOptions {
  /** Working directory. */
  cwd?: string;
  /** Full environment of the child (the parent's is not added when given). */
  env?: Record<string, string>;
  /** Child stdout routing (default `inherit`). */
  stdout?: OutputMode;
  /** Child stdin (default `inherit`). */
  stdin?: "inherit" | "null";
  /** Child stderr routing (default `inherit`); `tee` captures it and copies it to our stderr. */
  stderr?: Exclude<OutputMode, "stderr"> | "tee";
  /** Make the child the leader of a new session and process group. */
  newProcessGroup?: boolean;
  /** Aborting terminates the child (its whole group when it leads one). */
  signal?: AbortSignal;
  /** Milliseconds between TERM and KILL when terminating (default 5000). */
  killGraceMs?: number;
  /**
   * Bytes written to the child's stdin (instead of `stdin`); stdin is closed at the end. A write
   * the child refuses (it closed stdin or exited) ends the copy silently.
   */
  input?: AsyncIterable<Uint8Array>;
  /** Called with each line of piped output as it arrives (the output is still collected). */
  onLine?: (line: string, stream: "stdout" | "stderr") => void;
}

/** How a child ended. */
export interface ProcessResult {
  /** Exit code (128 + n when killed by signal n). */
  code: number;
  /** The signal that killed it, if any. */
  signal: Deno.Signal | null;
  /** `true` when the code is 0. */
  success: boolean;
}

/** A running child process. */
export interface ChildHandle {
  /** Process id (also the process-group id when `newProcessGroup` was set). */
  readonly pid: number;
  /** Resolves when the child has exited (and piped output was copied). */
  readonly status: Promise<ProcessResult>;
  /** Output when `stdout: "piped"` was used, after exit. */
  readonly output: Promise<{ stdout: Uint8Array; stderr: Uint8Array }>;
  /** TERM the child (or its group), then KILL what is left after the grace period. */
  terminate(): Promise<ProcessResult>;
}

function signalTarget(pid: number, group: boolean, signal: Deno.Signal): boolean {
  try {
    Deno.kill(group ? -pid : pid, signal);
    return true;
  } catch {
    return false;
  }
}

async function drain(stream: ReadableStream<Uint8Array> | null): Promise<Uint8Array> {
  if (stream === null) return new Uint8Array();
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

async function feedLines(
  stream: ReadableStream<Uint8Array>,
  name: "stdout" | "stderr",
  onLine: (line: string, stream: "stdout" | "stderr") => void,
): Promise<void> {
  const decoder = new TextDecoder();
  let pending = "";
  const emit = (text: string, final: boolean) => {
    const parts = (pending + text).split(/\r?\n|\r/);
    pending = final ? "" : parts.pop()!;
    for (const line of final && parts.at(-1) === "" ? parts.slice(0, -1) : parts) {
      onLine(line, name);
    }
  };
  for await (const chunk of stream) emit(decoder.decode(chunk, { stream: true }), false);
  emit(decoder.decode(), true);
}

async function pump(input: AsyncIterable<Uint8Array>, stdin: WritableStream<Uint8Array>) {
  const writer = stdin.getWriter();
  try {
    for await (const chunk of input) await writer.write(chunk);
    await writer.close();
  } catch {
    await writer.abort().catch(() => {});
  }
}

async function copyToStderr(stream: ReadableStream<Uint8Array>): Promise<void> {
  for await (const chunk of stream) {
    let off = 0;
    while (off < chunk.length) off += await Deno.stderr.write(chunk.subarray(off));
  }
}

/**
 * Starts a child process.
 *
 * @param command Executable name or path.
 * @param args Arguments (never passed through a shell).
 * @param options Working dir, environment, output routing, process group, abort signal.
 * @returns A handle to await or terminate the child.
 *
 * @example
 * ```ts
 * import { spawnProcess } from "./run_command.ts";
 * const child = spawnProcess("true", [], { stdout: "null" });
 * console.assert((await child.status).success);
 * ```
 */
export function spawnProcess(
  command: string,
  args: string[],
  options: SpawnOptions = {},
): ChildHandle {
  const stdoutMode = options.stdout ?? "inherit";
  const stderrMode = options.stderr ?? "inherit";
  const group = options.newProcessGroup ?? false;
  const grace = options.killGraceMs ?? 5000;
  const proc = new Deno.Command(command, {
    args,
    ...(options.cwd !== undefined ? { cwd: options.cwd } : {}),
    ...(options.env !== undefined ? { env: options.env, clearEnv: true } : {}),
    stdin: options.input !== undefined ? "piped" : options.stdin ?? "inherit",
    stdout: stdoutMode === "stderr" ? "piped" : stdoutMode,
    stderr: stderrMode === "tee" ? "piped" : stderrMode,
    detached: group,
  }).spawn();

  if (options.input !== undefined) void pump(options.input, proc.stdin);
  let copying = stdoutMode === "stderr" ? copyToStderr(proc.stdout) : Promise.resolve();
  let stdoutStream: ReadableStream<Uint8Array> | null = stdoutMode === "piped" ? proc.stdout : null;
  let stderrStream: ReadableStream<Uint8Array> | null = stderrMode === "piped" ? proc.stderr : null;
  if (options.onLine !== undefined) {
    const onLine = options.onLine;
    const watch = (s: ReadableStream<Uint8Array> | null, name: "stdout" | "stderr") => {
      if (s === null) return null;
      const [kept, seen] = s.tee();
      const before = copying;
      copying = Promise.all([before, feedLines(seen, name, onLine).catch(() => {})]).then(() => {});
      return kept;
    };
    stdoutStream = watch(stdoutStream, "stdout");
    stderrStream = watch(stderrStream, "stderr");
  }
  if (stderrMode === "tee") {
    const [shown, kept] = proc.stderr.tee();
    const before = copying;
    copying = Promise.all([before, copyToStderr(shown)]).then(() => {});
    stderrStream = kept;
  }
  const output = stdoutMode === "piped" || stderrStream !== null
    ? Promise.all([
      drain(stdoutStream),
      drain(stderrStream),
    ]).then(([stdout, stderr]) => ({ stdout, stderr }))
    : Promise.resolve({ stdout: new Uint8Array(), stderr: new Uint8Array() });

  let exited = false;
  const status: Promise<ProcessResult> = proc.status.then(async (s) => {
    exited = true;
    await copying.catch(() => {});
    return { code: s.code, signal: s.signal, success: s.success };
  });

  let terminating: Promise<ProcessResult> | undefined;
  const terminate = (): Promise<ProcessResult> => {
    terminating ??= (async () => {
      if (!exited) signalTarget(proc.pid, group, "SIGTERM");
      const deadline = Date.now() + grace;
      while (!exited && Date.now() < deadline) await sleep(20);
      if (group) {
        // The leader may be gone while members of its group still run: give them the rest of
        // the grace period, then KILL whatever is left.
        while (Date.now() < deadline && signalTarget(proc.pid, true, "SIGCONT")) await sleep(20);
        signalTarget(proc.pid, true, "SIGKILL");
      } else if (!exited) {
        signalTarget(proc.pid, false, "SIGKILL");
      }
      return await status;
    })();
    return terminating;
  };

  if (options.signal !== undefined) {
    const onAbort = () => void terminate();
    if (options.signal.aborted) onAbort();
    else {
      options.signal.addEventListener("abort", onAbort, { once: true });
      status.finally(() => options.signal!.removeEventListener("abort", onAbort));
    }
  }
  return { pid: proc.pid, status, output, terminate };
}

/** Result of {@linkcode runCommand}. */
export interface CommandOutput extends ProcessResult {
  /** Captured stdout as text. */
  stdout: string;
  /** Captured stderr as text. */
  stderr: string;
}

/**
 * Runs a command to completion and captures its output as text.
 *
 * @param command Executable name or path.
 * @param args Arguments.
 * @param options Working directory, environment, abort signal, `echoStderr`.
 * @returns Exit status and output; a missing executable gives code 127.
 *
 * @example
 * ```ts
 * import { runCommand } from "./run_command.ts";
 * const out = await runCommand("echo", ["hi"]);
 * console.assert(out.stdout === "hi\n");
 * ```
 */
export async function runCommand(
  command: string,
  args: string[],
  options: Pick<SpawnOptions, "cwd" | "env" | "signal" | "input" | "onLine"> & {
    /** Also copy the child's stderr to ours as it arrives (progress on a terminal). */
    echoStderr?: boolean;
  } = {},
): Promise<CommandOutput> {
  let child: ChildHandle;
  try {
    const { echoStderr, ...spawnOptions } = options;
    child = spawnProcess(command, args, {
      ...spawnOptions,
      stdin: "null",
      stdout: "piped",
      stderr: echoStderr === true ? "tee" : "piped",
    });
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      return { code: 127, signal: null, success: false, stdout: "", stderr: String(e) };
    }
    throw e;
  }
  const [result, out] = await Promise.all([child.status, child.output]);
  const dec = new TextDecoder();
  return { ...result, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}
