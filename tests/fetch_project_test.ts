import assert from "node:assert/strict";
import { ExecutionException } from "../lib/errors.ts";
import { fetchProject, parseSubdirectory } from "../lib/fetch_project.ts";
import { FIXTURES, tempDir, writeFiles } from "./_helpers/cli.ts";
import { startFileServer } from "./_helpers/file_server.ts";

/** Asserts the promise rejects with an ExecutionException with exactly `message`. */
async function rejectsExactly(p: Promise<unknown>, message: string): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof ExecutionException, `expected ExecutionException, got ${e}`);
    assert.equal(e.message, message);
    return true;
  });
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

// --- parseSubdirectory ---

Deno.test("parseSubdirectory() splits at the first # and keeps the rest as the subdirectory", () => {
  assert.deepEqual(parseSubdirectory("projects#params_echo"), {
    base: "projects",
    subdirectory: "params_echo",
  });
  assert.deepEqual(parseSubdirectory("repo#a/b#c"), { base: "repo", subdirectory: "a/b#c" });
  assert.deepEqual(parseSubdirectory("/abs/dir"), { base: "/abs/dir", subdirectory: "" });
  assert.deepEqual(parseSubdirectory("repo#"), { base: "repo", subdirectory: "" });
});

Deno.test("parseSubdirectory() strips quote characters from both ends", () => {
  assert.deepEqual(parseSubdirectory(`'projects#params_echo'`), {
    base: "projects",
    subdirectory: "params_echo",
  });
  assert.deepEqual(parseSubdirectory(`"'dir'"`), { base: "dir", subdirectory: "" });
  assert.deepEqual(parseSubdirectory(`it's`), { base: "it's", subdirectory: "" });
});

Deno.test("parseSubdirectory() allows dots that stay inside the project (#sub/v1.2, #./a)", () => {
  assert.deepEqual(parseSubdirectory("repo#sub/v1.2"), { base: "repo", subdirectory: "sub/v1.2" });
  assert.equal(parseSubdirectory("repo#./a").subdirectory, "./a");
  assert.equal(parseSubdirectory("repo#a/../b").subdirectory, "a/../b");
  assert.equal(parseSubdirectory("repo#..a").subdirectory, "..a");
});

Deno.test("parseSubdirectory() refuses subdirectories that leave the project", () => {
  for (const sub of ["..", "../x", "a/../..", "a/../../b", "/abs", "/"]) {
    assert.throws(() => parseSubdirectory(`repo#${sub}`), (e: unknown) => {
      assert.ok(e instanceof ExecutionException);
      assert.equal(
        e.message,
        `Project subdirectory '${sub}' is not allowed: it leaves the project directory`,
      );
      return true;
    }, sub);
  }
});

// --- local directories ---

Deno.test("fetchProject() runs a local directory in place", async () => {
  await using dir = await tempDir();
  const project = await fetchProject(dir.path, {});
  assert.equal(project.workDir, dir.path);
  assert.equal(project.localDir, dir.path);
  assert.equal(project.subdirectory, "");
  await project.cleanup();
  assert.ok(await exists(dir.path), "cleanup must not remove the user's directory");
});

Deno.test("fetchProject() resolves a relative path against cwd", async () => {
  const project = await fetchProject("projects/params_echo", { cwd: FIXTURES });
  assert.equal(project.workDir, `${FIXTURES}/projects/params_echo`);
  assert.equal(project.localDir, `${FIXTURES}/projects/params_echo`);
});

Deno.test("fetchProject() accepts a file:// URI", async () => {
  await using dir = await tempDir();
  await writeFiles(dir.path, { "sub dir/MLproject": "name: x\n" });
  const project = await fetchProject(`file://${dir.path}`, {});
  assert.equal(project.workDir, dir.path);
  assert.equal(project.localDir, dir.path);
  const sub = await fetchProject(`file://${dir.path}#sub dir`, {});
  assert.equal(sub.workDir, `${dir.path}/sub dir`);
});

