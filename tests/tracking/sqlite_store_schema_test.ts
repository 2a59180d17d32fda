/**
 * SqliteStore and the MLflow the child imports: a new database at exactly that MLflow's schema,
 * refusal of a database that MLflow would refuse, `upgradeDb`, a missing directory. (Against
 * real MLflow releases: tests/compat/tracking/sqlite_store_schema_test.ts.)
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { type MlflowInstallation, SqliteStore } from "../../lib/tracking/sqlite_store.ts";
import {
  describeRevision,
  headRevisionForVersion,
  NEWEST_KNOWN_RELEASE,
  schemaForVersion,
} from "../../lib/tracking/sqlite_schema.ts";
import { openTrackingStore } from "../../lib/tracking/tracking_uri.ts";
import { cleanEnv, FIXTURES, runCli, tempDir, writeFiles } from "../_helpers/cli.ts";
import { alembicVersion, normalizedSchema } from "../_helpers/sqlite_schema.ts";

/** An MLflow known only by its version: the data answers for it, no Python is started. */
function byVersion(version: string): MlflowInstallation {
  return { version, python: "/nonexistent/bin/python", sitePackages: "/nonexistent/site-packages" };
}

async function sha256(path: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", await Deno.readFile(path));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

async function createFor(path: string, version: string): Promise<void> {
  (await SqliteStore.open(path, { mlflow: byVersion(version) })).close();
}

// ---------------------------------------------------------------------------------------------
// new databases (no Python needed)

Deno.test("SqliteStore creates a new DB at the revision of the given MLflow version", async () => {
  await using tmp = await tempDir();
  for (const version of ["2.0.1", "2.17.2", "3.7.0", NEWEST_KNOWN_RELEASE]) {
    const path = join(tmp.path, `${version}.db`);
    await createFor(path, version);
    assert.deepEqual(alembicVersion(path), [headRevisionForVersion(version)], version);
  }
});

Deno.test("SqliteStore's DB for MLflow 2.17.2 has the schema of the DB real MLflow 2.17 wrote", async () => {
  await using tmp = await tempDir();
  const path = join(tmp.path, "mlflow.db");
  await createFor(path, "2.17.2");
  const fixture = join(tmp.path, "fixture.db");
  Deno.copyFileSync(join(FIXTURES, "sqlite", "mlflow.db"), fixture);
  Deno.chmodSync(fixture, 0o644);
  assert.deepEqual(normalizedSchema(path), normalizedSchema(fixture));
  assert.deepEqual(alembicVersion(path), alembicVersion(fixture));
});

Deno.test("SqliteStore puts the default experiment's artifacts in mlruns/0 beside the DB", async () => {
  await using tmp = await tempDir();
  const path = join(tmp.path, "mlflow.db");
  const store = await SqliteStore.open(path, { mlflow: byVersion("2.17.2") });
  try {
    const exp = await store.findExperiment({ id: "0" });
    const template = schemaForVersion("2.17.2")!.defaultArtifactLocation;
    assert.equal(exp?.artifactLocation, template.replaceAll("{cwd}", tmp.path));
    assert.ok(exp?.artifactLocation.endsWith(`${tmp.path}/mlruns/0`));
  } finally {
    store.close();
  }
});

// ---------------------------------------------------------------------------------------------
// a database the child's MLflow would refuse

Deno.test("SqliteStore refuses a DB older than the child's MLflow, naming file, revisions, versions and the fix, and writes nothing", async () => {
  await using tmp = await tempDir();
  const path = join(tmp.path, "mlflow.db");
  await createFor(path, "2.17.2");
  const before = await sha256(path);
  const old = headRevisionForVersion("2.17.2")!;
  const head = headRevisionForVersion("3.7.0")!;
  await assert.rejects(
    () => SqliteStore.open(path, { mlflow: byVersion("3.7.0") }),
    (e: Error & { exitCode?: number }) => {
      assert.equal(e.exitCode, 1);
      assert.ok(!e.message.includes("\n"), e.message);
      assert.ok(e.message.includes(`'${path}'`), e.message);
      assert.ok(e.message.includes(`${old} (${describeRevision(old)})`), e.message);
      assert.ok(e.message.includes(`MLflow 3.7.0 expects ${head}`), e.message);
      assert.ok(e.message.includes("older"), e.message);
      assert.ok(e.message.includes(`mlflow db upgrade sqlite:///${path}`), e.message);
      assert.ok(e.message.includes("--upgrade-db"), e.message);
      return true;
    },
  );
  assert.equal(await sha256(path), before);
  assert.deepEqual([...Deno.readDirSync(tmp.path)].map((e) => e.name), ["mlflow.db"]);
});

Deno.test("SqliteStore refuses a DB newer than the child's MLflow, also with upgradeDb, and writes nothing", async () => {
  await using tmp = await tempDir();
  const path = join(tmp.path, "mlflow.db");
  await createFor(path, "3.7.0");
  const before = await sha256(path);
  for (const upgradeDb of [false, true]) {
    await assert.rejects(
      () => SqliteStore.open(path, { mlflow: byVersion("2.17.2"), upgradeDb }),
      (e: Error) => {
        assert.ok(e.message.includes(`'${path}'`), e.message);
        assert.ok(e.message.includes(describeRevision("bf29a5ff90ea")), e.message);
        assert.ok(e.message.includes("MLflow 2.17.2 expects f5a4f2784254"), e.message);
        assert.ok(e.message.includes("newer") && e.message.includes("cannot be downgraded"));
        assert.equal(e.message.includes("--upgrade-db cannot help"), upgradeDb, e.message);
        return true;
      },
    );
  }
  assert.equal(await sha256(path), before);
  assert.deepEqual([...Deno.readDirSync(tmp.path)].map((e) => e.name), ["mlflow.db"]);
});

Deno.test("SqliteStore refuses a DB of a revision no known release has, as newer", async () => {
  await using tmp = await tempDir();
  const path = join(tmp.path, "mlflow.db");
  await createFor(path, "3.7.0");
  const db = new DatabaseSync(path);
  db.exec("UPDATE alembic_version SET version_num = '0123456789ab'");
  db.close();
  await assert.rejects(
    () => SqliteStore.open(path, { mlflow: byVersion("3.7.0") }),
    /revision 0123456789ab \(an unknown MLflow version\).*newer/,
  );
});

Deno.test("SqliteStore without an MLflow does not check the revision (any MLflow DB is used)", async () => {
  await using tmp = await tempDir();
  const path = join(tmp.path, "mlflow.db");
  await createFor(path, "2.17.2");
  const store = await SqliteStore.open(path);
  store.close();
  assert.deepEqual(alembicVersion(path), [headRevisionForVersion("2.17.2")]);
});

Deno.test("openTrackingStore() passes mlflow and upgradeDb on to the SQLite store", async () => {
  await using tmp = await tempDir();
  await createFor(join(tmp.path, "mlflow.db"), "2.17.2");
  await assert.rejects(
    () => openTrackingStore("sqlite:///mlflow.db", { cwd: tmp.path, mlflow: byVersion("3.7.0") }),
    /MLflow 3\.7\.0 expects/,
  );
  const fresh = await openTrackingStore("sqlite:///new.db", {
    cwd: tmp.path,
    mlflow: byVersion("2.22.5"),
  });
  fresh.close();
  assert.deepEqual(alembicVersion(join(tmp.path, "new.db")), [headRevisionForVersion("2.22.5")]);
});

// ---------------------------------------------------------------------------------------------
// a missing directory

Deno.test("a sqlite URI in a missing directory fails with one line naming the directory, creating nothing", async () => {
  await using tmp = await tempDir();
  const dir = join(tmp.path, "missing", "dir");
  await assert.rejects(
    () => openTrackingStore(`sqlite:///${dir}/x.db`, { cwd: tmp.path }),
    (e: Error & { exitCode?: number }) => {
      assert.equal(e.exitCode, 1);
      assert.ok(!e.message.includes("\n"));
      assert.ok(e.message.includes(`directory '${dir}' does not exist`), e.message);
      return true;
    },
  );
  assert.deepEqual([...Deno.readDirSync(tmp.path)], []);
});

Deno.test("mlproject run with a sqlite URI in a missing directory exits 1 with one line and creates nothing", async () => {
  await using tmp = await tempDir();
  await writeFiles(tmp.path, {
    "project/MLproject": 'name: p\nentry_points:\n  main:\n    command: "true"\n',
  });
  const dir = join(tmp.path, "missing", "dir");
  const out = await runCli(["run", join(tmp.path, "project"), "--env-manager", "local"], {
    cwd: tmp.path,
    env: cleanEnv({ MLFLOW_TRACKING_URI: `sqlite:///${dir}/x.db` }),
  });
  assert.equal(out.code, 1, out.stderr);
  const errors = out.stderr.split("\n").filter((l) => l.includes(dir));
  assert.equal(errors.length, 1, out.stderr);
  assert.match(errors[0]!, /directory '.*\/missing\/dir' does not exist/);
  assert.doesNotMatch(out.stderr, /^\s+at /m);
  assert.deepEqual([...Deno.readDirSync(tmp.path)].map((e) => e.name), ["project"]);
});
