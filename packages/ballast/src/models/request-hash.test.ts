import type { LanguageModelV4CallOptions } from "@ai-sdk/provider";
import { describe, expect, it } from "vitest";
import { BudgetLedger, reserveAll } from "./budget.ts";
import { promptTranscript } from "./redact.ts";
import {
  ballastCallOptions,
  canonicalRequest,
  embeddingValueKey,
  estimateInputTokens,
  providerParams,
} from "./request-hash.ts";

const base: LanguageModelV4CallOptions = {
  prompt: [{ role: "user", content: [{ type: "text", text: "hello world" }] }],
  temperature: 0,
};

describe("canonical request", () => {
  it("ignores abort signals, headers and ballast's options, but nothing else", () => {
    const a = canonicalRequest("generate", "openai:m", base);
    const b = canonicalRequest("generate", "openai:m", {
      ...base,
      abortSignal: new AbortController().signal,
      headers: { authorization: "Bearer x" },
      providerOptions: { ballast: { stage: "s" } },
    });
    const c = canonicalRequest("generate", "openai:m", { ...base, providerOptions: {} });
    expect(b.hash).toBe(c.hash);
    expect(a.hash).not.toBe(c.hash); // an explicit (empty) providerOptions is part of the request
    expect(canonicalRequest("generate", "openai:m", { ...base, temperature: 0.1 }).hash).not.toBe(a.hash);
    expect(canonicalRequest("stream", "openai:m", base).hash).not.toBe(a.hash);
    expect(canonicalRequest("generate", "openai:other", base).hash).not.toBe(a.hash);
    expect(a.hash).toMatch(/^[0-9a-f]{64}$/);
  });

  it("strips ballast's options from what the provider is sent", () => {
    const params = { ...base, providerOptions: { ballast: { stage: "x" }, openai: { user: "u" } } };
    expect(providerParams(params).providerOptions).toEqual({ openai: { user: "u" } });
    expect(providerParams(base)).toBe(base);
    expect(ballastCallOptions(params)).toEqual({ stage: "x" });
    expect(ballastCallOptions(base)).toBeUndefined();
  });

  it("estimates input tokens conservatively, files at a flat rate", () => {
    const text = "word ".repeat(400); // about 400 tokens of English
    const params: LanguageModelV4CallOptions = {
      prompt: [{ role: "user", content: [{ type: "text", text }] }],
    };
    const estimate = estimateInputTokens(canonicalRequest("generate", "m", params), params);
    expect(estimate).toBeGreaterThanOrEqual(400);
    expect(estimate).toBeLessThan(1000);
    const image: LanguageModelV4CallOptions = {
      prompt: [
        { role: "system", content: "be brief" },
        {
          role: "user",
          content: [
            { type: "file", mediaType: "image/png", data: { type: "data", data: new Uint8Array(300_000) } },
            { type: "file", mediaType: "image/png", data: { type: "data", data: "A".repeat(40_000) } },
            { type: "file", mediaType: "image/png", data: { type: "url", url: new URL("https://x/y.png") } },
          ],
        },
      ],
    };
    const withFiles = estimateInputTokens(canonicalRequest("generate", "m", image), image);
    expect(withFiles).toBeGreaterThanOrEqual(3000);
    expect(withFiles).toBeLessThan(3500);
  });

  it("keys embedding values by content, model and options", () => {
    const k = embeddingValueKey("openai:e", "alpha", {});
    expect(embeddingValueKey("openai:e", "alpha", {})).toBe(k);
    expect(embeddingValueKey("openai:e", "beta", {})).not.toBe(k);
    expect(embeddingValueKey("openai:e", "alpha", { dimensions: 8 })).not.toBe(k);
  });
});

describe("transcripts", () => {
  it("renders every part kind and redacts secrets", () => {
    const text = promptTranscript([
      { role: "system", content: "rules" },
      { role: "user", content: [{ type: "text", text: "mail bob@example.org" }] },
      {
        role: "assistant",
        content: [
          { type: "reasoning", text: "thinking" },
          { type: "tool-call", toolCallId: "1", toolName: "lookup", input: { q: "x" } },
        ],
      },
      {
        role: "tool",
        content: [
          { type: "tool-result", toolCallId: "1", toolName: "lookup", output: { type: "text", value: "ok" } },
        ],
      },
      {
        role: "user",
        content: [{ type: "file", mediaType: "image/png", data: { type: "text", text: "x" } }],
      },
    ]);
    expect(text.split("\n")).toEqual([
      "system: rules",
      "user: mail <<REDACTED>>",
      "assistant: thinking",
      'assistant: [tool-call lookup] {"q":"x"}',
      'tool: [tool-result lookup] {"type":"text","value":"ok"}',
      "user: [file]",
    ]);
    const cyclic: Record<string, unknown> = {};
    cyclic["self"] = cyclic;
    expect(
      promptTranscript([
        {
          role: "assistant",
          content: [{ type: "tool-call", toolCallId: "1", toolName: "t", input: cyclic }],
        },
      ]),
    ).toContain("[unserialisable]");
  });
});

describe("budget ledgers", () => {
  it("reserves on all or none, and commits actual use", () => {
    const warnings: unknown[] = [];
    const a = new BudgetLedger("a", { costUsd: 1 }, (w) => warnings.push(w));
    const b = new BudgetLedger("b", { costUsd: 0.5 }, (w) => warnings.push(w));
    const both = reserveAll([a, b], { costUsd: 0.4 });
    expect(() => reserveAll([a, b], { costUsd: 0.4 })).toThrow(/stage|budget for costUsd/);
    both.commit({ costUsd: 0.1 });
    both.release(); // no-op after commit
    expect(a.used.costUsd).toBeCloseTo(0.1, 12);
    const again = reserveAll([a, b], { costUsd: 0.3 });
    again.release();
    again.commit({ costUsd: 5 }); // no-op after release
    expect(b.used.costUsd).toBeCloseTo(0.1, 12);
  });

  it("soft mode warns once per dimension, including when actual use crosses", () => {
    const warnings: { dimension: string }[] = [];
    const soft = new BudgetLedger("s", { tokens: 10, mode: "soft" }, (w) => warnings.push(w));
    soft.reserve({ tokens: 5 }).commit({ tokens: 50 });
    soft.reserve({ tokens: 50 }).commit({ tokens: 50 });
    expect(warnings.map((w) => w.dimension)).toEqual(["tokens"]);
    const enforce = new BudgetLedger("e", { tokens: 10 }, () => {});
    enforce.reserve({ tokens: 5 }).commit({ tokens: 20 }); // crossing after the fact is only reported
    expect(() => enforce.reserve({ tokens: 1 })).toThrow(/would reach 21/);
  });
});
