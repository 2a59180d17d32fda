/**
 * Which SQLite schema (alembic revision and DDL) each MLflow release expects of a tracking
 * database, from the data `scripts/gen_sqlite_schemas.py` dumped from real releases, and from an
 * installed MLflow's migration files for releases newer than that data (those functions live in
 * `sqlite_releases.ts` and are exported here too).
 *
 * @module
 */
import { REVISIONS, STATEMENTS } from "./_sqlite_schemas.ts";
import {
  headRevisionForVersion,
  type NewDatabase,
  newDatabase,
  releasesWithRevision,
} from "./sqlite_releases.ts";

export * from "./sqlite_releases.ts";

/** The schema a new database of one alembic revision has. */
export interface SqliteSchema extends NewDatabase {
  /** DDL statements in creation order (tables, indexes; no `alembic_version` row). */
  readonly ddl: readonly string[];
  /** Releases whose new database has this revision, oldest first. */
  readonly releases: readonly string[];
}

/**
 * The schema of a new database of one revision.
 *
 * @param revision An alembic revision.
 * @returns The schema, or `undefined` when no release in the data creates that revision.
 *
 * @example
 * ```ts
 * import { schemaForRevision } from "./sqlite_schema.ts";
 * console.assert(schemaForRevision("bf29a5ff90ea")?.releases.includes("3.7.0"));
 * ```
 */
export function schemaForRevision(revision: string): SqliteSchema | undefined {
  const data = REVISIONS[revision];
  const created = newDatabase(revision);
  if (data === undefined || created === undefined) return undefined;
  return {
    ...created,
    ddl: data.ddl.map((i) => STATEMENTS[i]!),
    releases: releasesWithRevision(revision),
  };
}

/**
 * The schema of the new database an MLflow release creates.
 *
 * @param version An exact release (`2.17.2`).
 * @returns The schema, or `undefined` when the release is not in the data.
 *
 * @example
 * ```ts
 * import { schemaForVersion } from "./sqlite_schema.ts";
 * console.assert(schemaForVersion("2.17.2")?.revision === "f5a4f2784254");
 * console.assert(schemaForVersion("99.0.0") === undefined);
 * ```
 */
export function schemaForVersion(version: string): SqliteSchema | undefined {
  const revision = headRevisionForVersion(version);
  return revision === undefined ? undefined : schemaForRevision(revision);
}
