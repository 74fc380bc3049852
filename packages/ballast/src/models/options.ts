import type { EmbeddingModelV4, LanguageModelV4, LanguageModelV4CallOptions } from "@ai-sdk/provider";
import { z } from "zod";
import { ValidationError } from "../errors.ts";
import type { Logger } from "../flow/observe.ts";
import type { BreakerConfig } from "./breaker.ts";
import type { BudgetLimit, BudgetWarning } from "./budget.ts";
import type { CacheMode, ResponseCache } from "./cache.ts";
import type { ChaosConfig } from "./chaos.ts";
import type { LimitConfig } from "./limiter.ts";
import type { PricingMap } from "./pricing.ts";
import type { RetryConfig } from "./retry.ts";
import type { TimeoutConfig } from "./timeout.ts";
import { parseBytes, parseDuration } from "./units.ts";

/**
 * Options of the model layer and of wrapped models, validated with zod when a layer or a
 * wrapper is created (never per call), with messages that name the bad option.
 */

export type Duration = number | string;

export interface CacheConfig {
  /** The SQLite file of the cache. Default: `model-cache.db` in the ballast home. */
  path?: string;
  /** Default `read-write`. */
  mode?: CacheMode;
  /** LRU cap on cached bodies: bytes or `500MB`. */
  maxSize?: number | string;
  /** TTL of new entries: a default and per stage (`7d`, `12h`, ms). Default: none. */
  ttl?: { default?: Duration; stages?: Record<string, Duration> };
}

export interface EmbeddingCaps {
  /** Provider calls allowed per run (layer lifetime outside a run): 0 disabled, -1 unlimited, >0 cap. */
  perRun?: number;
  /** Provider calls allowed per phase, for every phase or by phase name. */
  perPhase?: number | Record<string, number>;
}

/** An event the layer reports (also logged). */
export type ModelEvent =
  | { type: "retry"; model: string; attempt: number; delayMs: number; code: string; requestId?: string }
  | { type: "fallback"; from: string; to: string; code: string; reason: string }
  | { type: "budget_warning"; warning: BudgetWarning }
  | {
      type: "answered";
      model: string;
      requested: string;
      stage?: string;
      kind: "generate" | "stream" | "embed";
      cacheHit: boolean;
      latencyMs: number;
      costUsd: number | null;
      requestId?: string;
      attempts: number;
    }
  | { type: "failed"; model: string; stage?: string; item?: string; code: string; requestIds: string[] };

export interface ModelLayerOptions {
  /** The response cache: options, an open `ResponseCache`, or omitted/`false` for none. */
  cache?: CacheConfig | ResponseCache | false;
  /** RPM/TPM/concurrency by `provider:model` (e.g. `openai:gpt-4o-mini`), model id, or `*`. */
  limits?: Record<string, LimitConfig>;
  /** Circuit breaker settings for every provider:model. */
  breaker?: BreakerConfig;
  retry?: RetryConfig;
  timeout?: TimeoutConfig;
  /** Overrides and additions to the default pricing map (USD per million tokens). */
  pricing?: PricingMap;
  /** A budget over every call through this layer (the run budget of code outside the flow engine). */
  budget?: BudgetLimit;
  /** Budgets per stage (per run when inside a run). */
  stageBudgets?: Record<string, BudgetLimit>;
  /** Chaos: `{ p: 0.05, seed }` or the CLI form `p=0.05,seed=7`. */
  injectFailures?: ChaosConfig | string;
  embeddingCaps?: EmbeddingCaps;
  /** pino logger; default: stderr at `BALLAST_LOG_LEVEL`, else `warn`. */
  logger?: Logger;
  /** Put redacted prompts in logs and the journal's `model.called` events. Default false. */
  logPrompts?: boolean;
  /** Output tokens reserved for calls without `maxOutputTokens`. Default 4096. */
  defaultMaxOutputTokens?: number;
  /** Replaces the built-in input-token estimate used for reservations. */
  estimateInputTokens?: (params: LanguageModelV4CallOptions) => number;
  /** Called for every retry, fallback, answer and failure. */
  onEvent?: (event: ModelEvent) => void;
}

