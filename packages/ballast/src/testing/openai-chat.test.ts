import { createOpenAI } from "@ai-sdk/openai";
import { APICallError, generateText, jsonSchema, Output, streamText, tool } from "ai";
import OpenAI, { RateLimitError } from "openai";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import type { FakeServer } from "./fake-server.ts";
import { startFakeOpenAI } from "./openai-fake.ts";

let server: FakeServer;
let openai: ReturnType<typeof createOpenAI>;

beforeEach(async () => {
  server = await startFakeOpenAI({ seed: 7 });
  openai = createOpenAI({ baseURL: server.baseURL, apiKey: "test-key" });
});
afterEach(() => server.close());

const prompt = "Explain how a write-ahead journal makes pipelines resumable";

describe("fake OpenAI chat completions through the AI SDK", () => {
  it("answers deterministically with usage and a request id", async () => {
    const first = await generateText({ model: openai.chat("gpt-4o-mini"), prompt, maxRetries: 0 });
    const second = await generateText({ model: openai.chat("gpt-4o-mini"), prompt, maxRetries: 0 });
    expect(first.text).toMatch(/journal|write-ahead|pipelines|resumable/);
    expect(second.text).toBe(first.text);
    expect(first.finishReason).toBe("stop");
    expect(first.usage.inputTokens).toBeGreaterThan(10);
    expect(first.usage.outputTokens).toBeGreaterThan(0);
    expect(first.usage.inputTokenDetails.cacheReadTokens).toBe(0);
    const ids = [first, second].map((r) => r.response.headers?.["x-request-id"]);
    expect(ids[0]).toMatch(/^req_[0-9a-f]{32}$/);
    expect(ids[1]).not.toBe(ids[0]);
    expect(first.response.id).toMatch(/^chatcmpl-/);
    expect(first.response.modelId).toBe("gpt-4o-mini");

    const recorded = server.requests[0];
    expect(recorded?.method).toBe("POST");
    expect(recorded?.path).toBe("/v1/chat/completions");
    expect(recorded?.headers["authorization"]).toBe("Bearer test-key");
    expect((recorded?.body as { messages: unknown[] } | undefined)?.messages).toEqual([
      { role: "user", content: prompt },
    ]);
  });

  it("different prompts and seeds give different answers", async () => {
    const a = await generateText({
      model: openai.chat("gpt-4o-mini"),
      prompt: "alpha beta gamma",
      maxRetries: 0,
    });
    const b = await generateText({
      model: openai.chat("gpt-4o-mini"),
      prompt: "delta epsilon zeta",
      maxRetries: 0,
    });
    expect(a.text).not.toBe(b.text);
    const other = await startFakeOpenAI({ seed: 8 });
    const c = await generateText({
      model: createOpenAI({ baseURL: other.baseURL, apiKey: "k" }).chat("gpt-4o-mini"),
      prompt: "alpha beta gamma",
      maxRetries: 0,
    });
    await other.close();
    expect(c.text).not.toBe(a.text);
  });

  it("streams the same text with a usage chunk", async () => {
    const expected = await generateText({ model: openai.chat("gpt-4o-mini"), prompt, maxRetries: 0 });
    const result = streamText({ model: openai.chat("gpt-4o-mini"), prompt, maxRetries: 0 });
    const deltas: string[] = [];
    for await (const delta of result.textStream) deltas.push(delta);
    expect(deltas.length).toBeGreaterThan(3);
    expect(deltas.join("")).toBe(expected.text);
    expect(await result.usage).toMatchObject({
      inputTokens: expected.usage.inputTokens,
      outputTokens: expected.usage.outputTokens,
    });
    expect(await result.finishReason).toBe("stop");
    expect((await result.response).headers?.["x-request-id"]).toMatch(/^req_/);
    const body = server.requests[1]?.body as { stream: boolean; stream_options: unknown };
    expect(body.stream).toBe(true);
    expect(body.stream_options).toEqual({ include_usage: true });
  });

  it("reports reasoning and cached tokens", async () => {
    server.script({ usage: { cachedInputTokens: 8 } });
    const result = await generateText({ model: openai.chat("o4-mini"), prompt, maxRetries: 0 });
    expect(result.usage.outputTokenDetails.reasoningTokens).toBeGreaterThan(0);
    expect(result.usage.outputTokenDetails.reasoningTokens! % 64).toBe(0);
    expect(result.usage.inputTokenDetails.cacheReadTokens).toBe(8);
  });

  it("returns schema-valid JSON for structured output", async () => {
    const schema = z.object({
      name: z.string(),
      age: z.number().int().min(0).max(120),
      tags: z.array(z.string()),
      status: z.enum(["active", "retired"]),
      address: z.object({ city: z.string(), zip: z.string().nullable() }),
    });
    const result = await generateText({
      model: openai.chat("gpt-4o-mini"),
      prompt: "Describe a person",
      output: Output.object({ schema }),
      maxRetries: 0,
    });
    expect(schema.parse(result.output)).toEqual(result.output);
    const body = server.requests[0]?.body as { response_format: { type: string } };
    expect(body.response_format.type).toBe("json_schema");
  });

  it("returns JSON in json_object mode without a schema", async () => {
    const result = await generateText({
      model: openai.chat("gpt-4o-mini"),
      prompt: "Summarise retries",
      output: Output.json(),
      maxRetries: 0,
    });
    expect(result.output).toMatchObject({ answer: expect.any(String) });
  });

  it("calls a tool, then answers in text once the result is back", async () => {
    const result = await generateText({
      model: openai.chat("gpt-4o-mini"),
      prompt: "What is the weather in Oslo?",
      tools: {
        weather: tool({
          inputSchema: z.object({ city: z.string(), days: z.number().int().min(1).max(7) }),
          execute: async ({ city }) => ({ city, forecast: "sunny" }),
        }),
      },
      stopWhen: () => false,
      maxRetries: 0,
    });
    const [firstStep, secondStep] = result.steps;
    expect(firstStep?.finishReason).toBe("tool-calls");
    expect(firstStep?.toolCalls[0]?.toolName).toBe("weather");
    expect(firstStep?.toolCalls[0]?.toolCallId).toMatch(/^call_/);
    expect(secondStep?.finishReason).toBe("stop");
    expect(result.text.length).toBeGreaterThan(0);
  });

  it("streams tool calls", async () => {
    const result = streamText({
      model: openai.chat("gpt-4o-mini"),
      prompt: "Look it up",
      tools: {
        lookup: tool({
          inputSchema: jsonSchema<{ query: string }>({
            type: "object",
            properties: { query: { type: "string" } },
            required: ["query"],
          }),
        }),
      },
      toolChoice: "required",
      maxRetries: 0,
    });
    const calls = await result.toolCalls;
    expect(calls).toHaveLength(1);
    expect(calls[0]?.input).toEqual({ query: expect.any(String) });
    expect(await result.finishReason).toBe("tool-calls");
  });

  it("uses the respond hook and maxOutputTokens truncation", async () => {
    server.script({ reply: (request) => `echo ${(request.body as { model: string }).model}` });
    const hooked = await generateText({ model: openai.chat("gpt-4o-mini"), prompt, maxRetries: 0 });
    expect(hooked.text).toBe("echo gpt-4o-mini");
    const cut = await generateText({
      model: openai.chat("gpt-4o-mini"),
      prompt,
      maxOutputTokens: 3,
      maxRetries: 0,
    });
    expect(cut.finishReason).toBe("length");
    expect(cut.text.length).toBeLessThanOrEqual(12);
  });
});

