/**
 * Writes kubeconfig files for the fake API server (fake_kube.ts) as users have them: several
 * contexts, each with its own cluster and user of one auth kind (token, tokenFile, client
 * certificate as files or `-data`, basic, exec plugin), CA as a relative file, `-data` or
 * `insecure-skip-tls-verify`.
 */

/** How a kubeconfig user authenticates. */
export type KubeconfigAuth =
  /** `token:` inline (default: the fake's token). */
  | { kind: "token"; token?: string }
  /** `tokenFile:` a file next to the kubeconfig holding the token. */
  | { kind: "tokenFile"; token?: string }
  /** `client-certificate`/`client-key` (relative files) or, with `inline`, their `-data`. */
  | { kind: "clientCert"; inline?: boolean }
  /** `username`/`password` (default: the fake's basic credentials). */
  | { kind: "basic"; username?: string; password?: string }
  /**
   * `exec:` a generated plugin script printing an `ExecCredential` with `token` (default: the
   * fake's) or, with `clientCert`, `clientCertificateData`/`clientKeyData`.
   */
  | {
    kind: "exec";
    apiVersion?: "client.authentication.k8s.io/v1" | "client.authentication.k8s.io/v1beta1";
    token?: string;
    clientCert?: boolean;
    /** `status.expirationTimestamp` this many seconds after each call (default: none). */
    expiresInSeconds?: number;
    /** The plugin appends one line per call: its `KUBERNETES_EXEC_INFO`. */
    callLog?: string;
    /** Extra `env` entries of the exec block. */
    env?: { name: string; value: string }[];
  }
  /** No credentials. */
  | { kind: "none" };

/** One context of a kubeconfig (its cluster and user are named `<name>-cluster`/`<name>-user`). */
export interface KubeconfigContext {
  name: string;
  /** Default `{ kind: "token" }`. */
  auth?: KubeconfigAuth;
  /** The context's `namespace`. */
  namespace?: string;
  /** Server URL (default: the fake's; give another to make a context unusable). */
  server?: string;
  /**
   * The CA: `file` (default, a file next to the kubeconfig referenced by a relative path),
   * `absolute` (the fake's CA path), `data` (`certificate-authority-data`), `insecure`
   * (`insecure-skip-tls-verify: true`), or `none`.
   */
  ca?: "file" | "absolute" | "data" | "insecure" | "none";
}

/** Options of `FakeKube.writeKubeconfig`. */
export interface KubeconfigOptions {
  /** Default: one context `fake` with token auth. */
  contexts?: KubeconfigContext[];
  /** `current-context` (default: the first context; `null` leaves it out). */
  currentContext?: string | null;
  /** Write JSON instead of YAML (kubectl and client libraries read both). */
  json?: boolean;
}

/** What the writer needs from the fake. */
export interface KubeconfigSource {
  url: string;
  caPem: string;
  caCertPath: string;
  token: string;
  clientCertPem: string;
  clientKeyPem: string;
  basic?: { username: string; password: string };
}

function b64(text: string): string {
  return btoa(text);
}

/** A YAML rendering of JSON-like data (block style, strings JSON-quoted). */
export function toYaml(value: unknown, indent = ""): string {
  if (Array.isArray(value)) {
    if (value.length === 0) return "[]";
    return value.map((v) => {
      const inner = toYaml(v, indent + "  ");
      return `\n${indent}- ${inner.replace(/^\n\s*/, "")}`;
    }).join("");
  }
  if (typeof value === "object" && value !== null) {
    const entries = Object.entries(value);
    if (entries.length === 0) return "{}";
    return entries.map(([k, v]) => {
      const inner = toYaml(v, indent + "  ");
      return `\n${indent}${k}:${inner.startsWith("\n") ? "" : " "}${inner}`;
    }).join("");
  }
  return JSON.stringify(value);
}

