/**
 * The Job a Kubernetes run submits, filled from the user's template with MLflow's rules: name
 * `<project>-<%Y-%m-%d-%H-%M-%S-%f>` (made a valid DNS label: MLflow sends it as is and gets a
 * 422 for capitals or `_`), namespace from the template, `containers[0]` named after the project
 * and running `<repository>:<tag>@<digest>` with the command as argv and the run's variables
 * appended after the template's.
 *
 * @module
 */

/** A DNS-1123 label holds at most this many characters (the Job's `job-name` pod label too). */
const LABEL_MAX = 63;

/**
 * A project name as a DNS-1123 label part: lower case, runs of other characters as one `-`,
 * no `-` at either end.
 *
 * @param name The project name.
 * @returns The label text (`mlflow-project` when nothing is left).
 *
 * @example
 * ```ts
 * import { dnsLabel } from "./job_manifest.ts";
 * console.assert(dnsLabel("My_Project v2") === "my-project-v2");
 * ```
 */
export function dnsLabel(name: string): string {
  const label = name.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "");
  return label.slice(0, LABEL_MAX).replace(/-+$/, "") || "mlflow-project";
}

/**
 * The Job name, as MLflow makes it (`<project>-<%Y-%m-%d-%H-%M-%S-%f>`, local time), kept a
 * valid label of at most 63 characters by shortening the project part.
 *
 * @param projectName The MLproject name.
 * @param now The time (default now).
 * @returns The name.
 *
 * @example
 * ```ts
 * import { kubernetesJobName } from "./job_manifest.ts";
 * const name = kubernetesJobName("Train", new Date(2025, 2, 4, 5, 6, 7, 123));
 * console.assert(name === "train-2025-03-04-05-06-07-123000");
 * ```
 */
export function kubernetesJobName(projectName: string, now: Date = new Date()): string {
  const p = (n: number, w = 2) => String(n).padStart(w, "0");
  const stamp = `${now.getFullYear()}-${p(now.getMonth() + 1)}-${p(now.getDate())}-${
    p(now.getHours())
  }-${p(now.getMinutes())}-${p(now.getSeconds())}-${p(now.getMilliseconds() * 1000, 6)}`;
  const room = LABEL_MAX - stamp.length - 1;
  const project = dnsLabel(projectName).slice(0, room).replace(/-+$/, "") || "mlflow";
  return `${project}-${stamp}`;
}

/** What {@linkcode buildJobManifest} puts into the template. */
export interface JobRequest {
  /** The MLproject name (Job name prefix, container name). */
  readonly projectName: string;
  /** `<repository>:<tag>@<digest>`. */
  readonly image: string;
  /** The command, as argv (no shell re-quoting). */
  readonly command: readonly string[];
  /** Variables appended after the template's, in order. */
  readonly env: readonly (readonly [string, string])[];
  /** The Job name (default {@linkcode kubernetesJobName} of now). */
  readonly name?: string;
}

type Json = Record<string, unknown>;

function obj(value: unknown): Json | undefined {
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? value as Json
    : undefined;
}

/**
 * The first container of a Job template (`spec.template.spec.containers[0]`), or the problem.
 *
 * @param template The Job template.
 * @returns The container object, or a message naming the missing field.
 *
 * @example
 * ```ts
 * import { templateContainer } from "./job_manifest.ts";
 * console.assert(typeof templateContainer({}) === "string");
 * ```
 */
export function templateContainer(template: Json): Json | string {
  const spec = obj(obj(obj(template.spec)?.template)?.spec);
  if (spec === undefined) return "'spec.template.spec' is missing";
  const containers = spec.containers;
  if (!Array.isArray(containers) || obj(containers[0]) === undefined) {
    return "'spec.template.spec.containers' must hold at least one container";
  }
  return containers[0] as Json;
}

/**
 * Fills a Job template (a deep copy; the template is not changed).
 *
 * @param template The Job template (`metadata.namespace` and `containers[0]` present).
 * @param request Project name, image, command, variables, optional name.
 * @returns The Job to create.
 * @throws {TypeError} When the template has no container (check with {@linkcode templateContainer}).
 *
 * @example
 * ```ts
 * import { buildJobManifest } from "./job_manifest.ts";
 * const job = buildJobManifest(
 *   { metadata: { namespace: "ml" }, spec: { template: { spec: { containers: [{}] } } } },
 *   { projectName: "p", image: "r/p:1@sha256:ab", command: ["python", "t.py"], env: [["A", "1"]] },
 * );
 * console.assert((job.metadata as { name: string }).name.startsWith("p-"));
 * ```
 */
export function buildJobManifest(template: Json, request: JobRequest): Json {
  const job = structuredClone(template) as Json;
  const metadata = obj(job.metadata) ?? {};
  job.metadata = metadata;
  metadata.name = request.name ?? kubernetesJobName(request.projectName);
  const container = templateContainer(job);
  if (typeof container === "string") throw new TypeError(`Job template: ${container}`);
  container.name = dnsLabel(request.projectName);
  container.image = request.image;
  container.command = [...request.command];
  const env = Array.isArray(container.env) ? container.env : [];
  container.env = [...env, ...request.env.map(([name, value]) => ({ name, value }))];
  return job;
}
