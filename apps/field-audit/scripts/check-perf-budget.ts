// Perf budget gate: `node --conditions=ballast-source apps/field-audit/scripts/check-perf-budget.ts`
// Generates a fixed 120-frame run (seed 1), times cold and warm depth features (median of 3)
// and exits 1 when the budget in src/perf-budget.ts is missed.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { clearHotCache } from "../src/features/depth-cache.ts";
import { extractFeatures } from "../src/features/extract.ts";
import { generateRun } from "../src/generator/generate-run.ts";
import { ingestRun } from "../src/ingest/ingest.ts";
import { DEFAULT_PERF_BUDGET, judgePerfBudget } from "../src/perf-budget.ts";

const root = mkdtempSync(join(tmpdir(), "field-audit-perf-"));
try {
  await generateRun(join(root, "run"), {
    seed: 1,
    frames: 120,
    rgb: { width: 160, height: 120 },
    depth: { width: 160, height: 120 },
  });
  const run = await ingestRun(join(root, "run"));
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
  const cold: number[] = [];
  for (let i = 0; i < 3; i++) {
    clearHotCache();
    const t0 = performance.now();
    await extractFeatures(run, { hotCache: false });
    cold.push(performance.now() - t0);
  }
  const cacheDir = join(root, "cache");
  await extractFeatures(run, { cacheDir, hotCache: false });
  const warm: number[] = [];
  let warmDecoded = 0;
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    const result = await extractFeatures(run, { cacheDir, hotCache: false });
    warm.push(performance.now() - t0);
    warmDecoded += result.stats.decoded;
  }
  const measurement = { coldMs: median(cold), warmMs: median(warm), warmDecoded };
  const verdict = judgePerfBudget(measurement, DEFAULT_PERF_BUDGET);
  console.log(
    `perf budget: cold ${measurement.coldMs.toFixed(0)} ms, warm ${measurement.warmMs.toFixed(1)} ms, ` +
      `speedup ${(measurement.coldMs / measurement.warmMs).toFixed(1)}x: ${verdict.ok ? "pass" : `FAIL (${verdict.failures.join("; ")})`}`,
  );
  process.exitCode = verdict.ok ? 0 : 1;
} finally {
  rmSync(root, { recursive: true, force: true });
}
