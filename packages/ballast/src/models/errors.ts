import { BallastError } from "../errors.ts";

/**
 * The model layer's errors. Each has a stable `code` and says what to do next; retryable
 * ones are the failures that may go away on their own.
 */

export type TimeoutKind = "attempt" | "call" | "first_chunk";

/** A model call overran one of its timeouts and was aborted. Retryable. */
export class ModelTimeoutError extends BallastError {
  readonly kind: TimeoutKind;
  constructor(options: { kind: TimeoutKind; timeoutMs: number; model: string }) {
    const what =
      options.kind === "first_chunk"
        ? "waiting for the first stream chunk"
        : options.kind === "call"
          ? "for the whole call (retries included)"
          : "on one attempt";
    super({
      code: "model_timeout",
      message: `Model ${options.model} timed out after ${options.timeoutMs} ms ${what}. Raise \`timeout.${timeoutOption(options.kind)}\` or check the provider's status.`,
      isRetryable: true,
      details: { kind: options.kind, timeoutMs: options.timeoutMs, model: options.model },
    });
    this.name = "ModelTimeoutError";
    this.kind = options.kind;
  }
}

function timeoutOption(kind: TimeoutKind): string {
  return kind === "first_chunk" ? "firstChunkMs" : kind === "call" ? "callMs" : "attemptMs";
}

/** The circuit breaker of every candidate model is open. */
export class CircuitOpenError extends BallastError {
  constructor(model: string, retryInMs: number) {
    super({
      code: "circuit_open",
      message: `The circuit breaker for ${model} is open after repeated failures; it lets a probe through in ${Math.ceil(retryInMs)} ms. Add a fallback model or wait for the provider to recover.`,
      isRetryable: true,
      details: { model, retryInMs },
    });
    this.name = "CircuitOpenError";
  }
}

/** A failure raised on purpose by `injectFailures` (chaos testing). Retryable. */
export class InjectedFailureError extends BallastError {
  constructor(model: string) {
    super({
      code: "injected_failure",
      message: `Injected failure for ${model} (chaos testing with injectFailures). Turn injectFailures off to stop these.`,
      isRetryable: true,
      details: { model },
    });
    this.name = "InjectedFailureError";
  }
}

export interface AttemptRecord {
  model: string;
  code: string;
  message: string;
  statusCode?: number;
  requestId?: string;
  retryable: boolean;
}

/** Every retry and fallback of a call failed; `details.attempts` lists them. */
export class ModelCallFailedError extends BallastError {
  readonly attempts: AttemptRecord[];
  readonly requestIds: string[];
  constructor(options: { model: string; attempts: AttemptRecord[]; cause: unknown; retryable: boolean }) {
    const last = options.attempts[options.attempts.length - 1];
    const requestIds = options.attempts.flatMap((a) => (a.requestId ? [a.requestId] : []));
    const tried = [...new Set(options.attempts.map((a) => a.model))].join(", ");
    super({
      code: "model_call_failed",
      message: `Model call to ${options.model} failed after ${options.attempts.length} attempt${options.attempts.length === 1 ? "" : "s"} (tried ${tried})${last ? `: ${last.message}` : ""}. ${options.retryable ? "The failure looks transient: retry later, or add fallback models." : "The request was rejected: fix the request or the model configuration."}${requestIds.length > 0 ? ` Provider request ids: ${requestIds.join(", ")}.` : ""}`,
      cause: options.cause,
      isRetryable: options.retryable,
      details: {
        model: options.model,
        attempts: options.attempts as unknown as Record<string, unknown>[],
        requestIds,
      },
    });
    this.name = "ModelCallFailedError";
    this.attempts = options.attempts;
    this.requestIds = requestIds;
  }
}

/** A stream failed after content had reached the caller; it is never retried or truncated silently. */
export class StreamInterruptedError extends BallastError {
  constructor(options: { model: string; reason: string; requestId?: string; cause?: unknown }) {
    super({
      code: "stream_interrupted",
      message: `The stream from ${options.model} failed after content had been delivered (${options.reason}); the output is incomplete and was not cached or journaled. Retry the whole call.${options.requestId ? ` Provider request id: ${options.requestId}.` : ""}`,
      cause: options.cause,
      isRetryable: true,
      details: {
        model: options.model,
        reason: options.reason,
        ...(options.requestId ? { requestId: options.requestId } : {}),
      },
    });
    this.name = "StreamInterruptedError";
  }
}

/** A stage or layer budget in `enforce` mode would be exceeded by this call. */
export class ModelBudgetExceededError extends BallastError {
  constructor(options: {
    scope: string;
    dimension: "tokens" | "costUsd";
    limit: number;
    wouldReach: number;
  }) {
    super({
      code: "budget_exceeded",
      message: `The ${options.scope} budget for ${options.dimension} (limit ${options.limit}) would reach ${Math.round(options.wouldReach * 1e6) / 1e6} with this model call, so it was not sent. Raise the budget, or use mode "soft" to only warn.`,
      details: { ...options },
    });
    this.name = "ModelBudgetExceededError";
  }
}

export type EmbeddingFallbackReason = "disabled" | "cap_exceeded";

/** Embeddings are disabled or their call cap is used up; callers fall back (e.g. to lexical search). */
export class EmbeddingCapError extends BallastError {
  readonly reason: EmbeddingFallbackReason;
  constructor(options: {
    reason: EmbeddingFallbackReason;
    scope: "run" | "phase";
    cap: number;
    phase?: string;
  }) {
    const where = options.scope === "phase" ? `phase "${options.phase ?? "default"}"` : "this run";
    super({
      code: options.reason === "disabled" ? "embeddings_disabled" : "embedding_cap_exceeded",
      message:
        options.reason === "disabled"
          ? `Embedding calls are disabled for ${where} (cap 0). Use the lexical fallback, or set the cap to -1 (unlimited) or a positive number.`
          : `The embedding call cap of ${options.cap} for ${where} is used up. Use the lexical fallback, or raise the cap.`,
      details: { ...options },
    });
    this.name = "EmbeddingCapError";
    this.reason = options.reason;
  }
}
