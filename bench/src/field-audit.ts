// `npm run bench -- field-audit [--frames N] [--seeds a,b,c]`: the field-robot run auditor
// (apps/field-audit) on generated runs (ray-cast crop rows, 320x240 camera, 160x120 depth,
// 5 fps, ground truth known). Measures depth-feature frames per second cold (no cache, one
// thread), with 2 worker threads, and warm (persistent Parquet cache, hot cache off, so the
// disk path is what is timed); report sizes single vs split; and event detection precision
// and recall against the generator's ground truth. Runs are generated once into
// bench/.out/field-audit and reused.
import { existsSync, mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { clearHotCache } from "../../apps/field-audit/src/features/depth-cache.ts";
import { closeDepthPools } from "../../apps/field-audit/src/features/extract.ts";
import {
  DEFAULT_EVENT_CONFIG,
  detectEvents,
  extractFeatures,
  type GroundTruth,
  generateRun,
  ingestRun,
  resolveConfig,
  runAudit,
  scoreDetections,
} from "../../apps/field-audit/src/index.ts";
import { createAppLogger } from "../../apps/field-audit/src/logging.ts";

const OUT = fileURLToPath(new URL("../.out/field-audit/", import.meta.url));

function arg(args: string[], name: string, fallback: string): string {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : fallback;
}

async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const t0 = performance.now();
  const value = await fn();
  return { value, ms: performance.now() - t0 };
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

async function ensureRun(seed: number, frames: number): Promise<{ dir: string; truth: GroundTruth }> {
  const dir = join(OUT, `run-${seed}-${frames}`);
  if (!existsSync(join(dir, "ground_truth.json"))) {
    const t = await timed(() => generateRun(dir, { seed, frames }));
    console.log(`generated ${dir} in ${(t.ms / 1000).toFixed(1)} s`);
  }
  const { readFileSync } = await import("node:fs");
  return { dir, truth: JSON.parse(readFileSync(join(dir, "ground_truth.json"), "utf8")) as GroundTruth };
}

export async function run(args: string[]): Promise<void> {
  const frames = Number(arg(args, "frames", "300"));
  const seeds = arg(args, "seeds", "11,12,13").split(",").map(Number);
  mkdirSync(OUT, { recursive: true });
  const runs = [];
  for (const seed of seeds) runs.push({ seed, ...(await ensureRun(seed, frames)) });

  // Features: cold (1 thread, no cache), 2 workers, warm (Parquet cache, hot cache off).
  const data = await ingestRun(runs[0]!.dir);
  const cacheDir = join(OUT, "cache");
  const cold: number[] = [];
  const pooled: number[] = [];
  const warm: number[] = [];
  await closeDepthPools();
  const firstPooled = (await timed(() => extractFeatures(data, { depthWorkers: 2, hotCache: false }))).ms;
  for (let rep = 0; rep < 3; rep++) {
    clearHotCache();
    cold.push((await timed(() => extractFeatures(data, { depthWorkers: 1, hotCache: false }))).ms);
    pooled.push((await timed(() => extractFeatures(data, { depthWorkers: 2, hotCache: false }))).ms);
  }
  rmSync(cacheDir, { recursive: true, force: true });
  const fill = await extractFeatures(data, { cacheDir, hotCache: false });
  if (fill.stats.decoded !== frames) throw new Error("the cache fill should decode every frame");
  for (let rep = 0; rep < 5; rep++) {
    const w = await timed(() => extractFeatures(data, { cacheDir, hotCache: false }));
    if (w.value.stats.decoded !== 0) throw new Error(`a warm run decoded ${w.value.stats.decoded} images`);
    warm.push(w.ms);
  }
  clearHotCache();
  await extractFeatures(data, { cacheDir });
  const hot = median(
    await Promise.all([0, 1, 2].map(async () => (await timed(() => extractFeatures(data, { cacheDir }))).ms)),
  );
  const [coldMs, pooledMs, warmMs] = [median(cold), median(pooled), median(warm)];
  const fpsCold = frames / (coldMs / 1000);
  const warmSpeedup = coldMs / warmMs;

  // Report sizes on the same run, captions from the deterministic local model.
  const reportDir = join(OUT, "reports");
  rmSync(reportDir, { recursive: true, force: true });
  const logger = createAppLogger("silent");
  const base = {
    runDir: runs[0]!.dir,
    journalHome: join(reportDir, "journal"),
    captions: { provider: "local" as const },
    cacheDir,
  };
  const single = await runAudit(resolveConfig({ ...base, out: join(reportDir, "single.html") }, {}), {
    env: {},
    captionPolicy: { logger },
  });
  const split = await runAudit(
    resolveConfig({ ...base, out: join(reportDir, "split.html"), reportMode: "split" }, {}),
    {
      env: {},
      captionPolicy: { logger },
    },
  );
  const splitRatio = single.report.htmlBytes / split.report.htmlBytes;

  // Detection quality on every generated run.
  let tp = 0;
  let detected = 0;
  let truthCount = 0;
  const perRun: string[] = [];
  for (const r of runs) {
    const rd = r.seed === runs[0]!.seed ? data : await ingestRun(r.dir);
    const f = await extractFeatures(rd, { cacheDir, depthWorkers: 2 });
    const d = detectEvents(f.table, f.telemetry, DEFAULT_EVENT_CONFIG);
    const q = scoreDetections(d.events, r.truth.events);
    tp += q.truePositives;
    detected += d.events.length;
    truthCount += r.truth.events.length;
    perRun.push(
      `seed ${r.seed}: ${d.events.length} detected, ${r.truth.events.length} true, ${q.truePositives} matched (P ${q.precision.toFixed(2)}, R ${q.recall.toFixed(2)})`,
    );
  }
  await closeDepthPools();
  const precision = detected === 0 ? 0 : tp / detected;
  const recall = truthCount === 0 ? 1 : tp / truthCount;

  const kb = (b: number) => `${(b / 1024).toFixed(1)} KiB`;
  console.log(
    `\nfield-audit on ${runs.length} generated runs of ${frames} frames (320x240 camera, 160x120 depth)`,
  );
  console.log(
    `features cold, 1 thread     ${coldMs.toFixed(0).padStart(7)} ms  ${fpsCold.toFixed(0)} frames/s`,
  );
  console.log(
    `features cold, 2 workers    ${pooledMs.toFixed(0).padStart(7)} ms  ${(frames / (pooledMs / 1000)).toFixed(0)} frames/s  (speedup ${(coldMs / pooledMs).toFixed(2)}x, pool running)`,
  );
  console.log(
    `  first call, pool start    ${firstPooled.toFixed(0).padStart(7)} ms  (speedup ${(coldMs / firstPooled).toFixed(2)}x, threads started and modules loaded)`,
  );
  console.log(
    `features warm, Parquet      ${warmMs.toFixed(1).padStart(7)} ms  ${(frames / (warmMs / 1000)).toFixed(0)} frames/s  (speedup ${warmSpeedup.toFixed(1)}x, 0 decodes)`,
  );
  console.log(
    `features warm, hot cache    ${hot.toFixed(1).padStart(7)} ms  (speedup ${(coldMs / hot).toFixed(1)}x)`,
  );
  console.log(`report single               ${kb(single.report.htmlBytes)} HTML`);
  console.log(
    `report split                ${kb(split.report.htmlBytes)} HTML + ${kb(split.report.assetBytes)} assets  (HTML ${splitRatio.toFixed(1)}x smaller)`,
  );
  for (const line of perRun) console.log(`detection ${line}`);
  console.log(
    `targets: warm >= 10x cold (${warmSpeedup >= 10 ? "met" : "MISSED"}), split >= 20x smaller (${splitRatio >= 20 ? "met" : "MISSED"})`,
  );
  console.log(
    `field-audit: fps-cold=${fpsCold.toFixed(1)} warm-speedup=${warmSpeedup.toFixed(1)} split-ratio=${splitRatio.toFixed(1)} precision=${precision.toFixed(2)} recall=${recall.toFixed(2)}`,
  );
}
