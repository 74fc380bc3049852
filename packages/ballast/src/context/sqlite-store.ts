import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { DatabaseSync, type StatementSync } from "node:sqlite";
import { ValidationError } from "../errors.ts";
import { compileFilterSqlite, type Filter } from "./filters.ts";
import {
  decodePostings,
  decodeVector,
  encodePostings,
  encodeVector,
  POSTING_WIDTH,
  SEGMENT_CAPACITY,
} from "./postings.ts";
import { ensureContextSchema } from "./sqlite-schema.ts";
import type {
  ContextStore,
  IndexState,
  LsaModelRecord,
  LsaTermVector,
  PreparedDocument,
  StoredVectors,
} from "./store.ts";
import type {
  DeleteSummary,
  Metadata,
  Scope,
  ScopeSelector,
  StoredDocument,
  UpsertSummary,
} from "./types.ts";

export interface SqliteContextStoreOptions {
  /** Path of the SQLite file (created if missing), or ":memory:". */
  path: string;
  /** Wait this long for another writer's lock before failing (default 5000 ms). */
  busyTimeoutMs?: number;
}

interface RowRecord {
  row_id: number;
  doc_id: string;
  revision: number;
  scope: string;
  scope_id: string | null;
  text: string;
  summary: string | null;
  metadata: string;
  content_hash: string;
  valid_from: number;
  valid_to: number | null;
  created_at: string;
}

const EMPTY: IndexState = { version: 0, documents: 0, totalLength: 0, maxRowId: 0 };
const ROW_COLUMNS =
  "row_id, doc_id, revision, scope, scope_id, text, summary, metadata, content_hash, valid_from, valid_to, created_at";
const POSTINGS_CACHE_TERMS = 200_000;

function toDocument(row: RowRecord): StoredDocument {
  return {
    id: row.doc_id,
    text: row.text,
    metadata: JSON.parse(row.metadata) as Metadata,
    scope: row.scope as Scope,
    ...(row.scope_id === null ? {} : { scopeId: row.scope_id }),
    ...(row.summary === null ? {} : { summary: row.summary }),
    version: row.revision,
    validFrom: row.valid_from,
    ...(row.valid_to === null ? {} : { validTo: row.valid_to }),
    contentHash: row.content_hash,
    createdAt: row.created_at,
  };
}

/**
 * The SQLite backend (node:sqlite). Reads are served from small caches (head state, posting
 * segments, row end versions, vectors) that are dropped whenever another connection commits
 * (`PRAGMA data_version`) and patched by this connection's own writes, so a query reads only
 * what it needs and reopening an index costs only opening the file.
 */
export class SqliteContextStore implements ContextStore {
  readonly backend = "sqlite" as const;
  readonly location: string;
  readonly #db: DatabaseSync;
  readonly #statements = new Map<string, StatementSync>();
  #dataVersion = -1;
  #head: IndexState | undefined;
  #postings = new Map<string, Uint32Array[]>();
  #ended: Uint32Array = new Uint32Array(0);
  #endedThrough = -1;
  #vectors = new Map<string, StoredVectors>();
  #rowVectors = new Map<string, Map<number, Float32Array>>();
  #closed = false;

  constructor(options: SqliteContextStoreOptions) {
    this.location = options.path;
    if (options.path !== ":memory:") mkdirSync(dirname(options.path), { recursive: true });
    this.#db = new DatabaseSync(options.path);
    this.#db.exec(`PRAGMA busy_timeout = ${Math.max(0, Math.floor(options.busyTimeoutMs ?? 5000))}`);
    if (options.path !== ":memory:") this.#db.exec("PRAGMA journal_mode = WAL");
    this.#db.exec("PRAGMA synchronous = NORMAL");
    ensureContextSchema(this.#db, options.path);
  }

  #stmt(sql: string): StatementSync {
    let statement = this.#statements.get(sql);
    if (statement === undefined) {
      statement = this.#db.prepare(sql);
      this.#statements.set(sql, statement);
    }
    return statement;
  }

