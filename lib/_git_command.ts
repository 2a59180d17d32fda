/**
 * Running `git` for fetches: the caller's environment (credential helpers, SSH agent,
 * `GIT_SSH_COMMAND`), no prompts when there is no terminal, and a remote URL handed over in the
 * environment (`GIT_CONFIG_*`) instead of argv.
 *
 * Git passes the remote URL in the arguments of the processes it starts (`git-remote-https origin
 * <url>`, `ssh user@host`), which every user sees through `ps`. So credentials never stay in the
 * URL git sees: the user name goes into `credential.<origin>.username` and the password into an
 * environment variable that a credential helper scoped to that origin prints. That helper
 * replaces the user's own ones for that origin, so the password is not stored by them either.
 *
 * @module
 */
import { ExecutionException } from "./errors.ts";
import { type CommandOutput, runCommand } from "./run_command.ts";
import { splitCredentials } from "./url_credentials.ts";

/** Environment variable that carries a URL's password to {@linkcode CREDENTIAL_HELPER}. */
const PASSWORD_VAR = "MLPROJECT_GIT_PASSWORD";
/** A credential helper answering `get` with the password from the environment (never argv). */
const CREDENTIAL_HELPER =
  `!f() { if [ "$1" = get ]; then printf 'password=%s\\n' "$${PASSWORD_VAR}"; fi; }; f`;

function addConfig(env: Record<string, string>, key: string, value: string): void {
  const count = Number(env.GIT_CONFIG_COUNT ?? "0") || 0;
  env[`GIT_CONFIG_KEY_${count}`] = key;
  env[`GIT_CONFIG_VALUE_${count}`] = value;
  env.GIT_CONFIG_COUNT = String(count + 1);
}

/** Defines `origin` as `url` for one git command, its credentials kept out of every argv. */
function addRemote(env: Record<string, string>, url: string): void {
  const split = splitCredentials(url);
  for (const value of [split.username, split.password]) {
    if (value !== undefined && /[\n\r\0]/.test(value)) {
      throw new ExecutionException(
        "The credentials in the git URL contain a line break or NUL character, which git cannot use",
      );
    }
  }
  addConfig(env, "remote.origin.url", split.url);
  if (split.origin === undefined) return;
  if (split.username !== undefined) {
    addConfig(env, `credential.${split.origin}.username`, split.username);
  }
  if (split.password !== undefined) {
    // An empty value clears the helpers configured so far (the user's), then ours answers.
    addConfig(env, `credential.${split.origin}.helper`, "");
    addConfig(env, `credential.${split.origin}.helper`, CREDENTIAL_HELPER);
    env[PASSWORD_VAR] = split.password;
  }
}

/** Options of {@linkcode git}. */
export interface GitOptions {
  /** The caller's environment (default the process environment). */
  env?: Record<string, string> | undefined;
  /** Working directory. */
  cwd?: string;
  /** Defines the remote `origin` with this URL for this one command; its credentials are handed
   * to git through the environment only. */
  remoteUrl?: string;
  /** Show git's own progress on our stderr (only used on a terminal). */
  progress?: boolean;
  /** Aborting stops git. */
  signal?: AbortSignal | undefined;
}

/**
 * Runs `git` with the given arguments and captures its output.
 *
 * @param args Arguments after `git`.
 * @param options Environment, cwd, remote URL, progress, abort signal.
 * @returns The output (never throws for a non-zero exit).
 *
 * @example
 * ```ts ignore
 * const out = await git(["ls-remote", "origin", "HEAD"], { remoteUrl: "https://h/r.git" });
 * ```
 */
export async function git(args: string[], options: GitOptions = {}): Promise<CommandOutput> {
  const env = { ...(options.env ?? Deno.env.toObject()) };
  if (env.GIT_TERMINAL_PROMPT === undefined && !Deno.stdin.isTerminal()) {
    env.GIT_TERMINAL_PROMPT = "0";
  }
  if (options.remoteUrl !== undefined) addRemote(env, options.remoteUrl);
  return await runCommand("git", args, {
    env,
    ...(options.cwd !== undefined ? { cwd: options.cwd } : {}),
    ...(options.signal !== undefined ? { signal: options.signal } : {}),
    ...(options.progress === true ? { echoStderr: true } : {}),
  });
}

/**
 * The most useful part of git's error output on one line: the first `fatal:`/`error:` line and
 * up to two lines after it, else the last non-empty line.
 *
 * @param stderr Git's stderr.
 * @returns One line.
 *
 * @example
 * ```ts
 * import { gitErrorLine } from "./_git_command.ts";
 * console.assert(gitErrorLine("hint: x\nfatal: nope\n") === "fatal: nope");
 * ```
 */
export function gitErrorLine(stderr: string): string {
  const lines = stderr.split(/[\r\n]+/).map((l) => l.trim()).filter((l) => l !== "");
  const first = lines.findIndex((l) => /^(fatal|error):/.test(l));
  if (first === -1) return lines[lines.length - 1] ?? "git failed";
  // Keep the error and the "fatal:"/"error:" lines right after it; drop git's advice
  // ("Please make sure you have the correct access rights / and the repository exists.").
  const kept = lines.slice(0, first).filter((l) => /^ssh:/.test(l));
  kept.push(lines[first]!);
  for (const line of lines.slice(first + 1, first + 3)) {
    if (!/^(fatal|error):/.test(line)) break;
    kept.push(line);
  }
  return kept.join(" ");
}
