import { BallastError } from "../errors.ts";
import { queryTerms } from "./analyzer.ts";
import { scoreBm25 } from "./bm25.ts";
import type { Embedder } from "./embedders.ts";
import type { Filter } from "./filters.ts";
import { convexFusion, orderByScore, rrfFusion, type Scored, topCandidates } from "./ranking.ts";
import type { Bm25Params, SearchConfig } from "./search-config.ts";
import type { ContextStore, IndexState } from "./store.ts";
import type { ScopeSelector, SearchFallback, SearchHit, SearchResponse, Strategy } from "./types.ts";

/** What one search runs with, once options are validated and the point in time resolved. */
export interface SearchPlan {
  query: string;
  config: SearchConfig;
  state: IndexState;
  filter?: { filter: Filter; canonical: string };
  scope?: ScopeSelector;
  bm25: Bm25Params;
  /** The vector model to use, or why there is none. */
  embedder: Embedder | { unavailable: string; message: string };
  embedQuery(embedder: Embedder, query: string): Promise<Float32Array>;
  onFallback(reason: string): void;
}

function describeError(error: unknown): { reason: string; message: string } {
  if (BallastError.isInstance(error)) return { reason: error.code, message: error.message };
  return { reason: "embedding_failed", message: error instanceof Error ? error.message : String(error) };
}

interface Candidates {
  rows: readonly number[];
  score: (row: number) => number;
}

function fromScored(scored: readonly Scored[]): Candidates {
  const byRow = new Map(scored.map((s) => [s.row, s.score]));
  return { rows: scored.map((s) => s.row), score: (row) => byRow.get(row)! };
}

async function finish(
  store: ContextStore,
  candidates: Candidates,
  k: number,
  components?: { sparse?: (row: number) => number; dense?: Map<number, number> },
): Promise<SearchHit[]> {
  const cut = topCandidates(candidates.rows, candidates.score, k);
  const docs = await store.documents(cut.map((c) => c.row));
  const hits = cut.map((c) => {
    const doc = docs.get(c.row)!;
    const hit: SearchHit = {
      id: doc.id,
      score: c.score,
      text: doc.text,
      metadata: doc.metadata,
      scope: doc.scope,
      ...(doc.scopeId === undefined ? {} : { scopeId: doc.scopeId }),
      version: doc.version,
    };
    const sparse = components?.sparse?.(c.row);
    const dense = components?.dense?.get(c.row);
    if (sparse !== undefined && !Number.isNaN(sparse)) hit.sparse = sparse;
    if (dense !== undefined) hit.dense = dense;
    return hit;
  });
  return orderByScore(hits).slice(0, k);
}

async function sparseCandidates(
  store: ContextStore,
  plan: SearchPlan,
  allowed: Uint8Array | undefined,
): Promise<Candidates> {
  const terms = queryTerms(plan.query);
  if (terms.length === 0 || plan.state.documents === 0) return { rows: [], score: () => 0 };
  const [postings, ended] = await Promise.all([store.postings(terms), store.endedAt()]);
  const { rows, scores } = scoreBm25(terms, postings, plan.state, ended, allowed, plan.bm25);
  return { rows, score: (row) => scores[row]! };
}

async function denseCandidates(
  store: ContextStore,
  plan: SearchPlan,
  embedder: Embedder,
  vector: Float32Array,
  allowed: Uint8Array | undefined,
): Promise<Scored[]> {
  const { rowIds, dim, data } = await store.allRowVectors(embedder.id);
  if (dim !== vector.length && rowIds.length > 0) {
    throw new BallastError({
      code: "embedding_dimension_mismatch",
      message: `The query vector has ${vector.length} dimensions but ${embedder.id}'s stored vectors have ${dim}. Use the model the index was embedded with.`,
    });
  }
  const ended = await store.endedAt();
  const { version, maxRowId } = plan.state;
  const out: Scored[] = [];
  for (let i = 0; i < rowIds.length; i++) {
    const row = rowIds[i]!;
    if (row > maxRowId || (ended[row] !== 0 && ended[row]! <= version)) continue;
    if (allowed !== undefined && allowed[row] !== 1) continue;
    let dot = 0;
    const offset = i * dim;
    for (let c = 0; c < dim; c++) dot += data[offset + c]! * vector[c]!;
    out.push({ row, score: dot });
  }
  return out;
}

