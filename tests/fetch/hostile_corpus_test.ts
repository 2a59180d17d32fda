/**
 * Runs the CLI on every malformed or hostile project of `tests/testdata/hostile/` and on special
 * files made at test time (devices, FIFOs, sockets, symlink loops, huge files): each must end
 * within a time cap (10 s) and a memory cap (400 MB peak RSS) with exit 1 or 2, exactly one
 * error line on stderr (no stack trace), and no run recorded.
 */
import assert from "node:assert/strict";
import { cleanEnv, MAIN_TS, REPO_ROOT, tempDir } from "../_helpers/cli.ts";
import { childMemoryKiB } from "../_helpers/processes.ts";

const HOSTILE = `${REPO_ROOT}/tests/testdata/hostile`;
/** Safety caps, not timing assertions: a case that overruns is killed and fails. */
const TIME_CAP_MS = 10_000;
const MEMORY_CAP_KB = 400 * 1024;
const MIB = 1024 * 1024;

interface Outcome {
  code: number;
  stderr: string;
  stdout: string;
  peakKb: number;
  killed: string | undefined;
  elapsedMs: number;
}

/** Runs `deno run -A main.ts ARGS`, polling its peak RSS and killing it past either cap. */
async function runCapped(
  args: string[],
  options: { cwd: string; env: Record<string, string>; onStart?: (pid: number) => void },
): Promise<Outcome> {
  const started = performance.now();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", MAIN_TS, ...args],
    cwd: options.cwd,
    env: options.env,
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  options.onStart?.(child.pid);
  let peakKb = 0;
  let killed: string | undefined;
  let done = false;
  const output = child.output().finally(() => (done = true));
  while (!done) {
    peakKb = Math.max(peakKb, childMemoryKiB(child.pid)?.hwm ?? 0);
    const elapsed = performance.now() - started;
    if (killed === undefined && (elapsed > TIME_CAP_MS || peakKb > MEMORY_CAP_KB)) {
      killed = elapsed > TIME_CAP_MS ? `time cap (${Math.round(elapsed)} ms)` : `memory cap`;
      try {
        child.kill("SIGKILL");
      } catch { /* already gone */ }
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  const out = await output;
  const dec = new TextDecoder();
  return {
    code: out.code,
    stdout: dec.decode(out.stdout),
    stderr: dec.decode(out.stderr),
    peakKb,
    killed,
    elapsedMs: performance.now() - started,
  };
}

/** Meta files of recorded runs under a file store (`<root>/<experiment>/<run>/meta.yaml`). */
function recordedRuns(root: string): string[] {
  const runs: string[] = [];
  try {
    for (const exp of Deno.readDirSync(root)) {
      if (!exp.isDirectory) continue;
      for (const run of Deno.readDirSync(`${root}/${exp.name}`)) {
        try {
          if (Deno.statSync(`${root}/${exp.name}/${run.name}/meta.yaml`).isFile) {
            runs.push(`${exp.name}/${run.name}`);
          }
        } catch { /* not a run */ }
      }
    }
  } catch { /* no store */ }
  return runs;
}

const LOG_LINE = /^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d (INFO|WARNING) mlproject: /;
const ERROR_LINE = /^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d ERROR mlproject: === .+ ===$|^Error: \S/;

/** The error lines of stderr, or one entry per stray line that is neither a log nor an error. */
function errorLines(stderr: string): string[] {
  const lines = stderr.split("\n").filter((l) => l.trim() !== "");
  const stray = lines.filter((l) => !LOG_LINE.test(l) && !ERROR_LINE.test(l));
  return [...lines.filter((l) => ERROR_LINE.test(l)), ...stray];
}

function assertRefused(name: string, outcome: Outcome, root: string, codes: number[]): void {
  const where = `case ${name}: exit ${outcome.code}, peak ${
    Math.round(outcome.peakKb / 1024)
  } MB, stderr ${JSON.stringify(outcome.stderr.slice(0, 2000))}`;
  assert.equal(outcome.killed, undefined, `${where}: killed at the ${outcome.killed}`);
  assert.ok(codes.includes(outcome.code), `${where}: expected exit ${codes.join(" or ")}`);
  const errors = errorLines(outcome.stderr);
  assert.equal(errors.length, 1, `${where}: expected exactly one error line, and only log lines`);
  assert.doesNotMatch(outcome.stderr, /unexpected failure|^\s+at /m, where);
  assert.ok(errors[0]!.length < 4096, `${where}: error line of ${errors[0]!.length} characters`);
  assert.deepEqual(recordedRuns(`${root}/mlruns`), [], `${where}: a run was recorded`);
}

async function mkfifo(path: string): Promise<void> {
  const out = await new Deno.Command("mkfifo", { args: [path] }).output();
  assert.ok(out.success, `mkfifo ${path}`);
}

/** Resources a case keeps open while the CLI runs, closed when it ends. */
const OPEN: { close(): void }[] = [];

const MAIN = "entry_points:\n  main:\n    command: echo hi\n";
const VENV = ["--env-manager", "virtualenv"];

/** A case: prepares `project` under `root` and returns the CLI arguments. */
interface Case {
  name: string;
  setup: (root: string, project: string) => Promise<string[]>;
  codes?: number[];
}

function staticCases(): Case[] {
  const cases: Case[] = [];
  for (const entry of [...Deno.readDirSync(HOSTILE)].sort((a, b) => a.name.localeCompare(b.name))) {
    const source = `${HOSTILE}/${entry.name}`;
    cases.push({
      name: entry.name,
      setup: async (_root, project) => {
        if (entry.isDirectory) {
          for (const file of Deno.readDirSync(source)) {
            await Deno.copyFile(`${source}/${file.name}`, `${project}/${file.name}`);
          }
        } else await Deno.copyFile(source, `${project}/MLproject`);
        const head = new TextDecoder().decode(
          Deno.readFileSync(`${project}/MLproject`).subarray(0, 200),
        );
        const m = /^# args: (.*)$/m.exec(head);
        const extra = m ? JSON.parse(m[1]!) as string[] : [];
        return ["run", project, "--env-manager", "local", ...extra];
      },
    });
  }
  return cases;
}

const project = (args: string[] = []) => (_root: string, dir: string) =>
  Promise.resolve(["run", dir, "--env-manager", "local", ...args]);

const GENERATED: Case[] = [
  {
    name: "MLproject symlink to /dev/zero",
    setup: async (root, dir) => {
      await Deno.symlink("/dev/zero", `${dir}/MLproject`);
      return project()(root, dir);
    },
  },
  {
    name: "MLproject symlink to /dev/urandom",
    setup: async (root, dir) => {
      await Deno.symlink("/dev/urandom", `${dir}/MLproject`);
      return project()(root, dir);
    },
  },
  {
    name: "MLproject FIFO without a writer",
    setup: async (root, dir) => {
      await mkfifo(`${dir}/MLproject`);
      return project()(root, dir);
    },
  },
  {
    name: "MLproject socket",
    setup: (root, dir) => {
      // Listening until the case ends: closing it would remove the socket file.
      OPEN.push(Deno.listen({ transport: "unix", path: `${dir}/MLproject` }));
      return project()(root, dir);
    },
  },
  {
    name: "MLproject symlink loop",
    setup: async (root, dir) => {
      await Deno.symlink("MLproject", `${dir}/MLproject`);
      return project()(root, dir);
    },
  },
  {
    name: "MLproject dangling symlink",
    setup: async (root, dir) => {
      await Deno.symlink(`${root}/nowhere`, `${dir}/MLproject`);
      return project()(root, dir);
    },
  },
  {
    name: "MLproject symlink to a /proc file that reports size 0",
    setup: async (root, dir) => {
      await Deno.symlink("/proc/self/status", `${dir}/MLproject`);
      return project()(root, dir);
    },
  },
  {
    name: "MLproject one byte over 10 MiB",
    setup: async (root, dir) => {
      await Deno.writeTextFile(`${dir}/MLproject`, `${MAIN}#${"x".repeat(10 * MIB - MAIN.length)}`);
      return project()(root, dir);
    },
  },
  {
    name: "MLproject nested 100k deep in flow style",
    setup: async (root, dir) => {
      await Deno.writeTextFile(
        `${dir}/MLproject`,
        `a: ${"[".repeat(100_000)}${"]".repeat(100_000)}\n`,
      );
      return project()(root, dir);
    },
  },
  {
    name: "MLproject nested 50k deep in block style",
    setup: async (root, dir) => {
      await Deno.writeTextFile(`${dir}/MLproject`, `${"- ".repeat(50_000)}x\n`);
      return project()(root, dir);
    },
  },
  {
    name: "MLproject with a 5 MB command",
    setup: async (root, dir) => {
      await Deno.writeTextFile(
        `${dir}/MLproject`,
        `entry_points:\n  main:\n    command: echo ${"x".repeat(5 * MIB)}\n`,
      );
      return project()(root, dir);
    },
  },
  {
    name: "python_env: /dev/zero",
    setup: async (root, dir) => {
      await Deno.writeTextFile(`${dir}/MLproject`, `python_env: /dev/zero\n${MAIN}`);
      return project(VENV)(root, dir);
    },
  },
  {
    name: "python_env FIFO",
    setup: async (root, dir) => {
      await mkfifo(`${dir}/env.yaml`);
      await Deno.writeTextFile(`${dir}/MLproject`, `python_env: env.yaml\n${MAIN}`);
      return project(VENV)(root, dir);
    },
  },
  {
    name: "python_env.yaml over 10 MiB",
    setup: async (root, dir) => {
      await Deno.writeTextFile(`${dir}/python_env.yaml`, `#${"x".repeat(10 * MIB)}\n`);
      await Deno.writeTextFile(`${dir}/MLproject`, MAIN);
      return project(VENV)(root, dir);
    },
  },
  {
    name: "requirements file FIFO referenced from python_env",
    setup: async (root, dir) => {
      await mkfifo(`${dir}/requirements.txt`);
      await Deno.writeTextFile(
        `${dir}/python_env.yaml`,
        "python: '3.10'\ndependencies: ['-r requirements.txt']\n",
      );
      await Deno.writeTextFile(`${dir}/MLproject`, MAIN);
      return project(VENV)(root, dir);
    },
  },
  {
    name: "requirements file /dev/zero referenced from python_env",
    setup: async (root, dir) => {
      await Deno.writeTextFile(
        `${dir}/python_env.yaml`,
        "python: '3.10'\ndependencies: ['-r /dev/zero']\n",
      );
      await Deno.writeTextFile(`${dir}/MLproject`, MAIN);
      return project(VENV)(root, dir);
    },
  },
  {
    name: "conda_env: /dev/zero read for a virtualenv",
    setup: async (root, dir) => {
      await Deno.writeTextFile(`${dir}/MLproject`, `conda_env: /dev/zero\n${MAIN}`);
      return project(VENV)(root, dir);
    },
  },
  {
    name: "--env-file FIFO",
    codes: [2],
    setup: async (root, dir) => {
      await mkfifo(`${root}/vars.env`);
      await Deno.writeTextFile(`${dir}/MLproject`, MAIN);
      return ["--env-file", `${root}/vars.env`, ...await project()(root, dir)];
    },
  },
  {
    name: "--env-file /dev/zero",
    codes: [2],
    setup: async (root, dir) => {
      await Deno.writeTextFile(`${dir}/MLproject`, MAIN);
      return ["--env-file", "/dev/zero", ...await project()(root, dir)];
    },
  },
  {
    name: "-c x.json FIFO",
    codes: [2],
    setup: async (root, dir) => {
      await mkfifo(`${root}/x.json`);
      await Deno.writeTextFile(`${dir}/MLproject`, MAIN);
      return project(["-c", `${root}/x.json`])(root, dir);
    },
  },
  {
    name: "-c x.json symlink to /dev/zero",
    codes: [2],
    setup: async (root, dir) => {
      await Deno.symlink("/dev/zero", `${root}/x.json`);
      await Deno.writeTextFile(`${dir}/MLproject`, MAIN);
      return project(["-c", `${root}/x.json`])(root, dir);
    },
  },
  {
    name: "project URI that is a FIFO",
    setup: async (root) => {
      await mkfifo(`${root}/proj.fifo`);
      return ["run", `${root}/proj.fifo`, "--env-manager", "local"];
    },
  },
  {
    name: "project URI that is /dev/zero",
    setup: () => Promise.resolve(["run", "/dev/zero", "--env-manager", "local"]),
  },
  {
    name: "project URI holding a line break",
    setup: () => Promise.resolve(["run", "no\nsuch", "--env-manager", "local"]),
  },
  {
    name: "git repository with an MLproject symlink to /dev/zero committed, run at a version",
    setup: async (root, dir) => {
      await Deno.symlink("/dev/zero", `${dir}/MLproject`);
      const git = async (...args: string[]) => {
        const out = await new Deno.Command("git", {
          args: ["-c", "user.name=t", "-c", "user.email=t@example.com", ...args],
          cwd: dir,
          stdout: "null",
          stderr: "null",
        }).output();
        assert.ok(out.success, `git ${args.join(" ")}`);
      };
      await git("init", "-q");
      await git("add", "-A");
      await git("commit", "-qm", "hostile");
      return project(["--version", "HEAD"])(root, dir);
    },
  },
];

for (const c of [...staticCases(), ...GENERATED]) {
  Deno.test(`mlproject run refuses hostile input '${c.name}' with one line, in bounded time and memory`, async () => {
    await using root = await tempDir("mlproject-hostile-");
    const dir = `${root.path}/project`;
    await Deno.mkdir(dir);
    const args = await c.setup(root.path, dir);
    let outcome: Outcome;
    try {
      outcome = await runCapped(args, {
        cwd: root.path,
        env: cleanEnv({
          MLFLOW_TRACKING_URI: `file://${root.path}/mlruns`,
          MLFLOW_ENV_ROOT: `${root.path}/envs`,
        }),
      });
    } finally {
      for (const r of OPEN.splice(0)) r.close();
    }
    assertRefused(c.name, outcome, root.path, c.codes ?? [1, 2]);
  });
}

Deno.test("the hostile corpus holds at least 40 files, with its bad bytes and tabs intact", () => {
  assert.ok(staticCases().length + GENERATED.length >= 40);
  // A formatter run over the corpus would "repair" these (deno.json excludes the folder).
  const bytes = (rel: string) => [...Deno.readFileSync(`${HOSTILE}/${rel}`)];
  assert.ok(bytes("invalid_utf8.yaml").includes(0xe9));
  assert.ok(bytes("python_env_invalid_utf8/python_env.yaml").includes(0xff));
  assert.ok(bytes("tab_indentation.yaml").includes(0x09));
  assert.ok(bytes("nul_byte.yaml").includes(0x00));
});

Deno.test("SIGINT to the CLI while it handles a FIFO MLproject with a writer: prompt exit, no run", async () => {
  await using root = await tempDir("mlproject-hostile-");
  const dir = `${root.path}/project`;
  await Deno.mkdir(dir);
  await mkfifo(`${dir}/MLproject`);
  // A writer that never writes: a blocking reader would wait on it forever.
  const writer = await Deno.open(`${dir}/MLproject`, { read: true, write: true });
  try {
    const outcome = await runCapped(["run", dir, "--env-manager", "local"], {
      cwd: root.path,
      env: cleanEnv({ MLFLOW_TRACKING_URI: `file://${root.path}/mlruns` }),
      onStart: (pid) => {
        // Interrupt once the CLI has its SIGINT handler (SigCgt bit 2), i.e. mid-way.
        const poll = () => {
          try {
            const status = Deno.readTextFileSync(`/proc/${pid}/status`);
            const caught = BigInt(`0x${/^SigCgt:\s+([0-9a-f]+)/m.exec(status)?.[1] ?? "0"}`);
            if ((caught & 2n) !== 0n) {
              Deno.kill(pid, "SIGINT");
              return;
            }
            setTimeout(poll, 5);
          } catch { /* exited */ }
        };
        poll();
      },
    });
    assert.equal(outcome.killed, undefined, `killed at the ${outcome.killed}`);
    // Either the signal came first (130) or the FIFO had already been refused (1): never a hang.
    assert.ok([1, 130].includes(outcome.code), `exit ${outcome.code}: ${outcome.stderr}`);
    assert.equal(errorLines(outcome.stderr).length, 1, outcome.stderr);
    assert.deepEqual(recordedRuns(`${root.path}/mlruns`), []);
  } finally {
    writer.close();
  }
});
