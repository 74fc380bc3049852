import { BallastError, ValidationError } from "../errors.ts";
import { homeDatabasePath, resolveHome } from "../home.ts";
import { dedupeBatch, parseAt, prepareDocument, validateDocuments } from "./documents.ts";
import type { Embedder } from "./embedders.ts";
import { EmbeddingCache, type EmbeddingCacheStats } from "./embedding-cache.ts";
import { canonicalizeFilters } from "./filters.ts";
import { embedWithStoredLsa, fitLsa, type LsaFitOptions } from "./lsa.ts";
import { type MergeLabels, type MergeResult, mergeText } from "./merge.ts";
import { executeSearch } from "./search.ts";
import {
  type Bm25Params,
  bm25ParamsSchema,
  DEFAULT_BM25,
  parseSearchConfig,
  type SearchConfigInput,
} from "./search-config.ts";
import { type SelectOptions, type SelectResult, selectWithinBudget } from "./select.ts";
import { SqliteContextStore } from "./sqlite-store.ts";
import type { ContextStore, IndexState, LsaTermVector } from "./store.ts";
import type {
  AtInput,
  DeleteSummary,
  DocumentInput,
  ScopeSelector,
  SearchResponse,
  StoredDocument,
  UpsertSummary,
} from "./types.ts";

export interface OpenContextOptions {
  /** SQLite file of the index. Default: the journal's database, `<home>/ballast.db`. */
  path?: string;
  /** The ballast home (default `$BALLAST_HOME` or `./.ballast`), used when `path` is not given. */
  home?: string;
  /** Another backend (PostgreSQL); `path` and `home` are then ignored. */
  store?: ContextStore;
  /**
   * A vector model (see `embedderFromModel`). Without one the engine uses the LSA model
   * fitted by `fitLsa()`, if any, and answers lexically otherwise.
   */
  embedder?: Embedder;
  bm25?: Partial<Bm25Params>;
  /** The clock that stamps versions (tests pin it). */
  now?: () => Date;
}

export interface SearchOptions extends SearchConfigInput {
  /** Metadata filter, as an object or its JSON string (see filters.ts for the grammar). */
  filters?: unknown;
  scope?: ScopeSelector;
  /** Answer as the index stood at this version or time. */
  at?: AtInput;
}

export interface UpsertResult extends UpsertSummary {
  /** Set when documents were embedded (or embedding was attempted) on the way in. */
  embeddings?: { model: string; embedded: number; failed?: { reason: string; message: string } };
}

export interface MergeDocumentOptions {
  /** The revision both sides started from. */
  baseVersion: number;
  /** The incoming text ("theirs"); the live revision is "ours". */
  text: string;
  labels?: MergeLabels;
  /** Write the text with conflict markers when the merge is not clean (default: write nothing). */
  writeConflicts?: boolean;
}

export interface MergeDocumentResult extends MergeResult {
  applied: boolean;
  /** Index version after the write, when applied. */
  version?: number;
}

export interface ContextMetrics {
  searches: number;
  /** Lexical fallbacks by reason (`no_embedder`, the model layer's cap code, ...). */
  fallbacks: Record<string, number>;
  embeddingCache: EmbeddingCacheStats;
}

export interface FitLsaResult {
  model: string;
  dimensions: number;
  documents: number;
  terms: number;
  embedded: number;
}

function describe(error: unknown): { reason: string; message: string } {
  if (BallastError.isInstance(error)) return { reason: error.code, message: error.message };
  return { reason: "embedding_failed", message: error instanceof Error ? error.message : String(error) };
}

/**
 * The context engine (`ballast/context`): persistent documents with versions, BM25 / vector /
 * hybrid search with filters and time travel, three-way merges and token-budgeted selection.
 *
 * @example
 * const ctx = await openContext({ path: "index.db" });
 * await ctx.upsert([{ id: "a", text: "durable journaled runs", metadata: { lang: "en" } }]);
 * const { results } = await ctx.search("journal", { k: 5, filters: { field: "lang", op: "eq", value: "en" } });
 */
export class ContextEngine {
  readonly store: ContextStore;
  readonly #now: () => Date;
  readonly #bm25: Bm25Params;
  readonly #userEmbedder: Embedder | undefined;
  readonly #cache: EmbeddingCache;
  #lsa: { modelId: string; embedder: Embedder } | undefined;
  #searches = 0;
  readonly #fallbacks: Record<string, number> = {};

  constructor(store: ContextStore, options: Omit<OpenContextOptions, "store" | "path" | "home"> = {}) {
    this.store = store;
    this.#now = options.now ?? (() => new Date());
    const bm25 = bm25ParamsSchema.safeParse({ ...DEFAULT_BM25, ...options.bm25 });
    if (!bm25.success) {
      throw new ValidationError(
        "search_config_invalid",
        `Invalid search config: ${bm25.error.issues[0]!.message}.`,
      );
    }
    this.#bm25 = bm25.data;
    this.#userEmbedder = options.embedder;
    this.#cache = new EmbeddingCache(store, this.#now);
  }

