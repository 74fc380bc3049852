import { createGoogleGenerativeAI } from "@ai-sdk/google";
import { APICallError, cosineSimilarity, embed, embedMany, generateText, Output, streamText, tool } from "ai";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import type { FakeServer } from "./fake-server.ts";
import { startFakeGemini } from "./gemini-fake.ts";

let server: FakeServer;
let google: ReturnType<typeof createGoogleGenerativeAI>;

beforeEach(async () => {
  server = await startFakeGemini({ seed: 5 });
  google = createGoogleGenerativeAI({ baseURL: server.baseURL, apiKey: "test-key" });
});
afterEach(() => server.close());

const prompt = "Describe jittered exponential backoff for flaky field robots";

describe("fake Gemini through the AI SDK", () => {
  it("answers with usage and a response id", async () => {
    const result = await generateText({
      model: google("gemini-2.0-flash"),
      system: "Be brief.",
      prompt,
      maxRetries: 0,
    });
    expect(result.text).toMatch(/jittered|exponential|backoff|flaky|field|robots/);
    expect(result.finishReason).toBe("stop");
    expect(result.response.id).toMatch(/^[0-9A-Za-z]{22}$/);
    expect(result.usage.inputTokens).toBeGreaterThan(0);
    const recorded = server.requests[0];
    expect(recorded?.path).toBe("/v1beta/models/gemini-2.0-flash:generateContent");
    expect(recorded?.headers["x-goog-api-key"]).toBe("test-key");
  });

  it("streams over SSE into the same text and usage, with thoughts tokens for 2.5 models", async () => {
    const expected = await generateText({ model: google("gemini-2.5-flash"), prompt, maxRetries: 0 });
    expect(expected.usage.outputTokenDetails.reasoningTokens).toBeGreaterThan(0);
    const result = streamText({ model: google("gemini-2.5-flash"), prompt, maxRetries: 0 });
    expect(await result.text).toBe(expected.text);
    expect(await result.usage).toMatchObject({
      inputTokens: expected.usage.inputTokens,
      outputTokens: expected.usage.outputTokens,
    });
    expect(server.requests[1]?.path).toBe("/v1beta/models/gemini-2.5-flash:streamGenerateContent");
    expect(server.requests[1]?.query).toEqual({ alt: "sse" });
  });

  it("returns schema-valid JSON and function calls", async () => {
    const schema = z.object({ attempts: z.number().int().min(1).max(5), delays: z.array(z.number().min(0)) });
    const structured = await generateText({
      model: google("gemini-2.0-flash"),
      prompt,
      output: Output.object({ schema }),
      maxRetries: 0,
    });
    expect(schema.safeParse(structured.output).success).toBe(true);
    const tools = {
      sleep: tool({
        inputSchema: z.object({ ms: z.number().int().min(0).max(1000) }),
        execute: async () => "slept",
      }),
    };
    const agent = await generateText({
      model: google("gemini-2.0-flash"),
      prompt,
      tools,
      stopWhen: () => false,
      maxRetries: 0,
    });
    expect(agent.steps[0]?.finishReason).toBe("tool-calls");
    expect(agent.steps[0]?.toolCalls[0]?.input).toEqual({ ms: expect.any(Number) });
    expect(agent.steps.at(-1)?.finishReason).toBe("stop");
    const streamed = streamText({
      model: google("gemini-2.0-flash"),
      prompt,
      tools,
      toolChoice: { type: "tool", toolName: "sleep" },
      maxRetries: 0,
    });
    expect((await streamed.toolCalls)[0]?.toolName).toBe("sleep");
    const none = await generateText({
      model: google("gemini-2.0-flash"),
      prompt,
      tools,
      toolChoice: "none",
      maxRetries: 0,
    });
    expect(none.toolCalls).toEqual([]);
  });

  it("maps MAX_TOKENS to length", async () => {
    const result = await generateText({
      model: google("gemini-2.0-flash"),
      prompt,
      maxOutputTokens: 5,
      maxRetries: 0,
    });
    expect(result.finishReason).toBe("length");
  });

  it("embeds single values and batches with feature-hashing vectors", async () => {
    const model = google.embedding("gemini-embedding-001");
    const single = await embed({ model, value: "robot wheel slip", maxRetries: 0 });
    expect(single.embedding).toHaveLength(3072);
    const batch = await embedMany({
      model: google.embedding("text-embedding-004"),
      values: ["robot wheel slip", "wheel slip on a robot", "quarterly tax report"],
      maxRetries: 0,
    });
    expect(batch.embeddings[0]).toHaveLength(768);
    expect(cosineSimilarity(batch.embeddings[0]!, batch.embeddings[1]!)).toBeGreaterThan(
      cosineSimilarity(batch.embeddings[0]!, batch.embeddings[2]!),
    );
    expect(server.requests.map((r) => r.path.split(":")[1])).toEqual(["embedContent", "batchEmbedContents"]);
  });
});

