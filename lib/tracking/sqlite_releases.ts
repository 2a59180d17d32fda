/**
 * Which alembic revision each MLflow release expects of a tracking database, from the data
 * `scripts/gen_sqlite_schemas.py` dumped from real releases (`_sqlite_releases.ts`), and from an
 * installed MLflow's migration files for releases newer than that data. Small: read on every run
 * whose environment has MLflow; the DDL itself is in `sqlite_schema.ts`.
 *
 * @module
 */
import { join } from "../system/paths.ts";
import { GENERATED, NEW_DATABASES, RELEASES } from "./_sqlite_releases.ts";

/** When the schema data was generated (UTC, ISO 8601). */
export const SCHEMA_DATA_GENERATED: string = GENERATED;

/** The newest MLflow release the schema data covers. */
export const NEWEST_KNOWN_RELEASE: string = RELEASES[RELEASES.length - 1]![0];

let byVersion: Map<string, string> | undefined;
let byRevision: Map<string, string[]> | undefined;
let order: Map<string, number> | undefined;

function tables(): { byVersion: Map<string, string>; byRevision: Map<string, string[]> } {
  if (byVersion === undefined || byRevision === undefined) {
    byVersion = new Map();
    byRevision = new Map();
    order = new Map();
    for (const [version, revision] of RELEASES) {
      byVersion.set(version, revision);
      const list = byRevision.get(revision);
      if (list === undefined) {
        byRevision.set(revision, [version]);
        order.set(revision, order.size);
      } else list.push(version);
    }
  }
  return { byVersion, byRevision };
}

/**
 * Every MLflow release the schema data covers, oldest first.
 *
 * @returns The release versions.
 *
 * @example
 * ```ts
 * import { knownReleases } from "./sqlite_releases.ts";
 * console.assert(knownReleases().includes("2.17.2"));
 * ```
 */
export function knownReleases(): readonly string[] {
  return RELEASES.map(([v]) => v);
}

/**
 * The head revision an MLflow release expects, from the schema data.
 *
 * @param version An exact release (`2.17.2`).
 * @returns The revision, or `undefined` when the release is not in the data.
 *
 * @example
 * ```ts
 * import { headRevisionForVersion } from "./sqlite_releases.ts";
 * console.assert(headRevisionForVersion("3.7.0") === "bf29a5ff90ea");
 * ```
 */
export function headRevisionForVersion(version: string): string | undefined {
  return tables().byVersion.get(version.trim());
}

/** What creating a database of one revision needs besides its DDL (in `sqlite_schema.ts`). */
export interface NewDatabase {
  /** Alembic revision (`alembic_version.version_num`). */
  readonly revision: string;
  /** SHA-256 of the DDL (16 hex digits): names the template database built from it. */
  readonly ddlDigest: string;
  /**
   * `artifact_location` MLflow gives the default experiment (id 0); `{cwd}` stands for the
   * directory MLflow ran in.
   */
  readonly defaultArtifactLocation: string;
}

/**
 * What a new database of a revision needs besides its DDL.
 *
 * @param revision An alembic revision; without it, the newest known release's.
 * @returns The facts, or `undefined` when no release in the data creates that revision.
 *
 * @example
 * ```ts
 * import { headRevisionForVersion, NEWEST_KNOWN_RELEASE, newDatabase } from "./sqlite_releases.ts";
 * console.assert(newDatabase("bf29a5ff90ea")?.defaultArtifactLocation === "{cwd}/mlruns/0");
 * console.assert(newDatabase()?.revision === headRevisionForVersion(NEWEST_KNOWN_RELEASE));
 * ```
 */
export function newDatabase(revision?: string): NewDatabase | undefined {
  const key = revision ?? headRevisionForVersion(NEWEST_KNOWN_RELEASE)!;
  const data = NEW_DATABASES[key];
  if (data === undefined) return undefined;
  return {
    revision: key,
    ddlDigest: data.ddlDigest,
    defaultArtifactLocation: data.artifactLocation ?? "{cwd}/mlruns/0",
  };
}

/**
 * The releases whose new database has a revision.
 *
 * @param revision An alembic revision.
 * @returns The releases, oldest first (empty when unknown).
 *
 * @example
 * ```ts
 * import { releasesWithRevision } from "./sqlite_releases.ts";
 * console.assert(releasesWithRevision("f5a4f2784254").includes("2.17.2"));
 * ```
 */
export function releasesWithRevision(revision: string): readonly string[] {
  return tables().byRevision.get(revision) ?? [];
}

