import type {
  LanguageModelV4,
  LanguageModelV4CallOptions,
  LanguageModelV4GenerateResult,
  LanguageModelV4StreamPart,
  LanguageModelV4StreamResult,
} from "@ai-sdk/provider";
import type { JsonValue } from "../canonical.ts";
import type { BudgetReservation } from "../flow/scope.ts";
import type { CacheMode } from "./cache.ts";
import { type CallJournal, openCallJournal, recordCall, recordedFor } from "./call-journal.ts";
import {
  decodeGenerateResult,
  decodeStreamParts,
  encodeGenerateResult,
  streamOf,
  type TokenUsage,
  tokenUsage,
  ZERO_USAGE,
} from "./codec.ts";
import type { LayerCore } from "./layer-core.ts";
import { type Candidate, disposeOutcome, execute } from "./pipeline.ts";
import { costOf, worstCaseCost } from "./pricing.ts";
import { promptTranscript } from "./redact.ts";
import { type CallKind, type CanonicalRequest, canonicalRequest, providerParams } from "./request-hash.ts";
import { type RetryConfig, requestIdFromHeaders } from "./retry.ts";
import { openStream, relayStream } from "./stream-relay.ts";
import type { TimeoutConfig } from "./timeout.ts";

/**
 * One call of a wrapped language model, generate or stream, through the policies in their
 * fixed order: redaction → budget → cache → limits → circuit breaker → timeout → retry →
 * fallback → provider (see pipeline.ts for the last six), with the journal around it all
 * when the call happens inside a run.
 */

export interface LanguageTarget {
  candidates: Candidate<LanguageModelV4>[];
  stage: string | undefined;
  retry: RetryConfig;
  timeout: TimeoutConfig;
  cacheMode: CacheMode;
  fallbackOn: (error: unknown) => boolean;
}

/** A call after its synchronous preparation (done before any await, for stable effect keys). */
export interface PreparedCall {
  kind: CallKind;
  params: LanguageModelV4CallOptions;
  request: CanonicalRequest;
  requested: Candidate<LanguageModelV4>;
  stage: string | undefined;
  item: string | undefined;
  cacheMode: CacheMode;
  journal: CallJournal | undefined;
  transcript: string | undefined;
  inputTokens: number;
  reserveTokens: number;
}

/** The cached form of a language call. */
interface CachedCall {
  usage: TokenUsage;
  provider: string;
  modelId: string;
  requestId: string | null;
  response?: JsonValue;
  parts?: JsonValue;
}

export function prepareCall(
  layer: LayerCore,
  target: LanguageTarget,
  kind: CallKind,
  params: LanguageModelV4CallOptions,
): PreparedCall {
  const callOptions = layer.callOptions(params);
  const requested = target.candidates[0] as Candidate<LanguageModelV4>;
  const request = canonicalRequest(kind, requested.key, params);
  const journal = openCallJournal();
  const inputTokens = layer.estimateInputTokens(request, params);
  const cacheMode = narrowerMode(target.cacheMode, callOptions?.cacheMode);
  return {
    kind,
    params,
    request,
    requested,
    stage: callOptions?.stage ?? target.stage,
    item: callOptions?.item,
    cacheMode: layer.cache === undefined ? "off" : narrowerMode(layer.cache.mode, cacheMode),
    journal,
    // Redaction comes first: nothing readable about the prompt leaves without it.
    transcript: layer.logPrompts ? promptTranscript(params.prompt) : undefined,
    inputTokens,
    reserveTokens: inputTokens + (params.maxOutputTokens ?? layer.defaultMaxOutputTokens),
  };
}

const MODE_RANK: Record<CacheMode, number> = { off: 0, "read-only": 1, "read-write": 2 };

function narrowerMode(a: CacheMode, b: CacheMode | undefined): CacheMode {
  return b === undefined || MODE_RANK[a] <= MODE_RANK[b] ? a : b;
}

function reserveBudget(layer: LayerCore, target: LanguageTarget, call: PreparedCall): BudgetReservation {
  let cost = 0;
  const output = call.reserveTokens - call.inputTokens;
  for (const candidate of target.candidates) {
    const price = layer.pricing.priceOf(candidate.provider, candidate.modelId);
    if (price) cost = Math.max(cost, worstCaseCost(price, call.inputTokens, output));
  }
  return layer.reserve(call.journal?.scope, call.stage, call.stage ?? call.requested.key, {
    tokens: call.reserveTokens,
    costUsd: cost,
  });
}

