import { createAnthropic } from "@ai-sdk/anthropic";
import { APICallError, generateText, Output, streamText, tool } from "ai";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { startFakeAnthropic } from "./anthropic-fake.ts";
import type { FakeServer } from "./fake-server.ts";

let server: FakeServer;
let anthropic: ReturnType<typeof createAnthropic>;

beforeEach(async () => {
  server = await startFakeAnthropic({ seed: 11 });
  anthropic = createAnthropic({ baseURL: server.baseURL, apiKey: "test-key" });
});
afterEach(() => server.close());

const prompt = "Why do circuit breakers need a half-open state?";
const model = () => anthropic("claude-sonnet-4-5");

describe("fake Anthropic messages through the AI SDK", () => {
  it("answers with usage, cache counts and the request-id header", async () => {
    server.script({ usage: { cachedInputTokens: 10, cacheWriteTokens: 4 } });
    const result = await generateText({ model: model(), system: "Be precise.", prompt, maxRetries: 0 });
    expect(result.text).toMatch(/circuit|breakers|half-open|state/);
    expect(result.finishReason).toBe("stop");
    expect(result.usage.inputTokenDetails).toMatchObject({ cacheReadTokens: 10, cacheWriteTokens: 4 });
    expect(result.response.headers?.["request-id"]).toMatch(/^req_011C[0-9A-Za-z]{20}$/);
    expect(result.response.id).toMatch(/^msg_01/);
    const recorded = server.requests[0];
    expect(recorded?.path).toBe("/v1/messages");
    expect(recorded?.headers["x-api-key"]).toBe("test-key");
    expect(recorded?.headers["anthropic-version"]).toBe("2023-06-01");
    expect(recorded?.body).toMatchObject({ system: [{ type: "text", text: "Be precise." }] });
  });

  it("streams message_start … message_stop into the same text and usage", async () => {
    const expected = await generateText({ model: model(), prompt, maxRetries: 0 });
    const result = streamText({ model: model(), prompt, maxRetries: 0 });
    expect(await result.text).toBe(expected.text);
    expect((await result.usage).outputTokens).toBe(expected.usage.outputTokens);
    expect((await result.usage).inputTokens).toBe(expected.usage.inputTokens);
    expect(await result.finishReason).toBe("stop");
  });

  it("streams thinking when extended thinking is on", async () => {
    const options = { anthropic: { thinking: { type: "enabled", budgetTokens: 1024 } } } as const;
    const generated = await generateText({ model: model(), prompt, providerOptions: options, maxRetries: 0 });
    expect(generated.reasoningText).toMatch(/Thinking about/);
    expect(generated.usage.outputTokenDetails.reasoningTokens).toBeGreaterThan(0);
    const streamed = streamText({ model: model(), prompt, providerOptions: options, maxRetries: 0 });
    expect(await streamed.reasoningText).toBe(generated.reasoningText);
    expect(await streamed.text).toBe(generated.text);
  });

  it("returns schema-valid structured output and tool calls", async () => {
    const schema = z.object({ state: z.literal("half-open"), probes: z.number().int().min(1).max(3) });
    const structured = await generateText({
      model: model(),
      prompt,
      output: Output.object({ schema }),
      maxRetries: 0,
    });
    expect(structured.output).toEqual({ state: "half-open", probes: expect.any(Number) });
    const streamed = streamText({ model: model(), prompt, output: Output.object({ schema }), maxRetries: 0 });
    expect(await streamed.output).toEqual(structured.output);
    // The JSON-tool fallback (older models) comes back as a forced `json` tool call.
    const viaTool = await generateText({
      model: model(),
      prompt,
      output: Output.object({ schema }),
      providerOptions: { anthropic: { structuredOutputMode: "jsonTool" } },
      maxRetries: 0,
    });
    expect(schema.safeParse(viaTool.output).success).toBe(true);

    const tools = {
      probe: tool({ inputSchema: z.object({ target: z.string() }), execute: async () => "ok" }),
    };
    const agent = await generateText({ model: model(), prompt, tools, stopWhen: () => false, maxRetries: 0 });
    expect(agent.steps[0]?.toolCalls[0]?.toolCallId).toMatch(/^toolu_01/);
    expect(agent.steps.at(-1)?.finishReason).toBe("stop");
    const streamedTool = streamText({
      model: model(),
      prompt,
      tools,
      toolChoice: { type: "tool", toolName: "probe" },
      maxRetries: 0,
    });
    expect((await streamedTool.toolCalls)[0]?.input).toEqual({ target: expect.any(String) });
  });

  it("maps max_tokens to length", async () => {
    const result = await generateText({ model: model(), prompt, maxOutputTokens: 4, maxRetries: 0 });
    expect(result.finishReason).toBe("length");
  });
});

describe("fake Anthropic failures", () => {
  it("429 with Retry-After and 529 overloaded reach the caller", async () => {
    server.script([{ status: 429, retryAfter: 5 }, { status: 529 }]);
    const limited = await generateText({ model: model(), prompt, maxRetries: 0 }).catch((e) => e);
    expect(APICallError.isInstance(limited)).toBe(true);
    expect(limited.statusCode).toBe(429);
    expect(limited.responseHeaders["retry-after"]).toBe("5");
    expect(limited.responseHeaders["request-id"]).toMatch(/^req_/);
    expect(JSON.parse(limited.responseBody)).toMatchObject({
      type: "error",
      error: { type: "rate_limit_error" },
    });
    const overloaded = await generateText({ model: model(), prompt, maxRetries: 0 }).catch((e) => e);
    expect(overloaded.statusCode).toBe(529);
    expect(overloaded.message).toBe("Overloaded");
  });

  it("dropped streams, in-stream overload errors and malformed bodies surface as errors", async () => {
    server.script([{ dropAfterChunks: 4 }, { errorAfterChunks: 3 }, { malformed: true }]);
    const dropped = streamText({ model: model(), prompt, maxRetries: 0, onError: () => {} });
    await expect(dropped.text).rejects.toThrow();
    const failed = streamText({ model: model(), prompt, maxRetries: 0, onError: () => {} });
    const parts: Array<{ type: string; error?: unknown }> = [];
    for await (const part of failed.fullStream) parts.push(part);
    expect(parts.some((p) => p.type === "error")).toBe(true);
    const malformed = await generateText({ model: model(), prompt, maxRetries: 0 }).catch((e) => e);
    expect(malformed.message).toMatch(/Invalid JSON response/);
  });

  it("validates requests and serves models and token counts", async () => {
    const post = (path: string, body: unknown) =>
      fetch(`${server.baseURL}${path}`, { method: "POST", body: JSON.stringify(body) });
    expect((await post("/messages", {})).status).toBe(400);
    expect((await post("/messages", { model: "m" })).status).toBe(400);
    const noMax = await post("/messages", { model: "m", messages: [{ role: "user", content: "hi" }] });
    expect(await noMax.json()).toMatchObject({
      error: { type: "invalid_request_error", message: /max_tokens/ },
    });
    const count = await post("/messages/count_tokens", {
      model: "m",
      messages: [{ role: "user", content: "hello" }],
    });
    expect(((await count.json()) as { input_tokens: number }).input_tokens).toBeGreaterThan(0);
    expect((await post("/messages/count_tokens", [])).status).toBe(400);
    const models = (await (await fetch(`${server.baseURL}/models`)).json()) as {
      data: Array<{ id: string }>;
    };
    expect(models.data.map((m) => m.id)).toContain("claude-sonnet-4-5");
  });
});
