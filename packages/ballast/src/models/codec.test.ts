import type { LanguageModelV4GenerateResult, LanguageModelV4StreamPart } from "@ai-sdk/provider";
import { describe, expect, it } from "vitest";
import { canonicalJson } from "../canonical.ts";
import {
  decodeGenerateResult,
  decodeStreamParts,
  encodeGenerateResult,
  encodeStreamParts,
  fromJsonValue,
  streamOf,
  toJsonValue,
  tokenUsage,
} from "./codec.ts";

const usage = {
  inputTokens: { total: 12, noCache: 10, cacheRead: 2, cacheWrite: undefined },
  outputTokens: { total: 30, text: 25, reasoning: 5 },
};

describe("codec", () => {
  it("round-trips dates, bytes, URLs and errors, dropping undefined", () => {
    const value = {
      at: new Date("2025-01-02T03:04:05.678Z"),
      bytes: new Uint8Array([1, 2, 250]),
      url: new URL("https://example.com/a?b=c"),
      error: Object.assign(new Error("boom"), { name: "TypeError" }),
      nested: [1, undefined, { gone: undefined, kept: "x", inf: Number.POSITIVE_INFINITY }],
      fn: () => 1,
    };
    const json = toJsonValue(value);
    expect(JSON.parse(JSON.stringify(json))).toEqual(json);
    const back = fromJsonValue(json) as typeof value;
    expect(back.at).toEqual(value.at);
    expect(back.bytes).toEqual(value.bytes);
    expect(back.url.href).toBe(value.url.href);
    expect(back.error).toBeInstanceOf(Error);
    expect(back.error.name).toBe("TypeError");
    expect(back.nested).toEqual([1, null, { kept: "x", inf: null }]);
    expect("fn" in (back as object)).toBe(false);
    expect(fromJsonValue({ $type: "other", value: 1 })).toEqual({ $type: "other", value: 1 });
  });

  it("keeps what a generate result's caller reads, not bodies or headers", () => {
    const result: LanguageModelV4GenerateResult = {
      content: [{ type: "text", text: "hi" }],
      finishReason: { unified: "stop", raw: "stop" },
      usage,
      warnings: [],
      request: { body: { secret: "prompt" } },
      response: {
        id: "r1",
        modelId: "m",
        timestamp: new Date(0),
        headers: { "set-cookie": "x" },
        body: "raw",
      },
    };
    const encoded = encodeGenerateResult(result);
    expect(canonicalJson(encoded)).not.toContain("set-cookie");
    expect(canonicalJson(encoded)).not.toContain("prompt");
    const decoded = decodeGenerateResult(JSON.parse(JSON.stringify(encoded)));
    expect(decoded.content).toEqual(result.content);
    expect(decoded.response?.timestamp).toEqual(new Date(0));
    expect(decoded.response?.id).toBe("r1");
  });

  it("stream parts survive the journal in order", async () => {
    const parts: LanguageModelV4StreamPart[] = [
      { type: "stream-start", warnings: [] },
      { type: "response-metadata", id: "x", timestamp: new Date(5) },
      { type: "text-start", id: "0" },
      { type: "text-delta", id: "0", delta: "a" },
      { type: "text-end", id: "0" },
      { type: "finish", usage, finishReason: { unified: "stop", raw: "stop" } },
    ];
    const decoded = decodeStreamParts(JSON.parse(JSON.stringify(encodeStreamParts(parts))));
    const read: LanguageModelV4StreamPart[] = [];
    for await (const part of streamOf(decoded)) read.push(part);
    expect(read).toEqual(parts);
  });

  it("sums usage into the journal's token figures", () => {
    expect(tokenUsage(usage)).toEqual({
      inputTokens: 12,
      outputTokens: 30,
      cacheReadTokens: 2,
      cacheWriteTokens: 0,
      reasoningTokens: 5,
    });
    expect(tokenUsage(undefined).inputTokens).toBe(0);
  });
});
