import type { JsonValue } from "../canonical.ts";

/** Who can see a document: everyone, one session, or one task. */
export type Scope = "global" | "session" | "task";
export const SCOPES: readonly Scope[] = ["global", "session", "task"];

export type Metadata = { [key: string]: JsonValue };

/** What callers upsert. */
export interface DocumentInput {
  id: string;
  text: string;
  metadata?: Metadata;
  /** Defaults to `global`. */
  scope?: Scope;
  /** The session or task id for `session` and `task` scopes. */
  scopeId?: string;
  /** A compact stand-in for `text` (an artifact summary), used by budgeted selection. */
  summary?: string;
}

/** A stored document as of one index version. */
export interface StoredDocument {
  id: string;
  text: string;
  metadata: Metadata;
  scope: Scope;
  scopeId?: string;
  summary?: string;
  /** The document's own revision: 1 on insert, +1 on each change. */
  version: number;
  /** Index versions between which this revision was the live one (`validTo` undefined: still live). */
  validFrom: number;
  validTo?: number;
  /** SHA-256 of the canonical content; equal content is never stored twice in a row. */
  contentHash: string;
  createdAt: string;
}

export interface UpsertSummary {
  inserted: number;
  updated: number;
  skipped: number;
  /** The index version after the batch (unchanged when everything was skipped). */
  version: number;
}

export interface DeleteSummary {
  deleted: number;
  missing: number;
  version: number;
}

/** A point in the index's history: an index version, or a time (ISO string, Date or epoch ms). */
export type AtInput = number | { version: number } | { time: string | number | Date };

/** Search strategies (seed 002): hybrid when vectors exist, vectors only, BM25 only. */
export type Strategy = "AUTO" | "DENSE" | "SPARSE";
export type Fusion = "convex" | "rrf";

/** Restricts results to global documents plus one session's and/or one task's. */
export interface ScopeSelector {
  session?: string;
  task?: string;
}

export interface SearchHit {
  id: string;
  score: number;
  text: string;
  metadata: Metadata;
  scope: Scope;
  scopeId?: string;
  version: number;
  /** Component scores, when the hit was ranked by them. */
  sparse?: number;
  dense?: number;
}

export interface SearchFallback {
  /** The strategy that was asked for and the one that answered. */
  requested: Strategy;
  used: "SPARSE";
  /** Stable code of the cause, e.g. `no_embedder` or the model layer's cap code. */
  reason: string;
  message: string;
}

export interface SearchResponse {
  results: SearchHit[];
  /** The strategy that produced the ranking: SPARSE, DENSE or HYBRID. */
  strategy: "SPARSE" | "DENSE" | "HYBRID";
  fusion?: Fusion;
  /** The index version the answer is for. */
  version: number;
  /** Canonical filter the search ran with, if any. */
  filters?: string;
  fallback?: SearchFallback;
}
