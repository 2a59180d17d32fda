/**
 * The per-release schema data and the functions over it; the migration-file reader against
 * synthetic files (against real MLflow: tests/compat/tracking/sqlite_schema_test.ts).
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { REVISIONS, STATEMENTS } from "../../lib/tracking/_sqlite_schemas.ts";
import { NEW_DATABASES, RELEASES, SKIPPED } from "../../lib/tracking/_sqlite_releases.ts";
import {
  compareRevisions,
  describeRevision,
  headRevisionForVersion,
  headRevisionFromSitePackages,
  knownReleases,
  newDatabase,
  NEWEST_KNOWN_RELEASE,
  readMigrationChain,
  releasesWithRevision,
  SCHEMA_DATA_GENERATED,
  schemaForRevision,
  schemaForVersion,
} from "../../lib/tracking/sqlite_schema.ts";
import { comparePep440 } from "../../lib/system/pep440.ts";
import { tempDir, writeFiles } from "../_helpers/cli.ts";

Deno.test("the schema data covers every MLflow release from 2.0.0 to 3.18.0 and skips none of them", () => {
  const known = knownReleases();
  assert.ok(comparePep440(NEWEST_KNOWN_RELEASE, "3.18.0") >= 0, NEWEST_KNOWN_RELEASE);
  const skipped = SKIPPED.map(([v]) => v).filter((v) => comparePep440(v, "2.0.0") >= 0);
  assert.deepEqual(skipped, []);
  // Every minor series has its .0 release (2.0.0 … 2.22.0, 3.0.0 … 3.18.0).
  const missing: string[] = [];
  for (let minor = 0; minor <= 22; minor++) {
    if (!known.includes(`2.${minor}.0`)) missing.push(`2.${minor}.0`);
  }
  for (let minor = 0; minor <= 18; minor++) {
    if (!known.includes(`3.${minor}.0`)) missing.push(`3.${minor}.0`);
  }
  assert.deepEqual(missing, []);
  for (const v of ["2.0.1", "2.17.2", "2.22.5", "3.7.0", "3.17.2"]) assert.ok(known.includes(v), v);
  assert.match(SCHEMA_DATA_GENERATED, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
});

Deno.test("the schema data lists releases oldest first, each once, with a revision that has DDL", () => {
  const versions = RELEASES.map(([v]) => v);
  assert.equal(new Set(versions).size, versions.length);
  for (let i = 1; i < versions.length; i++) {
    assert.ok(comparePep440(versions[i - 1]!, versions[i]!) < 0, versions[i]);
  }
  for (const [version, revision] of RELEASES) {
    const data = REVISIONS[revision];
    assert.ok(data !== undefined, `${version}: ${revision}`);
    assert.ok(data.ddl.every((i) => STATEMENTS[i] !== undefined));
    const ddl = data.ddl.map((i) => STATEMENTS[i]!);
    assert.ok(ddl.some((s) => /^CREATE TABLE "?experiments"?/.test(s)), `${version} experiments`);
    assert.ok(ddl.some((s) => /^CREATE TABLE "?runs"?/.test(s)), `${version} runs`);
    assert.ok(ddl.some((s) => /^CREATE TABLE "?alembic_version"?/.test(s)), `${version} alembic`);
  }
});

Deno.test("revisions are ordered by their first release, and each minor's .0 release never goes back", () => {
  const firsts = new Map<string, string>();
  for (const [version, revision] of RELEASES) {
    if (!firsts.has(revision)) firsts.set(revision, version);
  }
  for (const [a, fa] of firsts) {
    for (const [b, fb] of firsts) {
      assert.equal(Math.sign(compareRevisions(a, b)!), Math.sign(comparePep440(fa, fb)));
    }
  }
  const minors = RELEASES.filter(([v]) => v.endsWith(".0"));
  for (let i = 1; i < minors.length; i++) {
    const [version, revision] = minors[i]!;
    assert.ok(compareRevisions(minors[i - 1]![1], revision)! <= 0, version);
  }
});

Deno.test("headRevisionForVersion() and schemaForVersion() answer exact releases only", () => {
  assert.equal(headRevisionForVersion("3.7.0"), "bf29a5ff90ea");
  assert.equal(headRevisionForVersion("2.17.2"), "f5a4f2784254");
  assert.equal(headRevisionForVersion("99.0.0"), undefined);
  assert.equal(headRevisionForVersion("3.7.0rc0"), undefined);
  const schema = schemaForVersion("3.7.0")!;
  assert.equal(schema.revision, "bf29a5ff90ea");
  assert.ok(schema.releases.includes("3.7.0"));
  assert.match(schema.defaultArtifactLocation, /\{cwd\}/);
  assert.equal(schemaForVersion("0.0.1"), undefined);
  assert.equal(schemaForRevision("not-a-revision"), undefined);
});

Deno.test("each revision's DDL digest is the SHA-256 of its DDL, so an edited schema gets a new template", () => {
  assert.deepEqual(Object.keys(NEW_DATABASES).sort(), Object.keys(REVISIONS).sort());
  for (const revision of Object.keys(REVISIONS)) {
    const ddl = schemaForRevision(revision)!.ddl.join(";\n");
    const hex = createHash("sha256").update(ddl).digest("hex");
    assert.equal(newDatabase(revision)!.ddlDigest, hex.slice(0, 16), revision);
  }
  assert.equal(newDatabase()!.revision, headRevisionForVersion(NEWEST_KNOWN_RELEASE));
  assert.equal(newDatabase("0123456789ab"), undefined);
});

Deno.test("describeRevision() names exactly the releases of a revision, as runs of consecutive releases", () => {
  const all = knownReleases();
  for (const revision of Object.keys(REVISIONS)) {
    const text = describeRevision(revision);
    assert.match(text, /^MLflow /);
    const named = new Set<string>();
    for (const part of text.slice("MLflow ".length).split(", ")) {
      const [from, to] = part.split(" to ");
      const i = all.indexOf(from!);
      const j = to === undefined ? i : all.indexOf(to);
      assert.ok(i >= 0 && j >= i, `${revision}: ${text}`);
      for (const v of all.slice(i, j + 1)) named.add(v);
    }
    assert.deepEqual([...named], [...releasesWithRevision(revision)], `${revision}: ${text}`);
  }
  assert.equal(describeRevision("0123456789ab"), "an unknown MLflow version");
});

Deno.test("compareRevisions() follows the first release of each revision; unknown gives undefined", () => {
  assert.ok(compareRevisions("f5a4f2784254", "bf29a5ff90ea")! < 0);
  assert.ok(compareRevisions("bf29a5ff90ea", "f5a4f2784254")! > 0);
  assert.equal(compareRevisions("bf29a5ff90ea", "bf29a5ff90ea"), 0);
  assert.equal(compareRevisions("bf29a5ff90ea", "nope"), undefined);
});

function migration(revision: string, down: string, typed = false): string {
  const ann = typed ? ": str" : "";
  return `"""a migration"""\nfrom alembic import op\n\nrevision${ann} = "${revision}"\n` +
    `down_revision${ann} = ${down}\nbranch_labels = None\n\ndef upgrade():\n    pass\n`;
}

Deno.test("readMigrationChain() finds the one revision that is nobody's down_revision", async () => {
  await using tmp = await tempDir();
  const versions = "mlflow/store/db_migrations/versions";
  await writeFiles(tmp.path, {
    [`${versions}/__init__.py`]: "",
    [`${versions}/aaa_first.py`]: migration("aaa", "None"),
    [`${versions}/bbb_second.py`]: migration("bbb", "'aaa'"),
    [`${versions}/ccc_branch.py`]: migration("ccc", '"aaa"', true),
    [`${versions}/ddd_merge.py`]: migration("ddd", '("bbb", "ccc")'),
    [`${versions}/notes.txt`]: 'revision = "zzz"\n',
  });
  const chain = await readMigrationChain(tmp.path);
  assert.equal(chain?.head, "ddd");
  assert.deepEqual([...chain!.revisions].sort(), ["aaa", "bbb", "ccc", "ddd"]);
  assert.equal(await headRevisionFromSitePackages(tmp.path), "ddd");
  // Two heads: MLflow itself could not tell which one it expects.
  await Deno.remove(join(tmp.path, versions, "ddd_merge.py"));
  assert.equal(await headRevisionFromSitePackages(tmp.path), undefined);
  assert.equal(await headRevisionFromSitePackages(join(tmp.path, "nowhere")), undefined);
});
