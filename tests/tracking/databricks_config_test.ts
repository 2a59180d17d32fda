/**
 * Databricks credentials: URI profiles, env vars, DATABRICKS_CONFIG_PROFILE/FILE, MLflow's
 * errors, the child's variables, and the REST store's Databricks rules.
 */
import assert from "node:assert/strict";
import { ExecutionException } from "../../lib/system/errors.ts";
import {
  databricksHostCredentials,
  databricksProfileOf,
} from "../../lib/tracking/databricks_config.ts";
import { openRestStore } from "../../lib/tracking/rest_store.ts";
import { tempDir } from "../_helpers/cli.ts";

const CFG = `# comment
[DEFAULT]
host = https://default.cloud.databricks.com/
token = dapi-default

[staging]
host = staging.cloud.databricks.com
token: dapi-staging
; another comment

[basic]
host = https://basic.example.com
username = me
password = pw

[oauth]
host = https://oauth.example.com
client_id = id
client_secret = secret

[cli]
host = https://cli.example.com
auth_type = databricks-cli
`;

Deno.test("databricksProfileOf() reads the profile of databricks://<profile> and rejects others", () => {
  assert.equal(databricksProfileOf("databricks"), undefined);
  assert.equal(databricksProfileOf("databricks://staging"), "staging");
  for (
    const uri of [
      "databricks://",
      "databricks:/x",
      "databricks://scope:prefix",
      "databricks://a%20b",
    ]
  ) {
    assert.throws(() => databricksProfileOf(uri), ExecutionException, uri);
  }
});

Deno.test("databricksHostCredentials() takes a URI profile only from the config file", async () => {
  await using tmp = await tempDir();
  await Deno.writeTextFile(`${tmp.path}/.databrickscfg`, CFG);
  const c = databricksHostCredentials("databricks://staging", {
    HOME: tmp.path,
    DATABRICKS_HOST: "https://env.example.com",
    DATABRICKS_TOKEN: "dapi-env",
  });
  assert.equal(c.host, "https://staging.cloud.databricks.com");
  assert.equal(c.headers.Authorization, "Bearer dapi-staging");
  assert.equal(c.childUri, "databricks");
  assert.deepEqual(c.childEnv, {
    DATABRICKS_HOST: "https://staging.cloud.databricks.com",
    DATABRICKS_TOKEN: "dapi-staging",
  });
  assert.ok(c.databricks);
  const basic = databricksHostCredentials("databricks://basic", { HOME: tmp.path });
  assert.equal(basic.headers.Authorization, `Basic ${btoa("me:pw")}`);
  assert.deepEqual(basic.childEnv, {
    DATABRICKS_HOST: "https://basic.example.com",
    DATABRICKS_USERNAME: "me",
    DATABRICKS_PASSWORD: "pw",
  });
});

Deno.test("databricksHostCredentials() for 'databricks': env first, then DATABRICKS_CONFIG_PROFILE or DEFAULT", async () => {
  await using tmp = await tempDir();
  const file = `${tmp.path}/cfg.ini`;
  await Deno.writeTextFile(file, CFG);
  const env = { DATABRICKS_CONFIG_FILE: file };
  assert.equal(
    databricksHostCredentials("databricks", {
      ...env,
      DATABRICKS_HOST: "adb-1.azuredatabricks.net",
      DATABRICKS_TOKEN: "dapi-env",
    }).headers.Authorization,
    "Bearer dapi-env",
  );
  assert.equal(
    databricksHostCredentials("databricks", env).host,
    "https://default.cloud.databricks.com",
  );
  const staged = databricksHostCredentials("databricks", {
    ...env,
    DATABRICKS_CONFIG_PROFILE: "staging",
  });
  assert.equal(staged.headers.Authorization, "Bearer dapi-staging");
  // A host from env with the token from the profile.
  const mixed = databricksHostCredentials("databricks", {
    ...env,
    DATABRICKS_HOST: "https://other.example.com",
  });
  assert.equal(mixed.host, "https://other.example.com");
  assert.equal(mixed.headers.Authorization, "Bearer dapi-default");
});

