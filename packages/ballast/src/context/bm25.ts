import { POSTING_WIDTH } from "./postings.ts";
import type { Bm25Params } from "./search-config.ts";
import type { IndexState } from "./store.ts";

/**
 * BM25 over the stored posting lists, computed here rather than by FTS5's bm25().
 * Measured on SciFact's dev claims: FTS5 (`porter unicode61`, OR of the claim's terms,
 * ORDER BY bm25 LIMIT 100) reaches the same nDCG@10 (0.70) but takes 2.5 ms p50 / 4.5 ms
 * p95 a query, because the auxiliary function scores every matching row; and its statistics
 * span every row in the table, so it cannot answer "as the index stood at version v".
 * Here N, the average length and each term's df are those of the rows valid at `state`,
 * which makes time travel exact, and a query costs ~0.1–0.3 ms.
 *
 * Lucene's formulation: idf = ln(1 + (N − df + 0.5) / (df + 0.5)),
 * score = Σ idf · tf·(k1+1) / (tf + k1·(1 − b + b·len/avgLen)), summed in sorted term order.
 */
export interface SparseScores {
  /** Rows with a positive score, in the order first reached. */
  rows: number[];
  /** Scores indexed by row id (only `rows` are meaningful). */
  scores: Float64Array;
}

export function scoreBm25(
  terms: readonly string[],
  postings: ReadonlyMap<string, Uint32Array[]>,
  state: IndexState,
  ended: Uint32Array,
  allowed: Uint8Array | undefined,
  params: Bm25Params,
): SparseScores {
  const scores = new Float64Array(state.maxRowId + 1);
  const rows: number[] = [];
  if (state.documents === 0) return { rows, scores };
  const { k1, b } = params;
  const avgLength = state.totalLength / state.documents || 1;
  const max = state.maxRowId;
  const version = state.version;
  const valid = (row: number) => row <= max && (ended[row] === 0 || ended[row]! > version);
  for (const term of terms) {
    const segments = postings.get(term);
    if (segments === undefined) continue;
    let df = 0;
    for (const seg of segments) {
      for (let i = 0; i < seg.length; i += POSTING_WIDTH) if (valid(seg[i]!)) df++;
    }
    if (df === 0) continue;
    const idf = Math.log(1 + (state.documents - df + 0.5) / (df + 0.5));
    const norm = k1 * (1 - b);
    const perLength = (k1 * b) / avgLength;
    for (const seg of segments) {
      for (let i = 0; i < seg.length; i += POSTING_WIDTH) {
        const row = seg[i]!;
        if (!valid(row) || (allowed !== undefined && allowed[row] !== 1)) continue;
        const tf = seg[i + 1]!;
        const add = (idf * tf * (k1 + 1)) / (tf + norm + perLength * seg[i + 2]!);
        if (scores[row] === 0) rows.push(row);
        scores[row]! += add;
      }
    }
  }
  return { rows, scores };
}
