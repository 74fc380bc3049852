import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { BallastError } from "../errors.ts";
import { percentile, summarize } from "./percentiles.ts";

describe("percentiles (nearest rank)", () => {
  it("picks the value at rank ceil(p/100 * n)", () => {
    const values = [15, 20, 35, 40, 50];
    expect(percentile(values, 5)).toBe(15);
    expect(percentile(values, 30)).toBe(20);
    expect(percentile(values, 40)).toBe(20);
    expect(percentile(values, 50)).toBe(35);
    expect(percentile(values, 100)).toBe(50);
    expect(percentile([3, 1, 2], 50)).toBe(2);
  });

  it("summarizes p50, p95 and count, and zeros for no values", () => {
    const values = Array.from({ length: 100 }, (_, i) => 100 - i);
    expect(summarize(values)).toEqual({ p50: 50, p95: 95, count: 100 });
    expect(summarize([])).toEqual({ p50: 0, p95: 0, count: 0 });
    expect(values[0]).toBe(100);
  });

  it("always returns an observed value, ordered p50 <= p95", () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ noNaN: true, noDefaultInfinity: true }), { minLength: 1 }),
        (values) => {
          const s = summarize(values);
          expect(values).toContain(s.p50);
          expect(values).toContain(s.p95);
          expect(s.p50).toBeLessThanOrEqual(s.p95);
          expect(s.count).toBe(values.length);
        },
      ),
    );
  });

  it("rejects no values and out-of-range percentiles", () => {
    for (const [values, p] of [
      [[], 50],
      [[1], 0],
      [[1], 101],
      [[1], Number.NaN],
    ] as Array<[number[], number]>) {
      expect(() => percentile(values, p)).toThrow(BallastError);
    }
  });
});
