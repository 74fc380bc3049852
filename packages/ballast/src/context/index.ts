// ballast/context: the context engine's public API.
export { ANALYZER_ID, analyze, STOP_WORDS } from "./analyzer.ts";
export { type Embedder, embedderFromModel, type ModelEmbedderOptions } from "./embedders.ts";
export type { EmbeddingCacheStats } from "./embedding-cache.ts";
export {
  ContextEngine,
  type ContextMetrics,
  type FitLsaResult,
  type MergeDocumentOptions,
  type MergeDocumentResult,
  type OpenContextOptions,
  openContext,
  type SearchOptions,
  type UpsertResult,
} from "./engine.ts";
export {
  type CanonicalFilter,
  canonicalizeFilters,
  FILTER_JSON_SCHEMA,
  type Filter,
  matchesFilter,
  type Scalar,
} from "./filters.ts";
export type { LsaFitOptions } from "./lsa.ts";
export {
  CONFLICT_MARKERS,
  type MergeLabels,
  type MergeResult,
  type MergeSummary,
  mergeText,
} from "./merge.ts";
export {
  type Bm25Params,
  DEFAULT_BM25,
  parseSearchConfig,
  type SearchConfig,
  type SearchConfigInput,
} from "./search-config.ts";
export type { KeptItem, OmittedItem, SelectItem, SelectOptions, SelectResult } from "./select.ts";
export { CONTEXT_SCHEMA_SQL, CONTEXT_SCHEMA_VERSION } from "./sqlite-schema.ts";
export { SqliteContextStore, type SqliteContextStoreOptions } from "./sqlite-store.ts";
export type { ContextStore, IndexState, PreparedDocument } from "./store.ts";
export { countTokens, type TokenEncoding } from "./tokens.ts";
export type {
  AtInput,
  DeleteSummary,
  DocumentInput,
  Fusion,
  Metadata,
  Scope,
  ScopeSelector,
  SearchFallback,
  SearchHit,
  SearchResponse,
  StoredDocument,
  Strategy,
  UpsertSummary,
} from "./types.ts";
