import type { EmbeddingModelV4, LanguageModelV4, LanguageModelV4CallOptions } from "@ai-sdk/provider";
import { createLogger, type Logger, type LogLevel } from "../flow/observe.ts";
import type { BudgetAmount, BudgetReservation, RunScope } from "../flow/scope.ts";
import { type BreakerStats, CircuitBreaker } from "./breaker.ts";
import { BudgetLedger, reserveAll, scopeBudgetTarget } from "./budget.ts";
import { defaultCachePath, ResponseCache } from "./cache.ts";
import { Chaos, parseInjectFailures } from "./chaos.ts";
import { CostLedger, type CostSummary } from "./cost-summary.ts";
import { EmbeddingCapError, type EmbeddingFallbackReason } from "./errors.ts";
import type { AnsweredInfo, FailedInfo, LayerCore } from "./layer-core.ts";
import { type LimiterStats, ModelLimiter } from "./limiter.ts";
import { modelMetrics } from "./metrics.ts";
import {
  type CacheConfig,
  type CallOptions,
  type EmbeddingWrapOptions,
  type ModelEvent,
  type ModelLayerOptions,
  validateCallOptions,
  validateLayerOptions,
  type WrapOptions,
} from "./options.ts";
import { Pricing } from "./pricing.ts";
import { redactText } from "./redact.ts";
import { BALLAST_OPTIONS_KEY, type CanonicalRequest, estimateInputTokens } from "./request-hash.ts";
import { classifyFailure } from "./retry.ts";
import { type FailureTrace, requestIdsOf } from "./trace-ids.ts";
import { parseBytes, parseDuration } from "./units.ts";
import { BallastEmbeddingModel, BallastLanguageModel } from "./wrapped-model.ts";

/**
 * The shared state of the model layer: one cache, one limiter and one circuit breaker per
 * provider:model, budgets, the cost ledger, embedding counters and failure traces. Every
 * model wrapped by the same layer shares them, which is what makes limits and breakers
 * meaningful across a program. `wrapModel` without a `layer` makes a private one.
 *
 * @example
 * const layer = createModelLayer({
 *   cache: { path: ".ballast/model-cache.db", maxSize: "500MB", ttl: { stages: { mapping: "7d" } } },
 *   limits: { "openai:gpt-4o-mini": { rpm: 500, tpm: 200_000, concurrency: 16 } },
 *   stageBudgets: { mapping: { costUsd: 2 } },
 * });
 * const model = layer.wrap(openai("gpt-4o-mini"), { stage: "mapping", fallbacks: [anthropic("claude-3-5-haiku-latest")] });
 * await generateText({ model, prompt, maxRetries: 0 });
 */

export interface EmbeddingCounters {
  hits: number;
  misses: number;
  /** Provider calls made. */
  calls: number;
  /** The cap that applies (-1 unlimited, 0 disabled). */
  cap: number;
  fallbackReason: EmbeddingFallbackReason | null;
}

const MAX_FAILURE_TRACES = 10_000;
const LOG_LEVELS: ReadonlySet<string> = new Set([
  "fatal",
  "error",
  "warn",
  "info",
  "debug",
  "trace",
  "silent",
]);

export class ModelLayer implements LayerCore {
  readonly cache: ResponseCache | undefined;
  readonly pricing: Pricing;
  readonly chaos: Chaos | undefined;
  readonly logPrompts: boolean;
  readonly defaultMaxOutputTokens: number;
  readonly options: ModelLayerOptions;
  readonly #costs = new CostLedger();
  readonly #ownsCache: boolean;
  readonly #limiters = new Map<string, ModelLimiter>();
  readonly #breakers = new Map<string, CircuitBreaker>();
  readonly #stageBudgets = new Map<string, BudgetLedger>();
  readonly #budget: BudgetLedger | undefined;
  readonly #failures: FailureTrace[] = [];
  readonly #embeddingPhases = new Map<string, EmbeddingCounters>();
  readonly #embeddingRuns = new Map<string, EmbeddingCounters>();
  #logger: Logger | undefined;

