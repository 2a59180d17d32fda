/**
 * The migration-file reader against real MLflow installations: the head revision read from each
 * pinned release's site-packages is the one the schema data has for it.
 */
import assert from "node:assert/strict";
import {
  headRevisionForVersion,
  headRevisionFromSitePackages,
} from "../../../lib/tracking/sqlite_schema.ts";
import { PINNED_MLFLOW_VERSIONS } from "../../_helpers/mlflow_venvs.ts";
import { compatMlflowTest } from "../_compat.ts";

for (const version of PINNED_MLFLOW_VERSIONS) {
  compatMlflowTest(
    `headRevisionFromSitePackages() of real MLflow ${version} is the head the data has for it`,
    [version],
    async (_t, venv) => {
      assert.equal(
        await headRevisionFromSitePackages(venv.sitePackages),
        headRevisionForVersion(version),
      );
    },
  );
}
