import { describe, expect, it } from "vitest";
import { ZERO_USAGE } from "./codec.ts";
import { costOf, DEFAULT_PRICING, Pricing, ratesFor, worstCaseCost } from "./pricing.ts";

const usage = (u: Partial<typeof ZERO_USAGE>) => ({ ...ZERO_USAGE, ...u });

describe("pricing map", () => {
  it("finds prices by provider:model, model id and longest prefix", () => {
    const pricing = new Pricing({ "openai:gpt-4o-mini": { input: 9, output: 9 } });
    expect(pricing.priceOf("openai.chat", "gpt-4o-mini")?.input).toBe(9);
    expect(pricing.priceOf("azure.chat", "gpt-4o-mini")?.input).toBe(0.15);
    expect(pricing.priceOf("openai.chat", "gpt-4o-mini-2024-07-18")?.input).toBe(9);
    expect(pricing.priceOf("azure", "gpt-4o-mini-2024-07-18")?.input).toBe(0.15);
    expect(pricing.priceOf("anthropic.messages", "claude-sonnet-4-20250514")?.output).toBe(15);
    expect(pricing.priceOf("x", "unknown-model")).toBeUndefined();
    // memoised lookups give the same answer
    expect(pricing.priceOf("x", "unknown-model")).toBeUndefined();
  });

  it("user overrides replace the defaults", () => {
    const pricing = new Pricing({ "gpt-4o": { input: 1, output: 2 } });
    expect(pricing.priceOf("openai.chat", "gpt-4o")).toEqual({ input: 1, output: 2 });
  });
});

describe("costs", () => {
  it("matches hand-computed costs on fixtures within 2%", () => {
    // gpt-4o-mini: 1200 in (200 cached), 300 out at $0.15 / $0.075 / $0.60 per million
    const mini = DEFAULT_PRICING["gpt-4o-mini"]!;
    const expected = (1000 * 0.15 + 200 * 0.075 + 300 * 0.6) / 1e6;
    const got = costOf(mini, usage({ inputTokens: 1200, cacheReadTokens: 200, outputTokens: 300 }));
    expect(Math.abs(got - expected) / expected).toBeLessThan(0.02);
    expect(got).toBeCloseTo(0.000345, 10);

    // claude-sonnet-4 with cache write and read
    const sonnet = DEFAULT_PRICING["claude-sonnet-4"]!;
    const cost = costOf(
      sonnet,
      usage({ inputTokens: 3000, cacheReadTokens: 1000, cacheWriteTokens: 1000, outputTokens: 500 }),
    );
    expect(cost).toBeCloseTo((1000 * 3 + 1000 * 0.3 + 1000 * 3.75 + 500 * 15) / 1e6, 12);
  });

  it("prices reasoning tokens at their own rate, defaulting to output", () => {
    const price = { input: 1, output: 4, reasoning: 10 };
    expect(costOf(price, usage({ outputTokens: 100, reasoningTokens: 40 }))).toBeCloseTo(
      (60 * 4 + 40 * 10) / 1e6,
      12,
    );
    expect(costOf({ input: 1, output: 4 }, usage({ outputTokens: 100, reasoningTokens: 40 }))).toBeCloseTo(
      400 / 1e6,
      12,
    );
  });

  it("switches to the tier above the prompt-length threshold", () => {
    const pro = DEFAULT_PRICING["gemini-2.5-pro"]!;
    expect(ratesFor(pro, 200_000).input).toBe(1.25);
    expect(ratesFor(pro, 200_001).input).toBe(2.5);
    expect(costOf(pro, usage({ inputTokens: 300_000, outputTokens: 1000 }))).toBeCloseTo(
      (300_000 * 2.5 + 1000 * 15) / 1e6,
      10,
    );
    const tiered = {
      input: 1,
      output: 1,
      tiers: [
        { aboveInputTokens: 10, input: 2 },
        { aboveInputTokens: 100, input: 3 },
      ],
    };
    expect(ratesFor(tiered, 50).input).toBe(2);
    expect(ratesFor(tiered, 500).input).toBe(3);
  });

  it("the worst case bounds every real cost of the same size", () => {
    const sonnet = DEFAULT_PRICING["claude-sonnet-4"]!;
    const worst = worstCaseCost(sonnet, 1000, 500);
    for (const u of [
      usage({ inputTokens: 1000, outputTokens: 500 }),
      usage({ inputTokens: 1000, cacheWriteTokens: 1000, outputTokens: 500 }),
      usage({ inputTokens: 1000, cacheReadTokens: 1000, outputTokens: 500, reasoningTokens: 200 }),
    ]) {
      expect(costOf(sonnet, u)).toBeLessThanOrEqual(worst);
    }
  });
});