Deno.test("fetchProject() runs in the #subdir of a local directory", async () => {
  const project = await fetchProject("'projects#params_echo'", { cwd: FIXTURES });
  assert.equal(project.workDir, `${FIXTURES}/projects/params_echo`);
  assert.equal(project.localDir, `${FIXTURES}/projects`);
  assert.equal(project.subdirectory, "params_echo");
});

Deno.test("fetchProject() accepts a dotted #sub/v1.2 subdirectory", async () => {
  await using dir = await tempDir();
  await writeFiles(dir.path, { "sub/v1.2/MLproject": "name: x\n" });
  const project = await fetchProject(`${dir.path}#sub/v1.2`, {});
  assert.equal(project.workDir, `${dir.path}/sub/v1.2`);
  assert.equal(project.subdirectory, "sub/v1.2");
});

Deno.test("fetchProject() reports a missing subdirectory like MLflow", async () => {
  await rejectsExactly(
    fetchProject("projects#nosuch", { cwd: FIXTURES }),
    "Could not find subdirectory nosuch of projects",
  );
});

Deno.test("fetchProject() reports a subdirectory that is a file as missing", async () => {
  await using dir = await tempDir();
  await writeFiles(dir.path, { "f.txt": "x" });
  await rejectsExactly(
    fetchProject(`${dir.path}#f.txt`, {}),
    `Could not find subdirectory f.txt of ${dir.path}`,
  );
});

Deno.test("fetchProject() reports a non-existent local path", async () => {
  await using dir = await tempDir();
  await rejectsExactly(
    fetchProject("./does-not-exist", { cwd: dir.path }),
    "No such project directory or git repository: './does-not-exist'",
  );
  await rejectsExactly(
    fetchProject(`file://${dir.path}/nope`, {}),
    `No such project directory or git repository: 'file://${dir.path}/nope'`,
  );
});

Deno.test("fetchProject() reports a regular file as no project directory", async () => {
  await using dir = await tempDir();
  await writeFiles(dir.path, { "MLproject": "name: x\n" });
  await rejectsExactly(
    fetchProject(`${dir.path}/MLproject`, {}),
    `No such project directory or git repository: '${dir.path}/MLproject'`,
  );
});

Deno.test("fetchProject() treats a missing path with an archive extension as a mistyped path", async () => {
  await using dir = await tempDir();
  await rejectsExactly(
    fetchProject("./nope.zip#sub", { cwd: dir.path }),
    "No such project directory or git repository: './nope.zip'",
  );
});

// --- archives ---

async function makeArchives(dir: string): Promise<void> {
  await writeFiles(`${dir}/src/proj`, {
    MLproject: "name: archived\n",
    "sub/MLproject": "name: archived-sub\n",
  });
  const py = `
import shutil, sys
d = sys.argv[1]
shutil.make_archive(d + "/p", "zip", d + "/src")
shutil.make_archive(d + "/p", "gztar", d + "/src")
shutil.make_archive(d + "/p", "tar", d + "/src")
`;
  const out = await new Deno.Command("python3", { args: ["-c", py, dir], stderr: "piped" })
    .output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  await Deno.copyFile(`${dir}/p.tar.gz`, `${dir}/p.tgz`);
}

Deno.test("fetchProject() unpacks local, file:// and http:// archives (zip, tar, tar.gz, tgz) with #subdir", async () => {
  await using dir = await tempDir();
  await makeArchives(dir.path);
  await using server = startFileServer(dir.path);
  const messages: string[] = [];
  const reporter = { log: (_l: string, m: string) => void messages.push(m) };
  for (
    const uri of [
      `${dir.path}/p.zip`,
      `file://${dir.path}/p.tar.gz`,
      `${server.url}p.zip`,
      `${server.url}p.tar`,
      `${server.url}p.tgz`,
    ]
  ) {
    const project = await fetchProject(`${uri}#sub`, { reporter });
    try {
      assert.equal(await Deno.readTextFile(`${project.workDir}/MLproject`), "name: archived-sub\n");
      assert.equal(project.subdirectory, "sub");
      assert.equal(project.localDir, undefined);
      assert.equal(project.source.commit, undefined);
      const expectedName = uri.startsWith("http")
        ? `${uri}#sub`
        : `${uri.startsWith("file://") ? `${dir.path}/p.tar.gz` : uri}#sub`;
      assert.equal(project.source.name, expectedName);
    } finally {
      await project.cleanup();
    }
    assert.equal(await exists(project.workDir), false, "cleanup removes the unpacked archive");
  }
  assert.ok(
    messages.some((m) => m.startsWith(`=== Fetching project from ${server.url}p.zip into `)),
  );
});