Deno.test("databricksHostCredentials() of an OAuth M2M profile: a token source, client id and secret for the child", async () => {
  await using tmp = await tempDir();
  const file = `${tmp.path}/cfg.ini`;
  await Deno.writeTextFile(file, CFG);
  const creds = databricksHostCredentials("databricks://oauth", { DATABRICKS_CONFIG_FILE: file });
  assert.equal(creds.host, "https://oauth.example.com");
  assert.equal(creds.headers.Authorization, undefined);
  assert.equal(typeof creds.authorize, "function");
  assert.ok(creds.secrets.includes("secret"));
  assert.deepEqual(creds.childEnv, {
    DATABRICKS_HOST: "https://oauth.example.com",
    DATABRICKS_CLIENT_ID: "id",
    DATABRICKS_CLIENT_SECRET: "secret",
  });
  // From the environment too; a token wins over the client.
  const env = {
    DATABRICKS_HOST: "h.example.com",
    DATABRICKS_CLIENT_ID: "a",
    DATABRICKS_CLIENT_SECRET: "b-secret",
    DATABRICKS_CONFIG_FILE: `${tmp.path}/none`,
  };
  assert.equal(typeof databricksHostCredentials("databricks", env).authorize, "function");
  const pat = databricksHostCredentials("databricks", { ...env, DATABRICKS_TOKEN: "dapi-x" });
  assert.equal(pat.authorize, undefined);
  assert.equal(pat.headers.Authorization, "Bearer dapi-x");
});

Deno.test("databricksHostCredentials() fails with MLflow's message and never shows a token", async () => {
  await using tmp = await tempDir();
  const file = `${tmp.path}/cfg.ini`;
  await Deno.writeTextFile(file, CFG);
  const cases: [string, Record<string, string>, RegExp][] = [
    [
      "databricks://prod",
      { DATABRICKS_CONFIG_FILE: file },
      /profile 'prod' not found in '.*cfg\.ini'/,
    ],
    ["databricks://cli", { DATABRICKS_CONFIG_FILE: file }, /databricks-cli/],
    ["databricks", { DATABRICKS_CONFIG_FILE: `${tmp.path}/none` }, /no host is configured/],
    ["databricks", { DATABRICKS_CONFIG_FILE: file, DATABRICKS_CONFIG_PROFILE: "x" }, /profile 'x'/],
    [
      "databricks://staging",
      { DATABRICKS_CONFIG_FILE: `${tmp.path}/none` },
      /cannot read the config file/,
    ],
  ];
  for (const [uri, env, re] of cases) {
    assert.throws(
      () => databricksHostCredentials(uri, env),
      (e: Error) =>
        e instanceof ExecutionException &&
        e.message.startsWith(
          `Reading Databricks credential configuration failed with MLflow tracking URI '${uri}'`,
        ) && re.test(e.message) && !e.message.includes("dapi-"),
      `${uri} ${JSON.stringify(env)}`,
    );
  }
});

Deno.test("RestStore on Databricks has no experiment 0 and wants workspace paths as names", async () => {
  const store = openRestStore("databricks", {
    env: { DATABRICKS_HOST: "http://127.0.0.1:9", DATABRICKS_TOKEN: "dapi-x" },
  });
  try {
    assert.equal(store.uri, "databricks");
    assert.deepEqual(store.childEnv, {
      DATABRICKS_HOST: "http://127.0.0.1:9",
      DATABRICKS_TOKEN: "dapi-x",
    });
    await assert.rejects(
      () => store.findExperiment({ id: "0" }),
      /Databricks has no default experiment \(ID 0\): pass --experiment-name \/Users\/<you>\/<experiment> or --experiment-id <id>/,
    );
    await assert.rejects(
      () => store.createExperiment("plain"),
      /Databricks experiment names are workspace paths such as \/Users\/<you>\/plain/,
    );
  } finally {
    store.close();
  }
});
