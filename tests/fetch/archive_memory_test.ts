/**
 * Archive extraction runs in bounded memory whatever the archive: the CLI's peak RSS while it
 * unpacks a project holding a 512 MiB entry stays within 160 MiB of its peak for a tiny one.
 */
import assert from "node:assert/strict";
import { cleanEnv, MAIN_TS, tempDir } from "../_helpers/cli.ts";
import {
  type BigEntry,
  peakRss,
  writeSparseTar,
  writeTarGz,
  writeZip,
} from "../_helpers/big_archives.ts";

const MiB = 1024 * 1024;
const BIG = 512 * MiB;
/**
 * Allowed growth over a tiny archive's peak. Streaming measures 63–76 MiB on a quiet machine and up
 * to ~110 MiB under the parallel suite on 2 loaded cores (garbage collection lags); reading an entry
 * whole costs more than its 512 MiB, so 160 still tells the two apart.
 */
const MAX_GROWTH_MIB = 160;

function project(sizeFile: string): BigEntry {
  return {
    name: "p/MLproject",
    text: `name: p\nentry_points:\n  main:\n    command: "stat -c %s big.bin > '${sizeFile}'"\n`,
  };
}

async function cliPeak(dir: string, archive: string) {
  const out = await peakRss(
    [Deno.execPath(), "run", "-A", "--quiet", MAIN_TS, "run", archive, "--env-manager", "local"],
    { cwd: dir, env: cleanEnv({ MLFLOW_TRACKING_URI: `${dir}/mlruns` }) },
  );
  return { ...out, peakMiB: out.peakKiB / 1024 };
}

Deno.test({
  name:
    "run unpacks a 512 MiB entry of a tar, tar.gz and zip (stored, deflated) within 160 MiB of extra memory (not in proportion to its size)",
  async fn() {
    await using dir = await tempDir();
    const d = dir.path;
    const small = { name: "p/big.bin", text: "x" };
    await writeTarGz(`${d}/small.tar.gz`, [project(`${d}/small.txt`), small]);
    const baseline = await cliPeak(d, `${d}/small.tar.gz`);
    assert.equal(baseline.code, 0, baseline.stderr);
    assert.equal(await Deno.readTextFile(`${d}/small.txt`), "1\n");
    const zeros = { name: "p/big.bin", zeros: BIG };
    const cases: [string, () => Promise<void>][] = [
      ["big.tar.gz", () => writeTarGz(`${d}/big.tar.gz`, [project(`${d}/big.tar.gz.txt`), zeros])],
      ["big.tar", () => writeSparseTar(`${d}/big.tar`, [project(`${d}/big.tar.txt`), zeros])],
      ["deflated.zip", () =>
        writeZip(`${d}/deflated.zip`, [
          { ...project(`${d}/deflated.zip.txt`), method: "deflate" },
          { ...zeros, method: "deflate" },
        ])],
      ["stored.zip", () =>
        writeZip(`${d}/stored.zip`, [
          { ...project(`${d}/stored.zip.txt`), method: "stored" },
          { ...zeros, method: "stored" },
        ])],
    ];
    for (const [name, write] of cases) {
      await write();
      const run = await cliPeak(d, `${d}/${name}`);
      assert.equal(run.code, 0, run.stderr);
      assert.equal(await Deno.readTextFile(`${d}/${name}.txt`), `${BIG}\n`, name);
      const growth = run.peakMiB - baseline.peakMiB;
      assert.ok(
        growth <= MAX_GROWTH_MIB,
        `${name}: peak RSS ${run.peakMiB.toFixed(0)} MiB, ${growth.toFixed(0)} MiB above the ${
          baseline.peakMiB.toFixed(0)
        } MiB of a tiny archive`,
      );
      await Deno.remove(`${d}/${name}`);
    }
  },
});

Deno.test({
  name:
    "run refuses a zip whose header understates a 3.5 GiB entry after at most one chunk, in bounded memory",
  async fn() {
    await using dir = await tempDir();
    const d = dir.path;
    await writeTarGz(`${d}/small.tar.gz`, [project(`${d}/small.txt`), {
      name: "p/big.bin",
      text: "x",
    }]);
    const baseline = await cliPeak(d, `${d}/small.tar.gz`);
    assert.equal(baseline.code, 0, baseline.stderr);
    await writeZip(`${d}/liar.zip`, [
      { ...project(`${d}/liar.txt`), method: "deflate" },
      { name: "p/big.bin", zeros: 3584 * MiB, declaredSize: MiB, method: "deflate" },
    ]);
    const run = await cliPeak(d, `${d}/liar.zip`);
    assert.equal(run.code, 1);
    const lines = run.stderr.trim().split("\n");
    assert.match(
      lines[lines.length - 1]!,
      /ERROR mlproject: === Archive '.*liar\.zip' is corrupt: 'p\/big\.bin' is larger than its declared size 1048576 ===$/,
    );
    const growth = run.peakMiB - baseline.peakMiB;
    assert.ok(growth <= MAX_GROWTH_MIB, `peak RSS ${run.peakMiB.toFixed(0)} MiB (+${growth})`);
  },
});