describe("fake OpenAI chat completions failures", () => {
  it("429 with Retry-After reaches the caller", async () => {
    server.script({ status: 429, retryAfter: 2, retryAfterMs: 1500 });
    const error = await generateText({ model: openai.chat("gpt-4o-mini"), prompt, maxRetries: 0 }).catch(
      (e) => e,
    );
    expect(APICallError.isInstance(error)).toBe(true);
    expect(error.statusCode).toBe(429);
    expect(error.isRetryable).toBe(true);
    expect(error.responseHeaders["retry-after"]).toBe("2");
    expect(error.responseHeaders["retry-after-ms"]).toBe("1500");
    expect(error.responseHeaders["x-request-id"]).toMatch(/^req_/);
    expect(error.message).toMatch(/Rate limit/);
  });

  it.each([500, 502, 503])("%i is a retryable API error", async (status) => {
    server.script({ status });
    const error = await generateText({ model: openai.chat("gpt-4o-mini"), prompt, maxRetries: 0 }).catch(
      (e) => e,
    );
    expect(error.statusCode).toBe(status);
    expect(error.isRetryable).toBe(true);
  });

  it("a malformed body is an error", async () => {
    server.script({ malformed: true });
    const error = await generateText({ model: openai.chat("gpt-4o-mini"), prompt, maxRetries: 0 }).catch(
      (e) => e,
    );
    expect(APICallError.isInstance(error)).toBe(true);
    expect(error.message).toMatch(/Invalid JSON response/);
  });

  it("a stream dropped mid-way surfaces as an error, not a short success", async () => {
    server.script({ dropAfterChunks: 3 });
    const result = streamText({
      model: openai.chat("gpt-4o-mini"),
      prompt,
      maxRetries: 0,
      onError: () => {},
    });
    const received: string[] = [];
    const error = await (async () => {
      for await (const delta of result.textStream) received.push(delta);
    })().catch((e) => e);
    expect(APICallError.isInstance(error)).toBe(true);
    expect(error.message).toMatch(/Failed to process successful response/);
    expect(String(error.cause?.message)).toMatch(/terminated/);
    expect(received.length).toBeGreaterThan(0);
  });

  it("a malformed stream event becomes an error part", async () => {
    server.script({ malformed: true });
    const parts: string[] = [];
    const result = streamText({
      model: openai.chat("gpt-4o-mini"),
      prompt,
      maxRetries: 0,
      onError: () => {},
    });
    for await (const part of result.fullStream) parts.push(part.type);
    expect(parts).toContain("error");
  });

  it("an in-stream error event surfaces as an error", async () => {
    server.script({ errorAfterChunks: 2, errorMessage: "overloaded mid-stream" });
    const errors: unknown[] = [];
    const result = streamText({
      model: openai.chat("gpt-4o-mini"),
      prompt,
      maxRetries: 0,
      onError: ({ error }) => {
        errors.push(error);
      },
    });
    await result.consumeStream();
    expect(String((errors[0] as Error).message)).toMatch(/overloaded mid-stream/);
  });

  it("a hung request is ended by the caller's timeout", async () => {
    server.script({ hang: true });
    const error = await generateText({
      model: openai.chat("gpt-4o-mini"),
      prompt,
      maxRetries: 0,
      abortSignal: AbortSignal.timeout(100),
    }).catch((e) => e);
    expect(error.name).toMatch(/TimeoutError|AbortError/);
    expect(server.requests).toHaveLength(1);
  });

  it("a time-to-first-chunk delay holds the stream back", async () => {
    server.script({ firstChunkDelayMs: 5_000 });
    const result = streamText({
      model: openai.chat("gpt-4o-mini"),
      prompt,
      maxRetries: 0,
      abortSignal: AbortSignal.timeout(100),
      onError: () => {},
    });
    const parts: string[] = [];
    for await (const part of result.fullStream) parts.push(part.type);
    expect(parts).not.toContain("text-delta");
    expect(parts.some((p) => p === "error" || p === "abort")).toBe(true);
  });

  it("a disconnect is a network error", async () => {
    server.script({ disconnect: true });
    const error = await generateText({ model: openai.chat("gpt-4o-mini"), prompt, maxRetries: 0 }).catch(
      (e) => e,
    );
    expect(APICallError.isInstance(error)).toBe(true);
    expect(error.isRetryable).toBe(true);
    expect(error.statusCode).toBeUndefined();
  });

  it("bad requests get OpenAI-shaped 400 and 404 errors", async () => {
    const bad = await fetch(`${server.baseURL}/chat/completions`, { method: "POST", body: "{not json" });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: { type: "invalid_request_error" } });
    const noModel = await fetch(`${server.baseURL}/chat/completions`, {
      method: "POST",
      body: JSON.stringify({ messages: [] }),
    });
    expect(noModel.status).toBe(400);
    const empty = await fetch(`${server.baseURL}/chat/completions`, {
      method: "POST",
      body: JSON.stringify({ model: "m", messages: [] }),
    });
    expect(((await empty.json()) as { error: { message: string } }).error.message).toMatch(/messages/);
    const unknown = await fetch(`${server.baseURL}/nope`);
    expect(unknown.status).toBe(404);
  });
});

