/**
 * Tracking URI resolution (MLflow ≥ 3.7 rules), parsing, and opening the store a URI names.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { ExecutionException } from "../../lib/system/errors.ts";
import { FileStore } from "../../lib/tracking/file_store.ts";
import { SqliteStore } from "../../lib/tracking/sqlite_store.ts";
import {
  DEFAULT_TRACKING_URI,
  defaultsToMlruns,
  openTrackingStore,
  parseTrackingUri,
  resolveTrackingUri,
} from "../../lib/tracking/tracking_uri.ts";
import { writeExperimentMeta } from "../_helpers/mlruns.ts";
import { tempDir } from "../_helpers/cli.ts";

// ---------------------------------------------------------------------------------------------
// resolveTrackingUri

Deno.test("resolveTrackingUri() returns MLFLOW_TRACKING_URI verbatim when it is set", async () => {
  await using tmp = await tempDir();
  writeExperimentMeta(join(tmp.path, "mlruns"), "0");
  for (const uri of ["http://x:5000", "sqlite:///rel.db", "./somewhere", "databricks"]) {
    assert.equal(resolveTrackingUri({ MLFLOW_TRACKING_URI: uri }, { cwd: tmp.path }), uri);
  }
});

Deno.test("resolveTrackingUri() ignores an empty MLFLOW_TRACKING_URI", async () => {
  await using tmp = await tempDir();
  assert.equal(
    resolveTrackingUri({ MLFLOW_TRACKING_URI: "" }, { cwd: tmp.path }),
    DEFAULT_TRACKING_URI,
  );
  writeExperimentMeta(join(tmp.path, "mlruns"), "0");
  assert.equal(
    resolveTrackingUri({ MLFLOW_TRACKING_URI: "" }, { cwd: tmp.path }),
    `file://${tmp.path}/mlruns`,
  );
});

Deno.test("resolveTrackingUri() defaults to sqlite:///mlflow.db without ./mlruns", async () => {
  await using tmp = await tempDir();
  assert.equal(DEFAULT_TRACKING_URI, "sqlite:///mlflow.db");
  assert.equal(resolveTrackingUri({}, { cwd: tmp.path }), "sqlite:///mlflow.db");
});

Deno.test("resolveTrackingUri() picks ./mlruns as an absolute file:// URI when a digit dir has meta.yaml", async () => {
  await using tmp = await tempDir();
  writeExperimentMeta(join(tmp.path, "mlruns"), "724985737643957907");
  const uri = resolveTrackingUri({}, { cwd: tmp.path });
  assert.equal(uri, `file://${tmp.path}/mlruns`);
  assert.ok(uri.startsWith("file:///"));
});

Deno.test("resolveTrackingUri() ignores an mlruns dir without experiment data", async () => {
  await using tmp = await tempDir();
  const mlruns = join(tmp.path, "mlruns");
  // Empty, only .trash/models, a non-digit dir with meta.yaml, a digit dir without meta.yaml,
  // a digit-named file, and a meta.yaml that is a directory: none count.
  Deno.mkdirSync(join(mlruns, ".trash"), { recursive: true });
  assert.equal(resolveTrackingUri({}, { cwd: tmp.path }), DEFAULT_TRACKING_URI);
  Deno.mkdirSync(join(mlruns, "models"));
  writeExperimentMeta(mlruns, "abc");
  Deno.mkdirSync(join(mlruns, "0"));
  Deno.writeTextFileSync(join(mlruns, "12"), "not a dir");
  Deno.mkdirSync(join(mlruns, "13", "meta.yaml"), { recursive: true });
  Deno.writeTextFileSync(join(mlruns, "0", "other.yaml"), "x: 1\n");
  assert.equal(resolveTrackingUri({}, { cwd: tmp.path }), DEFAULT_TRACKING_URI);
  // A plain file named mlruns does not count either.
  await using tmp2 = await tempDir();
  Deno.writeTextFileSync(join(tmp2.path, "mlruns"), "");
  assert.equal(resolveTrackingUri({}, { cwd: tmp2.path }), DEFAULT_TRACKING_URI);
});

Deno.test("resolveTrackingUri() reads ./mlruns relative to the cwd option", async () => {
  await using tmp = await tempDir();
  const project = join(tmp.path, "project");
  writeExperimentMeta(join(project, "mlruns"), "0");
  assert.equal(resolveTrackingUri({}, { cwd: tmp.path }), DEFAULT_TRACKING_URI);
  assert.equal(resolveTrackingUri({}, { cwd: project }), `file://${project}/mlruns`);
});

Deno.test("resolveTrackingUri() defaults to ./mlruns for MLflow before 3.7, whatever the directory holds", async () => {
  await using tmp = await tempDir();
  for (const mlflowVersion of ["1.30.1", "2.17.2", "2.22.5", "3.6.0", "3.6.1.post1"]) {
    assert.equal(
      resolveTrackingUri({}, { cwd: tmp.path, mlflowVersion }),
      `file://${tmp.path}/mlruns`,
      mlflowVersion,
    );
    assert.equal(
      resolveTrackingUri({ MLFLOW_TRACKING_URI: "sqlite:///x.db" }, {
        cwd: tmp.path,
        mlflowVersion,
      }),
      "sqlite:///x.db",
    );
  }
});

Deno.test("resolveTrackingUri() for MLflow 3.7 on (its pre-releases too) or no MLflow uses sqlite:///mlflow.db unless ./mlruns holds data", async () => {
  await using tmp = await tempDir();
  const versions = [
    "3.7.0.dev0",
    "3.7.0rc0",
    "3.7.0",
    "3.17.2",
    "4.0",
    "not-a-version",
    null,
    undefined,
  ];
  for (const mlflowVersion of versions) {
    assert.equal(
      resolveTrackingUri({}, { cwd: tmp.path, mlflowVersion }),
      DEFAULT_TRACKING_URI,
      String(mlflowVersion),
    );
  }
  writeExperimentMeta(join(tmp.path, "mlruns"), "0");
  for (const mlflowVersion of versions) {
    assert.equal(
      resolveTrackingUri({}, { cwd: tmp.path, mlflowVersion }),
      `file://${tmp.path}/mlruns`,
      String(mlflowVersion),
    );
  }
});

Deno.test("defaultsToMlruns() is true before 3.7.0.dev0 only", () => {
  assert.deepEqual(
    ["3.6.0", "3.6.99", "3.7.0.dev0", "3.7.0rc0", "3.7.0", "2.22.5", "garbage"].map(
      defaultsToMlruns,
    ),
    [true, true, false, false, false, true, false],
  );
});

// ---------------------------------------------------------------------------------------------
// parseTrackingUri

Deno.test("parseTrackingUri() resolves sqlite:///relative against cwd and keeps sqlite:////absolute", () => {
  assert.deepEqual(parseTrackingUri("sqlite:///mlflow.db", "/work"), {
    kind: "sqlite",
    path: "/work/mlflow.db",
  });
  assert.deepEqual(parseTrackingUri("sqlite:///sub/dir/x.db", "/work"), {
    kind: "sqlite",
    path: "/work/sub/dir/x.db",
  });
  assert.deepEqual(parseTrackingUri("sqlite:////abs/mlflow.db", "/work"), {
    kind: "sqlite",
    path: "/abs/mlflow.db",
  });
  assert.deepEqual(parseTrackingUri("sqlite:///../up.db", "/work/a"), {
    kind: "sqlite",
    path: "/work/up.db",
  });
});

Deno.test("parseTrackingUri() refuses sqlite URIs that name no file", () => {
  for (const uri of ["sqlite://", "sqlite:///", "sqlite:///:memory:", "sqlite:mlflow.db"]) {
    assert.throws(
      () => parseTrackingUri(uri, "/work"),
      (e: Error) => e instanceof ExecutionException && e.message.includes(`'${uri}'`),
      uri,
    );
  }
});

Deno.test("parseTrackingUri() reads file:///abs, file:rel and plain paths as a file store", () => {
  assert.deepEqual(parseTrackingUri("file:///abs/mlruns", "/work"), {
    kind: "file",
    path: "/abs/mlruns",
  });
  assert.deepEqual(parseTrackingUri("file:///abs/with%20space", "/work"), {
    kind: "file",
    path: "/abs/with space",
  });
  assert.deepEqual(parseTrackingUri("file:mlruns", "/work"), {
    kind: "file",
    path: "/work/mlruns",
  });
  assert.deepEqual(parseTrackingUri("file:./a/../mlruns", "/work"), {
    kind: "file",
    path: "/work/mlruns",
  });
  assert.deepEqual(parseTrackingUri("./mlruns", "/work"), { kind: "file", path: "/work/mlruns" });
  assert.deepEqual(parseTrackingUri("mlruns", "/work"), { kind: "file", path: "/work/mlruns" });
  assert.deepEqual(parseTrackingUri("/abs/mlruns", "/work"), {
    kind: "file",
    path: "/abs/mlruns",
  });
  assert.deepEqual(parseTrackingUri("../other/mlruns", "/work/a"), {
    kind: "file",
    path: "/work/other/mlruns",
  });
});

Deno.test("parseTrackingUri() refuses a file URI with a remote host", () => {
  assert.throws(
    () => parseTrackingUri("file://somehost/x", "/work"),
    (e: Error) => e instanceof ExecutionException && e.message.includes("file://somehost/x"),
  );
});

Deno.test("parseTrackingUri() names http, https and databricks URIs as REST stores", () => {
  for (
    const uri of [
      "http://127.0.0.1:5000",
      "https://mlflow.example.com/prefix/",
      "databricks://profile",
    ]
  ) {
    assert.deepEqual(parseTrackingUri(uri, "/work"), { kind: "rest", uri });
  }
  assert.throws(
    () => parseTrackingUri("http:///nohost", "/work"),
    (e: Error) => e instanceof ExecutionException && e.message.includes("'http:///nohost'"),
  );
  assert.throws(
    () => parseTrackingUri("databricks-uc", "/work"),
    (e: Error) => e instanceof ExecutionException && e.message.includes("model registry"),
  );
});

Deno.test("parseTrackingUri() treats the bare string 'databricks' as Databricks, not as a path", () => {
  // MLflow: "The exact string `databricks` counts as Databricks" (reference §1.3). It must not
  // become a file store at <cwd>/databricks.
  assert.deepEqual(parseTrackingUri("databricks", "/work"), { kind: "rest", uri: "databricks" });
});

Deno.test("parseTrackingUri() says postgresql, mysql and mssql are not supported", () => {
  for (
    const uri of [
      "postgresql://u:p@h/db",
      "postgresql+psycopg2://h/db",
      "mysql://h/db",
      "mysql+pymysql://h/db",
      "mssql://h/db",
    ]
  ) {
    assert.throws(
      () => parseTrackingUri(uri, "/work"),
      (e: Error) =>
        e instanceof ExecutionException && /is not supported/.test(e.message) &&
        !e.message.includes("not supported yet") && e.message.includes("SQLite"),
      uri,
    );
  }
});

Deno.test("parseTrackingUri() names an unknown scheme", () => {
  for (const [uri, scheme] of [["s3://bucket/x", "s3"], ["ftp://h/x", "ftp"], ["uc:x", "uc"]]) {
    assert.throws(
      () => parseTrackingUri(uri!, "/work"),
      (e: Error) =>
        e instanceof ExecutionException &&
        e.message === `Tracking URI '${uri}' has an unsupported scheme '${scheme}'`,
      uri,
    );
  }
});

// ---------------------------------------------------------------------------------------------
// openTrackingStore

Deno.test("openTrackingStore() opens a relative sqlite URI as an absolute one for the child", async () => {
  await using tmp = await tempDir();
  const store = await openTrackingStore("sqlite:///mlflow.db", { cwd: tmp.path });
  try {
    assert.ok(store instanceof SqliteStore);
    assert.equal(store.uri, `sqlite:///${tmp.path}/mlflow.db`);
    assert.ok(store.uri.startsWith("sqlite:////"));
    assert.ok(Deno.statSync(join(tmp.path, "mlflow.db")).isFile);
    assert.deepEqual({ ...store.childEnv }, {});
  } finally {
    store.close();
  }
});

Deno.test("openTrackingStore() opens file: and plain-path URIs as an absolute file:// store", async () => {
  await using tmp = await tempDir();
  for (const uri of ["file:mlruns", "mlruns", "./mlruns", `file://${tmp.path}/mlruns`]) {
    const store = await openTrackingStore(uri, { cwd: tmp.path });
    try {
      assert.ok(store instanceof FileStore, uri);
      assert.equal(store.uri, `file://${tmp.path}/mlruns`, uri);
      assert.equal(store.childEnv.MLFLOW_ALLOW_FILE_STORE, "true");
    } finally {
      store.close();
    }
  }
  assert.ok(Deno.statSync(join(tmp.path, "mlruns", ".trash")).isDirectory);
});

Deno.test("openTrackingStore() on the resolved default URI gives an absolute URI", async () => {
  await using tmp = await tempDir();
  const uri = resolveTrackingUri({}, { cwd: tmp.path });
  const store = await openTrackingStore(uri, { cwd: tmp.path });
  try {
    assert.equal(store.uri, `sqlite:///${tmp.path}/mlflow.db`);
    // Re-parsing the child's URI from another cwd names the same file.
    assert.deepEqual(parseTrackingUri(store.uri, "/somewhere/else"), {
      kind: "sqlite",
      path: `${tmp.path}/mlflow.db`,
    });
  } finally {
    store.close();
  }
});

Deno.test("openTrackingStore() rejects unsupported URIs before touching the disk", async () => {
  await using tmp = await tempDir();
  await assert.rejects(
    () => openTrackingStore("postgresql://u@h/db", { cwd: tmp.path }),
    /not supported/,
  );
  // A REST URI opens without a request and without writing anything.
  const store = await openTrackingStore("http://127.0.0.1:9", { cwd: tmp.path, env: {} });
  assert.equal(store.uri, "http://127.0.0.1:9");
  store.close();
  assert.deepEqual([...Deno.readDirSync(tmp.path)], []);
});