describe("fake Gemini failures", () => {
  it("429 RESOURCE_EXHAUSTED with Retry-After and 503 reach the caller", async () => {
    server.script([{ status: 429, retryAfter: 7 }, { status: 503 }]);
    const limited = await generateText({ model: google("gemini-2.0-flash"), prompt, maxRetries: 0 }).catch(
      (e) => e,
    );
    expect(APICallError.isInstance(limited)).toBe(true);
    expect(limited.statusCode).toBe(429);
    expect(limited.responseHeaders["retry-after"]).toBe("7");
    expect(JSON.parse(limited.responseBody)).toMatchObject({
      error: { code: 429, status: "RESOURCE_EXHAUSTED" },
    });
    const unavailable = await generateText({
      model: google("gemini-2.0-flash"),
      prompt,
      maxRetries: 0,
    }).catch((e) => e);
    expect(unavailable.statusCode).toBe(503);
    expect(unavailable.isRetryable).toBe(true);
  });

  it("dropped streams, in-stream errors and malformed bodies surface as errors", async () => {
    server.script([{ dropAfterChunks: 1 }, { errorAfterChunks: 1 }, { malformed: true }]);
    const dropped = streamText({
      model: google("gemini-2.0-flash"),
      prompt,
      maxRetries: 0,
      onError: () => {},
    });
    await expect(dropped.text).rejects.toThrow();
    const failed = streamText({
      model: google("gemini-2.0-flash"),
      prompt,
      maxRetries: 0,
      onError: () => {},
    });
    const types: string[] = [];
    for await (const part of failed.fullStream) types.push(part.type);
    expect(types).toContain("error");
    const malformed = await generateText({ model: google("gemini-2.0-flash"), prompt, maxRetries: 0 }).catch(
      (e) => e,
    );
    expect(malformed.message).toMatch(/Invalid JSON response/);
  });

  it("answers the raw API: JSON-array streams, token counts and bad requests", async () => {
    const post = (path: string, body: unknown) =>
      fetch(`${server.baseURL}/models/${path}`, { method: "POST", body: JSON.stringify(body) });
    const contents = [{ role: "user", parts: [{ text: "hello there" }] }];
    const array = (await (
      await post("gemini-2.0-flash:streamGenerateContent", { contents })
    ).json()) as unknown[];
    expect(Array.isArray(array)).toBe(true);
    const count = (await (await post("gemini-2.0-flash:countTokens", { contents })).json()) as {
      totalTokens: number;
    };
    expect(count.totalTokens).toBeGreaterThan(0);
    const empty = await post("gemini-2.0-flash:generateContent", { contents: [] });
    expect(await empty.json()).toMatchObject({ error: { code: 400, status: "INVALID_ARGUMENT" } });
    expect((await post("gemini-2.0-flash:batchEmbedContents", { requests: [] })).status).toBe(400);
    expect((await post("gemini-2.0-flash:explode", {})).status).toBe(404);
  });
});
