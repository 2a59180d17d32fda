/**
 * Credentials in a git URL never reach any process's arguments (visible to every user through
 * `ps`): they are handed to git through its environment, while git waits on the server.
 */
import assert from "node:assert/strict";
import { fetchGitRepo } from "../lib/git_fetch.ts";
import { splitCredentials } from "../lib/url_credentials.ts";
import { tempDir } from "./_helpers/cli.ts";
import { GIT_ENV, makeTestRepo } from "./_helpers/git_repos.ts";
import { startGitHttpServer } from "./_helpers/git_servers.ts";

const SECRET = "Sup3r-S3cret-Tok3n";

/** Command lines (NUL-separated args joined by spaces) of every process, by pid. */
function commandLines(): Map<number, string> {
  const out = new Map<number, string>();
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const raw = Deno.readFileSync(`/proc/${entry.name}/cmdline`);
      out.set(Number(entry.name), new TextDecoder().decode(raw).replaceAll("\0", " "));
    } catch { /* exited meanwhile */ }
  }
  return out;
}

function holding(text: string): string[] {
  return [...commandLines()].filter(([, cmd]) => cmd.includes(text)).map(([pid, cmd]) =>
    `${pid}: ${cmd}`
  );
}

/** A TCP server on 127.0.0.1 that accepts connections and never answers. */
function silentServer() {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns: Deno.Conn[] = [];
  const accepting = (async () => {
    try {
      for await (const conn of listener) conns.push(conn);
    } catch { /* closed */ }
  })();
  return {
    port: (listener.addr as Deno.NetAddr).port,
    async [Symbol.asyncDispose]() {
      listener.close();
      await accepting;
      for (const c of conns) {
        try {
          c.close();
        } catch { /* closed */ }
      }
    },
  };
}

