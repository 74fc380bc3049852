/**
 * The performance budget gate (seed 000, WP-8): a stable synthetic workload must stay under
 * an upper bound, and a warm cache must beat a cold one by a minimum factor without
 * decoding anything. `scripts/check-perf-budget.ts` measures; this judges, so the pass/fail
 * rules are tested without timing anything in the test suite.
 */

export interface PerfBudget {
  /** Cold feature extraction of the workload must take at most this long. */
  maxColdMs: number;
  /** Cold time / warm time must reach this. */
  minWarmSpeedup: number;
}

export interface PerfMeasurement {
  coldMs: number;
  warmMs: number;
  warmDecoded: number;
}

export const DEFAULT_PERF_BUDGET: PerfBudget = { maxColdMs: 5_000, minWarmSpeedup: 5 };

export function judgePerfBudget(
  m: PerfMeasurement,
  budget: PerfBudget = DEFAULT_PERF_BUDGET,
): { ok: boolean; failures: string[] } {
  const failures: string[] = [];
  if (!(m.coldMs <= budget.maxColdMs))
    failures.push(`cold features took ${m.coldMs.toFixed(0)} ms, budget ${budget.maxColdMs} ms`);
  const speedup = m.coldMs / m.warmMs;
  if (!(speedup >= budget.minWarmSpeedup)) {
    failures.push(`warm cache speedup ${speedup.toFixed(1)}x is below ${budget.minWarmSpeedup}x`);
  }
  if (m.warmDecoded !== 0) failures.push(`the warm run decoded ${m.warmDecoded} depth images (expected 0)`);
  return { ok: failures.length === 0, failures };
}
