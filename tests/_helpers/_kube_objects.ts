/**
 * Kubernetes API objects as the fake API server (fake_kube.ts) stores and answers them: the
 * types it reads, `Status` error objects, Job validation, label/field selectors and the
 * discovery documents. Field names and messages follow kube-apiserver 1.31.
 */

/** `metadata` of an object. */
export interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  deletionGracePeriodSeconds?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: Record<string, unknown>[];
  finalizers?: string[];
  [key: string]: unknown;
}

/** An env entry of a container. */
export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: {
    secretKeyRef?: { name: string; key: string; optional?: boolean };
    [key: string]: unknown;
  };
}

/** A container of a pod spec. */
export interface Container {
  name: string;
  image?: string;
  command?: string[];
  args?: string[];
  env?: EnvVar[];
  workingDir?: string;
  imagePullPolicy?: string;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  [key: string]: unknown;
}

/** A pod spec (the part the fake reads). */
export interface PodSpec {
  containers: Container[];
  restartPolicy?: string;
  nodeName?: string;
  [key: string]: unknown;
}

/** A condition of a Job or Pod. */
export interface Condition {
  type: string;
  status: "True" | "False" | "Unknown";
  reason?: string;
  message?: string;
  lastProbeTime?: string | null;
  lastTransitionTime?: string;
}

/** A batch/v1 Job. */
export interface Job {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  spec: {
    template: { metadata?: ObjectMeta; spec: PodSpec };
    backoffLimit?: number;
    completions?: number;
    parallelism?: number;
    selector?: { matchLabels?: Record<string, string> };
    [key: string]: unknown;
  };
  status: {
    startTime?: string;
    completionTime?: string;
    active?: number;
    succeeded?: number;
    failed?: number;
    ready?: number;
    terminating?: number;
    conditions?: Condition[];
    uncountedTerminatedPods?: Record<string, unknown>;
  };
}

/** A container's state (exactly one key set). */
export interface ContainerState {
  waiting?: { reason: string; message?: string };
  running?: { startedAt: string };
  terminated?: {
    exitCode: number;
    reason: string;
    message?: string;
    startedAt?: string;
    finishedAt?: string;
    containerID?: string;
  };
}

/** One entry of `status.containerStatuses`. */
export interface ContainerStatus {
  name: string;
  state: ContainerState;
  lastState: ContainerState;
  ready: boolean;
  restartCount: number;
  image: string;
  imageID: string;
  containerID?: string;
  started: boolean;
}

/** A v1 Pod. */
export interface Pod {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  spec: PodSpec;
  status: {
    phase: "Pending" | "Running" | "Succeeded" | "Failed" | "Unknown";
    conditions?: Condition[];
    containerStatuses?: ContainerStatus[];
    startTime?: string;
    hostIP?: string;
    podIP?: string;
    qosClass?: string;
    message?: string;
    reason?: string;
  };
}

/** Now as the API server writes times (RFC 3339, seconds precision, `Z`). */
export function now(): string {
  return new Date().toISOString().replace(/\.\d+Z$/, "Z");
}

/** A `Status` object (the body of every API error, and of some delete answers). */
export function statusBody(
  code: number,
  reason: string,
  message: string,
  details?: Record<string, unknown>,
): Record<string, unknown> {
  return {
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: code < 300 ? "Success" : "Failure",
    ...(code < 300 ? {} : { message, reason }),
    ...(details === undefined ? {} : { details }),
    code,
  };
}

/** An API error as a `Status` response. */
export function statusResponse(
  code: number,
  reason: string,
  message: string,
  details?: Record<string, unknown>,
): Response {
  return jsonResponse(code, statusBody(code, reason, message, details));
}

/** A JSON response (`application/json`, as the API server answers). */
export function jsonResponse(code: number, body: unknown): Response {
  return new Response(JSON.stringify(body), {
    status: code,
    headers: { "content-type": "application/json", "cache-control": "no-cache, private" },
  });
}

/** `… not found` for a resource (`jobs.batch "x" not found`). */
export function notFound(resource: "jobs" | "pods" | "namespaces", name: string): Response {
  const group = resource === "jobs" ? "batch" : "";
  return statusResponse(
    404,
    "NotFound",
    `${resource}${group ? `.${group}` : ""} "${name}" not found`,
    { name, ...(group ? { group } : {}), kind: resource },
  );
}

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const SUBDOMAIN_MESSAGE =
  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const LABEL_MESSAGE =
  "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";

