/**
 * File-store trees as MLflow writes them, for tests that need `./mlruns` to hold experiment data.
 */
import { join } from "node:path";

/**
 * Writes `<mlruns>/<id>/meta.yaml` of an active experiment named `Default`.
 *
 * @param mlruns The file store's root.
 * @param id The experiment id.
 * @example
 * ```ts ignore
 * writeExperimentMeta(`${tmp.path}/mlruns`, "0");
 * ```
 */
export function writeExperimentMeta(mlruns: string, id: string): void {
  Deno.mkdirSync(join(mlruns, id), { recursive: true });
  Deno.writeTextFileSync(
    join(mlruns, id, "meta.yaml"),
    `artifact_location: file://${mlruns}/${id}\ncreation_time: 1\nexperiment_id: '${id}'\n` +
      "last_update_time: 1\nlifecycle_stage: active\nname: Default\n",
  );
}