export interface WrapOptions {
  /** Default stage of calls through this model (per call: `providerOptions.ballast.stage`). */
  stage?: string;
  /** Models tried in order when this one fails for good, or its breaker is open. */
  fallbacks?: LanguageModelV4[];
  /** Overrides the layer's retry settings for this model. */
  retry?: RetryConfig;
  /** Overrides the layer's timeouts for this model. */
  timeout?: TimeoutConfig;
  /** Cache use of this model, at most what the layer's cache allows. Default: the cache's mode. */
  cacheMode?: CacheMode;
  /** Which failures move on to the next fallback. Default: every failure but caller aborts and budget stops. */
  fallbackOn?: (error: unknown) => boolean;
}

export interface EmbeddingWrapOptions {
  /** Default phase of calls (per call: `providerOptions.ballast.phase`). */
  phase?: string;
  retry?: RetryConfig;
  timeout?: TimeoutConfig;
  cacheMode?: CacheMode;
}

/** Per-call options, in `providerOptions.ballast`; never sent to the provider, never hashed. */
export interface CallOptions {
  stage?: string;
  /** Embeddings: the phase whose call cap applies. */
  phase?: string;
  /** The item this call works on (a service id, a file): named in failure traces. */
  item?: string;
  cacheMode?: CacheMode;
}

const count = z.number().int().min(0);
const ms = z.number().min(0).finite();
const duration = z.union([z.number().min(0).finite(), z.string()]);
const cacheMode = z.enum(["read-write", "read-only", "off"]);
const fn = z.custom<(...args: never[]) => unknown>((v) => typeof v === "function", "must be a function");

const limitSchema = z.strictObject({
  rpm: z.number().int().positive().optional(),
  tpm: z.number().int().positive().optional(),
  concurrency: z.number().int().positive().optional(),
  windowMs: z.number().int().positive().optional(),
});

const retrySchema = z.strictObject({
  maxRetries: count.optional(),
  baseDelayMs: ms.optional(),
  maxDelayMs: ms.optional(),
  random: fn.optional(),
});

const timeoutSchema = z.strictObject({
  attemptMs: z.number().positive().optional(),
  callMs: z.number().positive().optional(),
  firstChunkMs: z.number().positive().optional(),
});

const budgetSchema = z.strictObject({
  tokens: z.number().min(0).optional(),
  costUsd: z.number().min(0).optional(),
  mode: z.enum(["enforce", "soft"]).optional(),
});

const rates = {
  input: z.number().min(0),
  output: z.number().min(0),
  cacheRead: z.number().min(0).optional(),
  cacheWrite: z.number().min(0).optional(),
  reasoning: z.number().min(0).optional(),
};
const priceSchema = z.strictObject({
  ...rates,
  tiers: z
    .array(
      z.strictObject({
        aboveInputTokens: z.number().min(0),
        input: rates.input.optional(),
        output: rates.output.optional(),
        cacheRead: rates.cacheRead,
        cacheWrite: rates.cacheWrite,
        reasoning: rates.reasoning,
      }),
    )
    .optional(),
});

const capSchema = z.number().int().min(-1);

const cacheConfigSchema = z.strictObject({
  path: z.string().min(1).optional(),
  mode: cacheMode.optional(),
  maxSize: z.union([z.number().min(0), z.string()]).optional(),
  ttl: z
    .strictObject({ default: duration.optional(), stages: z.record(z.string(), duration).optional() })
    .optional(),
});

const layerSchema = z.strictObject({
  cache: z
    .union([z.literal(false), cacheConfigSchema, z.custom<ResponseCache>((v) => isCacheInstance(v))])
    .optional(),
  limits: z.record(z.string(), limitSchema).optional(),
  breaker: z
    .strictObject({
      consecutiveFailures: z.number().int().positive().optional(),
      failureRatio: z.number().gt(0).max(1).optional(),
      ratioWindow: z.number().int().positive().optional(),
      minCalls: z.number().int().positive().optional(),
      coolDownMs: ms.optional(),
      halfOpenProbes: z.number().int().positive().optional(),
    })
    .optional(),
  retry: retrySchema.optional(),
  timeout: timeoutSchema.optional(),
  pricing: z.record(z.string(), priceSchema).optional(),
  budget: budgetSchema.optional(),
  stageBudgets: z.record(z.string(), budgetSchema).optional(),
  injectFailures: z
    .union([
      z.string(),
      z.strictObject({ p: z.number().min(0).max(1), seed: z.union([z.string(), z.number()]).optional() }),
    ])
    .optional(),
  embeddingCaps: z
    .strictObject({
      perRun: capSchema.optional(),
      perPhase: z.union([capSchema, z.record(z.string(), capSchema)]).optional(),
    })
    .optional(),
  logger: z
    .custom<Logger>((v) => typeof v === "object" && v !== null && typeof (v as Logger).warn === "function")
    .optional(),
  logPrompts: z.boolean().optional(),
  defaultMaxOutputTokens: z.number().int().positive().optional(),
  estimateInputTokens: fn.optional(),
  onEvent: fn.optional(),
});