interface Cause {
  reason: "FieldValueRequired" | "FieldValueInvalid" | "FieldValueNotSupported";
  message: string;
  field: string;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Checks a Job body as the API server decodes and validates it. Returns an error response (400
 * for a body that does not decode into a Job, 422 `Invalid` with `details.causes`), or
 * `undefined` when the Job is valid.
 */
export function validateJob(body: unknown, namespace: string): Response | undefined {
  if (!isRecord(body)) {
    return statusResponse(400, "BadRequest", "the object provided is not a Job");
  }
  const decode = (message: string) =>
    statusResponse(400, "BadRequest", `Job in version "v1" cannot be handled as a Job: ${message}`);
  if (body.kind !== undefined && body.kind !== "Job") {
    return statusResponse(
      400,
      "BadRequest",
      `the server could not find the requested resource (kind ${String(body.kind)} is not Job)`,
    );
  }
  if (body.apiVersion !== undefined && body.apiVersion !== "batch/v1") {
    return statusResponse(
      400,
      "BadRequest",
      `the API version in the data (${
        String(body.apiVersion)
      }) does not match the expected API version (batch/v1)`,
    );
  }
  const meta = isRecord(body.metadata) ? body.metadata : {};
  if (meta.namespace !== undefined && meta.namespace !== namespace) {
    return statusResponse(
      400,
      "BadRequest",
      "the namespace of the provided object does not match the namespace sent on the request",
    );
  }
  const spec = isRecord(body.spec) ? body.spec : {};
  const template = isRecord(spec.template) ? spec.template : {};
  const podSpec = isRecord(template.spec) ? template.spec : {};
  const containers = Array.isArray(podSpec.containers) ? podSpec.containers : [];
  for (const c of containers) {
    if (!isRecord(c)) return decode(`json: cannot unmarshal into Go struct field Container`);
    for (const field of ["command", "args"] as const) {
      const v = c[field];
      if (v !== undefined && (!Array.isArray(v) || v.some((x) => typeof x !== "string"))) {
        return decode(
          `json: cannot unmarshal ${
            Array.isArray(v) ? "number" : typeof v
          } into Go struct field Container.spec.template.spec.containers.${field} of type ${
            Array.isArray(v) ? "string" : "[]string"
          }`,
        );
      }
    }
    for (const e of Array.isArray(c.env) ? c.env : []) {
      if (isRecord(e) && e.value !== undefined && typeof e.value !== "string") {
        return decode(
          `json: cannot unmarshal ${typeof e
            .value} into Go struct field EnvVar.spec.template.spec.containers.env.value of type string`,
        );
      }
    }
  }

  const causes: Cause[] = [];
  const name = typeof meta.name === "string" ? meta.name : "";
  if (name === "" && typeof meta.generateName !== "string") {
    causes.push({
      reason: "FieldValueRequired",
      message: "Required value: name or generateName is required",
      field: "metadata.name",
    });
  } else if (name !== "") {
    if (!DNS1123_SUBDOMAIN.test(name) || name.length > 253) {
      causes.push({
        reason: "FieldValueInvalid",
        message: `Invalid value: "${name}": ${SUBDOMAIN_MESSAGE}`,
        field: "metadata.name",
      });
    }
    if (name.length > 63) {
      causes.push({
        reason: "FieldValueInvalid",
        message: `Invalid value: "${name}": must be no more than 63 characters`,
        field: "spec.template.labels",
      });
    }
  }
  if (containers.length === 0) {
    causes.push({
      reason: "FieldValueRequired",
      message: "Required value",
      field: "spec.template.spec.containers",
    });
  }
  for (const [i, c] of containers.entries()) {
    const field = `spec.template.spec.containers[${i}]`;
    const container = c as Record<string, unknown>;
    if (typeof container.name !== "string" || container.name === "") {
      causes.push({
        reason: "FieldValueRequired",
        message: "Required value",
        field: `${field}.name`,
      });
    } else if (!DNS1123_LABEL.test(container.name) || container.name.length > 63) {
      causes.push({
        reason: "FieldValueInvalid",
        message: `Invalid value: "${container.name}": ${LABEL_MESSAGE}`,
        field: `${field}.name`,
      });
    }
    if (typeof container.image !== "string" || container.image.trim() === "") {
      causes.push({
        reason: "FieldValueRequired",
        message: "Required value",
        field: `${field}.image`,
      });
    }
  }
  const restart = podSpec.restartPolicy;
  if (restart === undefined) {
    causes.push({
      reason: "FieldValueRequired",
      message: `Required value: valid values: "OnFailure", "Never"`,
      field: "spec.template.spec.restartPolicy",
    });
  } else if (restart !== "Never" && restart !== "OnFailure") {
    causes.push({
      reason: "FieldValueNotSupported",
      message: `Unsupported value: "${String(restart)}": supported values: "OnFailure", "Never"`,
      field: "spec.template.spec.restartPolicy",
    });
  }
  const backoff = spec.backoffLimit;
  if (backoff !== undefined && (typeof backoff !== "number" || backoff < 0)) {
    causes.push({
      reason: "FieldValueInvalid",
      message: `Invalid value: ${String(backoff)}: must be greater than or equal to 0`,
      field: "spec.backoffLimit",
    });
  }
  if (causes.length === 0) return undefined;
  const parts = causes.map((c) => `${c.field}: ${c.message}`);
  return statusResponse(
    422,
    "Invalid",
    `Job.batch "${name}" is invalid: ${parts.length === 1 ? parts[0] : `[${parts.join(", ")}]`}`,
    { name, group: "batch", kind: "Job", causes },
  );
}

type Requirement = (labels: Record<string, string>) => boolean;

/**
 * Parses a label selector (`a=b,c!=d,e in (x,y),f notin (z),g,!h`) into a predicate; throws on
 * a malformed one.
 */
export function parseLabelSelector(text: string): Requirement {
  const terms: string[] = [];
  let depth = 0;
  let current = "";
  for (const ch of text) {
    if (ch === "(") depth++;
    if (ch === ")") depth--;
    if (ch === "," && depth === 0) {
      terms.push(current);
      current = "";
    } else current += ch;
  }
  terms.push(current);
  const reqs: Requirement[] = [];
  for (const raw of terms.map((t) => t.trim()).filter((t) => t !== "")) {
    let m = raw.match(/^([^\s!=]+)\s+(in|notin)\s+\(([^)]*)\)$/);
    if (m) {
      const key = m[1]!;
      const values = m[3]!.split(",").map((v) => v.trim());
      const neg = m[2] === "notin";
      reqs.push((l) => (key in l && values.includes(l[key]!)) !== neg);
      continue;
    }
    m = raw.match(/^([^\s!=]+)\s*(==|=|!=)\s*([^\s,]*)$/);
    if (m) {
      const [, key, op, value] = m as unknown as [string, string, string, string];
      reqs.push(op === "!=" ? (l) => l[key] !== value : (l) => l[key] === value);
      continue;
    }
    m = raw.match(/^(!?)([^\s!=()]+)$/);
    if (m) {
      const key = m[2]!;
      const neg = m[1] === "!";
      reqs.push((l) => (key in l) !== neg);
      continue;
    }
    throw new Error(`unable to parse requirement: ${raw}`);
  }
  return (labels) => reqs.every((r) => r(labels));
}

