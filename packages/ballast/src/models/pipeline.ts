import type { CircuitBreaker } from "./breaker.ts";
import type { Chaos } from "./chaos.ts";
import {
  type AttemptRecord,
  CircuitOpenError,
  InjectedFailureError,
  ModelCallFailedError,
} from "./errors.ts";
import { withFallbacks } from "./fallback.ts";
import type { Admission, ModelLimiter } from "./limiter.ts";
import type { ModelEvent } from "./options.ts";
import { classifyFailure, type FailureInfo, type RetryConfig, retryDelayMs, sleep } from "./retry.ts";
import { type TimedSignal, type TimeoutConfig, timedSignal } from "./timeout.ts";

/**
 * The part of a call that talks to providers, composed here: for each candidate model in
 * order (fallback.ts: the model, then its fallbacks), a retry loop (retry.ts) whose every
 * attempt passes the candidate's limiter (limiter.ts), its circuit breaker (breaker.ts) and
 * the attempt timeout (timeout.ts) before reaching the provider.
 *
 *   fallback ─► retry ─► limits ─► breaker ─► timeout ─► provider
 *
 * Retries come before fallbacks (a transient failure is retried on the same model first);
 * limits, breaker and timeout are per provider:model, so every attempt on every candidate
 * passes them. The call timeout spans the whole loop.
 */

export interface Candidate<M> {
  model: M;
  /** `provider:modelId`, the key of limits, breakers, prices and logs. */
  key: string;
  provider: string;
  modelId: string;
}

export interface PipelineHost {
  limiter(key: string): ModelLimiter;
  breaker(key: string): CircuitBreaker;
  readonly chaos: Chaos | undefined;
  emit(event: ModelEvent): void;
}

export interface ExecuteOptions {
  /** Key of the requested (first) model, for errors and the call timeout. */
  requested: string;
  callerSignal: AbortSignal | undefined;
  retry: RetryConfig;
  timeout: TimeoutConfig;
  /** Tokens the limiter reserves per attempt. */
  reserveTokens: number;
  /** Input tokens the provider probably counted when an attempt failed after it was sent. */
  inputTokens: number;
  fairKey: string;
  fallbackOn: (error: unknown) => boolean;
  /** Streams keep their timers and limiter slot after success, until the stream ends. */
  stream: boolean;
}

export interface AttemptContext {
  signal: AbortSignal | undefined;
  candidate: Candidate<unknown>;
}

export interface Outcome<T, M> {
  value: T;
  candidate: Candidate<M>;
  /** The answering attempt's limiter slot: reconcile and release it when the call is over. */
  admission: Admission;
  /** The call's signal (caller abort or call timeout); follow it after the first chunk. */
  callSignal: TimedSignal;
  /** Attempt timers of the answering attempt (still following `callSignal`). */
  attemptSignals: TimedSignal[];
  /** Failed attempts before the answer. */
  failures: AttemptRecord[];
  /** Time spent queued for limiter slots, over every attempt (ms). */
  limiterWaitMs: number;
}

/** Ends every timer of a finished call. */
export function disposeOutcome(
  outcome: Pick<Outcome<unknown, unknown>, "callSignal" | "attemptSignals">,
): void {
  for (const s of outcome.attemptSignals) s.dispose();
  outcome.callSignal.dispose();
}

function record(candidate: Candidate<unknown>, info: FailureInfo): AttemptRecord {
  const out: AttemptRecord = {
    model: candidate.key,
    code: info.code,
    message: info.message,
    retryable: info.retryable,
  };
  if (info.statusCode !== undefined) out.statusCode = info.statusCode;
  if (info.requestId !== undefined) out.requestId = info.requestId;
  return out;
}

export async function execute<M, T>(
  host: PipelineHost,
  candidates: readonly Candidate<M>[],
  options: ExecuteOptions,
  run: (model: M, context: AttemptContext) => Promise<T>,
): Promise<Outcome<T, M>> {
  const call = timedSignal(options.callerSignal, options.timeout.callMs, "call", options.requested);
  const failures: AttemptRecord[] = [];
  const waited = { ms: 0 };
  let result: Awaited<ReturnType<typeof withFallbacks<Candidate<M>, Outcome<T, M>>>>;
  try {
    result = await withFallbacks(
      candidates,
      (candidate) => retryLoop(host, candidate, options, call, failures, waited, run),
      {
        isFinal: () => options.callerSignal?.aborted === true && call.timedOut() === undefined,
        isOver: () => call.timedOut() !== undefined,
        fallbackOn: options.fallbackOn,
        onFallback: (from, to, info) =>
          host.emit({ type: "fallback", from, to, code: info.code, reason: info.message }),
      },
    );
  } catch (error) {
    call.dispose();
    throw error;
  }
  if (result.ok) return result.value;
  call.dispose();
  throw new ModelCallFailedError({
    model: options.requested,
    attempts: failures,
    cause: result.error,
    retryable: result.info?.retryable ?? false,
  });
}

