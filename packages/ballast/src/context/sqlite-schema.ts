import type { DatabaseSync } from "node:sqlite";
import { ValidationError } from "../errors.ts";
import { ANALYZER_ID } from "./analyzer.ts";

/**
 * The context engine's own tables, created idempotently in whatever database it is given
 * (by default the journal's `<home>/ballast.db`). All names start with `ctx_`, so they never
 * collide with the journal's migrations. The version is recorded in `ctx_meta`; a database
 * written by a newer engine is refused rather than misread.
 */
export const CONTEXT_SCHEMA_VERSION = 1;

export const CONTEXT_SCHEMA_SQL = `
CREATE TABLE IF NOT EXISTS ctx_meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
-- One row per document revision. Rows are immutable except valid_to, set once when the
-- revision is superseded or deleted; row ids grow with valid_from.
CREATE TABLE IF NOT EXISTS ctx_rows (
  row_id       INTEGER PRIMARY KEY,
  doc_id       TEXT NOT NULL,
  revision     INTEGER NOT NULL,
  scope        TEXT NOT NULL CHECK (scope IN ('global', 'session', 'task')),
  scope_id     TEXT,
  text         TEXT NOT NULL,
  summary      TEXT,
  metadata     TEXT NOT NULL,
  content_hash TEXT NOT NULL,
  text_hash    TEXT NOT NULL,
  length       INTEGER NOT NULL,
  valid_from   INTEGER NOT NULL,
  valid_to     INTEGER,
  created_at   TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS ctx_rows_live ON ctx_rows (doc_id) WHERE valid_to IS NULL;
CREATE UNIQUE INDEX IF NOT EXISTS ctx_rows_revision ON ctx_rows (doc_id, revision);
CREATE INDEX IF NOT EXISTS ctx_rows_ended ON ctx_rows (valid_to) WHERE valid_to IS NOT NULL;
-- The index's history: one row per change (its version), with the corpus statistics BM25
-- needs as of that version, so a search at any version is exact.
CREATE TABLE IF NOT EXISTS ctx_changes (
  version      INTEGER PRIMARY KEY,
  op           TEXT NOT NULL CHECK (op IN ('insert', 'update', 'delete')),
  doc_id       TEXT NOT NULL,
  row_id       INTEGER NOT NULL,
  at           TEXT NOT NULL,
  at_ms        INTEGER NOT NULL,
  n_live       INTEGER NOT NULL,
  total_length INTEGER NOT NULL,
  max_row_id   INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS ctx_changes_at ON ctx_changes (at_ms, version);
-- Posting lists: little-endian uint32 triples (row_id, tf, length), in segments.
-- Blob tables keep their rowid: a WITHOUT ROWID row of ~1 KB would take a 4 KB overflow
-- page of its own (measured: 108 MB instead of 41 MB for SciFact with LSA vectors).
CREATE TABLE IF NOT EXISTS ctx_postings (
  term    TEXT NOT NULL,
  segment INTEGER NOT NULL,
  count   INTEGER NOT NULL,
  data    BLOB NOT NULL,
  PRIMARY KEY (term, segment)
);
-- Embedding cache and vector store: one vector per (model, SHA-256 of the embedded text).
CREATE TABLE IF NOT EXISTS ctx_embeddings (
  model      TEXT NOT NULL,
  hash       TEXT NOT NULL,
  dim        INTEGER NOT NULL,
  vector     BLOB NOT NULL,
  created_at TEXT NOT NULL,
  PRIMARY KEY (model, hash)
);
-- Fitted LSA models: per-term IDF and projection row (Float32 blob).
CREATE TABLE IF NOT EXISTS ctx_lsa_models (
  model_id       TEXT PRIMARY KEY,
  dimensions     INTEGER NOT NULL,
  params         TEXT NOT NULL,
  terms          INTEGER NOT NULL,
  documents      INTEGER NOT NULL,
  fitted_at      TEXT NOT NULL,
  fitted_version INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS ctx_lsa_terms (
  model_id TEXT NOT NULL,
  term     TEXT NOT NULL,
  idf      REAL NOT NULL,
  vector   BLOB NOT NULL,
  PRIMARY KEY (model_id, term)
);
`;

function readMeta(db: DatabaseSync, key: string): string | undefined {
  const row = db.prepare("SELECT value FROM ctx_meta WHERE key = ?").get(key) as
    | { value: string }
    | undefined;
  return row?.value;
}

/** Creates the tables if missing and checks the recorded schema and analyzer versions. */
export function ensureContextSchema(db: DatabaseSync, path: string): void {
  const exists = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'ctx_meta'").get();
  if (exists !== undefined) {
    const version = Number(readMeta(db, "schema_version") ?? "0");
    if (version > CONTEXT_SCHEMA_VERSION) {
      throw new ValidationError(
        "context_schema_too_new",
        `The context index in ${path} has schema version ${version}, newer than this ballast (${CONTEXT_SCHEMA_VERSION}). Upgrade ballast to open it.`,
      );
    }
    const analyzer = readMeta(db, "analyzer");
    if (version === CONTEXT_SCHEMA_VERSION && analyzer === ANALYZER_ID) return;
    if (analyzer !== undefined && analyzer !== ANALYZER_ID) {
      throw new ValidationError(
        "context_analyzer_changed",
        `The context index in ${path} was built with analyzer ${analyzer}, not ${ANALYZER_ID}. Re-index its documents into a new database.`,
      );
    }
  }
  db.exec("BEGIN IMMEDIATE");
  try {
    db.exec(CONTEXT_SCHEMA_SQL);
    const set = db.prepare("INSERT OR REPLACE INTO ctx_meta (key, value) VALUES (?, ?)");
    set.run("schema_version", String(CONTEXT_SCHEMA_VERSION));
    set.run("analyzer", ANALYZER_ID);
    db.exec("COMMIT");
  } catch (error) {
    db.exec("ROLLBACK");
    throw error;
  }
}
