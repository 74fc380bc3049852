import type { TokenUsage } from "./codec.ts";

/**
 * Prices in USD per million tokens. A model may have tiers by prompt length (Gemini 2.5 Pro
 * charges more above 200k input tokens); cache reads and writes and reasoning tokens have
 * their own prices where the provider bills them differently.
 */
export interface PriceRates {
  input: number;
  output: number;
  /** Cached input read; default: `input`. */
  cacheRead?: number;
  /** Input written to the prompt cache; default: `input`. */
  cacheWrite?: number;
  /** Reasoning output; default: `output`. */
  reasoning?: number;
}

export interface ModelPrice extends PriceRates {
  /** Rates that replace the base ones when the prompt has more than `aboveInputTokens`. */
  tiers?: Array<Partial<PriceRates> & { aboveInputTokens: number }>;
}

export type PricingMap = Record<string, ModelPrice>;

/**
 * List prices of common models (USD per million tokens, as published by the providers in
 * mid-2025). Prices change: pass `pricing` to override or extend them. Keys are model ids;
 * a key also matches ids that start with it (`claude-sonnet-4` matches
 * `claude-sonnet-4-20250514`), and `provider:model` keys take precedence.
 */
export const DEFAULT_PRICING: PricingMap = {
  "gpt-4o": { input: 2.5, cacheRead: 1.25, output: 10 },
  "gpt-4o-mini": { input: 0.15, cacheRead: 0.075, output: 0.6 },
  "gpt-4.1": { input: 2, cacheRead: 0.5, output: 8 },
  "gpt-4.1-mini": { input: 0.4, cacheRead: 0.1, output: 1.6 },
  "gpt-4.1-nano": { input: 0.1, cacheRead: 0.025, output: 0.4 },
  "gpt-5": { input: 1.25, cacheRead: 0.125, output: 10 },
  "gpt-5-mini": { input: 0.25, cacheRead: 0.025, output: 2 },
  "gpt-5-nano": { input: 0.05, cacheRead: 0.005, output: 0.4 },
  o3: { input: 2, cacheRead: 0.5, output: 8 },
  "o4-mini": { input: 1.1, cacheRead: 0.275, output: 4.4 },
  "text-embedding-3-small": { input: 0.02, output: 0 },
  "text-embedding-3-large": { input: 0.13, output: 0 },
  "claude-opus-4": { input: 15, cacheRead: 1.5, cacheWrite: 18.75, output: 75 },
  "claude-sonnet-4": { input: 3, cacheRead: 0.3, cacheWrite: 3.75, output: 15 },
  "claude-3-7-sonnet": { input: 3, cacheRead: 0.3, cacheWrite: 3.75, output: 15 },
  "claude-3-5-haiku": { input: 0.8, cacheRead: 0.08, cacheWrite: 1, output: 4 },
  "gemini-2.5-pro": {
    input: 1.25,
    cacheRead: 0.31,
    output: 10,
    tiers: [{ aboveInputTokens: 200_000, input: 2.5, cacheRead: 0.625, output: 15 }],
  },
  "gemini-2.5-flash": { input: 0.3, cacheRead: 0.075, output: 2.5 },
  "gemini-2.5-flash-lite": { input: 0.1, cacheRead: 0.025, output: 0.4 },
  "gemini-2.0-flash": { input: 0.1, cacheRead: 0.025, output: 0.4 },
};

export class Pricing {
  readonly #map: PricingMap;
  readonly #prefixes: string[];
  readonly #memo = new Map<string, ModelPrice | undefined>();

  constructor(overrides: PricingMap = {}, base: PricingMap = DEFAULT_PRICING) {
    this.#map = { ...base, ...overrides };
    // Longest first, so `gpt-4o-mini` wins over `gpt-4o` for `gpt-4o-mini-2024-07-18`.
    this.#prefixes = Object.keys(this.#map).sort((a, b) => b.length - a.length);
  }

  /** The price of `modelId` from `provider` (the AI SDK provider id, e.g. `openai.chat`). */
  priceOf(provider: string, modelId: string): ModelPrice | undefined {
    const memoKey = `${provider}\0${modelId}`;
    if (this.#memo.has(memoKey)) return this.#memo.get(memoKey);
    const family = provider.split(".")[0] ?? provider;
    const price =
      this.#map[`${provider}:${modelId}`] ??
      this.#map[`${family}:${modelId}`] ??
      this.#map[modelId] ??
      this.#byPrefix(`${family}:${modelId}`) ??
      this.#byPrefix(modelId);
    this.#memo.set(memoKey, price);
    return price;
  }

  #byPrefix(id: string): ModelPrice | undefined {
    for (const key of this.#prefixes) if (id.startsWith(key)) return this.#map[key];
    return undefined;
  }
}

/** The rates that apply to a prompt of `inputTokens`. */
export function ratesFor(price: ModelPrice, inputTokens: number): PriceRates {
  let rates: PriceRates = price;
  let bound = -1;
  for (const tier of price.tiers ?? []) {
    if (inputTokens > tier.aboveInputTokens && tier.aboveInputTokens > bound) {
      bound = tier.aboveInputTokens;
      rates = { ...price, ...tier };
    }
  }
  return rates;
}

/** Cost in USD of a call's usage. */
export function costOf(price: ModelPrice, usage: TokenUsage): number {
  const r = ratesFor(price, usage.inputTokens);
  const uncached = Math.max(0, usage.inputTokens - usage.cacheReadTokens - usage.cacheWriteTokens);
  const text = Math.max(0, usage.outputTokens - usage.reasoningTokens);
  const micro =
    uncached * r.input +
    usage.cacheReadTokens * (r.cacheRead ?? r.input) +
    usage.cacheWriteTokens * (r.cacheWrite ?? r.input) +
    text * r.output +
    usage.reasoningTokens * (r.reasoning ?? r.output);
  return micro / 1e6;
}

/** The most a call of `inputTokens` in and at most `outputTokens` out can cost. */
export function worstCaseCost(price: ModelPrice, inputTokens: number, outputTokens: number): number {
  const r = ratesFor(price, inputTokens);
  const inRate = Math.max(r.input, r.cacheWrite ?? 0, r.cacheRead ?? 0);
  const outRate = Math.max(r.output, r.reasoning ?? 0);
  return (inputTokens * inRate + outputTokens * outRate) / 1e6;
}