  /** Drops every cache if another connection committed since we last looked. */
  #sync(): void {
    if (this.#closed) {
      throw new ValidationError(
        "context_closed",
        `The context index ${this.location} is closed; open it again.`,
      );
    }
    const row = this.#stmt("PRAGMA data_version").get() as { data_version: number };
    if (row.data_version !== this.#dataVersion) {
      this.#dataVersion = row.data_version;
      this.#invalidate();
    }
  }

  #invalidate(): void {
    this.#head = undefined;
    this.#postings.clear();
    this.#vectors.clear();
    this.#rowVectors.clear();
  }

  #transaction<T>(fn: () => T): T {
    this.#db.exec("BEGIN IMMEDIATE");
    try {
      const result = fn();
      this.#db.exec("COMMIT");
      return result;
    } catch (error) {
      this.#db.exec("ROLLBACK");
      this.#invalidate();
      this.#ended = new Uint32Array(0);
      this.#endedThrough = -1;
      throw error;
    }
  }

  async liveHashes(ids: readonly string[]): Promise<Map<string, string>> {
    this.#sync();
    const rows = this.#stmt(
      "SELECT doc_id, content_hash FROM ctx_rows WHERE valid_to IS NULL AND doc_id IN (SELECT value FROM json_each(?))",
    ).all(JSON.stringify(ids)) as { doc_id: string; content_hash: string }[];
    return new Map(rows.map((r) => [r.doc_id, r.content_hash]));
  }

  #headState(): IndexState {
    if (this.#head !== undefined) return this.#head;
    const row = this.#stmt(
      "SELECT version, n_live, total_length, max_row_id FROM ctx_changes ORDER BY version DESC LIMIT 1",
    ).get() as { version: number; n_live: number; total_length: number; max_row_id: number } | undefined;
    this.#head =
      row === undefined
        ? EMPTY
        : {
            version: row.version,
            documents: row.n_live,
            totalLength: row.total_length,
            maxRowId: row.max_row_id,
          };
    return this.#head;
  }

  #lastAtMs(): number {
    const row = this.#stmt("SELECT at_ms FROM ctx_changes ORDER BY version DESC LIMIT 1").get() as
      | { at_ms: number }
      | undefined;
    return row?.at_ms ?? 0;
  }

  async upsert(docs: readonly PreparedDocument[], now: Date): Promise<UpsertSummary> {
    this.#sync();
    const summary = this.#transaction(() => {
      this.#head = undefined;
      let state = this.#headState();
      // Times never go backwards, so "the index at time T" is always a prefix of versions.
      const atMs = Math.max(now.getTime(), this.#lastAtMs());
      const at = new Date(atMs).toISOString();
      const additions = new Map<string, number[]>();
      let inserted = 0;
      let updated = 0;
      let skipped = 0;
      const live = this.#stmt(
        "SELECT row_id, revision, content_hash, length FROM ctx_rows WHERE doc_id = ? AND valid_to IS NULL",
      );
      const insertRow = this.#stmt(
        `INSERT INTO ctx_rows (doc_id, revision, scope, scope_id, text, summary, metadata, content_hash, text_hash, length, valid_from, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      );
      const endRow = this.#stmt("UPDATE ctx_rows SET valid_to = ? WHERE row_id = ?");
      const change = this.#stmt(
        `INSERT INTO ctx_changes (version, op, doc_id, row_id, at, at_ms, n_live, total_length, max_row_id)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      );
      for (const doc of docs) {
        const previous = live.get(doc.id) as
          | { row_id: number; revision: number; content_hash: string; length: number }
          | undefined;
        if (previous?.content_hash === doc.contentHash) {
          skipped++;
          continue;
        }
        const version = state.version + 1;
        // End the old revision first: at most one live row per id (ctx_rows_live).
        if (previous !== undefined) {
          endRow.run(version, previous.row_id);
          this.#markEnded(previous.row_id, version);
          updated++;
        } else {
          inserted++;
        }
        const revision =
          previous?.revision ??
          (
            this.#stmt("SELECT max(revision) AS r FROM ctx_rows WHERE doc_id = ?").get(doc.id) as {
              r: number | null;
            }
          ).r ??
          0;
        const result = insertRow.run(
          doc.id,
          revision + 1,
          doc.scope,
          doc.scopeId ?? null,
          doc.text,
          doc.summary ?? null,
          doc.metadata,
          doc.contentHash,
          doc.textHash,
          doc.length,
          version,
          at,
        );
        const rowId = Number(result.lastInsertRowid);
        state = {
          version,
          documents: state.documents + (previous === undefined ? 1 : 0),
          totalLength: state.totalLength - (previous?.length ?? 0) + doc.length,
          maxRowId: rowId,
        };
        change.run(
          version,
          previous === undefined ? "insert" : "update",
          doc.id,
          rowId,
          at,
          atMs,
          state.documents,
          state.totalLength,
          state.maxRowId,
        );
        for (const [term, tf] of doc.terms) {
          const list = additions.get(term);
          if (list === undefined) additions.set(term, [rowId, tf, doc.length]);
          else list.push(rowId, tf, doc.length);
        }
      }
      this.#appendPostings(additions);
      this.#head = state;
      return { inserted, updated, skipped, version: state.version };
    });
    this.#vectors.clear();
    return summary;
  }

  #appendPostings(additions: Map<string, number[]>): void {
    const last = this.#stmt(
      "SELECT segment, count, data FROM ctx_postings WHERE term = ? ORDER BY segment DESC LIMIT 1",
    );
    const write = this.#stmt(
      "INSERT OR REPLACE INTO ctx_postings (term, segment, count, data) VALUES (?, ?, ?, ?)",
    );
    for (const term of [...additions.keys()].sort()) {
      const added = additions.get(term)!;
      this.#postings.delete(term);
      const tail = last.get(term) as { segment: number; count: number; data: Uint8Array } | undefined;
      let segment = tail?.segment ?? 0;
      let entries: number[] = [];
      if (tail !== undefined && tail.count < SEGMENT_CAPACITY)
        entries = Array.from(decodePostings(tail.data));
      else if (tail !== undefined) segment++;
      let offset = 0;
      while (offset < added.length) {
        const room = SEGMENT_CAPACITY * POSTING_WIDTH - entries.length;
        const take = added.slice(offset, offset + room);
        offset += take.length;
        entries = entries.concat(take);
        write.run(term, segment, entries.length / POSTING_WIDTH, encodePostings(Uint32Array.from(entries)));
        if (offset < added.length) {
          segment++;
          entries = [];
        }
      }
    }
  }

  #markEnded(rowId: number, version: number): void {
    if (this.#endedThrough < 0) return;
    if (rowId >= this.#ended.length) this.#growEnded(rowId + 1);
    // Only the entry: endedAt() still reloads everything ended after #endedThrough, which
    // also picks up rows that other connections ended in between.
    this.#ended[rowId] = version;
  }

  #growEnded(size: number): void {
    const grown = new Uint32Array(Math.max(size, this.#ended.length * 2, 1024));
    grown.set(this.#ended);
    this.#ended = grown;
  }

  async delete(ids: readonly string[], now: Date): Promise<DeleteSummary> {
    this.#sync();
    const summary = this.#transaction(() => {
      this.#head = undefined;
      let state = this.#headState();
      const atMs = Math.max(now.getTime(), this.#lastAtMs());
      const at = new Date(atMs).toISOString();
      let deleted = 0;
      let missing = 0;
      const live = this.#stmt("SELECT row_id, length FROM ctx_rows WHERE doc_id = ? AND valid_to IS NULL");
      const endRow = this.#stmt("UPDATE ctx_rows SET valid_to = ? WHERE row_id = ?");
      const change = this.#stmt(
        `INSERT INTO ctx_changes (version, op, doc_id, row_id, at, at_ms, n_live, total_length, max_row_id)
         VALUES (?, 'delete', ?, ?, ?, ?, ?, ?, ?)`,
      );
      for (const id of new Set(ids)) {
        const row = live.get(id) as { row_id: number; length: number } | undefined;
        if (row === undefined) {
          missing++;
          continue;
        }
        const version = state.version + 1;
        endRow.run(version, row.row_id);
        this.#markEnded(row.row_id, version);
        state = {
          version,
          documents: state.documents - 1,
          totalLength: state.totalLength - row.length,
          maxRowId: state.maxRowId,
        };
        change.run(version, id, row.row_id, at, atMs, state.documents, state.totalLength, state.maxRowId);
        deleted++;
      }
      this.#head = state;
      return { deleted, missing, version: state.version };
    });
    return summary;
  }

  async state(at?: { version: number } | { timeMs: number }): Promise<IndexState> {
    this.#sync();
    const head = this.#headState();
    if (at === undefined) return head;
    let version: number;
    if ("version" in at) {
      if (!Number.isSafeInteger(at.version) || at.version < 0 || at.version > head.version) {
        throw new ValidationError(
          "version_not_found",
          `Index version ${at.version} does not exist in ${this.location}; versions run from 0 to ${head.version}.`,
          { version: at.version, head: head.version },
        );
      }
      version = at.version;
    } else {
      const row = this.#stmt("SELECT max(version) AS v FROM ctx_changes WHERE at_ms <= ?").get(at.timeMs) as {
        v: number | null;
      };
      version = row.v ?? 0;
    }
    if (version === head.version) return head;
    if (version === 0) return EMPTY;
    const row = this.#stmt("SELECT n_live, total_length, max_row_id FROM ctx_changes WHERE version = ?").get(
      version,
    ) as { n_live: number; total_length: number; max_row_id: number };
    return { version, documents: row.n_live, totalLength: row.total_length, maxRowId: row.max_row_id };
  }

  async postings(terms: readonly string[]): Promise<Map<string, Uint32Array[]>> {
    this.#sync();
    const out = new Map<string, Uint32Array[]>();
    const read = this.#stmt("SELECT data FROM ctx_postings WHERE term = ? ORDER BY segment");
    for (const term of terms) {
      let segments = this.#postings.get(term);
      if (segments === undefined) {
        segments = (read.all(term) as { data: Uint8Array }[]).map((r) => decodePostings(r.data));
        if (this.#postings.size >= POSTINGS_CACHE_TERMS) this.#postings.clear();
        this.#postings.set(term, segments);
      }
      if (segments.length > 0) out.set(term, segments);
    }
    return out;
  }

  async endedAt(): Promise<Uint32Array> {
    this.#sync();
    const head = this.#headState();
    if (this.#endedThrough < head.version) {
      const rows = this.#stmt("SELECT row_id, valid_to FROM ctx_rows WHERE valid_to > ?").all(
        Math.max(this.#endedThrough, 0),
      ) as { row_id: number; valid_to: number }[];
      if (this.#ended.length <= head.maxRowId) this.#growEnded(head.maxRowId + 1);
      for (const row of rows) {
        if (row.row_id >= this.#ended.length) this.#growEnded(row.row_id + 1);
        this.#ended[row.row_id] = row.valid_to;
      }
      this.#endedThrough = head.version;
    }
    if (this.#ended.length <= head.maxRowId) this.#growEnded(head.maxRowId + 1);
    return this.#ended;
  }

  async allowedRows(
    state: IndexState,
    filter: Filter | undefined,
    scope: ScopeSelector | undefined,
  ): Promise<Uint8Array> {
    this.#sync();
    const where = ["valid_from <= ?", "(valid_to IS NULL OR valid_to > ?)"];
    const params: (string | number)[] = [state.version, state.version];
    if (filter !== undefined) {
      const predicate = compileFilterSqlite(filter, "metadata");
      where.push(predicate.sql);
      params.push(...predicate.params);
    }
    if (scope !== undefined) {
      const visible = ["scope = 'global'"];
      if (scope.session !== undefined) {
        visible.push("(scope = 'session' AND scope_id = ?)");
        params.push(scope.session);
      }
      if (scope.task !== undefined) {
        visible.push("(scope = 'task' AND scope_id = ?)");
        params.push(scope.task);
      }
      where.push(`(${visible.join(" OR ")})`);
    }
    const rows = this.#db
      .prepare(`SELECT row_id FROM ctx_rows WHERE ${where.join(" AND ")}`)
      .all(...params) as {
      row_id: number;
    }[];
    const bitmap = new Uint8Array(state.maxRowId + 1);
    for (const row of rows) bitmap[row.row_id] = 1;
    return bitmap;
  }

  async docIds(rowIds: readonly number[]): Promise<Map<number, string>> {
    this.#sync();
    const rows = this.#stmt(
      "SELECT row_id, doc_id FROM ctx_rows WHERE row_id IN (SELECT value FROM json_each(?))",
    ).all(JSON.stringify(rowIds)) as { row_id: number; doc_id: string }[];
    return new Map(rows.map((r) => [r.row_id, r.doc_id]));
  }

  async documents(rowIds: readonly number[]): Promise<Map<number, StoredDocument>> {
    this.#sync();
    const rows = this.#stmt(
      `SELECT ${ROW_COLUMNS} FROM ctx_rows WHERE row_id IN (SELECT value FROM json_each(?))`,
    ).all(JSON.stringify(rowIds)) as unknown as RowRecord[];
    return new Map(rows.map((r) => [r.row_id, toDocument(r)]));
  }

  async getDocument(id: string, state: IndexState): Promise<StoredDocument | undefined> {
    this.#sync();
    const row = this.#stmt(
      `SELECT ${ROW_COLUMNS} FROM ctx_rows WHERE doc_id = ? AND valid_from <= ? AND (valid_to IS NULL OR valid_to > ?)`,
    ).get(id, state.version, state.version) as RowRecord | undefined;
    return row === undefined ? undefined : toDocument(row);
  }

  async history(id: string): Promise<StoredDocument[]> {
    this.#sync();
    const rows = this.#stmt(`SELECT ${ROW_COLUMNS} FROM ctx_rows WHERE doc_id = ? ORDER BY revision`).all(
      id,
    ) as unknown as RowRecord[];
    return rows.map(toDocument);
  }

  async texts(state: IndexState | "all"): Promise<{ rowId: number; textHash: string; text: string }[]> {
    this.#sync();
    const rows = (
      state === "all"
        ? this.#stmt("SELECT row_id, text_hash, text FROM ctx_rows ORDER BY row_id").all()
        : this.#stmt(
            "SELECT row_id, text_hash, text FROM ctx_rows WHERE valid_from <= ? AND (valid_to IS NULL OR valid_to > ?) ORDER BY row_id",
          ).all(state.version, state.version)
    ) as { row_id: number; text_hash: string; text: string }[];
    return rows.map((r) => ({ rowId: r.row_id, textHash: r.text_hash, text: r.text }));
  }

  async cachedEmbeddings(model: string, hashes: readonly string[]): Promise<Map<string, Float32Array>> {
    this.#sync();
    const rows = this.#stmt(
      "SELECT hash, vector FROM ctx_embeddings WHERE model = ? AND hash IN (SELECT value FROM json_each(?))",
    ).all(model, JSON.stringify(hashes)) as { hash: string; vector: Uint8Array }[];
    return new Map(rows.map((r) => [r.hash, decodeVector(r.vector)]));
  }

  async putEmbeddings(model: string, vectors: ReadonlyMap<string, Float32Array>, now: Date): Promise<void> {
    this.#sync();
    if (vectors.size === 0) return;
    const put = this.#stmt(
      "INSERT OR IGNORE INTO ctx_embeddings (model, hash, dim, vector, created_at) VALUES (?, ?, ?, ?, ?)",
    );
    const at = now.toISOString();
    this.#transaction(() => {
      for (const [hash, vector] of vectors) put.run(model, hash, vector.length, encodeVector(vector), at);
    });
    this.#vectors.delete(model);
  }

  async embeddingCount(model: string): Promise<number> {
    this.#sync();
    const row = this.#stmt("SELECT count(*) AS n FROM ctx_embeddings WHERE model = ?").get(model) as {
      n: number;
    };
    return row.n;
  }

  async rowVectors(model: string, rowIds: readonly number[]): Promise<Map<number, Float32Array>> {
    this.#sync();
    const out = new Map<number, Float32Array>();
    let cache = this.#rowVectors.get(model);
    if (cache === undefined) {
      cache = new Map();
      this.#rowVectors.set(model, cache);
    }
    const missing: number[] = [];
    for (const rowId of rowIds) {
      const hit = cache.get(rowId);
      if (hit === undefined) missing.push(rowId);
      else out.set(rowId, hit);
    }
    if (missing.length > 0) {
      const rows = this.#stmt(
        `SELECT r.row_id, e.vector FROM ctx_rows r JOIN ctx_embeddings e ON e.model = ? AND e.hash = r.text_hash
         WHERE r.row_id IN (SELECT value FROM json_each(?))`,
      ).all(model, JSON.stringify(missing)) as { row_id: number; vector: Uint8Array }[];
      for (const row of rows) {
        const vector = decodeVector(row.vector);
        cache.set(row.row_id, vector);
        out.set(row.row_id, vector);
      }
    }
    return out;
  }

  async allRowVectors(model: string): Promise<StoredVectors> {
    this.#sync();
    const cached = this.#vectors.get(model);
    if (cached !== undefined) return cached;
    const rows = this.#stmt(
      `SELECT r.row_id, e.vector FROM ctx_rows r JOIN ctx_embeddings e ON e.model = ? AND e.hash = r.text_hash
       ORDER BY r.row_id`,
    ).all(model) as { row_id: number; vector: Uint8Array }[];
    const dim = rows.length > 0 ? rows[0]!.vector.byteLength / 4 : 0;
    const data = new Float32Array(rows.length * dim);
    const rowIds = new Uint32Array(rows.length);
    rows.forEach((row, i) => {
      rowIds[i] = row.row_id;
      data.set(decodeVector(row.vector), i * dim);
    });
    const vectors = { rowIds, dim, data };
    this.#vectors.set(model, vectors);
    return vectors;
  }

  async saveLsaModel(model: LsaModelRecord): Promise<void> {
    this.#sync();
    this.#transaction(() => {
      // Older fits are derived data, replaced by the new one (their cached vectors stay).
      this.#stmt("DELETE FROM ctx_lsa_terms WHERE model_id <> ?").run(model.modelId);
      this.#stmt("DELETE FROM ctx_lsa_models WHERE model_id <> ?").run(model.modelId);
      this.#stmt(
        `INSERT OR REPLACE INTO ctx_lsa_models (model_id, dimensions, params, terms, documents, fitted_at, fitted_version)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
      ).run(
        model.modelId,
        model.dimensions,
        model.params,
        model.terms.length,
        model.documents,
        model.fittedAt,
        model.fittedVersion,
      );
      const put = this.#stmt(
        "INSERT OR REPLACE INTO ctx_lsa_terms (model_id, term, idf, vector) VALUES (?, ?, ?, ?)",
      );
      const d = model.dimensions;
      model.terms.forEach((term, i) => {
        put.run(model.modelId, term, model.idf[i]!, encodeVector(model.vectors.subarray(i * d, (i + 1) * d)));
      });
    });
  }

  async activeLsaModel(): Promise<{ modelId: string; dimensions: number } | undefined> {
    this.#sync();
    const row = this.#stmt(
      "SELECT model_id, dimensions FROM ctx_lsa_models ORDER BY fitted_at DESC, model_id LIMIT 1",
    ).get() as { model_id: string; dimensions: number } | undefined;
    return row === undefined ? undefined : { modelId: row.model_id, dimensions: row.dimensions };
  }

  async lsaTerms(modelId: string, terms: readonly string[]): Promise<Map<string, LsaTermVector>> {
    this.#sync();
    const rows = this.#stmt(
      "SELECT term, idf, vector FROM ctx_lsa_terms WHERE model_id = ? AND term IN (SELECT value FROM json_each(?))",
    ).all(modelId, JSON.stringify(terms)) as { term: string; idf: number; vector: Uint8Array }[];
    return new Map(rows.map((r) => [r.term, { idf: r.idf, vector: decodeVector(r.vector) }]));
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#db.close();
  }
}
