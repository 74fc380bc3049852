import { ModelTimeoutError, type TimeoutKind } from "./errors.ts";

/**
 * Timeouts through AbortSignal: one for the whole call (retries, waits and fallbacks
 * included), one per attempt, and one to the first stream chunk. Each aborts with a
 * retryable `ModelTimeoutError` as the signal's reason, so the failure is told apart from an
 * abort the caller asked for.
 */

export interface TimeoutConfig {
  /** One provider attempt (for streams: until the first chunk). */
  attemptMs?: number;
  /** The whole call: limiter waits, retries, backoff and fallbacks. */
  callMs?: number;
  /** From dispatch to the first stream chunk. */
  firstChunkMs?: number;
}

export interface TimedSignal {
  /** Undefined when there is neither a parent signal nor a timeout. */
  readonly signal: AbortSignal | undefined;
  /** The timeout error, once this timer (not the parent) fired. */
  timedOut(): ModelTimeoutError | undefined;
  /** Stops the timer but keeps following the parent (a stream past its first chunk). */
  stop(): void;
  /** Stops the timer and stops following the parent. */
  dispose(): void;
}

const NOTHING: TimedSignal = { signal: undefined, timedOut: () => undefined, stop() {}, dispose() {} };

/**
 * A signal that aborts when `parent` aborts or after `ms` (with a ModelTimeoutError of
 * `kind`). Costs nothing when there is no parent and no timeout.
 */
export function timedSignal(
  parent: AbortSignal | undefined,
  ms: number | undefined,
  kind: TimeoutKind,
  model: string,
): TimedSignal {
  if (ms === undefined || ms <= 0) return parent === undefined ? NOTHING : { ...NOTHING, signal: parent };
  const controller = new AbortController();
  let error: ModelTimeoutError | undefined;
  const timer = setTimeout(() => {
    error = new ModelTimeoutError({ kind, timeoutMs: ms, model });
    controller.abort(error);
  }, ms);
  const onParentAbort = () => controller.abort(parent?.reason);
  if (parent?.aborted) onParentAbort();
  else parent?.addEventListener("abort", onParentAbort, { once: true });
  return {
    signal: controller.signal,
    timedOut: () => error,
    stop() {
      clearTimeout(timer);
    },
    dispose() {
      clearTimeout(timer);
      parent?.removeEventListener("abort", onParentAbort);
    },
  };
}

/** The timeout error behind an aborted signal chain, if a timeout caused it. */
export function timeoutReason(signal: AbortSignal | undefined): ModelTimeoutError | undefined {
  return signal?.aborted && signal.reason instanceof ModelTimeoutError ? signal.reason : undefined;
}
