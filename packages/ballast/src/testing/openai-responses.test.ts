import { createOpenAI } from "@ai-sdk/openai";
import { APICallError, cosineSimilarity, embed, embedMany, generateText, Output, streamText, tool } from "ai";
import OpenAI from "openai";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import type { FakeServer } from "./fake-server.ts";
import { startFakeOpenAI } from "./openai-fake.ts";

let server: FakeServer;
let openai: ReturnType<typeof createOpenAI>;

beforeEach(async () => {
  server = await startFakeOpenAI({ seed: 3 });
  openai = createOpenAI({ baseURL: server.baseURL, apiKey: "test-key" });
});
afterEach(() => server.close());

const prompt = "Compare token buckets with sliding windows for rate limiting";

describe("fake OpenAI responses API through the AI SDK", () => {
  it("answers with usage, response id and request id", async () => {
    const result = await generateText({ model: openai.responses("gpt-4.1"), prompt, maxRetries: 0 });
    expect(result.text).toMatch(/token|buckets|sliding|windows|rate/);
    expect(result.finishReason).toBe("stop");
    expect(result.usage.inputTokens).toBeGreaterThan(0);
    expect(result.providerMetadata?.["openai"]?.["responseId"]).toMatch(/^resp_[0-9a-f]{48}$/);
    expect(result.response.headers?.["x-request-id"]).toMatch(/^req_/);
    expect(server.requests[0]?.path).toBe("/v1/responses");
  });

  it("streams the same text, with usage and the response id", async () => {
    const expected = await generateText({ model: openai.responses("gpt-4.1"), prompt, maxRetries: 0 });
    const result = streamText({ model: openai.responses("gpt-4.1"), prompt, maxRetries: 0 });
    expect(await result.text).toBe(expected.text);
    expect((await result.usage).outputTokens).toBe(expected.usage.outputTokens);
    expect((await result.providerMetadata)?.["openai"]?.["responseId"]).toMatch(/^resp_/);
    expect(await result.finishReason).toBe("stop");
  });

  it("reports reasoning tokens for reasoning models and truncation as length", async () => {
    const reasoning = await generateText({ model: openai.responses("gpt-5-mini"), prompt, maxRetries: 0 });
    expect(reasoning.usage.outputTokenDetails.reasoningTokens).toBeGreaterThan(0);
    const cut = streamText({
      model: openai.responses("gpt-4.1"),
      prompt,
      maxOutputTokens: 16,
      maxRetries: 0,
    });
    expect(await cut.finishReason).toBe("length");
  });

  it("returns schema-valid structured output, streaming too", async () => {
    const schema = z.object({
      verdict: z.enum(["bucket", "window"]),
      score: z.number().min(0).max(1),
      reasons: z.array(z.string()).min(2),
    });
    const result = await generateText({
      model: openai.responses("gpt-4.1"),
      prompt,
      output: Output.object({ schema }),
      maxRetries: 0,
    });
    expect(schema.safeParse(result.output).success).toBe(true);
    const streamed = streamText({
      model: openai.responses("gpt-4.1"),
      prompt,
      output: Output.object({ schema }),
      maxRetries: 0,
    });
    expect(await streamed.output).toEqual(result.output);
  });

  it("calls tools and streams tool calls", async () => {
    const tools = {
      search: tool({
        inputSchema: z.object({ query: z.string(), limit: z.number().int().min(1).max(10) }),
        execute: async ({ query }) => [`result for ${query}`],
      }),
    };
    const result = await generateText({
      model: openai.responses("gpt-4.1"),
      prompt,
      tools,
      stopWhen: () => false,
      maxRetries: 0,
    });
    expect(result.steps[0]?.toolCalls[0]?.toolName).toBe("search");
    expect(result.steps.at(-1)?.finishReason).toBe("stop");
    const streamed = streamText({
      model: openai.responses("gpt-4.1"),
      prompt,
      tools,
      toolChoice: "required",
      maxRetries: 0,
    });
    const calls = await streamed.toolCalls;
    expect(calls[0]?.input).toMatchObject({ query: expect.any(String), limit: expect.any(Number) });
  });

  it("429 with Retry-After, dropped streams and in-stream errors reach the caller", async () => {
    server.script([{ status: 429, retryAfter: 1 }, { dropAfterChunks: 5 }, { errorAfterChunks: 4 }]);
    const limited = await generateText({ model: openai.responses("gpt-4.1"), prompt, maxRetries: 0 }).catch(
      (e) => e,
    );
    expect(APICallError.isInstance(limited)).toBe(true);
    expect(limited.responseHeaders["retry-after"]).toBe("1");

    const dropped = streamText({
      model: openai.responses("gpt-4.1"),
      prompt,
      maxRetries: 0,
      onError: () => {},
    });
    await expect(dropped.text).rejects.toThrow();

    const failed = streamText({
      model: openai.responses("gpt-4.1"),
      prompt,
      maxRetries: 0,
      onError: () => {},
    });
    const types: string[] = [];
    for await (const part of failed.fullStream) types.push(part.type);
    expect(types).toContain("error");
  });

  it("embeds with feature-hashing vectors, single and batched", async () => {
    const model = openai.embedding("text-embedding-3-small");
    const one = await embed({ model, value: "durable journal for pipelines", maxRetries: 0 });
    expect(one.embedding).toHaveLength(1536);
    const many = await embedMany({
      model,
      values: [
        "durable journal for pipelines",
        "a durable journal for data pipelines",
        "banana bread recipe",
      ],
      maxRetries: 0,
    });
    expect(many.embeddings[0]).toEqual(one.embedding);
    const near = cosineSimilarity(many.embeddings[0]!, many.embeddings[1]!);
    const far = cosineSimilarity(many.embeddings[0]!, many.embeddings[2]!);
    expect(near).toBeGreaterThan(far);
    expect(many.usage.tokens).toBeGreaterThan(0);
    const small = await embed({
      model,
      value: "x",
      providerOptions: { openai: { dimensions: 64 } },
      maxRetries: 0,
    });
    expect(small.embedding).toHaveLength(64);
  });
});