/** Rows ranked best first, ties by document id (needs the ids of the candidates). */
async function ranked(store: ContextStore, scored: readonly Scored[]): Promise<number[]> {
  const ids = await store.docIds(scored.map((s) => s.row));
  return orderByScore(scored.map((s) => ({ ...s, id: ids.get(s.row) ?? "" }))).map((s) => s.row);
}

/** Runs a validated search plan against a store. */
export async function executeSearch(store: ContextStore, plan: SearchPlan): Promise<SearchResponse> {
  const { config } = plan;
  const base = {
    version: plan.state.version,
    ...(plan.filter === undefined ? {} : { filters: plan.filter.canonical }),
  };
  const allowed =
    plan.filter !== undefined || plan.scope !== undefined
      ? await store.allowedRows(plan.state, plan.filter?.filter, plan.scope)
      : undefined;

  let fallback: SearchFallback | undefined;
  let queryVector: Float32Array | undefined;
  let embedder: Embedder | undefined;
  if (config.strategy !== "SPARSE") {
    const fallBack = (reason: string, message: string) => {
      fallback = { requested: config.strategy as Strategy, used: "SPARSE", reason, message };
      plan.onFallback(reason);
    };
    if ("unavailable" in plan.embedder) fallBack(plan.embedder.unavailable, plan.embedder.message);
    else {
      try {
        queryVector = await plan.embedQuery(plan.embedder, plan.query);
        embedder = plan.embedder;
      } catch (error) {
        const { reason, message } = describeError(error);
        fallBack(reason, `Answered lexically: embedding the query failed (${message}).`);
      }
    }
  }

  if (embedder === undefined || queryVector === undefined) {
    const sparse = await sparseCandidates(store, plan, allowed);
    const results = await finish(store, sparse, config.k);
    return { results, strategy: "SPARSE", ...base, ...(fallback === undefined ? {} : { fallback }) };
  }

  if (config.strategy === "DENSE") {
    const dense = await denseCandidates(store, plan, embedder, queryVector, allowed);
    return { results: await finish(store, fromScored(dense), config.k), strategy: "DENSE", ...base };
  }

  const sparseAll = await sparseCandidates(store, plan, allowed);
  const sparsePool = topCandidates(sparseAll.rows, sparseAll.score, config.candidates);

  if (config.fusion === "convex") {
    const vectors = await store.rowVectors(
      embedder.id,
      sparsePool.map((s) => s.row),
    );
    const dense = new Map<number, number>();
    for (const candidate of sparsePool) {
      const v = vectors.get(candidate.row);
      if (v === undefined || v.length !== queryVector.length) continue;
      let dot = 0;
      for (let c = 0; c < v.length; c++) dot += v[c]! * queryVector[c]!;
      dense.set(candidate.row, dot);
    }
    const fused = convexFusion(sparsePool, dense, config.weights);
    const results = await finish(store, fromScored(fused), config.k, { sparse: sparseAll.score, dense });
    return { results, strategy: "HYBRID", fusion: "convex", ...base };
  }

  const denseAll = await denseCandidates(store, plan, embedder, queryVector, allowed);
  const denseScore = new Map(denseAll.map((s) => [s.row, s.score]));
  const densePool = topCandidates(
    denseAll.map((s) => s.row),
    (row) => denseScore.get(row)!,
    config.candidates,
  );
  const [sparseRanked, denseRanked] = await Promise.all([
    ranked(store, sparsePool),
    ranked(store, densePool),
  ]);
  const fused = rrfFusion(
    sparseRanked.slice(0, config.candidates),
    denseRanked.slice(0, config.candidates),
    config.weights,
    config.rrf_k,
  );
  const inSparse = new Set(sparseAll.rows);
  const results = await finish(store, fromScored(fused), config.k, {
    sparse: (row) => (inSparse.has(row) ? sparseAll.score(row) : Number.NaN),
    dense: denseScore,
  });
  return { results, strategy: "HYBRID", fusion: "rrf", ...base };
}