/** Parses a field selector (`metadata.name=x,status.phase!=Running`) into a predicate. */
export function parseFieldSelector(text: string): (object: unknown) => boolean {
  const reqs: ((o: unknown) => boolean)[] = [];
  for (const raw of text.split(",").map((t) => t.trim()).filter((t) => t !== "")) {
    const m = raw.match(/^([^!=]+)(==|=|!=)(.*)$/);
    if (!m) throw new Error(`invalid selector: '${raw}'; can't understand '${raw}'`);
    const [, path, op, value] = m as unknown as [string, string, string, string];
    const get = (o: unknown): string => {
      let cur: unknown = o;
      for (const part of path.split(".")) cur = isRecord(cur) ? cur[part] : undefined;
      return cur === undefined ? "" : String(cur);
    };
    reqs.push(op === "!=" ? (o) => get(o) !== value : (o) => get(o) === value);
  }
  return (object) => reqs.every((r) => r(object));
}

/** Parses a quantity (`500m`, `2`, `1Gi`, `512M`) into a number (cores or bytes). */
export function parseQuantity(text: string): number {
  const m = String(text).match(/^([0-9.]+)([a-zA-Z]*)$/);
  if (!m) return Number.NaN;
  const n = Number(m[1]);
  const factors: Record<string, number> = {
    "": 1,
    m: 1e-3,
    k: 1e3,
    M: 1e6,
    G: 1e9,
    T: 1e12,
    Ki: 1024,
    Mi: 1024 ** 2,
    Gi: 1024 ** 3,
    Ti: 1024 ** 4,
  };
  const f = factors[m[2]!];
  return f === undefined ? Number.NaN : n * f;
}

