import { stat } from "node:fs/promises";
import { join } from "node:path";
import { threadId } from "node:worker_threads";
import { fingerprint } from "ballast";
import { Piscina } from "piscina";
import { asInputError, InputError } from "../errors.ts";
import type { RunData } from "../ingest/ingest.ts";
import {
  cacheFileFor,
  cacheKeyOf,
  DepthCacheFile,
  type FileIdentity,
  hotGet,
  hotSet,
} from "./depth-cache.ts";
import { type DepthFeatureParams, type DepthFeatures, defaultDepthParams } from "./depth-features.ts";
import { type DepthTaskResult, runDepthTask } from "./depth-worker.ts";
import { imuFeatures, type Telemetry, telemetry } from "./imu-telemetry.ts";

/**
 * The feature stage: depth features per frame (cache first, then the worker pool or this
 * thread), IMU roughness and GPS telemetry. Depth decoding is the expensive part, so it is
 * the part that is cached and parallelised.
 */

export const FEATURE_COLUMNS = [
  "min_clearance_m",
  "canopy_density_proxy",
  "valid_depth_ratio",
  "imu_roughness",
  "gyro_rms",
] as const;
export type FeatureColumn = (typeof FEATURE_COLUMNS)[number];

export interface FeatureTable extends Record<FeatureColumn, number[]> {
  frame_idx: number[];
  t: number[];
}

export interface FeatureStats {
  frames: number;
  /** Depth images decoded in this call (0 on a warm cache). */
  decoded: number;
  hotHits: number;
  diskHits: number;
  computed: number;
  /** Distinct worker threads that ran depth tasks (0 when computed in this thread). */
  workerThreads: number;
  depthWorkers: number;
  cacheFile?: string;
  cacheWritten: boolean;
  paramsHash: string;
}

export interface ExtractOptions {
  /** Worker threads for depth decoding; 1 (default) computes in this thread. */
  depthWorkers?: number;
  /** Folder of the persistent Parquet cache; none when omitted. */
  cacheDir?: string;
  /** Use the in-memory hot cache (default true). */
  hotCache?: boolean;
  /** Frames per pool task (default 8). */
  batchSize?: number;
  params?: DepthFeatureParams;
  /** Called with the number of depth frames done so far. */
  onProgress?: (done: number, total: number) => void;
}

export interface FeatureResult {
  table: FeatureTable;
  telemetry: Telemetry;
  stats: FeatureStats;
}

// One pool per worker count, kept between audits in a process (starting threads costs more
// than decoding a run's worth of small depth frames); idle threads exit after a few
// seconds, so a finished CLI process is not held open.
const pools = new Map<number, Piscina>();

function depthPool(workers: number): Piscina {
  let pool = pools.get(workers);
  if (pool === undefined) {
    pool = new Piscina({
      filename: new URL("./depth-worker.ts", import.meta.url).href,
      minThreads: 0,
      maxThreads: workers,
      idleTimeout: 2_000,
    });
    pools.set(workers, pool);
  }
  return pool;
}

/** Stops the depth worker pools (the CLI calls it when done; tests and benches may). */
export async function closeDepthPools(): Promise<void> {
  const all = [...pools.values()];
  pools.clear();
  await Promise.all(all.map((p) => p.destroy()));
}

export function depthParamsOf(run: RunData): DepthFeatureParams {
  const d = run.manifest.depth;
  const m = run.manifest.camera.mount;
  return defaultDepthParams(
    { width: d.width, height: d.height, fx: d.fx, fy: d.fy, cx: d.cx, cy: d.cy },
    { heightM: m.height_m, pitchDeg: m.pitch_deg },
    d.max_range_m,
  );
}