/**
 * Names the releases of a revision for messages: `MLflow 3.7.0`, `MLflow 3.5.0 to 3.7.0`,
 * `MLflow 3.0.1, 3.1.1 to 3.1.4` (runs of consecutive known releases), or
 * `an unknown MLflow version` when the data has no release with it.
 *
 * @param revision An alembic revision.
 * @returns The phrase.
 *
 * @example
 * ```ts
 * import { describeRevision } from "./sqlite_releases.ts";
 * console.assert(describeRevision("nope") === "an unknown MLflow version");
 * ```
 */
export function describeRevision(revision: string): string {
  const releases = releasesWithRevision(revision);
  if (releases.length === 0) return "an unknown MLflow version";
  const all = knownReleases();
  const runs: string[][] = [];
  let previous = -2;
  for (const release of releases) {
    const at = all.indexOf(release);
    if (at === previous + 1) runs[runs.length - 1]!.push(release);
    else runs.push([release]);
    previous = at;
  }
  const parts = runs.map((r) => r.length === 1 ? r[0]! : `${r[0]} to ${r[r.length - 1]}`);
  return `MLflow ${parts.join(", ")}`;
}

/**
 * Orders two revisions by the first release that creates them.
 *
 * @param a A revision.
 * @param b Another revision.
 * @returns Negative when `a` is older, positive when newer, 0 when equal; `undefined` when
 * either is not in the data.
 *
 * @example
 * ```ts
 * import { compareRevisions } from "./sqlite_releases.ts";
 * console.assert(compareRevisions("f5a4f2784254", "bf29a5ff90ea")! < 0);
 * ```
 */
export function compareRevisions(a: string, b: string): number | undefined {
  tables();
  const ia = order!.get(a);
  const ib = order!.get(b);
  return ia === undefined || ib === undefined ? undefined : ia - ib;
}

/** The migration files of an installed MLflow. */
export interface MigrationChain {
  /** The head: the revision that is no other's `down_revision`. */
  readonly head: string;
  /** Every revision in the files. */
  readonly revisions: ReadonlySet<string>;
}

const REVISION_LINE = /^revision\s*(?::[^=\n]*)?=\s*["']([^"']+)["']/m;
const DOWN_LINE = /^down_revision\s*(?::[^=\n]*)?=\s*(.+)$/m;

/**
 * Reads the alembic migration files of an installed MLflow
 * (`mlflow/store/db_migrations/versions/*.py`) without starting Python.
 *
 * @param sitePackages The site-packages directory that holds `mlflow/`.
 * @returns The head and all revisions, or `undefined` when there are no migration files or
 * they do not have exactly one head.
 *
 * @example
 * ```ts ignore
 * import { readMigrationChain } from "./sqlite_releases.ts";
 * const chain = await readMigrationChain("/venv/lib/python3.11/site-packages");
 * console.log(chain?.head);
 * ```
 */
export async function readMigrationChain(
  sitePackages: string,
): Promise<MigrationChain | undefined> {
  const dir = join(sitePackages, "mlflow", "store", "db_migrations", "versions");
  const revisions = new Set<string>();
  const downs = new Set<string>();
  try {
    for await (const entry of Deno.readDir(dir)) {
      if (!entry.name.endsWith(".py") || entry.name.startsWith("__")) continue;
      let text: string;
      try {
        text = await Deno.readTextFile(join(dir, entry.name));
      } catch {
        continue;
      }
      const rev = REVISION_LINE.exec(text);
      if (rev === null) continue;
      revisions.add(rev[1]!);
      const down = DOWN_LINE.exec(text);
      for (const m of (down?.[1] ?? "").matchAll(/["']([^"']+)["']/g)) downs.add(m[1]!);
    }
  } catch {
    return undefined;
  }
  const heads = [...revisions].filter((r) => !downs.has(r));
  return heads.length === 1 ? { head: heads[0]!, revisions } : undefined;
}

/**
 * The head revision an installed MLflow expects, read from its migration files.
 *
 * @param sitePackages The site-packages directory that holds `mlflow/`.
 * @returns The revision, or `undefined` when it cannot be determined.
 *
 * @example
 * ```ts ignore
 * import { headRevisionFromSitePackages } from "./sqlite_releases.ts";
 * console.log(await headRevisionFromSitePackages("/venv/lib/python3.11/site-packages"));
 * ```
 */
export async function headRevisionFromSitePackages(
  sitePackages: string,
): Promise<string | undefined> {
  return (await readMigrationChain(sitePackages))?.head;
}