/** The `/version` document (a 1.31 server). */
export const VERSION_INFO = {
  major: "1",
  minor: "31",
  gitVersion: "v1.31.0",
  gitCommit: "9edcffcde5595e8a5b1a35f88c421764e575afce",
  gitTreeState: "clean",
  buildDate: "2024-08-13T07:28:49Z",
  goVersion: "go1.22.5",
  compiler: "gc",
  platform: "linux/amd64",
};

const ALL_VERBS = [
  "create",
  "delete",
  "deletecollection",
  "get",
  "list",
  "patch",
  "update",
  "watch",
];

/** Discovery documents by path. */
export function discovery(serverAddress: string): Record<string, unknown> {
  const batchVersion = { groupVersion: "batch/v1", version: "v1" };
  const batchGroup = {
    name: "batch",
    versions: [batchVersion],
    preferredVersion: batchVersion,
  };
  return {
    "/api": {
      kind: "APIVersions",
      versions: ["v1"],
      serverAddressByClientCIDRs: [{ clientCIDR: "0.0.0.0/0", serverAddress }],
    },
    "/apis": { kind: "APIGroupList", apiVersion: "v1", groups: [batchGroup] },
    "/apis/batch": { kind: "APIGroup", apiVersion: "v1", ...batchGroup },
    "/api/v1": {
      kind: "APIResourceList",
      groupVersion: "v1",
      resources: [
        {
          name: "namespaces",
          singularName: "namespace",
          namespaced: false,
          kind: "Namespace",
          verbs: ["create", "delete", "get", "list", "patch", "update", "watch"],
          shortNames: ["ns"],
          storageVersionHash: "Q3oi5N2YM8M=",
        },
        {
          name: "pods",
          singularName: "pod",
          namespaced: true,
          kind: "Pod",
          verbs: ALL_VERBS,
          shortNames: ["po"],
          categories: ["all"],
          storageVersionHash: "xPOwRZ+Yhw8=",
        },
        { name: "pods/log", singularName: "", namespaced: true, kind: "Pod", verbs: ["get"] },
        {
          name: "pods/status",
          singularName: "",
          namespaced: true,
          kind: "Pod",
          verbs: ["get", "patch", "update"],
        },
        {
          name: "secrets",
          singularName: "secret",
          namespaced: true,
          kind: "Secret",
          verbs: ALL_VERBS,
          storageVersionHash: "S6u1pOWzb84=",
        },
      ],
    },
    "/apis/batch/v1": {
      kind: "APIResourceList",
      apiVersion: "v1",
      groupVersion: "batch/v1",
      resources: [
        {
          name: "jobs",
          singularName: "job",
          namespaced: true,
          kind: "Job",
          verbs: ALL_VERBS,
          categories: ["all"],
          storageVersionHash: "mudhfqk/qZY=",
        },
        {
          name: "jobs/status",
          singularName: "",
          namespaced: true,
          kind: "Job",
          verbs: ["get", "patch", "update"],
        },
      ],
    },
  };
}

function patchOperation(group: string, kind: string) {
  return {
    patch: {
      "x-kubernetes-group-version-kind": { group, kind, version: "v1" },
      parameters: [
        { name: "dryRun", in: "query", schema: { type: "string", uniqueItems: true } },
        { name: "fieldManager", in: "query", schema: { type: "string", uniqueItems: true } },
        { name: "fieldValidation", in: "query", schema: { type: "string", uniqueItems: true } },
      ],
      responses: {},
    },
  };
}

/**
 * The OpenAPI v3 documents by path: just enough for kubectl to see that the server validates
 * fields itself (`fieldValidation` on the PATCH operation), so it sends `fieldValidation=Strict`
 * instead of needing the schemas.
 */
export const OPENAPI_V3: Record<string, unknown> = {
  "/openapi/v3": {
    paths: {
      "api/v1": { serverRelativeURL: "/openapi/v3/api/v1?hash=F4KE0001" },
      "apis/batch/v1": { serverRelativeURL: "/openapi/v3/apis/batch/v1?hash=F4KE0002" },
    },
  },
  "/openapi/v3/api/v1": {
    openapi: "3.0.0",
    info: { title: "Kubernetes", version: "v1.31.0" },
    paths: { "/api/v1/namespaces/{namespace}/pods/{name}": patchOperation("", "Pod") },
  },
  "/openapi/v3/apis/batch/v1": {
    openapi: "3.0.0",
    info: { title: "Kubernetes", version: "v1.31.0" },
    paths: { "/apis/batch/v1/namespaces/{namespace}/jobs/{name}": patchOperation("batch", "Job") },
  },
};
