/**
 * Benchmark of the git fetch step (`deno run -A scripts/bench_fetch.ts [--runs N]`).
 *
 * Serves a generated repository over smart HTTP (`git http-backend` behind Deno.serve, on
 * 127.0.0.1) and measures, in one run:
 *
 * 1. baseline: `git clone --depth 1 --branch main` straight from the server;
 * 2. the first, uncached `fetchProject(url, { version: <sha> })` (creates the mirror);
 * 3. the second and later fetches of the same commit from the cached mirror (target ≤ 200 ms,
 *    no network request: the server's request counter is shown);
 * 4. a branch run on the warm cache (one ref lookup).
 *
 * A report: targets are shown, never asserted.
 *
 * @module
 */
import { fetchProject } from "../lib/fetch/fetch_project.ts";
import { git, GIT_ENV, makeTestRepo } from "../tests/_helpers/git_repos.ts";
import { startGitHttpServer } from "../tests/_helpers/git_servers.ts";
import { printOut } from "../lib/system/output.ts";

const TARGET_CACHED_MS = 200;
/** One line on stdout (the output module's writer). */
const out = (line = ""): void => printOut(line);

function runsOption(): number {
  const i = Deno.args.indexOf("--runs");
  const n = i === -1 ? 15 : Number(Deno.args[i + 1]);
  return Number.isInteger(n) && n > 0 ? n : 15;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

const runs = runsOption();
const root = await Deno.makeTempDir({ prefix: "mlproject-bench-fetch-" });
const cache = await Deno.makeTempDir({ prefix: "mlproject-bench-cache-" });
try {
  const repo = await makeTestRepo(root, "repo");
  // Some bulk so the clone is not trivially small: 200 files over 20 directories.
  const work = `${root}/repo-work`;
  for (let d = 0; d < 20; d++) {
    await Deno.mkdir(`${work}/pkg${d}`, { recursive: true });
    for (let f = 0; f < 10; f++) {
      await Deno.writeTextFile(`${work}/pkg${d}/m${f}.py`, `# ${d}/${f}\n${"x = 1\n".repeat(200)}`);
    }
  }
  await git(work, "add", "-A");
  await git(work, "commit", "-q", "-m", "bulk");
  await git(work, "push", "-q", repo.bare, "HEAD:main");
  const sha = await git(work, "rev-parse", "HEAD");
  await using server = startGitHttpServer(root);
  const url = `${server.url}repo.git`;
  const env = { ...GIT_ENV, MLPROJECT_CACHE_DIR: cache };

  const clones: number[] = [];
  for (let i = 0; i < Math.min(runs, 5); i++) {
    const dest = `${root}/clone-${i}`;
    const t = performance.now();
    const res = await new Deno.Command("git", {
      args: ["clone", "-q", "--depth", "1", "--branch", "main", url, dest],
      env,
      clearEnv: true,
      stderr: "null",
    }).output();
    clones.push(performance.now() - t);
    if (!res.success) throw new Error("git clone failed");
    await Deno.remove(dest, { recursive: true });
  }

  let requests = server.requests();
  let t = performance.now();
  const first = await fetchProject(url, { version: sha, env });
  const firstMs = performance.now() - t;
  const firstRequests = server.requests() - requests;
  await first.cleanup();

  const cached: number[] = [];
  requests = server.requests();
  for (let i = 0; i < runs; i++) {
    t = performance.now();
    const p = await fetchProject(url, { version: sha, env });
    cached.push(performance.now() - t);
    await p.cleanup();
  }
  const cachedRequests = server.requests() - requests;

  const branch: number[] = [];
  requests = server.requests();
  for (let i = 0; i < Math.min(runs, 5); i++) {
    t = performance.now();
    const p = await fetchProject(url, { version: "main", env });
    branch.push(performance.now() - t);
    await p.cleanup();
  }
  const branchRequests = (server.requests() - requests) / Math.min(runs, 5);

  const clone = median(clones);
  const warm = median(cached);
  out("Fetch step of a git project (smart HTTP on 127.0.0.1, 200-file repo)");
  out();
  out(`  git clone --depth 1 (baseline, median of ${clones.length})  ${clone.toFixed(1)} ms`);
  out(
    `  first fetchProject, uncached (creates mirror)      ${
      firstMs.toFixed(1)
    } ms  (${firstRequests} HTTP requests)`,
  );
  out(
    `  cached commit, median of ${runs}                      ${
      warm.toFixed(1)
    } ms  (${cachedRequests} HTTP requests in ${runs} runs)  target ≤ ${TARGET_CACHED_MS} ms: ${
      warm <= TARGET_CACHED_MS ? "met" : "MISSED"
    }`,
  );
  out(
    `  branch 'main' on a warm cache, median              ${
      median(branch).toFixed(1)
    } ms  (${branchRequests} HTTP requests per run: ls-remote only)`,
  );
  out();
  out(`  cached / git clone --depth 1  = ${(warm / clone).toFixed(2)}×`);
  out(`  cached / first uncached fetch = ${(warm / firstMs).toFixed(2)}×`);
} finally {
  await Deno.remove(root, { recursive: true }).catch(() => {});
  await Deno.remove(cache, { recursive: true }).catch(() => {});
}
