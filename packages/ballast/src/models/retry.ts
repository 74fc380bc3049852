import { APICallError } from "@ai-sdk/provider";
import { BallastError } from "../errors.ts";
import { backoffDelay, retryAfterMs } from "../util/backoff.ts";

/**
 * Which failures are worth another attempt, and how long to wait before it. The wrapper is
 * the only retry loop (callers pass `maxRetries: 0` to the AI SDK), so this is the single
 * place that decides.
 */

export interface RetryConfig {
  /** Retries after the first attempt, per candidate model. Default 3. */
  maxRetries?: number;
  /** Backoff cap of the first retry. Default 250 ms. */
  baseDelayMs?: number;
  /** No wait is longer than this, Retry-After included. Default 20 000 ms. */
  maxDelayMs?: number;
  /** Random source in [0, 1) for the jitter. Default Math.random. */
  random?: () => number;
}

export interface FailureInfo {
  retryable: boolean;
  /** Whether the failure says something about the provider's health (breaker). */
  countsAgainstProvider: boolean;
  statusCode?: number;
  requestId?: string;
  /** The wait the provider asked for (Retry-After), in ms. */
  retryAfterMs?: number;
  code: string;
  message: string;
}

/** Headers that carry the provider's request id (OpenAI, Anthropic, Azure/AWS, Google). */
const REQUEST_ID_HEADERS = [
  "x-request-id",
  "request-id",
  "x-amzn-requestid",
  "x-goog-request-id",
  "x-ms-request-id",
];

export function requestIdFromHeaders(
  headers: Record<string, string | undefined> | undefined,
): string | undefined {
  if (headers === undefined) return undefined;
  for (const name of REQUEST_ID_HEADERS) {
    const value = headers[name];
    if (value) return value;
  }
  return undefined;
}

const NETWORK_CODES = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "ECONNABORTED",
  "ETIMEDOUT",
  "EPIPE",
  "EAI_AGAIN",
  "ENOTFOUND",
  "UND_ERR_SOCKET",
  "UND_ERR_CLOSED",
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT",
]);

function isNetworkError(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && NETWORK_CODES.has(code)) return true;
    if (e instanceof TypeError && /fetch failed|terminated|network|socket/i.test(e.message)) return true;
  }
  return false;
}

/** 408, 409, 429 and 5xx are worth retrying; other 4xx are the request's fault. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 409 || status === 429 || status >= 500;
}

export function classifyFailure(error: unknown): FailureInfo {
  const message = error instanceof Error ? error.message : String(error);
  if (APICallError.isInstance(error)) {
    const status = error.statusCode;
    // No status, or a 2xx whose body failed to arrive: a network failure, as the SDK judged it.
    const networkFailure = status === undefined || status < 400;
    const retryable = networkFailure ? error.isRetryable : isRetryableStatus(status);
    const headers = error.responseHeaders;
    const retryAfter = headers
      ? headers["retry-after-ms"] !== undefined && Number.isFinite(Number(headers["retry-after-ms"]))
        ? Math.max(0, Number(headers["retry-after-ms"]))
        : retryAfterMs(headers["retry-after"], Date.now())
      : undefined;
    const info: FailureInfo = {
      retryable,
      // A 429 says we are over quota, not that the provider is unhealthy: the limiter and
      // Retry-After deal with it, and opening the breaker would shut out a working model.
      countsAgainstProvider: retryable && status !== 429,
      code: networkFailure ? "network_error" : `http_${status}`,
      message,
    };
    if (!networkFailure) info.statusCode = status;
    const requestId = requestIdFromHeaders(headers);
    if (requestId) info.requestId = requestId;
    if (retryAfter !== undefined) info.retryAfterMs = retryAfter;
    return info;
  }
  if (BallastError.isInstance(error)) {
    const requestId = error.details["requestId"];
    return {
      retryable: error.isRetryable,
      // An open circuit says nothing new about the provider; budget and validation errors nothing at all.
      countsAgainstProvider: error.isRetryable && error.code !== "circuit_open",
      code: error.code,
      message,
      ...(typeof requestId === "string" ? { requestId } : {}),
    };
  }
  if (isNetworkError(error))
    return { retryable: true, countsAgainstProvider: true, code: "network_error", message };
  const flagged = (error as { isRetryable?: unknown } | null)?.isRetryable === true;
  return {
    retryable: flagged,
    countsAgainstProvider: flagged,
    code: error instanceof Error ? error.name : "error",
    message,
  };
}

/** An abort the caller asked for (never retried, never a fallback). */
export function isCallerAbort(error: unknown, callerSignal: AbortSignal | undefined): boolean {
  return callerSignal?.aborted === true && (error === callerSignal.reason || isAbortLike(error));
}

function isAbortLike(error: unknown): boolean {
  return error instanceof Error && (error.name === "AbortError" || error.name === "TimeoutError");
}

/**
 * The wait before retry `attempt` (0 = the first retry): exponential backoff with full
 * jitter, at least what Retry-After asks for, never more than `maxDelayMs`. Returns
 * undefined when the provider asks for a longer wait than `maxDelayMs` allows: retrying
 * sooner would only fail again, so the call moves on (to a fallback) instead.
 */
export function retryDelayMs(attempt: number, failure: FailureInfo, config: RetryConfig): number | undefined {
  const maxMs = config.maxDelayMs ?? 20_000;
  const jitter = backoffDelay(
    attempt,
    { baseMs: config.baseDelayMs ?? 250, maxMs },
    config.random ?? Math.random,
  );
  if (failure.retryAfterMs === undefined) return jitter;
  if (failure.retryAfterMs > maxMs) return undefined;
  return Math.min(maxMs, Math.max(jitter, failure.retryAfterMs));
}

/** Resolves after `ms`, or rejects with the signal's reason when it aborts first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(signal.reason);
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
