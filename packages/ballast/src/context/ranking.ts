/**
 * Ranking helpers. The order of results is always score descending, then document id
 * ascending (seed 002 CE-7); candidate sets are cut at a score threshold that keeps every
 * row tied with the last one, so which rows compete never depends on arrival order.
 */
export interface Scored {
  row: number;
  score: number;
}

/** The rows among `rows` whose score is at least the n-th largest (all ties included). */
export function topCandidates(rows: readonly number[], score: (row: number) => number, n: number): Scored[] {
  if (rows.length <= n) return rows.map((row) => ({ row, score: score(row) }));
  // Min-heap of the n largest scores seen so far.
  const heap = new Float64Array(n);
  let size = 0;
  for (const row of rows) {
    const s = score(row);
    if (size < n) {
      let i = size++;
      heap[i] = s;
      while (i > 0) {
        const parent = (i - 1) >> 1;
        if (heap[parent]! <= heap[i]!) break;
        [heap[parent], heap[i]] = [heap[i]!, heap[parent]!];
        i = parent;
      }
    } else if (s > heap[0]!) {
      heap[0] = s;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < n && heap[l]! < heap[m]!) m = l;
        if (r < n && heap[r]! < heap[m]!) m = r;
        if (m === i) break;
        [heap[m], heap[i]] = [heap[i]!, heap[m]!];
        i = m;
      }
    }
  }
  const threshold = heap[0]!;
  const out: Scored[] = [];
  for (const row of rows) {
    const s = score(row);
    if (s >= threshold) out.push({ row, score: s });
  }
  return out;
}

/** Sorts by score descending, then id ascending (code-unit order, like SQLite's BINARY). */
export function orderByScore<T extends { score: number; id: string }>(items: T[]): T[] {
  return items.sort((a, b) => b.score - a.score || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** Convex combination: BM25 divided by the best BM25 among the candidates, plus cosine. */
export function convexFusion(
  sparse: readonly Scored[],
  dense: ReadonlyMap<number, number>,
  weights: { sparse: number; dense: number },
): Scored[] {
  let best = 0;
  for (const c of sparse) best = Math.max(best, c.score);
  const total = weights.sparse + weights.dense;
  return sparse.map((c) => ({
    row: c.row,
    score:
      (weights.sparse * (best > 0 ? c.score / best : 0) + weights.dense * (dense.get(c.row) ?? 0)) / total,
  }));
}

/** Reciprocal rank fusion over two rankings given best first. */
export function rrfFusion(
  sparse: readonly number[],
  dense: readonly number[],
  weights: { sparse: number; dense: number },
  k: number,
): Scored[] {
  const fused = new Map<number, number>();
  sparse.forEach((row, i) => {
    fused.set(row, (fused.get(row) ?? 0) + weights.sparse / (k + i + 1));
  });
  dense.forEach((row, i) => {
    fused.set(row, (fused.get(row) ?? 0) + weights.dense / (k + i + 1));
  });
  return [...fused].map(([row, score]) => ({ row, score }));
}