export async function extractFeatures(run: RunData, options: ExtractOptions = {}): Promise<FeatureResult> {
  const workers = Math.max(1, Math.floor(options.depthWorkers ?? 1));
  const useHot = options.hotCache ?? true;
  const params = options.params ?? depthParamsOf(run);
  const paramsHash = fingerprint(params as never);
  const frames = run.manifest.frames;
  const stats: FeatureStats = {
    frames: frames.length,
    decoded: 0,
    hotHits: 0,
    diskHits: 0,
    computed: 0,
    workerThreads: 0,
    depthWorkers: workers,
    cacheWritten: false,
    paramsHash,
  };
  const cache =
    options.cacheDir === undefined
      ? undefined
      : await DepthCacheFile.open(cacheFileFor(options.cacheDir, run.dir));
  if (cache) stats.cacheFile = cache.path;

  const depth: (DepthFeatures | undefined)[] = new Array(frames.length);
  const ids: FileIdentity[] = [];
  const missing: number[] = [];
  for (let i = 0; i < frames.length; i++) {
    const path = join(run.dir, frames[i]!.depth);
    let info: { mtimeNs: bigint; size: bigint };
    try {
      info = await stat(path, { bigint: true });
    } catch {
      throw new InputError("input_missing", path, "the depth file disappeared after ingest");
    }
    const id: FileIdentity = {
      cache_key: cacheKeyOf(path),
      frame_idx: frames[i]!.idx,
      mtime_ns: info.mtimeNs,
      size_bytes: info.size,
      params_hash: paramsHash,
    };
    ids.push(id);
    const fromHot = useHot ? hotGet(id) : undefined;
    if (fromHot) {
      depth[i] = fromHot;
      stats.hotHits++;
      continue;
    }
    const fromDisk = cache?.get(id);
    if (fromDisk) {
      depth[i] = fromDisk;
      stats.diskHits++;
      if (useHot) hotSet(id, fromDisk);
      continue;
    }
    missing.push(i);
  }
  let done = frames.length - missing.length;
  options.onProgress?.(done, frames.length);

  if (missing.length > 0) {
    const batch = Math.max(1, options.batchSize ?? 8);
    const batches: number[][] = [];
    for (let k = 0; k < missing.length; k += batch) batches.push(missing.slice(k, k + batch));
    const threads = new Set<number>();
    const accept = (indices: number[], result: DepthTaskResult) => {
      if (!result.ok) throw asInputError(Object.assign(new Error(result.error.message), result.error));
      stats.decoded += result.decoded;
      if (result.threadId !== threadId) threads.add(result.threadId);
      indices.forEach((frame, k) => {
        depth[frame] = result.features[k]!;
        cache?.set(ids[frame]!, result.features[k]!);
        if (useHot) hotSet(ids[frame]!, result.features[k]!);
      });
      stats.computed += indices.length;
      done += indices.length;
      options.onProgress?.(done, frames.length);
    };
    const task = (indices: number[]) => ({
      paths: indices.map((i) => join(run.dir, frames[i]!.depth)),
      params,
    });
    if (workers > 1 && batches.length > 1) {
      const pool = depthPool(workers);
      await Promise.all(
        batches.map(async (indices) => accept(indices, (await pool.run(task(indices))) as DepthTaskResult)),
      );
    } else {
      for (const indices of batches) accept(indices, runDepthTask(task(indices)));
    }
    stats.workerThreads = threads.size;
  }
  if (cache) stats.cacheWritten = await cache.save();

  const imu = imuFeatures(run);
  const rows = depth as DepthFeatures[];
  const table: FeatureTable = {
    frame_idx: frames.map((f) => f.idx),
    t: frames.map((f) => f.t),
    min_clearance_m: rows.map((r) => r.min_clearance_m),
    canopy_density_proxy: rows.map((r) => r.canopy_density_proxy),
    valid_depth_ratio: rows.map((r) => r.valid_depth_ratio),
    imu_roughness: imu.imu_roughness,
    gyro_rms: imu.gyro_rms,
  };
  return { table, telemetry: telemetry(run), stats };
}
