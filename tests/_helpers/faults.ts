/**
 * Scripted faults of the fake servers (`fake_mlflow_server.ts`, `fake_databricks.ts`): the first
 * fault matching a request is taken, and dropped once it has been used `times` times.
 */

/** What every fake's fault has: where it applies and how often. */
export interface MatchedFault {
  /** Substring of the path, or a pattern (default: any path). */
  path?: string | RegExp;
  /** Method a request must have (default: any). */
  method?: string;
  /** How many matching requests it applies to (default 1). */
  times?: number;
}

/** The first fault for `method` and `path`, counted down (and removed when used up). */
export function takeFault<F extends MatchedFault>(
  faults: F[],
  method: string,
  path: string,
): F | undefined {
  const i = faults.findIndex((f) =>
    (f.path === undefined ||
      (typeof f.path === "string" ? path.includes(f.path) : f.path.test(path))) &&
    (f.method === undefined || f.method === method)
  );
  if (i < 0) return undefined;
  const fault = faults[i]!;
  fault.times = (fault.times ?? 1) - 1;
  if (fault.times <= 0) faults.splice(i, 1);
  return fault;
}