function executeOptions(target: LanguageTarget, call: PreparedCall, stream: boolean) {
  return {
    requested: call.requested.key,
    callerSignal: call.params.abortSignal,
    retry: target.retry,
    timeout: target.timeout,
    reserveTokens: call.reserveTokens,
    inputTokens: call.inputTokens,
    fairKey: call.journal?.scope.runId ?? call.stage ?? "default",
    fallbackOn: target.fallbackOn,
    stream,
  };
}

function familyOf(provider: string): string {
  return provider.split(".")[0] ?? provider;
}

export async function generate(
  layer: LayerCore,
  target: LanguageTarget,
  params: LanguageModelV4CallOptions,
): Promise<LanguageModelV4GenerateResult> {
  const call = prepareCall(layer, target, "generate", params);
  const journal = call.journal;
  if (journal?.recorded) {
    const data = await recordedFor(journal, journal.recorded, call.request.hash, call.requested.key);
    return decodeGenerateResult(data["response"] as JsonValue);
  }
  const started = performance.now();
  const reservation = reserveBudget(layer, target, call);
  try {
    if (call.cacheMode !== "off") {
      const hit = layer.cache?.get(call.request.hash);
      if (hit) {
        reservation.commit({ tokens: 0, costUsd: 0 });
        const cached = hit.value as unknown as CachedCall;
        await finish(layer, call, cached, true, performance.now() - started, 0);
        return decodeGenerateResult(cached.response as JsonValue);
      }
    }
    const outcome = await execute(
      layer,
      target.candidates,
      executeOptions(target, call, false),
      (model, ctx) =>
        Promise.resolve(model.doGenerate({ ...providerParams(params), abortSignal: ctx.signal })),
    );
    disposeOutcome(outcome);
    const result = outcome.value;
    const usage = tokenUsage(result.usage);
    outcome.admission.reconcile(usage.inputTokens + usage.outputTokens);
    outcome.admission.release();
    const { candidate } = outcome;
    const price = layer.pricing.priceOf(candidate.provider, candidate.modelId);
    const costUsd = price ? costOf(price, usage) : null;
    reservation.commit({ tokens: usage.inputTokens + usage.outputTokens, costUsd: costUsd ?? 0 });
    const requestId = requestIdFromHeaders(result.response?.headers) ?? result.response?.id ?? null;
    const keep = journal !== undefined || call.cacheMode === "read-write";
    const encoded = keep ? encodeGenerateResult(result) : undefined;
    const cached: CachedCall = {
      usage,
      provider: familyOf(candidate.provider),
      modelId: candidate.modelId,
      requestId,
      ...(encoded === undefined ? {} : { response: encoded }),
    };
    if (call.cacheMode === "read-write" && encoded !== undefined) storeInCache(layer, call, cached);
    await finish(
      layer,
      call,
      cached,
      false,
      performance.now() - started,
      outcome.failures.length + 1,
      costUsd,
      outcome.limiterWaitMs,
    );
    // Inside a run the caller sees what replay will serve: the journaled form of the result.
    return journal !== undefined && encoded !== undefined ? decodeGenerateResult(encoded) : result;
  } catch (error) {
    reservation.release();
    layer.failed({ requested: call.requested.key, stage: call.stage, item: call.item, error });
    throw error;
  }
}

function storeInCache(layer: LayerCore, call: PreparedCall, cached: CachedCall): void {
  layer.cache?.set(call.request.hash, cached as unknown as JsonValue, {
    kind: call.kind === "stream" ? "stream" : "generate",
    stage: call.stage,
    model: `${cached.provider}:${cached.modelId}`,
  });
}

/** Journal (inside a run), cost ledger, event and log of an answered call. */
async function finish(
  layer: LayerCore,
  call: PreparedCall,
  cached: CachedCall,
  cacheHit: boolean,
  latencyMs: number,
  attempts: number,
  costUsd: number | null = null,
  limiterWaitMs = 0,
): Promise<void> {
  const cost = cacheHit ? 0 : costUsd;
  if (call.journal) {
    await recordCall(call.journal, {
      kind: call.kind,
      requestHash: call.request.hash,
      provider: cached.provider,
      modelId: cached.modelId,
      requested: call.requested.key,
      ...(call.stage === undefined ? {} : { stage: call.stage }),
      ...(call.item === undefined ? {} : { item: call.item }),
      usage: cached.usage,
      costUsd: cost,
      latencyMs: Math.round(latencyMs * 1000) / 1000,
      ...(limiterWaitMs >= 0.001 ? { limiterWaitMs: Math.round(limiterWaitMs * 1000) / 1000 } : {}),
      requestId: cached.requestId,
      cacheHit,
      attempts,
      ...(cached.response === undefined ? {} : { response: cached.response }),
      ...(cached.parts === undefined ? {} : { parts: cached.parts }),
      ...(call.transcript === undefined ? {} : { prompt: call.transcript }),
    });
  }
  layer.answered({
    kind: call.kind,
    requested: call.requested.key,
    provider: cached.provider,
    modelId: cached.modelId,
    stage: call.stage,
    usage: cacheHit ? { ...ZERO_USAGE } : cached.usage,
    costUsd: cost,
    cacheHit,
    latencyMs,
    requestId: cached.requestId ?? undefined,
    attempts,
  });
}

