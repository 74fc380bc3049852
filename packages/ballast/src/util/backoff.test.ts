import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { BallastError } from "../errors.ts";
import { backoffCap, backoffDelay, retryAfterMs } from "./backoff.ts";

const options = fc.record({
  baseMs: fc.integer({ min: 0, max: 10_000 }),
  maxMs: fc.integer({ min: 0, max: 1_000_000 }),
  factor: fc.option(fc.double({ min: 1, max: 10, noNaN: true }), { nil: undefined }),
});
const unit = fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true });

describe("backoffDelay", () => {
  it("stays a whole number within [0, min(maxMs, base * factor^attempt)]", () => {
    fc.assert(
      fc.property(fc.nat(2_000), options, unit, (attempt, opts, r) => {
        const delay = backoffDelay(attempt, opts, () => r);
        const cap = opts.baseMs === 0 ? 0 : Math.min(opts.maxMs, opts.baseMs * (opts.factor ?? 2) ** attempt);
        expect(backoffCap(attempt, opts)).toBe(cap);
        expect(Number.isInteger(delay)).toBe(true);
        expect(delay).toBeGreaterThanOrEqual(0);
        expect(delay).toBeLessThanOrEqual(cap);
        expect(delay).toBeLessThanOrEqual(opts.maxMs);
      }),
    );
  });

  it("has a cap that never shrinks as attempts grow, and delays that follow it for a fixed draw", () => {
    fc.assert(
      fc.property(fc.nat(200), fc.nat(200), options, unit, (a, b, opts, r) => {
        const [lo, hi] = a <= b ? [a, b] : [b, a];
        expect(backoffCap(lo, opts)).toBeLessThanOrEqual(backoffCap(hi, opts));
        expect(backoffDelay(lo, opts, () => r)).toBeLessThanOrEqual(backoffDelay(hi, opts, () => r));
      }),
    );
  });

  it("doubles by default and clamps at maxMs", () => {
    const opts = { baseMs: 100, maxMs: 1_000 };
    expect([0, 1, 2, 3, 4, 50, 5_000].map((a) => backoffCap(a, opts))).toEqual([
      100, 200, 400, 800, 1_000, 1_000, 1_000,
    ]);
    expect(backoffDelay(3, opts, () => 0.5)).toBe(400);
    expect(backoffDelay(3, opts, () => 0)).toBe(0);
    expect(backoffCap(5_000, { baseMs: 0, maxMs: 1_000, factor: 10 })).toBe(0);
  });

  it("clamps random values outside [0, 1)", () => {
    const opts = { baseMs: 100, maxMs: 1_000, factor: 3 };
    expect(backoffDelay(1, opts, () => 7)).toBe(300);
    expect(backoffDelay(1, opts, () => -1)).toBe(0);
    expect(backoffDelay(1, opts, () => Number.NaN)).toBe(0);
  });

  it("rejects unusable options with invalid_backoff", () => {
    const bad: Array<[number, { baseMs: number; maxMs: number; factor?: number }]> = [
      [-1, { baseMs: 1, maxMs: 1 }],
      [1.5, { baseMs: 1, maxMs: 1 }],
      [0, { baseMs: -1, maxMs: 1 }],
      [0, { baseMs: 1, maxMs: Number.POSITIVE_INFINITY }],
      [0, { baseMs: 1, maxMs: 1, factor: 0.5 }],
    ];
    for (const [attempt, opts] of bad) {
      let caught: unknown;
      try {
        backoffDelay(attempt, opts, Math.random);
      } catch (error) {
        caught = error;
      }
      expect(BallastError.hasCode(caught, "invalid_backoff")).toBe(true);
    }
  });
});

describe("retryAfterMs", () => {
  const now = Date.parse("2025-01-01T00:00:00Z");

  it("reads delay-seconds", () => {
    expect(retryAfterMs("120", now)).toBe(120_000);
    expect(retryAfterMs(" 1.5 ", now)).toBe(1_500);
    expect(retryAfterMs("0", now)).toBe(0);
    expect(retryAfterMs("-5", now)).toBe(0);
  });

  it("reads an HTTP-date relative to now, clamped at zero", () => {
    expect(retryAfterMs("Wed, 01 Jan 2025 00:00:30 GMT", now)).toBe(30_000);
    expect(retryAfterMs("Wed, 01 Jan 2025 00:00:30 GMT", new Date(now))).toBe(30_000);
    expect(retryAfterMs("Tue, 31 Dec 2024 23:00:00 GMT", now)).toBe(0);
  });

  it("returns undefined for a missing or unreadable header", () => {
    expect(retryAfterMs(undefined, now)).toBeUndefined();
    expect(retryAfterMs(null, now)).toBeUndefined();
    expect(retryAfterMs("", now)).toBeUndefined();
    expect(retryAfterMs("soon", now)).toBeUndefined();
  });

  it("never returns a negative wait", () => {
    fc.assert(
      fc.property(fc.string(), fc.integer({ min: 0, max: 4_102_444_800_000 }), (header, at) => {
        const ms = retryAfterMs(header, at);
        if (ms !== undefined) expect(ms).toBeGreaterThanOrEqual(0);
      }),
    );
  });
});
