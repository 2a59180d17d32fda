/**
 * The backend registry.
 *
 * @module
 */
import type { Backend } from "./backend.ts";
import { ExecutionException } from "../system/errors.ts";
import { LocalBackend } from "./local.ts";
import { KubernetesBackend } from "./kubernetes.ts";
import { DatabricksBackend } from "./databricks.ts";

/** Backend names MLflow knows, in the order its error message lists them. */
export const KNOWN_BACKENDS = ["databricks", "kubernetes", "local"] as const;

/**
 * Returns the backend called `name`.
 *
 * @param name Backend name (`local`, `databricks`, `kubernetes`).
 * @returns The backend.
 * @throws {ExecutionException} For an unknown backend.
 *
 * @example
 * ```ts
 * import { getBackend } from "./mod.ts";
 * console.assert(getBackend("local").name === "local");
 * ```
 */
export function getBackend(name: string): Backend {
  if (name === "local") return new LocalBackend();
  if (name === "kubernetes") return new KubernetesBackend();
  if (name === "databricks") return new DatabricksBackend();
  throw new ExecutionException(
    `Got unsupported execution mode ${name}. Supported values: [${
      KNOWN_BACKENDS.map((b) => `'${b}'`).join(", ")
    }]`,
  );
}

export { LocalBackend } from "./local.ts";
export { KubernetesBackend, type KubernetesBackendOptions } from "./kubernetes.ts";
export { DatabricksBackend } from "./databricks.ts";