  /** The current index version (0 when empty). */
  async version(): Promise<number> {
    return (await this.store.state()).version;
  }

  async #state(at: AtInput | undefined): Promise<IndexState> {
    return this.store.state(at === undefined ? undefined : parseAt(at));
  }

  /** The embedder in use: the configured model, else the fitted LSA model, else none. */
  async embedder(): Promise<Embedder | undefined> {
    if (this.#userEmbedder !== undefined) return this.#userEmbedder;
    const active = await this.store.activeLsaModel();
    if (active === undefined) return undefined;
    if (this.#lsa?.modelId !== active.modelId) {
      const terms = new Map<string, LsaTermVector | null>();
      const store = this.store;
      const lookup = async (wanted: string[]) => {
        const missing = wanted.filter((t) => !terms.has(t));
        if (missing.length > 0) {
          const found = await store.lsaTerms(active.modelId, missing);
          for (const t of missing) terms.set(t, found.get(t) ?? null);
        }
        const out = new Map<string, LsaTermVector>();
        for (const t of wanted) {
          const v = terms.get(t);
          if (v) out.set(t, v);
        }
        return out;
      };
      this.#lsa = {
        modelId: active.modelId,
        embedder: {
          id: `lsa:${active.modelId}`,
          local: true,
          embed: (texts) => embedWithStoredLsa(texts, active.dimensions, lookup),
        },
      };
    }
    return this.#lsa.embedder;
  }

  /**
   * Inserts or updates a batch. Unchanged documents and exact repeats within the batch are
   * skipped; every other item is one new index version. Documents are embedded on the way
   * in when an embedder is available; if that fails they are still stored (searchable
   * lexically) and the failure is reported in `embeddings.failed`.
   */
  async upsert(input: readonly DocumentInput[]): Promise<UpsertResult> {
    const docs = validateDocuments(input);
    const { unique, repeats } = dedupeBatch(docs);
    const live = await this.store.liveHashes(unique.map((u) => u.doc.id));
    const changed = unique.filter((u) => live.get(u.doc.id) !== u.hash);
    const prepared = changed.map((u) => prepareDocument(u.doc, u.hash));
    let embeddings: UpsertResult["embeddings"];
    const embedder = prepared.length > 0 ? await this.embedder() : undefined;
    if (embedder !== undefined) {
      try {
        await this.#cache.embed(
          embedder,
          prepared.map((p) => p.text),
        );
        embeddings = { model: embedder.id, embedded: prepared.length };
      } catch (error) {
        const failed = describe(error);
        this.#fallbacks[failed.reason] = (this.#fallbacks[failed.reason] ?? 0) + 1;
        embeddings = { model: embedder.id, embedded: 0, failed };
      }
    }
    const summary = await this.store.upsert(prepared, this.#now());
    return {
      ...summary,
      skipped: summary.skipped + repeats + (unique.length - changed.length),
      ...(embeddings === undefined ? {} : { embeddings }),
    };
  }

  /** Deletes documents (each one new version); their history stays readable by time travel. */
  async delete(ids: readonly string[]): Promise<DeleteSummary> {
    if (!Array.isArray(ids) || ids.some((id) => typeof id !== "string")) {
      throw new ValidationError("documents_invalid", "delete() takes an array of document ids.");
    }
    return this.store.delete(ids, this.#now());
  }

  async get(id: string, options: { at?: AtInput } = {}): Promise<StoredDocument | undefined> {
    return this.store.getDocument(id, await this.#state(options.at));
  }

  /** Every revision of a document, oldest first. */
  async history(id: string): Promise<StoredDocument[]> {
    return this.store.history(id);
  }

  /**
   * Searches (seed 002 CE-3…CE-15). Options are validated first (`search_config_invalid`,
   * `filters_invalid`, `at_invalid`, `version_not_found`); filters and scope restrict the
   * candidates before anything is ranked. Results are ordered by score, then id.
   */
  async search(query: string, options: SearchOptions = {}): Promise<SearchResponse> {
    if (typeof query !== "string") {
      throw new ValidationError("search_config_invalid", "Invalid search config: query must be a string.");
    }
    const { filters, scope, at, ...rest } = options;
    const config = parseSearchConfig(rest);
    const filter = filters === undefined ? undefined : canonicalizeFilters(filters);
    const state = await this.#state(at);
    const embedder = config.strategy === "SPARSE" ? undefined : await this.embedder();
    this.#searches++;
    return executeSearch(this.store, {
      query,
      config,
      state,
      bm25: this.#bm25,
      ...(filter === undefined ? {} : { filter }),
      ...(scope === undefined ? {} : { scope }),
      embedder: embedder ?? {
        unavailable: "no_embedder",
        message:
          "Answered lexically: no embedding model is configured and no LSA model has been fitted (call fitLsa()).",
      },
      embedQuery: async (e, text) => {
        if (e.local) return (await e.embed([text]))[0]!;
        return (await this.#cache.embed(e, [text]))[0]!;
      },
      onFallback: (reason) => {
        this.#fallbacks[reason] = (this.#fallbacks[reason] ?? 0) + 1;
      },
    });
  }

  /**
   * Fits the default offline embedder (LSA, see lsa.ts) on the live documents and embeds
   * every stored revision with it, so dense and hybrid search (also at past versions) work.
   */
  async fitLsa(options: LsaFitOptions = {}): Promise<FitLsaResult> {
    const state = await this.store.state();
    const live = await this.store.texts(state);
    const fitted = fitLsa(
      live.map((r) => r.text),
      state.version,
      options,
    );
    await this.store.saveLsaModel(fitted.record);
    const all = await this.store.texts("all");
    const vectors = new Map<string, Float32Array>();
    for (const row of all) if (!vectors.has(row.textHash)) vectors.set(row.textHash, fitted.embed(row.text));
    const model = `lsa:${fitted.record.modelId}`;
    await this.store.putEmbeddings(model, vectors, this.#now());
    this.#lsa = undefined;
    return {
      model,
      dimensions: fitted.record.dimensions,
      documents: fitted.record.documents,
      terms: fitted.record.terms.length,
      embedded: vectors.size,
    };
  }

  /** Embeds every stored revision that has no vector for the current embedder yet. */
  async backfillEmbeddings(): Promise<{ model: string; embedded: number }> {
    const embedder = await this.embedder();
    if (embedder === undefined) {
      throw new ValidationError(
        "no_embedder",
        "No embedder to backfill with: pass `embedder` or call fitLsa().",
      );
    }
    const rows = await this.store.texts("all");
    const before = this.#cache.stats.embedded;
    const texts = [...new Map(rows.map((r) => [r.textHash, r.text])).values()];
    await this.#cache.embed(embedder, texts);
    return { model: embedder.id, embedded: this.#cache.stats.embedded - before };
  }

  /**
   * Three-way merges `text` into a document: base = revision `baseVersion`, ours = the live
   * revision, theirs = `text`. A clean merge is written as a new revision whose metadata
   * records `ballast_merge: { base, ours }`; a conflicted one is only written when asked.
   */
  async mergeDocument(id: string, options: MergeDocumentOptions): Promise<MergeDocumentResult> {
    const revisions = await this.store.history(id);
    const live = revisions.find((r) => r.validTo === undefined);
    const base = revisions.find((r) => r.version === options.baseVersion);
    if (live === undefined || base === undefined) {
      throw new ValidationError(
        "document_not_found",
        live === undefined
          ? `Document ${JSON.stringify(id)} does not exist (or was deleted); nothing to merge into.`
          : `Document ${JSON.stringify(id)} has no revision ${options.baseVersion}; its revisions are 1..${live.version}.`,
        { id },
      );
    }
    const merged = mergeText(base.text, live.text, options.text, options.labels);
    if (!merged.clean && options.writeConflicts !== true) return { ...merged, applied: false };
    const result = await this.upsert([
      {
        id,
        text: merged.text,
        metadata: { ...live.metadata, ballast_merge: { base: base.version, ours: live.version } },
        scope: live.scope,
        ...(live.scopeId === undefined ? {} : { scopeId: live.scopeId }),
        ...(live.summary === undefined ? {} : { summary: live.summary }),
      },
    ]);
    return { ...merged, applied: true, version: result.version };
  }

  /** Token-budgeted selection (seed 004 Phase A); see select.ts. */
  async select(options: SelectOptions): Promise<SelectResult> {
    return selectWithinBudget(this, options);
  }

  /** Embeds texts through the persistent cache (used by budgeted selection). */
  async embedCached(embedder: Embedder, texts: readonly string[]): Promise<Float32Array[]> {
    return this.#cache.embed(embedder, texts);
  }

  /** Records a lexical fallback (for callers above the engine, like selection). */
  recordFallback(reason: string): void {
    this.#fallbacks[reason] = (this.#fallbacks[reason] ?? 0) + 1;
  }

  metrics(): ContextMetrics {
    return {
      searches: this.#searches,
      fallbacks: { ...this.#fallbacks },
      embeddingCache: { ...this.#cache.stats },
    };
  }

  async close(): Promise<void> {
    await this.store.close();
  }
}

/** Opens (creating if needed) a context index; by default inside the journal's database. */
export async function openContext(options: OpenContextOptions = {}): Promise<ContextEngine> {
  const { store, path, home, ...rest } = options;
  const backend = store ?? new SqliteContextStore({ path: path ?? homeDatabasePath(resolveHome(home)) });
  return new ContextEngine(backend, rest);
}
