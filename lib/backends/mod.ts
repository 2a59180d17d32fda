/**
 * The backend registry.
 *
 * @module
 */
import type { Backend } from "./backend.ts";
import { ExecutionException } from "../system/errors.ts";
import { LocalBackend } from "./local.ts";

/** Backend names MLflow knows, in the order its error message lists them. */
export const KNOWN_BACKENDS = ["databricks", "kubernetes", "local"] as const;

/**
 * Returns the backend called `name`. Remote backends are loaded only when asked for, so a local
 * run never loads the Kubernetes or Databricks code.
 *
 * @param name Backend name (`local`, `databricks`, `kubernetes`).
 * @returns The backend.
 * @throws {ExecutionException} For an unknown backend.
 *
 * @example
 * ```ts
 * import { getBackend } from "./mod.ts";
 * console.assert((await getBackend("local")).name === "local");
 * ```
 */
export async function getBackend(name: string): Promise<Backend> {
  if (name === "local") return new LocalBackend();
  if (name === "kubernetes") return new (await import("./kubernetes.ts")).KubernetesBackend();
  if (name === "databricks") return new (await import("./databricks.ts")).DatabricksBackend();
  throw new ExecutionException(
    `Got unsupported execution mode ${name}. Supported values: [${
      KNOWN_BACKENDS.map((b) => `'${b}'`).join(", ")
    }]`,
  );
}

export { LocalBackend } from "./local.ts";
