/**
 * The Kubernetes backend configuration (`-c kube.json`): `kube-job-template-path` (a YAML or JSON
 * Job template with `metadata.namespace`), `repository-uri`, optional `kube-context`, checked with
 * MLflow's messages.
 *
 * @module
 */
import { escapeForMessage, ExecutionException } from "../system/errors.ts";
import { isFile } from "../system/file_checks.ts";
import { resolve } from "../system/paths.ts";
import { readUserFile } from "../system/user_file.ts";
import { parsePythonYaml } from "../yaml/python_yaml.ts";
import { yamlToJson } from "../yaml/py_value.ts";
import { templateContainer } from "./job_manifest.ts";

/** A checked Kubernetes backend configuration. */
export interface KubernetesConfig {
  /** The template's path, as given. */
  readonly templatePath: string;
  /** The Job template, as JSON values. */
  readonly template: Readonly<Record<string, unknown>>;
  /** The template's `metadata.namespace`. */
  readonly namespace: string;
  /** `kube-context`, if given. */
  readonly context?: string;
  /** `repository-uri`: where the image is pushed. */
  readonly repositoryUri: string;
}

function optionalString(
  config: Readonly<Record<string, unknown>>,
  key: string,
): string | undefined {
  const value = config[key];
  if (value === undefined || value === null || value === "") return undefined;
  if (typeof value !== "string") {
    throw new ExecutionException(`'${key}' in backend_config must be a string`);
  }
  return value;
}

/**
 * Checks the backend configuration and loads the Job template, with MLflow's messages:
 * `Backend_config file not found.`, `'kube-job-template-path' attribute must be specified in
 * backend_config.`, `Could not find 'kube-job-template-path': <path>`, `Could not find
 * 'repository-uri' in backend_config.`; then the template must be a mapping with
 * `metadata.namespace` and a first container.
 *
 * @param config The parsed backend configuration.
 * @param options `cwd` a relative template path belongs to.
 * @returns The checked configuration.
 * @throws {ExecutionException} With the message for the first problem.
 *
 * @example
 * ```ts ignore
 * import { parseKubernetesConfig } from "./backend_config.ts";
 * const kube = await parseKubernetesConfig(
 *   { "kube-job-template-path": "job.yaml", "repository-uri": "reg:5000/p" },
 *   { cwd: Deno.cwd() },
 * );
 * kube.namespace; // "mlflow"
 * ```
 */
export async function parseKubernetesConfig(
  config: Readonly<Record<string, unknown>>,
  options: { cwd: string },
): Promise<KubernetesConfig> {
  if (Object.keys(config).length === 0) {
    throw new ExecutionException("Backend_config file not found.");
  }
  const templatePath = optionalString(config, "kube-job-template-path");
  if (templatePath === undefined) {
    throw new ExecutionException(
      "'kube-job-template-path' attribute must be specified in backend_config.",
    );
  }
  const full = resolve(options.cwd, templatePath);
  if (!isFile(full)) {
    throw new ExecutionException(`Could not find 'kube-job-template-path': ${templatePath}`);
  }
  const context = optionalString(config, "kube-context");
  const repositoryUri = optionalString(config, "repository-uri");
  if (repositoryUri === undefined) {
    throw new ExecutionException("Could not find 'repository-uri' in backend_config.");
  }
  if (
    !/^[a-z0-9]([a-z0-9._:/-]*[a-z0-9])?$/.test(repositoryUri) || /:[^/]*$/.test(
      repositoryUri.replace(/^[^/]*\//, ""),
    )
  ) {
    throw new ExecutionException(
      `'repository-uri' in backend_config must be an image repository without tag (lower case, e.g. 'registry:5000/team/project'), got '${
        escapeForMessage(repositoryUri)
      }'`,
    );
  }
  const text = await readUserFile(full, {
    label: "Kubernetes Job template",
    shownAs: templatePath,
  });
  let template: unknown;
  try {
    template = yamlToJson(parsePythonYaml(text));
  } catch (e) {
    throw new ExecutionException(
      `Kubernetes Job template ${templatePath} is not valid YAML or JSON: ${
        e instanceof Error ? e.message : e
      }`,
    );
  }
  if (typeof template !== "object" || template === null || Array.isArray(template)) {
    throw new ExecutionException(`Kubernetes Job template ${templatePath} is not a mapping`);
  }
  const job = template as Record<string, unknown>;
  const metadata = job.metadata as Record<string, unknown> | undefined;
  const namespace = typeof metadata === "object" && metadata !== null
    ? metadata.namespace
    : undefined;
  if (typeof namespace !== "string" || namespace === "") {
    throw new ExecutionException(
      `Kubernetes Job template ${templatePath} must set 'metadata.namespace' (the namespace the Job is created in)`,
    );
  }
  const container = templateContainer(job);
  if (typeof container === "string") {
    throw new ExecutionException(`Kubernetes Job template ${templatePath}: ${container}`);
  }
  return {
    templatePath,
    template: job,
    namespace,
    ...(context !== undefined ? { context } : {}),
    repositoryUri,
  };
}