async function retryLoop<M, T>(
  host: PipelineHost,
  candidate: Candidate<M>,
  options: ExecuteOptions,
  call: TimedSignal,
  failures: AttemptRecord[],
  waited: { ms: number },
  run: (model: M, context: AttemptContext) => Promise<T>,
): Promise<Outcome<T, M>> {
  const breaker = host.breaker(candidate.key);
  const limiter = host.limiter(candidate.key);
  const maxRetries = options.retry.maxRetries ?? 3;
  for (let attempt = 0; ; attempt++) {
    // An open breaker is known before queueing: do not wait for a slot it would refuse.
    if (breaker.state === "open") {
      const error = new CircuitOpenError(candidate.key, breaker.retryInMs());
      failures.push(record(candidate, classifyFailure(error)));
      throw error;
    }
    let admission: Admission | undefined;
    let acquired = false;
    let sent = false;
    const signals: TimedSignal[] = [];
    try {
      const queuedAt = performance.now();
      admission = await limiter.admit(options.reserveTokens, options.fairKey, call.signal);
      waited.ms += performance.now() - queuedAt;
      if (!breaker.tryAcquire()) throw new CircuitOpenError(candidate.key, breaker.retryInMs());
      acquired = true;
      const perAttempt = timedSignal(call.signal, options.timeout.attemptMs, "attempt", candidate.key);
      signals.push(perAttempt);
      let signal = perAttempt.signal;
      if (options.stream && options.timeout.firstChunkMs !== undefined) {
        const firstChunk = timedSignal(signal, options.timeout.firstChunkMs, "first_chunk", candidate.key);
        signals.push(firstChunk);
        signal = firstChunk.signal;
      }
      if (host.chaos?.strike()) throw new InjectedFailureError(candidate.key);
      sent = true;
      admission.dispatched();
      const value = await run(candidate.model, { signal, candidate: candidate as Candidate<unknown> });
      breaker.onSuccess();
      if (options.stream) for (const s of signals) s.stop();
      else for (const s of signals) s.dispose();
      return {
        value,
        candidate,
        admission,
        callSignal: call,
        attemptSignals: signals,
        failures,
        limiterWaitMs: waited.ms,
      };
    } catch (raw) {
      const timeout = signals.map((s) => s.timedOut()).find((e) => e !== undefined) ?? call.timedOut();
      for (const s of signals) s.dispose();
      if (admission !== undefined) {
        if (sent) {
          admission.reconcile(options.inputTokens);
          admission.release();
        } else admission.cancel();
      }
      if (timeout === undefined && options.callerSignal?.aborted) {
        if (acquired) breaker.releaseUnused();
        throw raw;
      }
      const error = timeout ?? raw;
      const info = classifyFailure(error);
      if (acquired) {
        if (info.countsAgainstProvider) breaker.onFailure();
        else breaker.releaseUnused();
      }
      failures.push(record(candidate, info));
      if (!info.retryable || attempt >= maxRetries || error instanceof CircuitOpenError || call.timedOut())
        throw error;
      const delay = retryDelayMs(attempt, info, options.retry);
      if (delay === undefined) throw error;
      host.emit({
        type: "retry",
        model: candidate.key,
        attempt: attempt + 1,
        delayMs: delay,
        code: info.code,
        ...(info.requestId ? { requestId: info.requestId } : {}),
      });
      try {
        await sleep(delay, call.signal);
      } catch {
        // The call timed out (or was aborted) while waiting: report that, not the sleep.
        const timedOut = call.timedOut();
        if (timedOut) failures.push(record(candidate, classifyFailure(timedOut)));
        throw timedOut ?? options.callerSignal?.reason ?? error;
      }
    }
  }
}

/** `provider:modelId`, with the provider family (`openai.chat` → `openai`). */
export function modelKey(model: { provider: string; modelId: string }): string {
  return `${model.provider.split(".")[0] ?? model.provider}:${model.modelId}`;
}

export function candidateOf<M extends { provider: string; modelId: string }>(model: M): Candidate<M> {
  return { model, key: modelKey(model), provider: model.provider, modelId: model.modelId };
}
