import type { EmbeddingModelV4 } from "@ai-sdk/provider";
import { featureHashEmbedding } from "./feature-hash-embedding.ts";
import { estimateTokens } from "./local-text.ts";

export interface LocalEmbeddingModelOptions {
  /** Vector length when the call does not ask for one. Default 256. */
  dimensions?: number;
  /** Default `"local-embedding"`. */
  modelId?: string;
  /** Default 2048, like OpenAI's limit. */
  maxEmbeddingsPerCall?: number;
}

/**
 * A deterministic, offline `EmbeddingModelV4` built on feature hashing (words and character
 * trigrams hashed into a fixed number of dimensions, L2-normalised).
 *
 * This is a TEST DOUBLE, NOT A SEMANTIC MODEL: texts sharing words score as similar, but
 * synonyms and paraphrases with different words do not. Use it to exercise caching,
 * batching, call caps and vector storage without a key; never to judge retrieval quality.
 */
export function createLocalEmbeddingModel(options: LocalEmbeddingModelOptions = {}): EmbeddingModelV4 {
  const defaultDimensions = options.dimensions ?? 256;
  return {
    specificationVersion: "v4",
    provider: "ballast.local",
    modelId: options.modelId ?? "local-embedding",
    maxEmbeddingsPerCall: options.maxEmbeddingsPerCall ?? 2048,
    supportsParallelCalls: true,
    async doEmbed({ values, dimensions, abortSignal }) {
      abortSignal?.throwIfAborted();
      const size = dimensions ?? defaultDimensions;
      return {
        embeddings: values.map((value) => featureHashEmbedding(value, size)),
        usage: { tokens: values.reduce((n, v) => n + estimateTokens(v), 0) },
        warnings: [],
      };
    },
  };
}