Deno.test("fetchProject() reports an HTTP error for an archive like MLflow", async () => {
  await using dir = await tempDir();
  await using server = startFileServer(dir.path, { statuses: { "/down.zip": 503 } });
  await rejectsExactly(
    fetchProject(`${server.url}missing.zip`, {}),
    `Unable to retrieve ZIP file. Reason: 404 Client Error: Not Found for url: ${server.url}missing.zip`,
  );
  await rejectsExactly(
    fetchProject(`${server.url}down.zip`, {
      env: { MLFLOW_HTTP_REQUEST_MAX_RETRIES: "1", MLFLOW_HTTP_REQUEST_BACKOFF_JITTER: "0" },
    }),
    `Unable to retrieve ZIP file. Reason: 503 Server Error: Service Unavailable for url: ${server.url}down.zip`,
  );
  assert.equal(server.paths.filter((p) => p === "/down.zip").length, 2, "one retry");
});

Deno.test("fetchProject() refuses --version on an archive and an unsafe archive", async () => {
  await using dir = await tempDir();
  await makeArchives(dir.path);
  await rejectsExactly(
    fetchProject(`${dir.path}/p.zip`, { version: "main" }),
    "Setting a version is only supported for Git project URIs",
  );
  const py = `
import zipfile, sys
with zipfile.ZipFile(sys.argv[1], "w") as z:
    z.writestr("MLproject", "name: x")
    z.writestr("../../escaped.txt", "x")
`;
  await new Deno.Command("python3", { args: ["-c", py, `${dir.path}/evil.zip`] }).output();
  await assert.rejects(fetchProject(`${dir.path}/evil.zip`, {}), (e: unknown) => {
    assert.ok(e instanceof ExecutionException);
    assert.match(e.message, /has an unsafe entry '\.\.\/\.\.\/escaped\.txt'/);
    return true;
  });
  assert.equal(await exists(`${dir.path}/../escaped.txt`), false);
});

Deno.test("fetchProject() refuses --version on a directory that is not a git repository", async () => {
  await using dir = await tempDir();
  await rejectsExactly(
    fetchProject(dir.path, { version: "main" }),
    "Setting a version is only supported for Git project URIs",
  );
});

Deno.test("fetchProject() ignores an empty version", async () => {
  await using dir = await tempDir();
  const project = await fetchProject(dir.path, { version: "" });
  assert.equal(project.workDir, dir.path);
});

// --- --version on a real git repository ---

const GIT_ENV = {
  GIT_AUTHOR_NAME: "Test",
  GIT_AUTHOR_EMAIL: "test@example.com",
  GIT_COMMITTER_NAME: "Test",
  GIT_COMMITTER_EMAIL: "test@example.com",
  GIT_CONFIG_NOSYSTEM: "1",
};