  constructor(options: ModelLayerOptions = {}) {
    this.options = validateLayerOptions(options);
    const cache = this.options.cache;
    if (cache instanceof ResponseCache) {
      this.cache = cache;
      this.#ownsCache = false;
    } else if (cache) {
      this.cache = openCache(cache);
      this.#ownsCache = true;
    } else {
      this.#ownsCache = false;
    }
    this.pricing = new Pricing(this.options.pricing);
    const chaos = this.options.injectFailures;
    if (chaos !== undefined)
      this.chaos = new Chaos(typeof chaos === "string" ? parseInjectFailures(chaos) : chaos);
    this.logPrompts = this.options.logPrompts ?? false;
    this.defaultMaxOutputTokens = this.options.defaultMaxOutputTokens ?? 4096;
    const warn = (warning: Parameters<ConstructorParameters<typeof BudgetLedger>[2]>[0]) =>
      this.emit({ type: "budget_warning", warning });
    if (this.options.budget) this.#budget = new BudgetLedger("model layer", this.options.budget, warn);
    this.#logger = this.options.logger;
  }

  /** pino logger: the one given, else stderr at `BALLAST_LOG_LEVEL`, else `warn`. */
  get logger(): Logger {
    if (this.#logger === undefined) {
      const level = process.env["BALLAST_LOG_LEVEL"];
      this.#logger = createLogger({
        level: level !== undefined && LOG_LEVELS.has(level) ? (level as LogLevel) : "warn",
      });
    }
    return this.#logger;
  }

  // ------------------------------------------------------------------ pipeline host

  limiter(key: string): ModelLimiter {
    let limiter = this.#limiters.get(key);
    if (limiter === undefined) {
      const limits = this.options.limits ?? {};
      const modelId = key.slice(key.indexOf(":") + 1);
      limiter = new ModelLimiter(key, limits[key] ?? limits[modelId] ?? limits["*"] ?? {});
      this.#limiters.set(key, limiter);
    }
    return limiter;
  }

  breaker(key: string): CircuitBreaker {
    let breaker = this.#breakers.get(key);
    if (breaker === undefined) {
      breaker = new CircuitBreaker(key, this.options.breaker);
      this.#breakers.set(key, breaker);
    }
    return breaker;
  }

  emit(event: ModelEvent): void {
    this.options.onEvent?.(event);
    const log = this.logger;
    switch (event.type) {
      case "retry":
        modelMetrics.retriesTotal.inc({ model: event.model, code: event.code });
        log.info(
          {
            model: event.model,
            attempt: event.attempt,
            delayMs: event.delayMs,
            code: event.code,
            requestId: event.requestId,
          },
          "model call retried",
        );
        break;
      case "fallback":
        modelMetrics.fallbacksTotal.inc({ from: event.from, to: event.to });
        log.warn(
          { from: event.from, to: event.to, code: event.code, reason: redactText(event.reason) },
          "model call falling back",
        );
        break;
      case "budget_warning":
        log.warn({ ...event.warning }, "model budget crossed (soft mode)");
        break;
      case "answered":
        if (event.model !== event.requested) {
          log.warn(
            {
              requested: event.requested,
              answeredBy: event.model,
              stage: event.stage,
              requestId: event.requestId,
            },
            "model call answered by a fallback",
          );
        } else if (log.isLevelEnabled("debug")) {
          log.debug(
            {
              model: event.model,
              stage: event.stage,
              cacheHit: event.cacheHit,
              latencyMs: event.latencyMs,
              costUsd: event.costUsd,
              requestId: event.requestId,
            },
            "model call answered",
          );
        }
        break;
      case "failed":
        log.warn(
          {
            model: event.model,
            stage: event.stage,
            item: event.item,
            code: event.code,
            requestIds: event.requestIds,
          },
          "model call failed",
        );
        break;
    }
  }

  // ------------------------------------------------------------------ layer core

  get costs(): CostLedger {
    return this.#costs;
  }

  estimateInputTokens(request: CanonicalRequest, params: LanguageModelV4CallOptions): number {
    const custom = this.options.estimateInputTokens;
    return custom ? Math.max(0, Math.ceil(custom(params))) : estimateInputTokens(request, params);
  }

  callOptions(params: { providerOptions?: Record<string, unknown> | undefined }): CallOptions | undefined {
    const value = params.providerOptions?.[BALLAST_OPTIONS_KEY];
    return value === undefined ? undefined : validateCallOptions(value);
  }

  reserve(
    scope: RunScope | undefined,
    stage: string | undefined,
    label: string,
    amount: BudgetAmount,
  ): BudgetReservation {
    const targets: { reserve(amount: BudgetAmount): BudgetReservation }[] = [];
    if (scope) targets.push(scopeBudgetTarget(scope, label));
    if (stage !== undefined) {
      const ledger = this.#stageLedger(scope?.runId, stage);
      if (ledger) targets.push(ledger);
    }
    if (this.#budget) targets.push(this.#budget);
    return reserveAll(targets, amount);
  }

  #stageLedger(runId: string | undefined, stage: string): BudgetLedger | undefined {
    const limit = this.options.stageBudgets?.[stage];
    if (limit === undefined) return undefined;
    const key = `${runId ?? ""}\0${stage}`;
    let ledger = this.#stageBudgets.get(key);
    if (ledger === undefined) {
      ledger = new BudgetLedger(`stage "${stage}"`, limit, (warning) =>
        this.emit({ type: "budget_warning", warning }),
      );
      this.#stageBudgets.set(key, ledger);
    }
    return ledger;
  }

  answered(info: AnsweredInfo): void {
    const model = `${info.provider}:${info.modelId}`;
    this.#costs.add({
      stage: info.stage,
      model,
      usage: info.usage,
      costUsd: info.costUsd,
      cacheHit: info.cacheHit,
    });
    const stage = info.stage ?? "none";
    modelMetrics.callsTotal.inc({
      model,
      stage,
      kind: info.kind,
      outcome: info.cacheHit ? "cache_hit" : "answered",
    });
    modelMetrics.callDurationSeconds.observe({ model, kind: info.kind }, info.latencyMs / 1000);
    if (!info.cacheHit) {
      const u = info.usage;
      for (const [type, n] of [
        ["input", u.inputTokens],
        ["output", u.outputTokens],
        ["cache_read", u.cacheReadTokens],
        ["cache_write", u.cacheWriteTokens],
        ["reasoning", u.reasoningTokens],
      ] as const) {
        if (n > 0) modelMetrics.tokensTotal.inc({ model, stage, type }, n);
      }
      if (info.costUsd) modelMetrics.costUsdTotal.inc({ model, stage }, info.costUsd);
    }
    if (
      this.options.onEvent === undefined &&
      info.requested === model &&
      !this.#logger?.isLevelEnabled("debug")
    )
      return;
    this.emit({
      type: "answered",
      model,
      requested: info.requested,
      kind: info.kind,
      cacheHit: info.cacheHit,
      latencyMs: info.latencyMs,
      costUsd: info.costUsd,
      attempts: info.attempts,
      ...(info.stage === undefined ? {} : { stage: info.stage }),
      ...(info.requestId === undefined ? {} : { requestId: info.requestId }),
    });
  }

  failed(info: FailedInfo): void {
    const failure = classifyFailure(info.error);
    const trace: FailureTrace = {
      at: new Date().toISOString(),
      model: info.requested,
      code: failure.code,
      message: redactText(failure.message),
      requestIds: requestIdsOf(info.error),
      ...(info.stage === undefined ? {} : { stage: info.stage }),
      ...(info.item === undefined ? {} : { item: info.item }),
    };
    this.#failures.push(trace);
    modelMetrics.callsTotal.inc({
      model: info.requested,
      stage: info.stage ?? "none",
      kind: "call",
      outcome: "failed",
    });
    if (this.#failures.length > MAX_FAILURE_TRACES) this.#failures.shift();
    this.emit({
      type: "failed",
      model: info.requested,
      code: trace.code,
      requestIds: trace.requestIds,
      ...(info.stage === undefined ? {} : { stage: info.stage }),
      ...(info.item === undefined ? {} : { item: info.item }),
    });
  }

  admitEmbeddingCall(runId: string | undefined, phase: string): void {
    const caps = this.options.embeddingCaps ?? {};
    const perPhase = typeof caps.perPhase === "number" ? caps.perPhase : (caps.perPhase?.[phase] ?? -1);
    const perRun = caps.perRun ?? -1;
    const phaseCounters = this.#phaseCounters(runId, phase);
    const runCounters = this.#runCounters(runId);
    for (const [cap, scope, counters] of [
      [perRun, "run", runCounters],
      [perPhase, "phase", phaseCounters],
    ] as const) {
      if (cap === -1 || counters.calls < cap) continue;
      const reason: EmbeddingFallbackReason = cap === 0 ? "disabled" : "cap_exceeded";
      phaseCounters.fallbackReason = reason;
      runCounters.fallbackReason = reason;
      throw new EmbeddingCapError({ reason, scope, cap, phase });
    }
    // Counted at dispatch, synchronously: parallel calls cannot slip past the cap together.
    phaseCounters.calls += 1;
    runCounters.calls += 1;
  }

  countEmbeddingValues(runId: string | undefined, phase: string, hits: number, misses: number): void {
    for (const counters of [this.#phaseCounters(runId, phase), this.#runCounters(runId)]) {
      counters.hits += hits;
      counters.misses += misses;
    }
  }

  #phaseCounters(runId: string | undefined, phase: string): EmbeddingCounters {
    const key = `${runId ?? ""}\0${phase}`;
    let counters = this.#embeddingPhases.get(key);
    if (counters === undefined) {
      const caps = this.options.embeddingCaps ?? {};
      const cap = typeof caps.perPhase === "number" ? caps.perPhase : (caps.perPhase?.[phase] ?? -1);
      counters = { hits: 0, misses: 0, calls: 0, cap, fallbackReason: null };
      this.#embeddingPhases.set(key, counters);
    }
    return counters;
  }

  #runCounters(runId: string | undefined): EmbeddingCounters {
    const key = runId ?? "";
    let counters = this.#embeddingRuns.get(key);
    if (counters === undefined) {
      counters = {
        hits: 0,
        misses: 0,
        calls: 0,
        cap: this.options.embeddingCaps?.perRun ?? -1,
        fallbackReason: null,
      };
      this.#embeddingRuns.set(key, counters);
    }
    return counters;
  }

  // ------------------------------------------------------------------ public surface

  /** Wraps a language model; see `wrapModel`. */
  wrap(model: LanguageModelV4, options: WrapOptions = {}): BallastLanguageModel {
    return new BallastLanguageModel(this, model, options);
  }

  /** Wraps an embedding model; see `wrapEmbeddingModel`. */
  wrapEmbedding(model: EmbeddingModelV4, options: EmbeddingWrapOptions = {}): BallastEmbeddingModel {
    return new BallastEmbeddingModel(this, model, options);
  }

  /** Tokens and cost per stage and per model of every call through this layer. */
  costSummary(): CostSummary {
    return this.#costs.summary();
  }

  /** The last failed calls, with their provider request ids (for `--trace-ids`). */
  failures(): FailureTrace[] {
    return [...this.#failures];
  }

  /** Embedding counters of a phase, or of a whole run (no phase). Outside a run, omit `runId`. */
  embeddingStats(options: { runId?: string; phase?: string } = {}): EmbeddingCounters {
    return options.phase === undefined
      ? { ...this.#runCounters(options.runId) }
      : { ...this.#phaseCounters(options.runId, options.phase) };
  }

  breakerStats(): Record<string, BreakerStats> {
    return Object.fromEntries([...this.#breakers].map(([key, b]) => [key, b.stats()]));
  }

  limiterStats(): Record<string, LimiterStats> {
    return Object.fromEntries([...this.#limiters].map(([key, l]) => [key, l.stats()]));
  }

  /** Flushes and closes the cache (if this layer opened it). */
  close(): void {
    if (this.#ownsCache) this.cache?.close();
    else this.cache?.flush();
  }
}

function openCache(config: CacheConfig): ResponseCache {
  const stages: Record<string, number> = {};
  for (const [stage, ttl] of Object.entries(config.ttl?.stages ?? {})) stages[stage] = parseDuration(ttl);
  return new ResponseCache({
    path: config.path ?? defaultCachePath(),
    mode: config.mode ?? "read-write",
    ...(config.maxSize === undefined ? {} : { maxBytes: parseBytes(config.maxSize) }),
    ttlMs: {
      ...(config.ttl?.default === undefined ? {} : { default: parseDuration(config.ttl.default) }),
      stages,
    },
  });
}

/** Creates a model layer: the shared cache, limits, breakers, budgets and ledgers of wrapped models. */
export function createModelLayer(options: ModelLayerOptions = {}): ModelLayer {
  return new ModelLayer(options);
}
