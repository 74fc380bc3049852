import type { Filter } from "./filters.ts";
import type { DeleteSummary, Scope, ScopeSelector, StoredDocument, UpsertSummary } from "./types.ts";

/**
 * The storage contract of the context engine. SQLite implements it now, PostgreSQL later;
 * ranking, fusion, filters' grammar, merging and budgeted selection live above it (in
 * engine.ts and friends) and are shared by every backend.
 *
 * Everything is addressed by index version: every change (insert, update, delete of one
 * document) is one version, and every read takes the `IndexState` it reads at.
 */
export interface IndexState {
  /** 0 for an empty index. */
  version: number;
  /** Live documents, their total length in terms, and the largest row id, at `version`. */
  documents: number;
  totalLength: number;
  maxRowId: number;
}

/** A document analysed and hashed, ready to be written. */
export interface PreparedDocument {
  id: string;
  text: string;
  /** Canonical JSON of the metadata. */
  metadata: string;
  scope: Scope;
  scopeId?: string;
  summary?: string;
  contentHash: string;
  textHash: string;
  length: number;
  /** Term frequencies, terms sorted. */
  terms: [string, number][];
}

export interface StoredVectors {
  rowIds: Uint32Array;
  dim: number;
  /** Row-major, `rowIds.length × dim`. */
  data: Float32Array;
}

export interface LsaModelRecord {
  modelId: string;
  dimensions: number;
  params: string;
  documents: number;
  fittedVersion: number;
  fittedAt: string;
  /** Terms, sorted, with IDF and their projection rows (`terms.length × dimensions`). */
  terms: string[];
  idf: Float64Array;
  vectors: Float32Array;
}

export interface LsaTermVector {
  idf: number;
  vector: Float32Array;
}

export interface ContextStore {
  readonly backend: "sqlite" | "postgres";
  /** Where the index lives, for messages. */
  readonly location: string;

  /** Content hashes of the live revisions of these ids. */
  liveHashes(ids: readonly string[]): Promise<Map<string, string>>;
  /** Writes a batch in one transaction: unchanged content is skipped, ids are unique. */
  upsert(docs: readonly PreparedDocument[], now: Date): Promise<UpsertSummary>;
  delete(ids: readonly string[], now: Date): Promise<DeleteSummary>;

  /** The state at a version (head when undefined) or at a time (epoch ms). */
  state(at?: { version: number } | { timeMs: number }): Promise<IndexState>;
  /** Posting segments of each term (terms with no postings are absent). */
  postings(terms: readonly string[]): Promise<Map<string, Uint32Array[]>>;
  /** For each row id, the version that ended it (0 while live). Covers rows up to `maxRowId`. */
  endedAt(): Promise<Uint32Array>;
  /** Rows valid at `state` that match the filter and scope, as a bitmap over row ids. */
  allowedRows(
    state: IndexState,
    filter: Filter | undefined,
    scope: ScopeSelector | undefined,
  ): Promise<Uint8Array>;
  /** Document ids of rows (for ordering ties) and full documents of rows (for results). */
  docIds(rowIds: readonly number[]): Promise<Map<number, string>>;
  documents(rowIds: readonly number[]): Promise<Map<number, StoredDocument>>;
  getDocument(id: string, state: IndexState): Promise<StoredDocument | undefined>;
  history(id: string): Promise<StoredDocument[]>;
  /** Texts of rows valid at `state` (or all rows), with their text hashes, ordered by row id. */
  texts(state: IndexState | "all"): Promise<{ rowId: number; textHash: string; text: string }[]>;

  /** Cached vectors by text hash, and writes to the cache (idempotent). */
  cachedEmbeddings(model: string, hashes: readonly string[]): Promise<Map<string, Float32Array>>;
  putEmbeddings(model: string, vectors: ReadonlyMap<string, Float32Array>, now: Date): Promise<void>;
  embeddingCount(model: string): Promise<number>;
  /** Vectors of the given rows, or of every row that has one, for a model. */
  rowVectors(model: string, rowIds: readonly number[]): Promise<Map<number, Float32Array>>;
  allRowVectors(model: string): Promise<StoredVectors>;

  saveLsaModel(model: LsaModelRecord): Promise<void>;
  /** The latest fitted model's id and size, if any. */
  activeLsaModel(): Promise<{ modelId: string; dimensions: number } | undefined>;
  lsaTerms(modelId: string, terms: readonly string[]): Promise<Map<string, LsaTermVector>>;

  close(): Promise<void>;
}