async function waitFor<T>(probe: () => T | undefined, what: string): Promise<T> {
  for (let i = 0; i < 1500; i++) {
    const found = probe();
    if (found !== undefined) return found;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
}

Deno.test("splitCredentials() moves user info out of http(s) URLs and drops ssh passwords", () => {
  assert.deepEqual(splitCredentials("https://u:p%3Aw%40d@h:8443/o/r.git"), {
    url: "https://h:8443/o/r.git",
    origin: "https://h:8443",
    username: "u",
    password: "p:w@d",
    droppedPassword: false,
  });
  assert.deepEqual(splitCredentials("http://tok@h/r"), {
    url: "http://h/r",
    origin: "http://h",
    username: "tok",
    droppedPassword: false,
  });
  assert.deepEqual(splitCredentials("ssh://git:pw@h:22/r.git"), {
    url: "ssh://git@h:22/r.git",
    droppedPassword: true,
  });
  assert.deepEqual(splitCredentials("git@h:o/r.git"), {
    url: "git@h:o/r.git",
    droppedPassword: false,
  });
  assert.equal(splitCredentials("https://h/r.git").url, "https://h/r.git");
});

for (const scheme of ["http", "https", "ssh"] as const) {
  Deno.test(`fetchGitRepo() keeps the password of a ${scheme}:// URL out of every process's arguments while git waits`, async () => {
    await using cache = await tempDir();
    const server = silentServer();
    const sshLog = `${cache.path}/fake-ssh.args`;
    const fakeSsh = `${cache.path}/fake-ssh`;
    // Records its arguments, then waits like an ssh connection that never answers; it ends when
    // git goes away (its stdin closes).
    await Deno.writeTextFile(fakeSsh, `#!/bin/sh\necho "$@" > '${sshLog}'\ncat > /dev/null\n`);
    await Deno.chmod(fakeSsh, 0o755);
    const env = {
      ...GIT_ENV,
      MLPROJECT_CACHE_DIR: cache.path,
      GIT_SSH: fakeSsh,
      GIT_SSH_VARIANT: "ssh",
    };
    const url = `${scheme}://alice:${SECRET}@127.0.0.1:${server.port}/repo.git`;
    const abort = new AbortController();
    const fetching = fetchGitRepo(url, { env, signal: abort.signal }).then(
      () => assert.fail("the fetch cannot succeed"),
      (e) => e,
    );
    try {
      // Git is waiting on the server once its transport process holds the address.
      const waiting = await waitFor(() => {
        const found = scheme === "ssh" ? holding(fakeSsh) : holding(`127.0.0.1:${server.port}`);
        return found.length > 0 ? found : undefined;
      }, `git to connect to port ${server.port}`);
      assert.deepEqual(holding(SECRET), [], "no process has the password in its arguments");
      assert.ok(waiting.every((line) => !line.includes(SECRET)));
      if (scheme === "ssh") {
        const args = await waitFor(() => {
          try {
            return Deno.readTextFileSync(sshLog).trim() || undefined;
          } catch {
            return undefined;
          }
        }, "the ssh arguments");
        assert.match(args, new RegExp(`-p ${server.port} alice@127\\.0\\.0\\.1 git-upload-pack`));
        assert.ok(!args.includes(SECRET), args);
      }
    } finally {
      abort.abort();
      // git's transport process outlives git while the server holds its connection open.
      await server[Symbol.asyncDispose]();
      await fetching;
    }
  });
}

Deno.test("fetchGitRepo() authenticates to a server requiring basic auth, with the password in no argv and no credential store", async () => {
  await using root = await tempDir();
  await using cache = await tempDir();
  const repo = await makeTestRepo(root.path, "repo");
  const password = `${SECRET}:p@ss w/%`;
  const expected = `Basic ${btoa(`alice:${password}`)}`;
  const leaks: string[] = [];
  let authorized = 0;
  let challenged = 0;
  await using server = startGitHttpServer(root.path, {
    onRequest: (req) => {
      // git-remote-http is alive while its request is being answered.
      leaks.push(...holding(SECRET));
      if (req.headers.get("authorization") === expected) {
        authorized++;
        return undefined;
      }
      challenged++;
      return new Response("auth", {
        status: 401,
        headers: { "www-authenticate": 'Basic realm="git"' },
      });
    },
  });
  // The user's own credential helper would store what git used: it must not see the password.
  const store = `${cache.path}/git-credentials`;
  const gitconfig = `${cache.path}/gitconfig`;
  await Deno.writeTextFile(gitconfig, `[credential]\n\thelper = store --file=${store}\n`);
  const env = { ...GIT_ENV, GIT_CONFIG_GLOBAL: gitconfig, MLPROJECT_CACHE_DIR: cache.path };
  const host = server.url.replace("http://", "");
  const checkout = await fetchGitRepo(
    `http://alice:${encodeURIComponent(password)}@${host}repo.git`,
    { env },
  );
  try {
    assert.equal(checkout.commit, repo.mainSha);
  } finally {
    await checkout.cleanup();
  }
  assert.ok(challenged > 0 && authorized > 0, `${challenged} challenged, ${authorized} authorized`);
  assert.deepEqual(leaks, []);
  const stored = await Deno.readTextFile(store).catch(() => "");
  assert.ok(!stored.includes("S3cret"), stored);
  // A wrong password fails with git's message, which names no secret.
  await assert.rejects(
    fetchGitRepo(`http://alice:wrong-${SECRET}@${host}repo.git`, { env, version: "v1.0" }),
    (e: Error) => {
      assert.match(e.message, /^Unable to (fetch|checkout).*Authentication failed/);
      assert.ok(!e.message.includes(SECRET), e.message);
      return true;
    },
  );
});

Deno.test("fetchProject() records a local repository's remote without the token in it", async () => {
  const { fetchProject } = await import("../lib/fetch_project.ts");
  await using dir = await tempDir();
  await Deno.writeTextFile(`${dir.path}/MLproject`, "name: p\n");
  const run = (...args: string[]) =>
    new Deno.Command("git", { args, cwd: dir.path, env: GIT_ENV, clearEnv: true }).output();
  await run("init", "--quiet");
  await run("remote", "add", "origin", `https://ci-bot:${SECRET}@git.example.com/org/repo.git`);
  const project = await fetchProject(dir.path, {});
  assert.equal(project.source.repoUrl, "https://git.example.com/org/repo.git");
});

Deno.test("fetchGitRepo() warns that an ssh:// password is not used", async () => {
  await using cache = await tempDir();
  const messages: string[] = [];
  const env = { ...GIT_ENV, MLPROJECT_CACHE_DIR: cache.path, GIT_SSH: "false" };
  await assert.rejects(
    fetchGitRepo(`ssh://alice:${SECRET}@127.0.0.1:1/repo.git`, {
      env,
      reporter: { log: (level, message) => messages.push(`${level} ${message}`) },
    }),
  );
  assert.deepEqual(messages, [
    "WARNING The password in the URL of ssh://alice@127.0.0.1:1/repo.git is not used: ssh authenticates with keys or its agent",
  ]);
});