export async function stream(
  layer: LayerCore,
  target: LanguageTarget,
  params: LanguageModelV4CallOptions,
): Promise<LanguageModelV4StreamResult> {
  const call = prepareCall(layer, target, "stream", params);
  const journal = call.journal;
  if (journal?.recorded) {
    const data = await recordedFor(journal, journal.recorded, call.request.hash, call.requested.key);
    return { stream: streamOf(decodeStreamParts(data["parts"] as JsonValue)) };
  }
  const started = performance.now();
  const reservation = reserveBudget(layer, target, call);
  let outcome: Awaited<ReturnType<typeof execute<LanguageModelV4, Awaited<ReturnType<typeof openStream>>>>>;
  try {
    if (call.cacheMode !== "off") {
      const hit = layer.cache?.get(call.request.hash);
      if (hit) {
        reservation.commit({ tokens: 0, costUsd: 0 });
        const cached = hit.value as unknown as CachedCall;
        await finish(layer, call, cached, true, performance.now() - started, 0);
        return { stream: streamOf(decodeStreamParts(cached.parts as JsonValue)) };
      }
    }
    outcome = await execute(layer, target.candidates, executeOptions(target, call, true), (model, ctx) =>
      openStream(model, { ...providerParams(params), abortSignal: ctx.signal }),
    );
  } catch (error) {
    reservation.release();
    layer.failed({ requested: call.requested.key, stage: call.stage, item: call.item, error });
    throw error;
  }
  const opened = outcome.value;
  const { candidate } = outcome;
  const price = layer.pricing.priceOf(candidate.provider, candidate.modelId);
  const requestId = requestIdFromHeaders(opened.response?.headers) ?? null;
  const keep = journal !== undefined || call.cacheMode === "read-write";
  const relayed = relayStream({
    opened,
    outcome,
    model: candidate.key,
    keepParts: keep,
    normalise: journal !== undefined,
    callerSignal: params.abortSignal,
    onComplete: async (parts: LanguageModelV4StreamPart[], encoded: JsonValue[] | undefined) => {
      const finishPart = parts.findLast((p) => p.type === "finish");
      const usage = tokenUsage(finishPart?.type === "finish" ? finishPart.usage : undefined);
      outcome.admission.reconcile(usage.inputTokens + usage.outputTokens);
      outcome.admission.release();
      const costUsd = price ? costOf(price, usage) : null;
      reservation.commit({ tokens: usage.inputTokens + usage.outputTokens, costUsd: costUsd ?? 0 });
      const responseId = parts.find((p) => p.type === "response-metadata");
      const cached: CachedCall = {
        usage,
        provider: familyOf(candidate.provider),
        modelId: candidate.modelId,
        requestId: requestId ?? (responseId?.type === "response-metadata" ? (responseId.id ?? null) : null),
        ...(encoded === undefined ? {} : { parts: encoded }),
      };
      if (call.cacheMode === "read-write" && encoded !== undefined) storeInCache(layer, call, cached);
      await finish(
        layer,
        call,
        cached,
        false,
        performance.now() - started,
        outcome.failures.length + 1,
        costUsd,
        outcome.limiterWaitMs,
      );
    },
    onFailure: (error: unknown, cancelled: boolean) => {
      // The provider has seen the prompt: count its (estimated) input, not the unknown output.
      outcome.admission.reconcile(call.inputTokens);
      outcome.admission.release();
      const inputCost = price ? costOf(price, { ...ZERO_USAGE, inputTokens: call.inputTokens }) : 0;
      reservation.commit({ tokens: call.inputTokens, costUsd: inputCost });
      if (!cancelled)
        layer.failed({ requested: call.requested.key, stage: call.stage, item: call.item, error });
    },
    host: layer,
    candidateKey: candidate.key,
  });
  return {
    stream: relayed,
    ...(opened.request === undefined ? {} : { request: opened.request }),
    ...(opened.response === undefined ? {} : { response: opened.response }),
  };
}
