import type { EmbeddingModelV4, EmbeddingModelV4CallOptions, EmbeddingModelV4Result } from "@ai-sdk/provider";
import type { JsonValue } from "../canonical.ts";
import type { CacheMode } from "./cache.ts";
import { openCallJournal, recordCall, recordedFor } from "./call-journal.ts";
import { fromJsonValue, ZERO_USAGE } from "./codec.ts";
import type { LayerCore } from "./layer-core.ts";
import { type Candidate, disposeOutcome, execute } from "./pipeline.ts";
import { costOf, worstCaseCost } from "./pricing.ts";
import { canonicalRequest, embeddingValueKey, providerParams } from "./request-hash.ts";
import { type RetryConfig, requestIdFromHeaders } from "./retry.ts";
import type { TimeoutConfig } from "./timeout.ts";

/**
 * One call of a wrapped embedding model. Each input value is cached on its own, keyed by
 * the hash of its content (and model, dimensions and provider options), so a batch with a
 * few new values only sends those. Provider calls count against the caps per run and per
 * phase; past a cap (or with a cap of 0) the call throws `EmbeddingCapError` and the caller
 * falls back, typically to lexical search. There are no fallback *models*: vectors from
 * another model live in another space and must not be mixed with cached ones.
 */

export interface EmbeddingTarget {
  candidate: Candidate<EmbeddingModelV4>;
  phase: string | undefined;
  retry: RetryConfig;
  timeout: TimeoutConfig;
  cacheMode: CacheMode;
}

const MODE_RANK: Record<CacheMode, number> = { off: 0, "read-only": 1, "read-write": 2 };

export async function embed(
  layer: LayerCore,
  target: EmbeddingTarget,
  params: EmbeddingModelV4CallOptions,
): Promise<EmbeddingModelV4Result> {
  const callOptions = layer.callOptions(params);
  const phase = callOptions?.phase ?? callOptions?.stage ?? target.phase ?? "default";
  const { candidate } = target;
  const request = canonicalRequest("embed", candidate.key, params);
  const journal = openCallJournal();
  if (journal?.recorded) {
    const data = await recordedFor(journal, journal.recorded, request.hash, candidate.key);
    const usage = data["usage"] as { inputTokens: number } | undefined;
    return {
      embeddings: fromJsonValue(data["embeddings"] as JsonValue) as number[][],
      usage: { tokens: usage?.inputTokens ?? 0 },
      warnings: [],
    };
  }
  const started = performance.now();
  const scope = journal?.scope;
  const runId = scope?.runId;
  const cache = layer.cache;
  let mode: CacheMode = cache === undefined ? "off" : cache.mode;
  for (const m of [target.cacheMode, callOptions?.cacheMode])
    if (m && MODE_RANK[m] < MODE_RANK[mode]) mode = m;

  const sent = providerParams(params);
  const { values, abortSignal: _signal, headers: _headers, ...keyParams } = sent;
  const keys = mode === "off" ? undefined : values.map((v) => embeddingValueKey(candidate.key, v, keyParams));
  const vectors: (number[] | undefined)[] = new Array(values.length);
  let hits = 0;
  if (keys && cache) {
    for (let i = 0; i < keys.length; i++) {
      const hit = cache.get(keys[i] as string);
      if (hit) {
        vectors[i] = (hit.value as { embedding: number[] }).embedding;
        hits += 1;
      }
    }
  }
  const missing: number[] = [];
  for (let i = 0; i < values.length; i++) if (vectors[i] === undefined) missing.push(i);
  layer.countEmbeddingValues(runId, phase, hits, missing.length);

  let tokens = 0;
  let costUsd: number | null = 0;
  let requestId: string | null = null;
  let attempts = 0;
  let providerResult: EmbeddingModelV4Result | undefined;
  const price = layer.pricing.priceOf(candidate.provider, candidate.modelId);
  if (missing.length > 0) {
    layer.admitEmbeddingCall(runId, phase);
    const missValues = missing.map((i) => values[i] as string);
    const estimate = Math.max(1, Math.ceil(missValues.reduce((n, v) => n + Buffer.byteLength(v), 0) / 3));
    const reservation = layer.reserve(scope, phase, phase, {
      tokens: estimate,
      costUsd: price ? worstCaseCost(price, estimate, 0) : 0,
    });
    let outcome: Awaited<ReturnType<typeof execute<EmbeddingModelV4, EmbeddingModelV4Result>>>;
    try {
      outcome = await execute(
        layer,
        [candidate],
        {
          requested: candidate.key,
          callerSignal: params.abortSignal,
          retry: target.retry,
          timeout: target.timeout,
          reserveTokens: estimate,
          inputTokens: estimate,
          fairKey: runId ?? phase,
          fallbackOn: () => false,
          stream: false,
        },
        (model, ctx) =>
          Promise.resolve(model.doEmbed({ ...sent, values: missValues, abortSignal: ctx.signal })),
      );
    } catch (error) {
      reservation.release();
      layer.failed({ requested: candidate.key, stage: phase, item: callOptions?.item, error });
      throw error;
    }
    disposeOutcome(outcome);
    providerResult = outcome.value;
    tokens = providerResult.usage?.tokens ?? estimate;
    outcome.admission.reconcile(tokens);
    outcome.admission.release();
    costUsd = price ? costOf(price, { ...ZERO_USAGE, inputTokens: tokens }) : null;
    reservation.commit({ tokens, costUsd: costUsd ?? 0 });
    requestId = requestIdFromHeaders(providerResult.response?.headers) ?? null;
    attempts = outcome.failures.length + 1;
    missing.forEach((index, j) => {
      const vector = providerResult?.embeddings[j] as number[];
      vectors[index] = vector;
      if (mode === "read-write" && keys) {
        cache?.set(
          keys[index] as string,
          { embedding: vector },
          {
            kind: "embed",
            stage: phase,
            model: candidate.key,
          },
        );
      }
    });
  }
  const embeddings = vectors as number[][];
  const usage = { ...ZERO_USAGE, inputTokens: tokens };
  const latencyMs = performance.now() - started;
  const cacheHit = missing.length === 0;
  const family = candidate.provider.split(".")[0] ?? candidate.provider;
  if (journal) {
    await recordCall(journal, {
      kind: "embed",
      requestHash: request.hash,
      provider: family,
      modelId: candidate.modelId,
      requested: candidate.key,
      stage: phase,
      ...(callOptions?.item === undefined ? {} : { item: callOptions.item }),
      usage,
      costUsd,
      latencyMs: Math.round(latencyMs * 1000) / 1000,
      requestId,
      cacheHit,
      attempts,
      embeddings,
    });
  }
  layer.answered({
    kind: "embed",
    requested: candidate.key,
    provider: family,
    modelId: candidate.modelId,
    stage: phase,
    usage,
    costUsd,
    cacheHit,
    latencyMs,
    requestId: requestId ?? undefined,
    attempts,
  });
  return {
    embeddings,
    usage: { tokens },
    warnings: providerResult?.warnings ?? [],
    ...(providerResult?.providerMetadata === undefined
      ? {}
      : { providerMetadata: providerResult.providerMetadata }),
    ...(providerResult?.response === undefined ? {} : { response: providerResult.response }),
  };
}