describe("fake OpenAI responses API through the official openai client", () => {
  it("creates and streams responses and base64 embeddings", async () => {
    const client = new OpenAI({ baseURL: server.baseURL, apiKey: "test-key", maxRetries: 0 });
    const response = await client.responses.create({
      model: "gpt-4.1",
      input: prompt,
      instructions: "Be brief.",
    });
    expect(response._request_id).toMatch(/^req_/);
    expect(response.output_text.length).toBeGreaterThan(0);
    expect(response.usage?.input_tokens_details.cached_tokens).toBe(0);

    const stream = await client.responses.create({
      model: "gpt-4.1",
      input: prompt,
      instructions: "Be brief.",
      stream: true,
    });
    let text = "";
    const types = new Set<string>();
    for await (const event of stream) {
      types.add(event.type);
      if (event.type === "response.output_text.delta") text += event.delta;
    }
    expect(text).toBe(response.output_text);
    expect([...types]).toEqual(
      expect.arrayContaining([
        "response.created",
        "response.in_progress",
        "response.output_text.done",
        "response.completed",
      ]),
    );

    const embedding = await client.embeddings.create({
      model: "text-embedding-3-small",
      input: ["alpha", "beta"],
      dimensions: 8,
    });
    expect(embedding.data).toHaveLength(2);
    expect(embedding.data[0]?.embedding).toHaveLength(8);
    expect(server.requests.at(-1)?.body).toMatchObject({ encoding_format: "base64" });
  });

  it("rejects bad embedding and responses requests", async () => {
    const noModel = await fetch(`${server.baseURL}/embeddings`, {
      method: "POST",
      body: JSON.stringify({ input: "x" }),
    });
    expect(noModel.status).toBe(400);
    const noInput = await fetch(`${server.baseURL}/embeddings`, {
      method: "POST",
      body: JSON.stringify({ model: "m" }),
    });
    expect(noInput.status).toBe(400);
    const noResponseInput = await fetch(`${server.baseURL}/responses`, {
      method: "POST",
      body: JSON.stringify({ model: "m" }),
    });
    expect(noResponseInput.status).toBe(400);
  });
});
