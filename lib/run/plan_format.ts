/**
 * How a {@linkcode RunPlan} is shown by `mlproject run --dry-run`: aligned lines, or with
 * `--json` one object with snake_case keys.
 *
 * @module
 */
import type { RunPlan } from "./plan.ts";

function dockerArgItems(args: readonly (readonly [string, string | boolean])[]): string[] {
  return args.filter(([, v]) => v !== false).map(([k, v]) => v === true ? k : `${k}=${v}`);
}

function environmentLine(plan: RunPlan): string {
  const e = plan.environment;
  const parts = [e.manager];
  if (e.key !== undefined) parts.push(e.key);
  if (e.cached === true) parts.push(e.manager === "docker" ? "(present)" : "(cached)");
  else if (e.cached === false) {
    parts.push(e.docker?.buildImage === false ? "(must be pulled)" : "(must be built)");
  }
  if (e.installPython !== undefined) parts.push(`(Python ${e.installPython} must be installed)`);
  return parts.join(" ");
}

/**
 * The plan as aligned `Label: value` lines.
 *
 * @param plan The plan.
 * @returns The lines.
 *
 * @example
 * ```ts ignore
 * import { formatPlan } from "./plan_format.ts";
 * for (const line of formatPlan(await plan("examples/demo"))) console.log(line);
 * ```
 */
export function formatPlan(plan: RunPlan): string[] {
  const rows: [string, string][] = [
    ["Project", plan.project.dir],
    ["Source", plan.project.source.name],
  ];
  if (plan.project.source.commit) rows.push(["Git commit", plan.project.source.commit]);
  rows.push(["Entry point", plan.entryPoint], ["Command", plan.command]);
  for (const [k, v] of plan.parameters) rows.push(["Parameter", `${k}=${v}`]);
  for (const name of plan.downloads) rows.push(["Download", `parameter ${name}`]);
  rows.push(["Environment", environmentLine(plan)]);
  if (plan.environment.python !== undefined) rows.push(["Python", plan.environment.python]);
  const docker = plan.environment.docker;
  if (docker !== undefined) {
    rows.push(["Build image", String(docker.buildImage)]);
    for (const arg of dockerArgItems(docker.args)) rows.push(["Docker arg", arg]);
  }
  rows.push([
    "MLflow",
    plan.backend.name === "databricks"
      ? "installed on the Databricks cluster (backend config 'mlflow_version')"
      : plan.environment.manager === "docker"
      ? "whatever the image has (not inspected)"
      : plan.mlflowVersion === undefined
      ? "unknown until the environment is built"
      : plan.mlflowVersion ?? "none in the environment",
  ]);
  rows.push(["Backend", plan.backend.name]);
  if (Object.keys(plan.backend.config).length > 0) {
    rows.push(["Backend config", JSON.stringify(plan.backend.config)]);
  }
  rows.push([
    "Tracking URI",
    plan.trackingUriFinal
      ? plan.trackingUri
      : `${plan.trackingUri} (may change with the MLflow the environment gets)`,
  ]);
  rows.push([
    "Experiment",
    plan.experiment.name !== undefined
      ? `name '${plan.experiment.name}'`
      : `id ${plan.experiment.id}`,
  ]);
  if (plan.runId !== undefined) rows.push(["Run id", plan.runId]);
  if (plan.runName !== undefined) rows.push(["Run name", plan.runName]);
  for (const [k, v] of plan.tags) rows.push(["Tag", `${k}=${v}`]);
  const width = Math.max(...rows.map(([label]) => label.length)) + 1;
  return rows.map(([label, value]) => `${`${label}:`.padEnd(width)} ${value}`);
}

/**
 * The plan as one JSON-ready object (snake_case keys, as `--json` output elsewhere).
 *
 * @param plan The plan.
 * @returns The object.
 *
 * @example
 * ```ts ignore
 * import { planToJson } from "./plan_format.ts";
 * JSON.stringify(planToJson(await plan("examples/demo")));
 * ```
 */
export function planToJson(plan: RunPlan): Record<string, unknown> {
  const e = plan.environment;
  const s = plan.project.source;
  return {
    dry_run: true,
    uri: plan.uri,
    project_dir: plan.project.dir,
    ...(plan.project.name !== undefined ? { project_name: plan.project.name } : {}),
    source: {
      name: s.name,
      ...(s.commit ? { git_commit: s.commit } : {}),
      ...(s.repoUrl ? { git_repo_url: s.repoUrl } : {}),
      ...(s.branch ? { git_branch: s.branch } : {}),
    },
    entry_point: plan.entryPoint,
    command: plan.command,
    params: Object.fromEntries(plan.parameters),
    downloads: [...plan.downloads],
    env_manager: e.manager,
    ...(e.key !== undefined ? { env_key: e.key } : {}),
    ...(e.cached !== undefined ? { env_cached: e.cached } : {}),
    ...(e.python !== undefined ? { python: e.python } : {}),
    ...(e.installPython !== undefined ? { install_python: e.installPython } : {}),
    ...(e.docker !== undefined
      ? {
        docker_image: e.key,
        docker_image_must_build: e.docker.buildImage && e.cached === false,
        docker_args: dockerArgItems(e.docker.args),
        build_image: e.docker.buildImage,
      }
      : {}),
    ...(plan.mlflowVersion !== undefined ? { mlflow_version: plan.mlflowVersion } : {}),
    backend: plan.backend.name,
    backend_config: plan.backend.config,
    tracking_uri: plan.trackingUri,
    tracking_uri_final: plan.trackingUriFinal,
    ...(plan.experiment.name !== undefined
      ? { experiment_name: plan.experiment.name }
      : { experiment_id: plan.experiment.id }),
    ...(plan.runId !== undefined ? { run_id: plan.runId } : {}),
    ...(plan.runName !== undefined ? { run_name: plan.runName } : {}),
    tags: Object.fromEntries(plan.tags),
  };
}
