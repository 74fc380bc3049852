import { readFileSync } from "node:fs";
import { readdir, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { parquetReadObjects } from "hyparquet";
import { beforeAll, describe, expect, it } from "vitest";
import { clearHotCache } from "../src/features/depth-cache.ts";
import { defaultDepthParams } from "../src/features/depth-features.ts";
import { depthParamsOf, extractFeatures } from "../src/features/extract.ts";
import { decodeDepthPng, encodeDepthPng } from "../src/images.ts";
import { ingestRun, type RunData } from "../src/ingest/ingest.ts";
import { smallRun, tempDir } from "./helpers/run-fixture.ts";

let run: RunData;

beforeAll(async () => {
  run = await ingestRun((await smallRun(21, 40)).dir);
});

describe("depth features", () => {
  it("in-thread and worker-pool paths agree; the pool really runs in worker threads", async () => {
    clearHotCache();
    const inThread = await extractFeatures(run, { depthWorkers: 1, hotCache: false });
    expect(inThread.stats).toMatchObject({ decoded: 40, computed: 40, workerThreads: 0 });
    const pooled = await extractFeatures(run, { depthWorkers: 2, hotCache: false, batchSize: 4 });
    expect(pooled.stats.depthWorkers).toBe(2);
    expect(pooled.stats.workerThreads).toBeGreaterThanOrEqual(1);
    expect(pooled.stats.decoded).toBe(40);
    expect(pooled.table).toEqual(inThread.table);
    // Zeros are "no return": clearance is finite and positive wherever the frame had returns.
    for (const [i, c] of inThread.table.min_clearance_m.entries()) {
      if (inThread.table.valid_depth_ratio[i]! > 0) expect(c).toBeGreaterThan(0);
    }
  });

  it("excludes zeros from the minimum clearance and reports NaN for an empty frame", async () => {
    const params = defaultDepthParams(
      { width: 4, height: 2, fx: 20, fy: 20, cx: 2, cy: 1 },
      { heightM: 0.8, pitchDeg: 0 },
      8,
    );
    const { depthFeatures } = await import("../src/features/depth-features.ts");
    const empty = depthFeatures(new Uint16Array(8), params);
    expect(empty.min_clearance_m).toBeNaN();
    expect(empty.valid_depth_ratio).toBe(0);
    // Row 0 looks slightly up: a point ~0.86 m high and 6 cm off the centre line, in the path.
    const mm = Uint16Array.from([0, 0, 2500, 0, 0, 0, 0, 0]);
    const one = depthFeatures(mm, params);
    expect(one.min_clearance_m).toBeCloseTo(2.5, 6);
    expect(one.valid_depth_ratio).toBe(1 / 8);
  });
});

describe("persistent Parquet depth cache", () => {
  it("a warm cache decodes no image and returns the same table; the hot cache sits on top", async () => {
    clearHotCache();
    const cacheDir = tempDir();
    const cold = await extractFeatures(run, { cacheDir, depthWorkers: 2, hotCache: false });
    expect(cold.stats).toMatchObject({ decoded: 40, diskHits: 0, cacheWritten: true });
    expect((await readdir(cacheDir)).filter((f) => f.endsWith(".tmp"))).toEqual([]);

    const warm = await extractFeatures(run, { cacheDir, depthWorkers: 2, hotCache: false });
    expect(warm.stats).toMatchObject({
      decoded: 0,
      diskHits: 40,
      computed: 0,
      cacheWritten: false,
      workerThreads: 0,
    });
    expect(warm.table).toEqual(cold.table);

    const primed = await extractFeatures(run, { cacheDir });
    expect(primed.stats.decoded).toBe(0);
    const hot = await extractFeatures(run, { cacheDir });
    expect(hot.stats).toMatchObject({ decoded: 0, hotHits: 40, diskHits: 0 });

    const rows = (await parquetReadObjects({
      file: new Uint8Array(readFileSync(cold.stats.cacheFile!)).buffer,
    })) as Record<string, unknown>[];
    expect(rows).toHaveLength(40);
    expect(Object.keys(rows[0]!).sort()).toEqual(
      [
        "cache_key",
        "canopy_density_proxy",
        "frame_idx",
        "min_clearance_m",
        "mtime_ns",
        "params_hash",
        "size_bytes",
        "valid_depth_ratio",
      ].sort(),
    );
    expect(typeof rows[0]!["mtime_ns"]).toBe("bigint");
  });

  it("recomputes a frame whose file metadata changed, and everything when the parameters change", async () => {
    clearHotCache();
    const cacheDir = tempDir();
    await extractFeatures(run, { cacheDir, hotCache: false });
    const frame = run.manifest.frames[7]!;
    const path = join(run.dir, frame.depth);

    // Same bytes, new mtime: the key no longer matches, so exactly that frame is decoded again.
    const later = new Date(Date.now() + 60_000);
    await utimes(path, later, later);
    const touched = await extractFeatures(run, { cacheDir, hotCache: true });
    expect(touched.stats).toMatchObject({ decoded: 1, diskHits: 39, computed: 1, cacheWritten: true });
    // The hot cache follows the new key too.
    const again = await extractFeatures(run, { cacheDir, hotCache: true });
    expect(again.stats).toMatchObject({ decoded: 0, hotHits: 40 });

    // New content and size: recomputed, and the new value is used.
    const decoded = decodeDepthPng(readFileSync(path), path);
    const flat = new Uint16Array(decoded.mm.length).fill(1500);
    await writeFile(path, encodeDepthPng(flat, decoded.width, decoded.height));
    const rewritten = await extractFeatures(run, { cacheDir, hotCache: true });
    expect(rewritten.stats.decoded).toBe(1);
    expect(rewritten.table.valid_depth_ratio[7]).toBe(1);

    const params = { ...depthParamsOf(run), pathHalfWidthM: 0.5 };
    const changed = await extractFeatures(run, { cacheDir, hotCache: true, params });
    expect(changed.stats).toMatchObject({ decoded: 40, hotHits: 0, diskHits: 0 });
    expect(changed.stats.paramsHash).not.toBe(rewritten.stats.paramsHash);
  });

  it("a damaged cache file is treated as empty and rewritten", async () => {
    clearHotCache();
    const cacheDir = tempDir();
    const first = await extractFeatures(run, { cacheDir, hotCache: false });
    await writeFile(first.stats.cacheFile!, "not parquet");
    const second = await extractFeatures(run, { cacheDir, hotCache: false });
    expect(second.stats).toMatchObject({ decoded: 40, cacheWritten: true });
    const third = await extractFeatures(run, { cacheDir, hotCache: false });
    expect(third.stats.decoded).toBe(0);
  });

  it("a corrupt depth file fails with an error naming it, from a worker too", async () => {
    const { dir } = await smallRun(22, 12);
    const bad = await ingestRun(dir);
    await writeFile(join(dir, bad.manifest.frames[5]!.depth), encodeDepthPng(new Uint16Array(4), 2, 2));
    await expect(
      extractFeatures(bad, { depthWorkers: 2, batchSize: 2, hotCache: false }),
    ).rejects.toMatchObject({
      code: "image_size",
      file: join(dir, bad.manifest.frames[5]!.depth),
    });
  });
});