/** Writes a kubeconfig (and the files it references) to `path`. */
export async function writeKubeconfigFile(
  path: string,
  source: KubeconfigSource,
  options: KubeconfigOptions = {},
): Promise<void> {
  const dir = path.includes("/") ? path.slice(0, path.lastIndexOf("/")) || "/" : ".";
  await Deno.mkdir(dir, { recursive: true });
  const contexts = options.contexts ?? [{ name: "fake" }];
  const clusters: unknown[] = [];
  const users: unknown[] = [];
  const ctxs: unknown[] = [];
  for (const c of contexts) {
    const cluster: Record<string, unknown> = { server: c.server ?? source.url };
    const ca = c.ca ?? "file";
    if (ca === "file") {
      await Deno.writeTextFile(`${dir}/${c.name}-ca.crt`, source.caPem);
      cluster["certificate-authority"] = `${c.name}-ca.crt`;
    } else if (ca === "absolute") cluster["certificate-authority"] = source.caCertPath;
    else if (ca === "data") cluster["certificate-authority-data"] = b64(source.caPem);
    else if (ca === "insecure") cluster["insecure-skip-tls-verify"] = true;
    clusters.push({ name: `${c.name}-cluster`, cluster });

    const auth = c.auth ?? { kind: "token" };
    const user: Record<string, unknown> = {};
    switch (auth.kind) {
      case "token":
        user.token = auth.token ?? source.token;
        break;
      case "tokenFile":
        await Deno.writeTextFile(`${dir}/${c.name}-token`, auth.token ?? source.token);
        user.tokenFile = `${dir}/${c.name}-token`;
        break;
      case "clientCert":
        if (auth.inline) {
          user["client-certificate-data"] = b64(source.clientCertPem);
          user["client-key-data"] = b64(source.clientKeyPem);
        } else {
          await Deno.writeTextFile(`${dir}/${c.name}-client.crt`, source.clientCertPem);
          await Deno.writeTextFile(`${dir}/${c.name}-client.key`, source.clientKeyPem);
          user["client-certificate"] = `${c.name}-client.crt`;
          user["client-key"] = `${c.name}-client.key`;
        }
        break;
      case "basic":
        user.username = auth.username ?? source.basic?.username ?? "admin";
        user.password = auth.password ?? source.basic?.password ?? "";
        break;
      case "exec": {
        const apiVersion = auth.apiVersion ?? "client.authentication.k8s.io/v1";
        const status: Record<string, string> = auth.clientCert
          ? { clientCertificateData: source.clientCertPem, clientKeyData: source.clientKeyPem }
          : { token: auth.token ?? source.token };
        const template = JSON.stringify({ apiVersion, kind: "ExecCredential", status });
        await Deno.writeTextFile(`${dir}/${c.name}-exec.json`, template);
        const script = [
          "#!/bin/sh",
          auth.callLog === undefined
            ? ""
            : `printf '%s\\n' "$KUBERNETES_EXEC_INFO" >> '${auth.callLog}'`,
          auth.expiresInSeconds === undefined
            ? `cat '${dir}/${c.name}-exec.json'`
            : `exp=$(date -u -d "+${auth.expiresInSeconds} seconds" +%Y-%m-%dT%H:%M:%SZ)\n` +
              `sed 's/}}$/,"expirationTimestamp":"'"$exp"'"}}/' '${dir}/${c.name}-exec.json'`,
          "",
        ].join("\n");
        await Deno.writeTextFile(`${dir}/${c.name}-exec.sh`, script, { mode: 0o755 });
        await Deno.chmod(`${dir}/${c.name}-exec.sh`, 0o755);
        user.exec = {
          apiVersion,
          command: `${dir}/${c.name}-exec.sh`,
          args: [],
          env: auth.env ?? [],
          interactiveMode: "Never",
          provideClusterInfo: false,
        };
        break;
      }
      case "none":
        break;
    }
    users.push({ name: `${c.name}-user`, user });
    ctxs.push({
      name: c.name,
      context: {
        cluster: `${c.name}-cluster`,
        user: `${c.name}-user`,
        ...(c.namespace === undefined ? {} : { namespace: c.namespace }),
      },
    });
  }
  const current = options.currentContext === undefined
    ? contexts[0]?.name
    : options.currentContext ?? undefined;
  const config = {
    apiVersion: "v1",
    kind: "Config",
    preferences: {},
    clusters,
    users,
    contexts: ctxs,
    ...(current === undefined ? {} : { "current-context": current }),
  };
  await Deno.writeTextFile(
    path,
    options.json
      ? JSON.stringify(config, null, 2) + "\n"
      : toYaml(config).replace(/^\n/, "") + "\n",
  );
}
