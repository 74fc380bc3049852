import { ValidationError } from "../errors.ts";

/**
 * Percentiles by the nearest-rank method: the p-th percentile of n sorted values is the
 * value at rank ceil(p/100 * n) (1-based). It always returns an observed value, never an
 * interpolation, so a reported p95 latency is one a real step had. Three lines, hence no
 * statistics library.
 */

export interface LatencySummary {
  p50: number;
  p95: number;
  count: number;
}

/** Nearest-rank percentile of `values` (any order), `p` in (0, 100]. */
export function percentile(values: readonly number[], p: number): number {
  return percentileOfSorted(sortedCopy(values), p);
}

/** As `percentile`, for values already sorted ascending (no copy, no sort). */
export function percentileOfSorted(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) {
    throw new ValidationError(
      "invalid_percentile",
      "Cannot take a percentile of no values; check count first.",
    );
  }
  if (!(p > 0 && p <= 100)) {
    throw new ValidationError("invalid_percentile", `Percentile must be in (0, 100], got ${p}.`);
  }
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.max(0, rank - 1)]!;
}

/** p50, p95 and count; all zero for no values. */
export function summarize(values: readonly number[]): LatencySummary {
  if (values.length === 0) return { p50: 0, p95: 0, count: 0 };
  const sorted = sortedCopy(values);
  return { p50: percentileOfSorted(sorted, 50), p95: percentileOfSorted(sorted, 95), count: sorted.length };
}

function sortedCopy(values: readonly number[]): number[] {
  return [...values].sort((a, b) => a - b);
}
