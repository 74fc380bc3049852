import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { parquetReadObjects } from "hyparquet";
import { parquetWriteBuffer } from "hyparquet-writer";
import { writeFileAtomic } from "../util/atomic.ts";
import type { DepthFeatures } from "./depth-features.ts";

/**
 * The persistent depth cache: one Parquet file per run directory in the cache folder,
 * one row per depth frame, keyed by `cache_key` (SHA-256 of the depth file's absolute
 * path), `frame_idx`, `mtime_ns`, `size_bytes` and `params_hash`. A row is reused only when
 * all five match, so touching, replacing or resizing a file, or changing the feature
 * parameters, recomputes it. The file is replaced atomically (write + fsync + rename).
 * An in-memory hot cache sits on top for repeated audits in one process.
 */

export interface CacheRow extends DepthFeatures {
  cache_key: string;
  frame_idx: number;
  mtime_ns: bigint;
  size_bytes: bigint;
  params_hash: string;
}

export interface FileIdentity {
  cache_key: string;
  frame_idx: number;
  mtime_ns: bigint;
  size_bytes: bigint;
  params_hash: string;
}

export function cacheKeyOf(absolutePath: string): string {
  return createHash("sha256").update(absolutePath).digest("hex");
}

function rowKey(id: FileIdentity): string {
  return `${id.cache_key}|${id.frame_idx}|${id.mtime_ns}|${id.size_bytes}|${id.params_hash}`;
}

const HOT_LIMIT = 200_000;
const hot = new Map<string, DepthFeatures>();

/** Forgets the in-memory hot cache (tests, or a long-lived process short of memory). */
export function clearHotCache(): void {
  hot.clear();
}

export function hotGet(id: FileIdentity): DepthFeatures | undefined {
  const key = rowKey(id);
  const value = hot.get(key);
  if (value !== undefined) {
    // Refresh its place: Map keeps insertion order, so the oldest entry is first.
    hot.delete(key);
    hot.set(key, value);
  }
  return value;
}

export function hotSet(id: FileIdentity, features: DepthFeatures): void {
  hot.set(rowKey(id), features);
  while (hot.size > HOT_LIMIT) hot.delete(hot.keys().next().value!);
}

export function cacheFileFor(cacheDir: string, runDir: string): string {
  return join(cacheDir, `depth-${createHash("sha256").update(runDir).digest("hex").slice(0, 16)}.parquet`);
}

export class DepthCacheFile {
  readonly path: string;
  readonly #rows = new Map<string, CacheRow>();
  #dirty = false;

  private constructor(path: string) {
    this.path = path;
  }

  /** Opens the cache file; a missing or unreadable one is an empty cache (it is only a cache). */
  static async open(path: string): Promise<DepthCacheFile> {
    const cache = new DepthCacheFile(path);
    let bytes: Buffer;
    try {
      bytes = await readFile(path);
    } catch {
      return cache;
    }
    try {
      const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
      const rows = (await parquetReadObjects({ file: buffer })) as unknown as CacheRow[];
      for (const row of rows) {
        const normalised: CacheRow = {
          cache_key: String(row.cache_key),
          frame_idx: Number(row.frame_idx),
          mtime_ns: BigInt(row.mtime_ns),
          size_bytes: BigInt(row.size_bytes),
          params_hash: String(row.params_hash),
          min_clearance_m: nanOf(row.min_clearance_m),
          canopy_density_proxy: nanOf(row.canopy_density_proxy),
          valid_depth_ratio: nanOf(row.valid_depth_ratio),
        };
        cache.#rows.set(rowKey(normalised), normalised);
      }
    } catch {
      cache.#rows.clear();
      cache.#dirty = true; // rewrite the damaged file on the next save
    }
    return cache;
  }

  get size(): number {
    return this.#rows.size;
  }

  get(id: FileIdentity): DepthFeatures | undefined {
    return this.#rows.get(rowKey(id));
  }

  /** Stores a row, dropping any older row of the same file and frame. */
  set(id: FileIdentity, features: DepthFeatures): void {
    for (const [key, row] of this.#rows) {
      if (row.cache_key === id.cache_key && row.frame_idx === id.frame_idx) this.#rows.delete(key);
    }
    this.#rows.set(rowKey(id), { ...id, ...features });
    this.#dirty = true;
  }

  async save(): Promise<boolean> {
    if (!this.#dirty) return false;
    const rows = [...this.#rows.values()].sort((a, b) =>
      a.cache_key === b.cache_key ? a.frame_idx - b.frame_idx : a.cache_key < b.cache_key ? -1 : 1,
    );
    const buffer = parquetWriteBuffer({
      columnData: [
        { name: "cache_key", data: rows.map((r) => r.cache_key), type: "STRING", nullable: false },
        {
          name: "frame_idx",
          data: Int32Array.from(rows, (r) => r.frame_idx),
          type: "INT32",
          nullable: false,
        },
        { name: "min_clearance_m", data: Float64Array.from(rows, (r) => r.min_clearance_m), type: "DOUBLE" },
        {
          name: "canopy_density_proxy",
          data: Float64Array.from(rows, (r) => r.canopy_density_proxy),
          type: "DOUBLE",
        },
        {
          name: "valid_depth_ratio",
          data: Float64Array.from(rows, (r) => r.valid_depth_ratio),
          type: "DOUBLE",
        },
        {
          name: "mtime_ns",
          data: BigInt64Array.from(rows, (r) => r.mtime_ns),
          type: "INT64",
          nullable: false,
        },
        {
          name: "size_bytes",
          data: BigInt64Array.from(rows, (r) => r.size_bytes),
          type: "INT64",
          nullable: false,
        },
        { name: "params_hash", data: rows.map((r) => r.params_hash), type: "STRING", nullable: false },
      ],
      kvMetadata: [{ key: "field-audit.cache", value: "depth/1" }],
    });
    await writeFileAtomic(this.path, new Uint8Array(buffer));
    this.#dirty = false;
    return true;
  }
}

function nanOf(value: unknown): number {
  return value === null || value === undefined ? Number.NaN : Number(value);
}
