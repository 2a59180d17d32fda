import { resolvePlainScalar } from "../yaml/plain_scalar.ts";

/** A scalar or empty list that MLflow writes in `meta.yaml` files. */
export type YamlScalar = string | number | null | [];

function plainOk(s: string): boolean {
  if (s === "" || s !== s.trim()) return false;
  if (/^[-?:,[\]{}#&*!|>'"%@`]/.test(s)) return false;
  // deno-lint-ignore no-control-regex
  if (/[\x00-\x1f\x7f]|: |:$| #/.test(s)) return false;
  // Also quote what other YAML readers (1.2 core, npm:yaml in 1.1 mode) would not read as text.
  // `=` and `<<` are YAML 1.1 value/merge indicators: PyYAML quotes them too.
  if (s === "=" || s === "<<") return false;
  if (/^[yYnN]$/.test(s) || /^[-+]?(?:\d[\d_]*)?\.?\d*[eE][-+]?\d+$/.test(s)) return false;
  return typeof resolvePlainScalar(s) === "string";
}

function scalar(v: YamlScalar): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "[]";
  if (typeof v === "number") return String(v);
  if (plainOk(v)) return v;
  // deno-lint-ignore no-control-regex
  if (/[\x00-\x1f\x7f]/.test(v)) return JSON.stringify(v);
  return `'${v.replaceAll("'", "''")}'`;
}

/**
 * Writes a flat mapping the way MLflow's `write_yaml` (PyYAML, sorted keys, block style) does.
 *
 * @param data Keys and scalar values.
 * @returns The YAML text.
 */
export function dumpYaml(data: Record<string, YamlScalar>): string {
  return Object.keys(data).sort().map((k) => `${k}: ${scalar(data[k]!)}\n`).join("");
}
