import { sha256Hex } from "../canonical.ts";
import type { Embedder } from "./embedders.ts";
import type { ContextStore } from "./store.ts";

/**
 * The persistent embedding cache (seed 004 Phase B): vectors keyed by embedder id and the
 * SHA-256 of the text, in the index's own database, so a restart re-embeds nothing. Vectors
 * are stored L2-normalised (cosine is all the engine computes). Hits and misses are counted
 * per process; `entries` is read from the store.
 */
export interface EmbeddingCacheStats {
  hits: number;
  misses: number;
  /** Texts sent to the embedder and calls made (one call per batch). */
  embedded: number;
  calls: number;
}

export function normalize(vector: Float32Array): Float32Array {
  let norm = 0;
  for (let i = 0; i < vector.length; i++) norm += vector[i]! * vector[i]!;
  norm = Math.sqrt(norm);
  if (norm === 0 || Math.abs(norm - 1) < 1e-7) return vector;
  const out = new Float32Array(vector.length);
  for (let i = 0; i < vector.length; i++) out[i] = vector[i]! / norm;
  return out;
}

export class EmbeddingCache {
  readonly stats: EmbeddingCacheStats = { hits: 0, misses: 0, embedded: 0, calls: 0 };
  readonly #store: ContextStore;
  readonly #now: () => Date;

  constructor(store: ContextStore, now: () => Date) {
    this.#store = store;
    this.#now = now;
  }

  /**
   * Vectors for `texts` (same order), from the cache where present and from one embedder
   * call for the rest. The embedder's errors propagate; nothing partial is cached then.
   */
  async embed(embedder: Embedder, texts: readonly string[]): Promise<Float32Array[]> {
    const hashes = texts.map((t) => sha256Hex(t));
    const cached = await this.#store.cachedEmbeddings(embedder.id, [...new Set(hashes)]);
    const missing = new Map<string, string>();
    hashes.forEach((hash, i) => {
      if (cached.has(hash)) this.stats.hits++;
      else {
        this.stats.misses++;
        missing.set(hash, texts[i]!);
      }
    });
    if (missing.size > 0) {
      const order = [...missing.keys()];
      this.stats.calls++;
      const vectors = await embedder.embed(order.map((h) => missing.get(h)!));
      this.stats.embedded += order.length;
      const fresh = new Map<string, Float32Array>();
      order.forEach((hash, i) => {
        const vector = vectors[i];
        if (vector !== undefined) fresh.set(hash, normalize(vector));
      });
      await this.#store.putEmbeddings(embedder.id, fresh, this.#now());
      for (const [hash, vector] of fresh) cached.set(hash, vector);
    }
    return hashes.map((hash) => cached.get(hash) ?? new Float32Array(0));
  }
}
