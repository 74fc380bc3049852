import type { EmbeddingModelV4, LanguageModelV4 } from "@ai-sdk/provider";
import { ValidationError } from "../errors.ts";
import { ModelLayer } from "./layer.ts";
import {
  EMBEDDING_WRAP_KEYS,
  type EmbeddingWrapOptions,
  type ModelLayerOptions,
  WRAP_KEYS,
  type WrapOptions,
} from "./options.ts";
import type { BallastEmbeddingModel, BallastLanguageModel } from "./wrapped-model.ts";

/**
 * `wrapModel(model, options)`: the model, with every call journaled (inside a run), cached,
 * rate-limited, budgeted, retried, timed out, broken on repeated failure and falling back.
 * Give `layer` to share limits, breakers, cache and budgets with other wrapped models; else
 * the layer options (cache, limits, budget, ...) in `options` make a private layer.
 *
 * @example
 * import { generateText } from "ai";
 * import { wrapModel } from "ballast/models";
 * const model = wrapModel(openai("gpt-4o-mini"), {
 *   stage: "descriptions",
 *   fallbacks: [anthropic("claude-3-5-haiku-latest")],
 *   cache: { path: ".ballast/model-cache.db" },
 *   timeout: { attemptMs: 30_000, callMs: 120_000 },
 * });
 * const { text } = await generateText({ model, prompt: "...", maxRetries: 0 });
 */
export function wrapModel(
  model: LanguageModelV4,
  options: WrapOptions & ModelLayerOptions & { layer?: ModelLayer } = {},
): BallastLanguageModel {
  const { layer, wrap, layerOptions } = split(options, WRAP_KEYS);
  return (layer ?? new ModelLayer(layerOptions)).wrap(model, wrap as WrapOptions);
}

/** As `wrapModel`, for embedding models (`embed`, `embedMany`). */
export function wrapEmbeddingModel(
  model: EmbeddingModelV4,
  options: EmbeddingWrapOptions & ModelLayerOptions & { layer?: ModelLayer } = {},
): BallastEmbeddingModel {
  const { layer, wrap, layerOptions } = split(options, EMBEDDING_WRAP_KEYS);
  return (layer ?? new ModelLayer(layerOptions)).wrapEmbedding(model, wrap as EmbeddingWrapOptions);
}

function split(options: object, wrapKeys: ReadonlySet<string>) {
  const { layer, ...rest } = options as { layer?: ModelLayer } & Record<string, unknown>;
  const wrap: Record<string, unknown> = {};
  const layerOptions: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(rest)) {
    // retry and timeout belong to the model; with a private layer they are the same thing.
    if (wrapKeys.has(key)) wrap[key] = value;
    else layerOptions[key] = value;
  }
  if (layer !== undefined) {
    if (!(layer instanceof ModelLayer)) {
      throw new ValidationError(
        "invalid_model_options",
        "`layer` must be a ModelLayer from createModelLayer().",
      );
    }
    if (Object.keys(layerOptions).length > 0) {
      throw new ValidationError(
        "invalid_model_options",
        `Options ${Object.keys(layerOptions).join(", ")} configure a layer, but \`layer\` was given too. Set them on createModelLayer() instead.`,
      );
    }
  }
  return { layer, wrap, layerOptions: layerOptions as ModelLayerOptions };
}
