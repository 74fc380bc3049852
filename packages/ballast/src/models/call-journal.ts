import type { JsonValue } from "../canonical.ts";
import { currentScope, DivergenceError, type RunScope } from "../flow/scope.ts";
import type { JournalEvent } from "../journal/types.ts";
import type { TokenUsage } from "./codec.ts";
import type { CallKind } from "./request-hash.ts";

/**
 * A model call inside a run: its effect key, reserved synchronously when the call starts (so
 * concurrent calls cannot race for keys), and the event an earlier execution recorded under
 * it. A recorded event is served instead of calling the provider (resume and replay); if
 * its request hash differs from this call's, the code or its inputs changed: a divergence.
 */

export interface CallJournal {
  scope: RunScope;
  key: string;
  recorded: JournalEvent | undefined;
}

export function openCallJournal(): CallJournal | undefined {
  const scope = currentScope();
  if (scope === undefined) return undefined;
  const key = scope.nextEffectKey("model.called");
  return { scope, key, recorded: scope.recordedEffect(key) };
}

/** The recorded event's data, after checking it answers this very request. */
export async function recordedFor(
  journal: CallJournal,
  recorded: JournalEvent,
  requestHash: string,
  model: string,
): Promise<Record<string, JsonValue>> {
  const data = recorded.data as Record<string, JsonValue>;
  if (data["requestHash"] === requestHash) return data;
  const { scope, key } = journal;
  if (scope.mode === "replay") {
    // Let the engine record the divergence in its replay report; it throws.
    await scope.recordEffect(key, "model.called", { requestHash });
  }
  throw new DivergenceError({
    runId: scope.runId,
    key,
    seq: recorded.seq,
    message: `the model call to ${model} in step ${scope.stepId ?? "(workflow body)"} sends a different request than the one recorded (request hash ${requestHash.slice(0, 12)}…, recorded ${String(data["requestHash"]).slice(0, 12)}…): its prompt or settings changed`,
    expected: { requestHash: data["requestHash"] ?? null },
    actual: { requestHash },
  });
}

/** What a `model.called` event holds (besides the engine's `key`). */
export interface ModelCalledData {
  kind: CallKind;
  requestHash: string;
  /** The model that answered (after fallbacks). */
  provider: string;
  modelId: string;
  /** The model that was asked (`provider:modelId`). */
  requested: string;
  stage?: string;
  item?: string;
  usage: TokenUsage;
  /** null when the model has no price. */
  costUsd: number | null;
  latencyMs: number;
  /** Part of `latencyMs` spent queued for rate/concurrency limits (absent when none). */
  limiterWaitMs?: number;
  requestId: string | null;
  cacheHit: boolean;
  /** Provider attempts, retries and fallbacks included (0 for a cache hit). */
  attempts: number;
  /** Generate: the result as the cache and replay hold it. */
  response?: JsonValue;
  /** Stream: every part, in order. */
  parts?: JsonValue;
  /** Embeddings: the vectors, in input order. */
  embeddings?: JsonValue;
  /** Redacted prompt transcript, only with `logPrompts`. */
  prompt?: string;
}

export function recordCall(journal: CallJournal, data: ModelCalledData): Promise<JournalEvent> {
  return journal.scope.recordEffect(journal.key, "model.called", data as unknown as JsonValue);
}
