/**
 * `ballast/models`: wraps any Vercel AI SDK 7 language or embedding model so that every
 * call is journaled (inside a run), cached, rate-limited, budgeted, retried, timed out,
 * circuit-broken and falls back, in one fixed order:
 * redaction → budget → cache → limits → circuit breaker → timeout → retry → fallback → provider.
 * See README.md in this folder.
 */
export type { BreakerConfig, BreakerState, BreakerStats } from "./breaker.ts";
export { CircuitBreaker } from "./breaker.ts";
export type { BudgetLimit, BudgetWarning } from "./budget.ts";
export type {
  CacheCounters,
  CacheKind,
  CacheMode,
  CacheOptions,
  CacheStats,
  PurgeOptions,
  PurgeReport,
  ValidateReport,
} from "./cache.ts";
export { ResponseCache } from "./cache.ts";
export type { ModelCalledData } from "./call-journal.ts";
export type { ChaosConfig } from "./chaos.ts";
export { parseInjectFailures } from "./chaos.ts";
export type { TokenUsage } from "./codec.ts";
export type { CostLine, CostSummary } from "./cost-summary.ts";
export { formatCostSummary, summarizeModelCalls } from "./cost-summary.ts";
export type { AttemptRecord, EmbeddingFallbackReason, TimeoutKind } from "./errors.ts";
export {
  CircuitOpenError,
  EmbeddingCapError,
  InjectedFailureError,
  ModelBudgetExceededError,
  ModelCallFailedError,
  ModelTimeoutError,
  StreamInterruptedError,
} from "./errors.ts";
export type { EmbeddingCounters } from "./layer.ts";
export { createModelLayer, ModelLayer } from "./layer.ts";
export type { Admission, LimitConfig, LimiterStats } from "./limiter.ts";
export { ModelLimiter } from "./limiter.ts";
export type {
  CacheConfig,
  CallOptions,
  Duration,
  EmbeddingCaps,
  EmbeddingWrapOptions,
  ModelEvent,
  ModelLayerOptions,
  WrapOptions,
} from "./options.ts";
export type { ModelPrice, PriceRates, PricingMap } from "./pricing.ts";
export { costOf, DEFAULT_PRICING, Pricing } from "./pricing.ts";
export { canonicalRequest, estimateInputTokens } from "./request-hash.ts";
export type { FailureInfo, RetryConfig } from "./retry.ts";
export { classifyFailure, isRetryableStatus } from "./retry.ts";
export type { TimeoutConfig } from "./timeout.ts";
export type { FailureTrace } from "./trace-ids.ts";
export { formatTraceIds, requestIdsOf } from "./trace-ids.ts";
export { parseBytes, parseDuration } from "./units.ts";
export { wrapEmbeddingModel, wrapModel } from "./wrap-model.ts";
export { BallastEmbeddingModel, BallastLanguageModel } from "./wrapped-model.ts";
