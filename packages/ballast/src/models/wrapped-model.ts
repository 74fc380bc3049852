import type {
  EmbeddingModelV4,
  EmbeddingModelV4CallOptions,
  EmbeddingModelV4Result,
  LanguageModelV4,
  LanguageModelV4CallOptions,
  LanguageModelV4GenerateResult,
  LanguageModelV4StreamResult,
} from "@ai-sdk/provider";
import { BallastError } from "../errors.ts";
import { type EmbeddingTarget, embed } from "./embedding-call.ts";
import { generate, type LanguageTarget, stream } from "./language-call.ts";
import type { LayerCore } from "./layer-core.ts";
import {
  type EmbeddingWrapOptions,
  validateEmbeddingWrapOptions,
  validateWrapOptions,
  type WrapOptions,
} from "./options.ts";
import { candidateOf } from "./pipeline.ts";

/**
 * The wrapped models: AI SDK `LanguageModelV4` / `EmbeddingModelV4` implementations that
 * send every call through the layer's policies. Pass them to `generateText`, `streamText`,
 * `generateObject`, `embed` and `embedMany` with `maxRetries: 0` (the wrapper retries).
 */

/** Falls back on every failure except a stop of the budget (caller aborts never get here). */
function defaultFallbackOn(error: unknown): boolean {
  return !BallastError.hasCode(error, "budget_exceeded");
}

export class BallastLanguageModel implements LanguageModelV4 {
  readonly specificationVersion = "v4" as const;
  readonly provider: string;
  readonly modelId: string;
  /** The model that is wrapped. */
  readonly inner: LanguageModelV4;
  readonly #core: LayerCore;
  readonly #target: LanguageTarget;

  constructor(core: LayerCore, model: LanguageModelV4, options: WrapOptions = {}) {
    const valid = validateWrapOptions(model, options);
    this.inner = model;
    this.provider = model.provider;
    this.modelId = model.modelId;
    this.#core = core;
    this.#target = {
      candidates: [model, ...(valid.fallbacks ?? [])].map(candidateOf),
      stage: valid.stage,
      retry: { ...core.options.retry, ...valid.retry },
      timeout: { ...core.options.timeout, ...valid.timeout },
      cacheMode: valid.cacheMode ?? "read-write",
      fallbackOn: valid.fallbackOn ?? defaultFallbackOn,
    };
  }

  get supportedUrls(): LanguageModelV4["supportedUrls"] {
    return this.inner.supportedUrls;
  }

  doGenerate(options: LanguageModelV4CallOptions): Promise<LanguageModelV4GenerateResult> {
    return generate(this.#core, this.#target, options);
  }

  doStream(options: LanguageModelV4CallOptions): Promise<LanguageModelV4StreamResult> {
    return stream(this.#core, this.#target, options);
  }
}

export class BallastEmbeddingModel implements EmbeddingModelV4 {
  readonly specificationVersion = "v4" as const;
  readonly provider: string;
  readonly modelId: string;
  readonly inner: EmbeddingModelV4;
  readonly #core: LayerCore;
  readonly #target: EmbeddingTarget;

  constructor(core: LayerCore, model: EmbeddingModelV4, options: EmbeddingWrapOptions = {}) {
    const valid = validateEmbeddingWrapOptions(model, options);
    this.inner = model;
    this.provider = model.provider;
    this.modelId = model.modelId;
    this.#core = core;
    this.#target = {
      candidate: candidateOf(model),
      phase: valid.phase,
      retry: { ...core.options.retry, ...valid.retry },
      timeout: { ...core.options.timeout, ...valid.timeout },
      cacheMode: valid.cacheMode ?? "read-write",
    };
  }

  get maxEmbeddingsPerCall(): EmbeddingModelV4["maxEmbeddingsPerCall"] {
    return this.inner.maxEmbeddingsPerCall;
  }

  get supportsParallelCalls(): EmbeddingModelV4["supportsParallelCalls"] {
    return this.inner.supportsParallelCalls;
  }

  doEmbed(options: EmbeddingModelV4CallOptions): Promise<EmbeddingModelV4Result> {
    return embed(this.#core, this.#target, options);
  }
}