const languageModel = z.custom<LanguageModelV4>(
  (v) =>
    typeof v === "object" &&
    v !== null &&
    (v as LanguageModelV4).specificationVersion === "v4" &&
    typeof (v as LanguageModelV4).doGenerate === "function",
  "must be an AI SDK LanguageModelV4 (specificationVersion 'v4')",
);
const embeddingModel = z.custom<EmbeddingModelV4>(
  (v) =>
    typeof v === "object" &&
    v !== null &&
    (v as EmbeddingModelV4).specificationVersion === "v4" &&
    typeof (v as EmbeddingModelV4).doEmbed === "function",
  "must be an AI SDK EmbeddingModelV4 (specificationVersion 'v4')",
);

const wrapSchema = z.strictObject({
  stage: z.string().min(1).optional(),
  fallbacks: z.array(languageModel).optional(),
  retry: retrySchema.optional(),
  timeout: timeoutSchema.optional(),
  cacheMode: cacheMode.optional(),
  fallbackOn: fn.optional(),
});

const embeddingWrapSchema = z.strictObject({
  phase: z.string().min(1).optional(),
  retry: retrySchema.optional(),
  timeout: timeoutSchema.optional(),
  cacheMode: cacheMode.optional(),
});

const callSchema = z.strictObject({
  stage: z.string().min(1).optional(),
  phase: z.string().min(1).optional(),
  item: z.string().optional(),
  cacheMode: cacheMode.optional(),
});

function isCacheInstance(v: unknown): boolean {
  return typeof v === "object" && v !== null && typeof (v as ResponseCache).get === "function" && "mode" in v;
}

function check<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const result = schema.safeParse(value ?? {});
  if (result.success) return result.data;
  const issues = result.error.issues
    .map((issue) => `${issue.path.length > 0 ? issue.path.join(".") : "(root)"}: ${issue.message}`)
    .join("; ");
  throw new ValidationError(
    "invalid_model_options",
    `Invalid ${what}: ${issues}. See ballast/models README for the options.`,
    {
      issues: result.error.issues.map((i) => ({ path: i.path.join("."), message: i.message })),
    },
  );
}

export function validateLayerOptions(options: ModelLayerOptions | undefined): ModelLayerOptions {
  const parsed = check(layerSchema, options, "model layer options") as ModelLayerOptions;
  const cache = parsed.cache;
  if (cache && !isCacheInstance(cache)) {
    const config = cache as CacheConfig;
    if (config.maxSize !== undefined) parseBytes(config.maxSize, "cache.maxSize");
    if (config.ttl?.default !== undefined) parseDuration(config.ttl.default, "cache.ttl.default");
    for (const [stage, ttl] of Object.entries(config.ttl?.stages ?? {}))
      parseDuration(ttl, `cache.ttl.stages.${stage}`);
  }
  return parsed;
}

export function validateWrapOptions(model: unknown, options: WrapOptions | undefined): WrapOptions {
  check(languageModel, model, "model passed to wrapModel");
  return check(wrapSchema, options, "wrapModel options") as WrapOptions;
}

export function validateEmbeddingWrapOptions(
  model: unknown,
  options: EmbeddingWrapOptions | undefined,
): EmbeddingWrapOptions {
  check(embeddingModel, model, "model passed to wrapEmbeddingModel");
  return check(embeddingWrapSchema, options, "wrapEmbeddingModel options") as EmbeddingWrapOptions;
}

export function validateCallOptions(value: unknown): CallOptions {
  return check(callSchema, value, "providerOptions.ballast") as CallOptions;
}

/** Splits `wrapModel` options into the layer's (when no `layer` is given) and the model's. */
export const WRAP_KEYS: ReadonlySet<string> = new Set([
  "stage",
  "fallbacks",
  "retry",
  "timeout",
  "cacheMode",
  "fallbackOn",
]);
export const EMBEDDING_WRAP_KEYS: ReadonlySet<string> = new Set([
  "phase",
  "fallbacks",
  "retry",
  "timeout",
  "cacheMode",
]);
