import type { DatabaseSync } from "node:sqlite";
import { SchemaTooNewError } from "./errors.ts";

/**
 * Schema migrations as ordered data (after dbos' migration runner): each has a version, a
 * name and its SQL. They are applied in order, in one transaction, and recorded in
 * `schema_migrations`. Never edit a released migration; add the next one.
 */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const SQLITE_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: "runs and events",
    sql: `
      CREATE TABLE runs (
        id               TEXT PRIMARY KEY,
        workflow         TEXT NOT NULL,
        workflow_version TEXT NOT NULL,
        status           TEXT NOT NULL,
        input            TEXT NOT NULL,
        output           TEXT,
        error            TEXT,
        parent_run_id    TEXT,
        forked_at_seq    INTEGER,
        tenant           TEXT,
        metadata         TEXT,
        created_at       TEXT NOT NULL,
        updated_at       TEXT NOT NULL,
        event_count      INTEGER NOT NULL DEFAULT 0,
        head_hash        TEXT NOT NULL
      );
      CREATE INDEX runs_created ON runs (created_at);
      CREATE INDEX runs_status_created ON runs (status, created_at);
      CREATE INDEX runs_workflow_created ON runs (workflow, created_at);
      CREATE INDEX runs_tenant_created ON runs (tenant, created_at);
      CREATE TABLE events (
        run_id TEXT NOT NULL,
        seq    INTEGER NOT NULL,
        type   TEXT NOT NULL,
        at     TEXT NOT NULL,
        data   TEXT NOT NULL,
        prev   TEXT NOT NULL,
        hash   TEXT NOT NULL,
        PRIMARY KEY (run_id, seq)
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 2,
    name: "run leases",
    sql: `
      ALTER TABLE runs ADD COLUMN owner TEXT;
      ALTER TABLE runs ADD COLUMN owner_seen_at INTEGER;
    `,
  },
];

/** The newest schema version this code knows. */
export function latestVersion(migrations: readonly Migration[] = SQLITE_MIGRATIONS): number {
  return migrations.reduce((max, m) => Math.max(max, m.version), 0);
}

/** The version recorded in the database (0 for a fresh one). Reads only. */
export function schemaVersion(db: DatabaseSync): number {
  const table = db
    .prepare("SELECT 1 AS found FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'")
    .get();
  if (table === undefined) return 0;
  const row = db.prepare("SELECT max(version) AS version FROM schema_migrations").get() as
    | { version: number | null }
    | undefined;
  return row?.version ?? 0;
}

/** Throws `schema_too_new` when the database was written by a newer ballast. Reads only. */
export function assertSchemaKnown(db: DatabaseSync, path: string, migrations = SQLITE_MIGRATIONS): void {
  const found = schemaVersion(db);
  const known = latestVersion(migrations);
  if (found > known) throw new SchemaTooNewError(path, found, known);
}

export interface MigrationResult {
  from: number;
  to: number;
  applied: Migration[];
}

/**
 * Brings the database up to the newest version. Takes the write lock first (BEGIN
 * IMMEDIATE), so processes opening the same file at once migrate it exactly once.
 */
export function migrate(db: DatabaseSync, path: string, migrations = SQLITE_MIGRATIONS): MigrationResult {
  const ordered = [...migrations].sort((a, b) => a.version - b.version);
  db.exec("BEGIN IMMEDIATE");
  try {
    const from = schemaVersion(db);
    const known = latestVersion(ordered);
    if (from > known) throw new SchemaTooNewError(path, from, known);
    const pending = ordered.filter((m) => m.version > from);
    if (pending.length > 0) {
      db.exec(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)",
      );
      const record = db.prepare("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)");
      for (const migration of pending) {
        db.exec(migration.sql);
        record.run(migration.version, migration.name, new Date().toISOString());
      }
    }
    db.exec("COMMIT");
    return { from, to: Math.max(from, known), applied: pending };
  } catch (error) {
    db.exec("ROLLBACK");
    throw error;
  }
}
