/**
 * Databricks project tarball benchmark: wall time and peak memory of `projectTarball` for a
 * generated project (half incompressible bytes, half repetitive text, plus 500 small source files),
 * and, when an MLflow venv is installed, the same for MLflow's own `_upload_project_to_dbfs`
 * tarball step on the same directory, with a check that both sha256 agree. Each side runs in its
 * own process and reports its own peak RSS (`VmHWM` of `/proc/self/status`; Python's
 * `ru_maxrss`), so Linux only.
 *
 * Then the tarball cache (lib/databricks/project_tarball_cache.ts) on the same project, in the same
 * process: a first run (empty cache: build and store) and a second run of the unchanged project,
 * once with settled files (stat walk only) and once with files touched just before the first run
 * (racy: the second run hashes their contents again).
 *
 * Usage: deno run -A scripts/bench_tarball.ts [--mb N]   (default 50)
 */
import { projectTarball } from "../lib/databricks/project_tarball.ts";
import { cachedProjectTarball } from "../lib/databricks/project_tarball_cache.ts";
import { testMlflowVenvs } from "../tests/_helpers/mlflow_venvs.ts";

const mbArg = Deno.args.indexOf("--mb");
const MB = mbArg >= 0 ? Number(Deno.args[mbArg + 1]) : 50;

function peakRssMb(): number {
  const line = Deno.readTextFileSync("/proc/self/status").split("\n").find((l) =>
    l.startsWith("VmHWM:")
  );
  return Math.round(Number(line?.split(/\s+/)[1] ?? 0) / 1024);
}

if (Deno.args.includes("--child")) {
  const dir = Deno.args[Deno.args.indexOf("--child") + 1]!;
  const t0 = performance.now();
  const tarball = await projectTarball(dir);
  const seconds = (performance.now() - t0) / 1000;
  await Deno.remove(tarball.path);
  const peak = peakRssMb();
  const cached = async (touch: boolean) => {
    const cacheDir = await Deno.makeTempDir({ prefix: "mlproject-bench-tarcache-" });
    try {
      if (touch) {
        const now = new Date();
        for await (const f of walkFiles(dir)) await Deno.utime(f, now, now);
      }
      const times: number[] = [];
      for (const _ of [1, 2]) {
        const t = performance.now();
        await using c = await cachedProjectTarball(dir, { cacheDir });
        if (c.sha256 !== tarball.sha256) throw new Error("cached sha256 differs");
        times.push((performance.now() - t) / 1000);
        if (_ === 2 && !c.hit) throw new Error("second run missed the cache");
      }
      return times;
    } finally {
      await Deno.remove(cacheDir, { recursive: true });
    }
  };
  const settled = await cached(false);
  const racy = await cached(true);
  // deno-lint-ignore no-console -- the child's one result line
  console.log(JSON.stringify({ ...tarball, seconds, peakRssMb: peak, settled, racy }));
  Deno.exit(0);
}

async function* walkFiles(dir: string): AsyncGenerator<string> {
  for await (const e of Deno.readDir(dir)) {
    if (e.isDirectory) yield* walkFiles(`${dir}/${e.name}`);
    else if (e.isFile) yield `${dir}/${e.name}`;
  }
}

async function makeProject(dir: string, mb: number): Promise<void> {
  const words = Array.from({ length: 5000 }, (_, i) => `tok${i}`);
  let seed = 7;
  const text = (size: number) => {
    let s = "";
    while (s.length < size) {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      s += words[seed % words.length] + " ";
    }
    return new TextEncoder().encode(s.slice(0, size));
  };
  const files = Math.max(1, Math.round(mb / 10));
  for (let i = 0; i < files; i++) {
    await Deno.writeFile(`${dir}/rand${i}.bin`, pseudoRandom(5 * 1024 * 1024, i + 1));
    await Deno.writeFile(`${dir}/text${i}.txt`, text(5 * 1024 * 1024));
  }
  for (let i = 0; i < 500; i++) {
    await Deno.mkdir(`${dir}/src/m${i % 20}`, { recursive: true });
    await Deno.writeTextFile(`${dir}/src/m${i % 20}/f${i}.py`, `x = ${i}\n`.repeat(50));
  }
}

const MLFLOW_SIDE = `
import json, resource, sys, time
from mlflow.projects import databricks
databricks.file_utils._get_local_project_dir_size = lambda path: 0
runner = databricks.DatabricksJobRunner(databricks_profile_uri=None)
runner._dbfs_path_exists = lambda path: True
t0 = time.time()
uri = runner._upload_project_to_dbfs(sys.argv[1], "0")
print(json.dumps({"sha256": uri.rsplit("/", 1)[1].split(".")[0], "seconds": time.time() - t0,
                  "peakRssMb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}))
`;
import { pseudoRandom } from "../tests/_helpers/pseudo_random.ts";

async function lastJsonLine(cmd: Deno.Command): Promise<Record<string, number | string>> {
  const out = await cmd.output();
  const text = new TextDecoder().decode(out.stdout).trim();
  if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
  return JSON.parse(text.split("\n").at(-1)!);
}

const dir = await Deno.makeTempDir({ prefix: "mlproject-bench-tarball-" });
try {
  await makeProject(dir, MB);
  const ours = await lastJsonLine(
    new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", new URL(import.meta.url).pathname, "--child", dir],
    }),
  );
  const lines = [
    `project: ${MB} MB generated (${Math.round(MB / 2)} MB random, ${
      Math.round(MB / 2)
    } MB text, 500 small files)`,
    `mlproject: ${Number(ours.seconds).toFixed(1)} s, peak RSS ${ours.peakRssMb} MB, archive ${
      (Number(ours.size) / 1e6).toFixed(1)
    } MB, sha256 ${ours.sha256}`,
  ];
  const [s1, s2] = ours.settled as unknown as number[];
  const [r1, r2] = ours.racy as unknown as number[];
  lines.push(
    `mlproject tarball cache, settled files: run 1 ${s1!.toFixed(1)} s (build + store), run 2 ${
      s2!.toFixed(2)
    } s (stat walk)`,
    `mlproject tarball cache, files touched just before run 1: run 1 ${r1!.toFixed(1)} s, run 2 ${
      r2!.toFixed(2)
    } s (stat walk + re-hash of the racy files)`,
  );
  const venv = testMlflowVenvs()[0];
  if (venv !== undefined) {
    const theirs = await lastJsonLine(
      new Deno.Command(venv.python, {
        args: ["-c", MLFLOW_SIDE, dir],
        env: { MLFLOW_DISABLE_TELEMETRY: "true", PYTHONWARNINGS: "ignore" },
      }),
    );
    lines.push(
      `MLflow ${venv.version}: ${
        Number(theirs.seconds).toFixed(1)
      } s, peak RSS ${theirs.peakRssMb} MB, sha256 ${
        theirs.sha256 === ours.sha256 ? "identical" : `DIFFERENT (${theirs.sha256})`
      }`,
    );
  } else {
    lines.push("MLflow: no venv installed (scripts/install_test_mlflow.sh), not compared");
  }
  // deno-lint-ignore no-console -- benchmark output
  console.log(lines.join("\n"));
} finally {
  await Deno.remove(dir, { recursive: true });
}
