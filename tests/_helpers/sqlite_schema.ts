/**
 * SQLite schemas compared across databases: `sqlite_master` normalized, and `alembic_version`.
 */
import { DatabaseSync } from "node:sqlite";

/** Splits a CREATE TABLE body at top-level commas. */
function tableItems(body: string): string[] {
  const items: string[] = [];
  let depth = 0;
  let quote: string | undefined;
  let start = 0;
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (quote !== undefined) {
      if (c === quote) quote = undefined;
    } else if (c === "'" || c === '"' || c === "`") quote = c;
    else if (c === "(") depth++;
    else if (c === ")") depth--;
    else if (c === "," && depth === 0) {
      items.push(body.slice(start, i));
      start = i + 1;
    }
  }
  items.push(body.slice(start));
  return items.map((s) => s.replace(/\s+/g, " ").trim());
}

/**
 * `sqlite_master` of a database, normalized: entries sorted by type and name, `rootpage`
 * dropped, whitespace collapsed, and the table constraints in each CREATE TABLE sorted (MLflow's
 * migrations emit constraints and indexes in an order that varies from run to run).
 *
 * @param path The database file.
 * @returns One line per schema entry, sorted.
 * @example
 * ```ts ignore
 * assert.deepEqual(normalizedSchema(ours), normalizedSchema(theirs));
 * ```
 */
export function normalizedSchema(path: string): string[] {
  const db = new DatabaseSync(path);
  try {
    return db.prepare("SELECT type, name, tbl_name, sql FROM sqlite_master").all()
      .map((r) => {
        const row = r as Record<string, string | null>;
        let sql = row.sql ?? "";
        if (row.type === "table" && sql.includes("(")) {
          const open = sql.indexOf("(");
          const close = sql.lastIndexOf(")");
          const items = tableItems(sql.slice(open + 1, close));
          const isConstraint = (s: string) =>
            /^(CONSTRAINT|CHECK|FOREIGN|UNIQUE|PRIMARY)\b/i.test(s);
          sql = `${sql.slice(0, open).trim()} (${
            [
              ...items.filter((s) => !isConstraint(s)),
              ...items.filter(isConstraint).sort(),
            ].join(", ")
          })`;
        } else sql = sql.replace(/\s+/g, " ").trim();
        return `${row.type} ${row.name} ON ${row.tbl_name}: ${sql}`;
      })
      .sort();
  } finally {
    db.close();
  }
}

/**
 * The database's `alembic_version` rows.
 *
 * @param path The database file.
 * @returns The revisions (one for an MLflow database).
 * @example
 * ```ts ignore
 * assert.deepEqual(alembicVersion(path), ["bf29a5ff90ea"]);
 * ```
 */
export function alembicVersion(path: string): string[] {
  const db = new DatabaseSync(path);
  try {
    return db.prepare("SELECT version_num FROM alembic_version").all()
      .map((r) => String((r as Record<string, unknown>).version_num));
  } finally {
    db.close();
  }
}
