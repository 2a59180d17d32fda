import assert from "node:assert/strict";
import { clearOAuthTokenCache } from "../../lib/tracking/databricks_oauth.ts";
import { openRestStore } from "../../lib/tracking/rest_store.ts";

const CLIENT_ID = "sp-1234";
const CLIENT_SECRET = "dose-secret-5678";

/** A workspace with /oidc/v1/token and one MLflow endpoint that wants the issued token. */
function startWorkspace(options: { expiresIn?: number; revokeFirst?: boolean } = {}) {
  const log: { path: string; auth: string | null; body?: string }[] = [];
  let issued = 0;
  let valid = new Set<string>();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const url = new URL(req.url);
    const body = req.method === "POST" ? await req.text() : undefined;
    log.push({ path: url.pathname, auth: req.headers.get("authorization"), body });
    if (url.pathname === "/oidc/v1/token") {
      const expected = "Basic " + btoa(`${CLIENT_ID}:${CLIENT_SECRET}`);
      if (req.headers.get("authorization") !== expected) {
        return Response.json({
          error: "invalid_client",
          error_description: "Client authentication failed",
        }, {
          status: 401,
        });
      }
      issued++;
      const token = `m2m-token-${issued}`;
      if (options.revokeFirst && issued === 1) valid = new Set();
      else valid.add(token);
      return Response.json({
        access_token: token,
        token_type: "Bearer",
        expires_in: options.expiresIn ?? 3600,
      });
    }
    const auth = req.headers.get("authorization") ?? "";
    if (!valid.has(auth.replace(/^Bearer /, ""))) {
      return Response.json({ error_code: "UNAUTHENTICATED", message: "bad token" }, {
        status: 401,
      });
    }
    return Response.json({
      experiment: { experiment_id: "5", name: "/Users/x/e", lifecycle_stage: "active" },
    });
  });
  const host = `http://127.0.0.1:${server.addr.port}`;
  return { server, host, log, tokens: () => log.filter((l) => l.path === "/oidc/v1/token").length };
}

function env(host: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    DATABRICKS_HOST: host,
    DATABRICKS_CLIENT_ID: CLIENT_ID,
    DATABRICKS_CLIENT_SECRET: CLIENT_SECRET,
    HOME: "/nonexistent",
    MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR: "0",
    MLFLOW_HTTP_REQUEST_BACKOFF_JITTER: "0",
    ...extra,
  };
}

Deno.test("OAuth M2M: one client_credentials request, its token reused for later calls", async () => {
  clearOAuthTokenCache();
  const ws = startWorkspace();
  try {
    const store = openRestStore("databricks", { env: env(ws.host) });
    for (let i = 0; i < 3; i++) {
      await store.call("GET", "/api/2.0/mlflow/experiments/get", { experiment_id: "5" });
    }
    // A second store (the backend's) shares the cached token.
    const other = openRestStore("databricks", { env: env(ws.host) });
    await other.call("GET", "/api/2.0/mlflow/experiments/get", { experiment_id: "5" });
    store.close();
    other.close();
    assert.equal(ws.tokens(), 1);
    const tokenRequest = ws.log.find((l) => l.path === "/oidc/v1/token")!;
    assert.equal(tokenRequest.body, "grant_type=client_credentials&scope=all-apis");
    for (const l of ws.log.filter((l) => l.path !== "/oidc/v1/token")) {
      assert.equal(l.auth, "Bearer m2m-token-1");
    }
    assert.deepEqual(store.childEnv, {
      DATABRICKS_HOST: ws.host,
      DATABRICKS_CLIENT_ID: CLIENT_ID,
      DATABRICKS_CLIENT_SECRET: CLIENT_SECRET,
    });
  } finally {
    await ws.server.shutdown();
  }
});

Deno.test("OAuth M2M: an expired token is replaced, a refused one is fetched again once", async () => {
  clearOAuthTokenCache();
  // expires_in 0: every call needs a new token.
  const short = startWorkspace({ expiresIn: 0 });
  try {
    const store = openRestStore("databricks", { env: env(short.host) });
    await store.call("GET", "/api/2.0/mlflow/experiments/get", { experiment_id: "5" });
    await store.call("GET", "/api/2.0/mlflow/experiments/get", { experiment_id: "5" });
    store.close();
    assert.equal(short.tokens(), 2);
  } finally {
    await short.server.shutdown();
  }
  clearOAuthTokenCache();
  const revoked = startWorkspace({ revokeFirst: true });
  try {
    const store = openRestStore("databricks", { env: env(revoked.host) });
    await store.call("GET", "/api/2.0/mlflow/experiments/get", { experiment_id: "5" });
    store.close();
    assert.equal(revoked.tokens(), 2);
  } finally {
    await revoked.server.shutdown();
  }
});

Deno.test("OAuth M2M from a profile; a wrong secret fails with a message that hides it", async () => {
  clearOAuthTokenCache();
  const ws = startWorkspace();
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(
      `${dir}/cfg`,
      `[sp]\nhost = ${ws.host}\nclient_id = ${CLIENT_ID}\nclient_secret = wrong-secret-999\n`,
    );
    const store = openRestStore("databricks://sp", {
      env: {
        HOME: dir,
        DATABRICKS_CONFIG_FILE: `${dir}/cfg`,
        MLFLOW_HTTP_REQUEST_MAX_RETRIES: "0",
      },
    });
    await assert.rejects(
      store.call("GET", "/api/2.0/mlflow/experiments/get", { experiment_id: "5" }),
      (e: Error) => {
        assert.match(e.message, /oidc\/v1\/token failed with HTTP 401: invalid_client/);
        assert.doesNotMatch(e.message, /wrong-secret-999/);
        return true;
      },
    );
    store.close();
    await Deno.writeTextFile(
      `${dir}/cfg`,
      `[sp]\nhost = ${ws.host}\nclient_id = ${CLIENT_ID}\nclient_secret = ${CLIENT_SECRET}\n`,
    );
    const ok = openRestStore("databricks://sp", {
      env: { HOME: dir, DATABRICKS_CONFIG_FILE: `${dir}/cfg` },
    });
    assert.equal(
      (await ok.call("GET", "/api/2.0/mlflow/experiments/get", { experiment_id: "5" }) as {
        experiment: { experiment_id: string };
      }).experiment.experiment_id,
      "5",
    );
    ok.close();
  } finally {
    await ws.server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});