describe("fake OpenAI chat completions through the official openai client", () => {
  it("creates completions with a request id, streams, and lists models", async () => {
    const client = new OpenAI({ baseURL: server.baseURL, apiKey: "test-key", maxRetries: 0 });
    const completion = await client.chat.completions.create({
      model: "gpt-4o-mini",
      messages: [{ role: "user", content: prompt }],
    });
    expect(completion._request_id).toMatch(/^req_/);
    expect(completion.choices[0]?.message.content).toMatch(/\w/);
    expect(completion.usage?.prompt_tokens_details?.cached_tokens).toBe(0);

    const stream = await client.chat.completions.create({
      model: "gpt-4o-mini",
      messages: [{ role: "user", content: prompt }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = "";
    let usage: unknown;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? "";
      if (chunk.usage) usage = chunk.usage;
    }
    expect(text).toBe(completion.choices[0]?.message.content);
    expect(usage).toMatchObject({ total_tokens: completion.usage?.total_tokens });

    const models = await client.models.list();
    expect(models.data.map((m) => m.id)).toContain("gpt-4o-mini");
    expect((await client.models.retrieve("gpt-4.1")).id).toBe("gpt-4.1");
    await expect(client.models.retrieve("nope")).rejects.toMatchObject({ status: 404 });
  });

  it("surfaces 429 with Retry-After as RateLimitError", async () => {
    const client = new OpenAI({ baseURL: server.baseURL, apiKey: "test-key", maxRetries: 0 });
    server.script({ status: 429, retryAfter: 3 });
    const error = await client.chat.completions
      .create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] })
      .catch((e) => e);
    expect(error).toBeInstanceOf(RateLimitError);
    expect(error.headers.get("retry-after")).toBe("3");
    expect(error.requestID).toMatch(/^req_/);
    expect(error.code).toBe("rate_limit_exceeded");
  });
});
