import type { EmbeddingModelV4 } from "@ai-sdk/provider";

/**
 * What the engine embeds with. Two kinds exist:
 * - the corpus-fitted LSA model (local: free, no call cap, never cached per query), the
 *   default once `fitLsa()` has run;
 * - any AI SDK embedding model, normally wrapped by `ballast/models`' `wrapEmbeddingModel`
 *   so its calls go through the model layer's cache, limits and call caps. When such a call
 *   fails (the cap is reached, the provider is down) the engine answers lexically and says why.
 */
export interface Embedder {
  /** Stable id; cached vectors are keyed by it and the text's SHA-256. */
  readonly id: string;
  /** Local embedders cost nothing, so queries are not cached and no cap applies. */
  readonly local: boolean;
  embed(texts: readonly string[]): Promise<Float32Array[]>;
}

export interface ModelEmbedderOptions {
  /** Overrides the cache key (default `<provider>:<modelId>`); change it when the model's vectors change. */
  id?: string;
  /** Retries inside the AI SDK (default 0: the model layer owns retries). */
  maxRetries?: number;
}

/**
 * An `Embedder` over an AI SDK embedding model (pass it through `wrapEmbeddingModel` first
 * to get the model layer's cache and caps). The AI SDK is imported on first use only.
 */
export function embedderFromModel(model: EmbeddingModelV4, options: ModelEmbedderOptions = {}): Embedder {
  return {
    id: options.id ?? `${model.provider}:${model.modelId}`,
    local: false,
    async embed(texts) {
      if (texts.length === 0) return [];
      const { embedMany } = await import("ai");
      const { embeddings } = await embedMany({
        model,
        values: [...texts],
        maxRetries: options.maxRetries ?? 0,
      });
      return embeddings.map((e) => Float32Array.from(e));
    },
  };
}
