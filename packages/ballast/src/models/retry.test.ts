import { APICallError } from "@ai-sdk/provider";
import { describe, expect, it } from "vitest";
import { RetryableError, ValidationError } from "../errors.ts";
import { CircuitOpenError, ModelTimeoutError } from "./errors.ts";
import { classifyFailure, isCallerAbort, isRetryableStatus, retryDelayMs, sleep } from "./retry.ts";

function apiError(statusCode: number | undefined, headers?: Record<string, string>, isRetryable = false) {
  return new APICallError({
    message: `status ${statusCode}`,
    url: "http://x",
    requestBodyValues: {},
    ...(statusCode === undefined ? {} : { statusCode }),
    ...(headers ? { responseHeaders: headers } : {}),
    isRetryable,
  });
}

describe("failure classification", () => {
  it("retries 408, 409, 429 and 5xx, not other 4xx", () => {
    expect([408, 409, 429, 500, 502, 503, 504, 529].every(isRetryableStatus)).toBe(true);
    expect([400, 401, 403, 404, 413, 422].some(isRetryableStatus)).toBe(false);
    expect(classifyFailure(apiError(429)).retryable).toBe(true);
    // Over quota is not ill health: a 429 never trips the breaker, a 503 does.
    expect(classifyFailure(apiError(429)).countsAgainstProvider).toBe(false);
    expect(classifyFailure(apiError(503)).countsAgainstProvider).toBe(true);
    expect(classifyFailure(apiError(404))).toMatchObject({
      retryable: false,
      code: "http_404",
      statusCode: 404,
    });
  });

  it("reads Retry-After, retry-after-ms and the request id from the response headers", () => {
    expect(classifyFailure(apiError(429, { "retry-after": "2", "x-request-id": "req_1" }))).toMatchObject({
      retryAfterMs: 2000,
      requestId: "req_1",
    });
    expect(classifyFailure(apiError(429, { "retry-after-ms": "150", "request-id": "req_2" }))).toMatchObject({
      retryAfterMs: 150,
      requestId: "req_2",
    });
    expect(classifyFailure(apiError(503, {})).retryAfterMs).toBeUndefined();
  });

  it("treats network failures as retryable, with or without the SDK's wrapper", () => {
    expect(classifyFailure(apiError(undefined, undefined, true))).toMatchObject({
      retryable: true,
      code: "network_error",
    });
    const reset = Object.assign(new Error("socket hang up"), { code: "ECONNRESET" });
    expect(classifyFailure(reset)).toMatchObject({ retryable: true, code: "network_error" });
    expect(classifyFailure(new TypeError("fetch failed", { cause: reset })).retryable).toBe(true);
    expect(classifyFailure(new Error("plain")).retryable).toBe(false);
    expect(classifyFailure("a string").message).toBe("a string");
    expect(classifyFailure({ isRetryable: true }).retryable).toBe(true);
  });

  it("uses ballast errors' own retryability; an open circuit does not count against the provider", () => {
    const timeout = new ModelTimeoutError({ kind: "attempt", timeoutMs: 5, model: "m" });
    expect(classifyFailure(timeout)).toMatchObject({
      retryable: true,
      countsAgainstProvider: true,
      code: "model_timeout",
    });
    expect(classifyFailure(new CircuitOpenError("m", 10))).toMatchObject({
      retryable: true,
      countsAgainstProvider: false,
    });
    expect(classifyFailure(new ValidationError("bad", "no"))).toMatchObject({ retryable: false });
    const withId = new RetryableError({ code: "x", message: "m", details: { requestId: "req_9" } });
    expect(classifyFailure(withId).requestId).toBe("req_9");
  });

  it("knows the caller's own aborts", () => {
    const controller = new AbortController();
    expect(isCallerAbort(new Error("x"), controller.signal)).toBe(false);
    controller.abort();
    expect(isCallerAbort(controller.signal.reason, controller.signal)).toBe(true);
    expect(isCallerAbort(new DOMException("aborted", "AbortError"), controller.signal)).toBe(true);
    expect(isCallerAbort(new Error("other"), undefined)).toBe(false);
  });
});

describe("retry delays", () => {
  const info = { retryable: true, countsAgainstProvider: true, code: "http_503", message: "" };

  it("full jitter within an exponential, clamped cap", () => {
    const config = { baseDelayMs: 100, maxDelayMs: 1000, random: () => 0.99999 };
    expect([0, 1, 2, 3, 4, 10].map((a) => retryDelayMs(a, info, config))).toEqual([
      100, 200, 400, 800, 1000, 1000,
    ]);
    expect(retryDelayMs(3, info, { ...config, random: () => 0 })).toBe(0);
  });

  it("waits at least what Retry-After asks, and gives up when it asks too much", () => {
    const config = { baseDelayMs: 100, maxDelayMs: 5000, random: () => 0.5 };
    expect(retryDelayMs(0, { ...info, retryAfterMs: 3000 }, config)).toBe(3000);
    expect(retryDelayMs(0, { ...info, retryAfterMs: 10 }, config)).toBe(50);
    expect(retryDelayMs(0, { ...info, retryAfterMs: 6000 }, config)).toBeUndefined();
  });

  it("sleep ends early when its signal aborts", async () => {
    await expect(sleep(0)).resolves.toBeUndefined();
    const controller = new AbortController();
    const pending = sleep(10_000, controller.signal);
    controller.abort(new Error("stop"));
    await expect(pending).rejects.toThrow("stop");
    await expect(sleep(5, controller.signal)).rejects.toThrow("stop");
    await expect(sleep(1, new AbortController().signal)).resolves.toBeUndefined();
  });
});
