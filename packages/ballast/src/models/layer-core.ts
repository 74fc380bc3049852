import type { LanguageModelV4CallOptions } from "@ai-sdk/provider";
import type { BudgetAmount, BudgetReservation, RunScope } from "../flow/scope.ts";
import type { ResponseCache } from "./cache.ts";
import type { TokenUsage } from "./codec.ts";
import type { CallOptions, ModelLayerOptions } from "./options.ts";
import type { PipelineHost } from "./pipeline.ts";
import type { Pricing } from "./pricing.ts";
import type { CallKind, CanonicalRequest } from "./request-hash.ts";

/** What the call paths (language, stream, embedding) need from the layer that owns them. */
export interface LayerCore extends PipelineHost {
  readonly options: ModelLayerOptions;
  readonly cache: ResponseCache | undefined;
  readonly pricing: Pricing;
  readonly logPrompts: boolean;
  readonly defaultMaxOutputTokens: number;
  estimateInputTokens(request: CanonicalRequest, params: LanguageModelV4CallOptions): number;
  callOptions(params: { providerOptions?: Record<string, unknown> | undefined }): CallOptions | undefined;
  /** Reserves the worst case on the run's, the stage's and the layer's budgets: all or none. */
  reserve(
    scope: RunScope | undefined,
    stage: string | undefined,
    label: string,
    amount: BudgetAmount,
  ): BudgetReservation;
  /** A call answered (live or from the cache): cost ledger, event, log. */
  answered(info: AnsweredInfo): void;
  /** A call failed for good: failure trace, event, log. */
  failed(info: FailedInfo): void;
  /** Counts an embedding provider call against the run and phase caps; throws past a cap. */
  admitEmbeddingCall(runId: string | undefined, phase: string): void;
  countEmbeddingValues(runId: string | undefined, phase: string, hits: number, misses: number): void;
}

export interface AnsweredInfo {
  kind: CallKind;
  requested: string;
  provider: string;
  modelId: string;
  stage: string | undefined;
  usage: TokenUsage;
  costUsd: number | null;
  cacheHit: boolean;
  latencyMs: number;
  requestId: string | undefined;
  attempts: number;
}

export interface FailedInfo {
  requested: string;
  stage: string | undefined;
  item: string | undefined;
  error: unknown;
}