async function git(cwd: string, ...args: string[]): Promise<string> {
  const out = await new Deno.Command("git", {
    args: ["-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false", ...args],
    cwd,
    env: GIT_ENV,
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).output();
  const dec = new TextDecoder();
  assert.equal(out.code, 0, `git ${args.join(" ")}: ${dec.decode(out.stderr)}`);
  return dec.decode(out.stdout);
}

/** A repo with `main` (v1) checked out and `feature-x` (v2, plus sub/extra.txt). */
async function makeRepo(path: string): Promise<{ mainSha: string; featureSha: string }> {
  await git(path, "init", "--quiet");
  await writeFiles(path, { MLproject: "name: v1\n", "sub/keep.txt": "main\n" });
  await git(path, "add", "-A");
  await git(path, "commit", "--quiet", "-m", "v1");
  const mainSha = (await git(path, "rev-parse", "HEAD")).trim();
  await git(path, "checkout", "--quiet", "-b", "feature-x");
  await writeFiles(path, { MLproject: "name: v2\n", "sub/extra.txt": "feature\n" });
  await git(path, "add", "-A");
  await git(path, "commit", "--quiet", "-m", "v2");
  const featureSha = (await git(path, "rev-parse", "HEAD")).trim();
  await git(path, "checkout", "--quiet", "main");
  return { mainSha, featureSha };
}

async function repoState(path: string) {
  return {
    head: (await git(path, "rev-parse", "HEAD")).trim(),
    branch: (await git(path, "rev-parse", "--abbrev-ref", "HEAD")).trim(),
    status: await git(path, "status", "--porcelain", "--untracked-files=all"),
    remotes: await git(path, "remote"),
    mlproject: await Deno.readTextFile(`${path}/MLproject`),
    extraExists: await exists(`${path}/sub/extra.txt`),
  };
}

Deno.test("fetchProject() checks out --version in a temp clone, leaving the user's working copy alone", async () => {
  await using repo = await tempDir();
  const { mainSha, featureSha } = await makeRepo(repo.path);
  const before = await repoState(repo.path);
  assert.deepEqual(before, {
    head: mainSha,
    branch: "main",
    status: "",
    remotes: "",
    mlproject: "name: v1\n",
    extraExists: false,
  });

  const project = await fetchProject(repo.path, { version: "feature-x" });
  try {
    assert.notEqual(project.workDir, repo.path);
    assert.ok(!project.workDir.startsWith(`${repo.path}/`));
    assert.equal(project.localDir, repo.path);
    assert.equal(await Deno.readTextFile(`${project.workDir}/MLproject`), "name: v2\n");
    assert.equal(await Deno.readTextFile(`${project.workDir}/sub/extra.txt`), "feature\n");
    assert.equal((await git(project.workDir, "rev-parse", "HEAD")).trim(), featureSha);
    assert.deepEqual(await repoState(repo.path), before);
  } finally {
    await project.cleanup();
  }
  assert.equal(await exists(project.workDir), false, "cleanup() removes the temp checkout");
  assert.deepEqual(await repoState(repo.path), before);
});

Deno.test("fetchProject() checks out a commit SHA given as --version", async () => {
  await using repo = await tempDir();
  const { featureSha } = await makeRepo(repo.path);
  const project = await fetchProject(repo.path, { version: featureSha });
  try {
    assert.equal(await Deno.readTextFile(`${project.workDir}/MLproject`), "name: v2\n");
  } finally {
    await project.cleanup();
  }
  assert.equal(await exists(project.workDir), false);
});

Deno.test("fetchProject() applies #subdir inside the --version checkout", async () => {
  await using repo = await tempDir();
  await makeRepo(repo.path);
  const project = await fetchProject(`${repo.path}#sub`, { version: "feature-x" });
  try {
    assert.equal(project.subdirectory, "sub");
    assert.ok(project.workDir.endsWith("/sub"));
    assert.ok(!project.workDir.startsWith(repo.path));
    assert.equal(await Deno.readTextFile(`${project.workDir}/extra.txt`), "feature\n");
  } finally {
    await project.cleanup();
  }
  assert.equal(await exists(project.workDir), false);
  assert.equal(await exists(`${repo.path}/sub/extra.txt`), false);
});

Deno.test("fetchProject() with --version on a directory inside a repo runs that directory of the checkout", async () => {
  await using repo = await tempDir();
  await makeRepo(repo.path);
  const project = await fetchProject(`${repo.path}/sub`, { version: "feature-x" });
  try {
    assert.ok(project.workDir.endsWith("/sub"));
    assert.notEqual(project.workDir, `${repo.path}/sub`);
    assert.equal(await Deno.readTextFile(`${project.workDir}/extra.txt`), "feature\n");
  } finally {
    await project.cleanup();
  }
});

Deno.test("fetchProject() does not carry uncommitted changes of the user's copy into the checkout", async () => {
  await using repo = await tempDir();
  const { mainSha } = await makeRepo(repo.path);
  await writeFiles(repo.path, { MLproject: "name: dirty\n", "untracked.txt": "u\n" });
  const project = await fetchProject(repo.path, { version: "main" });
  try {
    assert.equal(await Deno.readTextFile(`${project.workDir}/MLproject`), "name: v1\n");
    assert.equal(await exists(`${project.workDir}/untracked.txt`), false);
  } finally {
    await project.cleanup();
  }
  assert.equal(await Deno.readTextFile(`${repo.path}/MLproject`), "name: dirty\n");
  assert.equal((await git(repo.path, "rev-parse", "HEAD")).trim(), mainSha);
});

Deno.test("fetchProject() reports a missing subdirectory of the --version checkout", async () => {
  await using repo = await tempDir();
  await makeRepo(repo.path);
  await rejectsExactly(
    fetchProject(`${repo.path}#nosuch`, { version: "feature-x" }),
    `Could not find subdirectory nosuch of ${repo.path}`,
  );
});

Deno.test("fetchProject() reports an unknown --version like MLflow and leaves the repo alone", async () => {
  await using repo = await tempDir();
  await makeRepo(repo.path);
  const before = await repoState(repo.path);
  await assert.rejects(fetchProject(repo.path, { version: "nope" }), (e: unknown) => {
    assert.ok(e instanceof ExecutionException);
    const prefix =
      `Unable to checkout version 'nope' of git repo ${repo.path}- please ensure that the version exists in the repo. Error: `;
    assert.ok(e.message.startsWith(prefix), e.message);
    assert.ok(e.message.length > prefix.length, "the git error is included");
    assert.ok(!e.message.includes("\n"));
    return true;
  });
  assert.deepEqual(await repoState(repo.path), before);
});

Deno.test("fetchProject() records the file:// URI as repo URL for --version on a repo without remotes, as MLflow", async () => {
  await using tmp = await tempDir();
  const repo = `${tmp.path}/gitrepo`;
  await writeFiles(repo, { "MLproject": "entry_points:\n  main:\n    command: 'true'\n" });
  const env = {
    GIT_AUTHOR_NAME: "t",
    GIT_AUTHOR_EMAIL: "t@e",
    GIT_COMMITTER_NAME: "t",
    GIT_COMMITTER_EMAIL: "t@e",
  };
  for (const args of [["init", "-q", "-b", "main"], ["add", "."], ["commit", "-q", "-m", "one"]]) {
    assert.ok((await new Deno.Command("git", { args, cwd: repo, env }).output()).success);
  }
  const fetched = await fetchProject(`file://${repo}`, { version: "main", cwd: tmp.path });
  try {
    assert.equal(fetched.source.repoUrl, `file://${repo}`);
    assert.equal(fetched.source.branch, "main");
    assert.match(fetched.source.commit ?? "", /^[0-9a-f]{40}$/);
  } finally {
    await fetched.cleanup();
  }
});

Deno.test("fetchProject() names a symlink loop as the project directory or as its #subdir", async () => {
  await using dir = await tempDir();
  await Deno.symlink("loop", `${dir.path}/loop`);
  await Deno.mkdir(`${dir.path}/p`);
  await Deno.writeTextFile(`${dir.path}/p/MLproject`, "name: p\n");
  await Deno.symlink("b", `${dir.path}/p/a`);
  await Deno.symlink("a", `${dir.path}/p/b`);
  await assert.rejects(
    fetchProject("loop", { cwd: dir.path }),
    (e: Error) =>
      e instanceof ExecutionException &&
      e.message ===
        "Cannot use project directory 'loop': too many levels of symbolic links (a symlink loop)",
  );
  await assert.rejects(
    fetchProject("p#a", { cwd: dir.path }),
    (e: Error) =>
      e instanceof ExecutionException &&
      e.message ===
        "Could not find subdirectory a of p: too many levels of symbolic links (a symlink loop)",
  );
});
