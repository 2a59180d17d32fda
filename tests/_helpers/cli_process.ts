/**
 * The CLI as a live subprocess whose stderr can be waited on, for tests that signal it at a
 * given moment (a line appears, the first byte appears, the signal handler is installed).
 */
import { cleanEnv, MAIN_TS } from "./cli.ts";

/** How a live CLI ended. */
export interface LiveCliResult {
  code: number;
  /** The signal that killed it (`null` when it exited by itself). */
  signal: Deno.Signal | null;
  stdout: string;
  stderr: string;
}

/** A running `mlproject` subprocess. */
export class LiveCli implements AsyncDisposable {
  readonly child: Deno.ChildProcess;
  /** Stderr so far. */
  stderr = "";
  readonly #stdout: Promise<string>;
  readonly #stderrDone: Promise<void>;
  #waiters: (() => void)[] = [];
  #ended = false;

  constructor(args: string[], options: { cwd: string; env?: Record<string, string> }) {
    this.child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--quiet", MAIN_TS, ...args],
      cwd: options.cwd,
      env: options.env ?? cleanEnv(),
      clearEnv: true,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#stdout = new Response(this.child.stdout).text();
    this.#stderrDone = this.#readStderr();
  }

  async #readStderr(): Promise<void> {
    const dec = new TextDecoder();
    for await (const chunk of this.child.stderr) {
      this.stderr += dec.decode(chunk, { stream: true });
      this.#wake();
    }
    this.#ended = true;
    this.#wake();
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }

  /** Resolves once stderr matches `pattern` (rejects if stderr ends without it). */
  async waitFor(pattern: RegExp): Promise<void> {
    while (!pattern.test(this.stderr)) {
      if (this.#ended) throw new Error(`stderr ended without ${pattern}:\n${this.stderr}`);
      await new Promise<void>((r) => this.#waiters.push(r));
    }
  }

  /** Sends a signal. */
  kill(signal: Deno.Signal): void {
    this.child.kill(signal);
  }

  /** Waits for the end and returns what it printed. */
  async result(): Promise<LiveCliResult> {
    const [status, stdout] = await Promise.all([this.child.status, this.#stdout]);
    await this.#stderrDone;
    return { code: status.code, signal: status.signal, stdout, stderr: this.stderr };
  }

  async [Symbol.asyncDispose](): Promise<void> {
    try {
      this.child.kill("SIGKILL");
    } catch { /* ended */ }
    await this.result();
  }
}
