import { cosineSimilarity, embed, embedMany, generateText, Output, streamText, tool } from "ai";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { createLocalEmbeddingModel } from "./local-embedding-model.ts";
import { createLocalModel } from "./local-model.ts";

const prompt = "Plan a nightly batch that generates service descriptions";

describe("createLocalModel through the AI SDK", () => {
  it("is a v4 language model that answers deterministically with usage", async () => {
    const model = createLocalModel({ seed: 1 });
    expect(model.specificationVersion).toBe("v4");
    expect(model.provider).toBe("ballast.local");
    const a = await generateText({ model, prompt });
    const b = await generateText({ model, prompt });
    const other = await generateText({ model: createLocalModel({ seed: 2 }), prompt });
    expect(a.text).toBe(b.text);
    expect(a.text).not.toBe(other.text);
    expect(a.text).toMatch(/plan|nightly|batch|generates|service|descriptions/);
    expect(a.usage.inputTokens).toBeGreaterThan(5);
    expect(a.usage.outputTokens).toBe(a.usage.outputTokenDetails.textTokens);
    expect(a.response.modelId).toBe("local");
    expect(a.response.id).toMatch(/^local-[0-9a-f]{24}$/);
  });

  it("streams the same text and usage", async () => {
    const model = createLocalModel({ seed: 1, chunkDelayMs: 1 });
    const expected = await generateText({ model, prompt });
    const result = streamText({ model, prompt });
    const deltas: string[] = [];
    for await (const delta of result.textStream) deltas.push(delta);
    expect(deltas.length).toBeGreaterThan(3);
    expect(deltas.join("")).toBe(expected.text);
    expect((await result.usage).totalTokens).toBe(expected.usage.totalTokens);
    expect(await result.finishReason).toBe("stop");
  });

  it("returns schema-valid objects through Output, generated and streamed", async () => {
    const schema = z.object({
      services: z
        .array(
          z.object({
            id: z.string(),
            name: z.string(),
            owner: z.string().email(),
            since: z.string().datetime(),
          }),
        )
        .min(2)
        .max(4),
      priority: z.enum(["low", "high"]),
      budgetUsd: z.number().min(1).max(50),
    });
    const model = createLocalModel({ seed: 9 });
    // Output.object, not generateObject: the latter is deprecated in AI SDK 7 and emits a
    // DeprecationWarning, which the test setup rejects.
    const { output: object } = await generateText({ model, prompt, output: Output.object({ schema }) });
    expect(schema.parse(object)).toEqual(object);
    const streamed = streamText({ model, prompt, output: Output.object({ schema }) });
    expect(await streamed.output).toEqual(object);
    const json = await generateText({ model, prompt, output: Output.json() });
    expect(json.output).toMatchObject({ answer: expect.any(String) });
  });

  it("drives an agent loop: tool call first, text after the result", async () => {
    const model = createLocalModel();
    const calls: unknown[] = [];
    const tools = {
      lookup: tool({
        description: "Look up a service",
        inputSchema: z.object({ service: z.string(), limit: z.number().int().min(1).max(3) }),
        execute: async (input) => {
          calls.push(input);
          return { found: true };
        },
      }),
    };
    const result = await generateText({ model, prompt, tools, stopWhen: () => false });
    expect(calls).toHaveLength(1);
    expect(result.steps.map((s) => s.finishReason)).toEqual(["tool-calls", "stop"]);
    const streamed = streamText({ model, prompt, tools, toolChoice: { type: "tool", toolName: "lookup" } });
    const [call] = await streamed.toolCalls;
    expect(call?.input).toMatchObject({ service: expect.any(String), limit: expect.any(Number) });
    const none = await generateText({ model, prompt, tools, toolChoice: "none" });
    expect(none.toolCalls).toEqual([]);
  });

  it("honours maxOutputTokens, reasoning, usage overrides and the respond hook", async () => {
    const cut = await generateText({ model: createLocalModel(), prompt, maxOutputTokens: 3 });
    expect(cut.finishReason).toBe("length");
    const thinking = await generateText({ model: createLocalModel({ reasoning: true }), prompt });
    expect(thinking.usage.outputTokenDetails.reasoningTokens).toBeGreaterThan(0);
    const effort = await generateText({ model: createLocalModel(), prompt, reasoning: "high" });
    expect(effort.usage.outputTokenDetails.reasoningTokens).toBeGreaterThan(0);
    const cached = await generateText({
      model: createLocalModel({ usage: { cachedInputTokens: 4, cacheWriteTokens: 2 } }),
      prompt,
    });
    expect(cached.usage.inputTokenDetails).toMatchObject({ cacheReadTokens: 4, cacheWriteTokens: 2 });
    const hooked = createLocalModel({ respond: (intent) => `you said: ${intent.lastUserText}` });
    expect((await generateText({ model: hooked, prompt: "ping" })).text).toBe("you said: ping");
    const multi = await generateText({
      model: createLocalModel(),
      instructions: "Be terse.",
      messages: [
        { role: "user", content: [{ type: "text", text: "first" }] },
        {
          role: "assistant",
          content: [
            { type: "reasoning", text: "hmm" },
            { type: "text", text: "ok" },
          ],
        },
        { role: "user", content: "second question about queues" },
      ],
    });
    expect(multi.text).toMatch(/queues|question|second/);
  });

  it("waits latencyMs and stops when aborted", async () => {
    const model = createLocalModel({ latencyMs: 5_000 });
    await expect(
      generateText({ model, prompt, abortSignal: AbortSignal.timeout(20), maxRetries: 0 }),
    ).rejects.toThrow();
    const streamed = streamText({
      model,
      prompt,
      abortSignal: AbortSignal.timeout(20),
      maxRetries: 0,
      onError: () => {},
    });
    const types: string[] = [];
    for await (const part of streamed.fullStream) types.push(part.type);
    expect(types).not.toContain("text-delta");
    const aborted = new AbortController();
    aborted.abort();
    await expect(
      generateText({ model: createLocalModel(), prompt, abortSignal: aborted.signal }),
    ).rejects.toThrow();
  });
});

describe("createLocalEmbeddingModel", () => {
  it("gives deterministic unit vectors that reward shared words", async () => {
    const model = createLocalEmbeddingModel();
    expect(model.specificationVersion).toBe("v4");
    const { embedding } = await embed({ model, value: "rate limiter for model calls" });
    expect(embedding).toHaveLength(256);
    expect(Math.hypot(...embedding)).toBeCloseTo(1, 6);
    const { embeddings, usage } = await embedMany({
      model,
      values: [
        "rate limiter for model calls",
        "a limiter for the rate of model calls",
        "sourdough starter",
        "",
      ],
    });
    expect(embeddings[0]).toEqual(embedding);
    expect(cosineSimilarity(embeddings[0]!, embeddings[1]!)).toBeGreaterThan(0.5);
    expect(cosineSimilarity(embeddings[0]!, embeddings[2]!)).toBeLessThan(0.3);
    expect(Math.hypot(...embeddings[3]!)).toBeCloseTo(1, 6);
    expect(usage.tokens).toBeGreaterThan(0);
    const small = await createLocalEmbeddingModel({ dimensions: 16 }).doEmbed({ values: ["x"] });
    expect(small.embeddings[0]).toHaveLength(16);
    const sized = await model.doEmbed({ values: ["x"], dimensions: 32 });
    expect(sized.embeddings[0]).toHaveLength(32);
  });
});
