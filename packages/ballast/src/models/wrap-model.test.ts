import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createOpenAI } from "@ai-sdk/openai";
import type { LanguageModelV4StreamPart } from "@ai-sdk/provider";
import { generateObject, generateText, Output, simulateReadableStream, streamText } from "ai";
import { MockLanguageModelV4 } from "ai/test";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { expectWarning } from "../../test/fail-on-warnings.ts";
import { createLogger, metricsRegistry } from "../flow/observe.ts";
import type { FakeRequest, FakeServer } from "../testing/fake-server.ts";
import { startFakeOpenAI } from "../testing/openai-fake.ts";
import { ModelCallFailedError, StreamInterruptedError } from "./errors.ts";
import { createModelLayer, type ModelLayer } from "./layer.ts";
import type { ModelEvent, ModelLayerOptions } from "./options.ts";
import { formatTraceIds } from "./trace-ids.ts";
import { wrapModel } from "./wrap-model.ts";

let server: FakeServer;
let openai: ReturnType<typeof createOpenAI>;
let dir: string;
let events: ModelEvent[];
let logLines: string[];
const layers: ModelLayer[] = [];

beforeEach(async () => {
  server = await startFakeOpenAI({ seed: 3 });
  openai = createOpenAI({ baseURL: server.baseURL, apiKey: "sk-test-key-not-real" });
  dir = mkdtempSync(join(tmpdir(), "ballast-models-"));
  events = [];
  logLines = [];
});
afterEach(async () => {
  for (const layer of layers.splice(0)) layer.close();
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

function layer(options: ModelLayerOptions = {}): ModelLayer {
  const l = createModelLayer({
    retry: { baseDelayMs: 1, maxDelayMs: 50 },
    onEvent: (event) => events.push(event),
    logger: createLogger({ level: "debug", destination: { write: (line: string) => logLines.push(line) } }),
    ...options,
  });
  layers.push(l);
  return l;
}

const forModel = (model: string) => (request: FakeRequest) =>
  (request.body as { model?: string }).model === model;
const prompt = "Describe the ingestion service in two sentences";

async function readAll<T>(stream: ReadableStream<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const part of stream) out.push(part);
  return out;
}

async function parts(result: ReturnType<typeof streamText>) {
  const out: unknown[] = [];
  for await (const part of result.fullStream) out.push(part);
  return out;
}

/** Reads a stream that must fail: the parts seen before, and the error. */
async function failing(result: ReturnType<typeof streamText>) {
  const seen: { type: string }[] = [];
  try {
    for await (const part of result.fullStream) seen.push(part);
  } catch (error) {
    return { seen, error };
  }
  throw new Error(`the stream did not fail: ${JSON.stringify(seen.map((p) => p.type))}`);
}

describe("wrapModel through the AI SDK", () => {
  it("is a LanguageModelV4 that answers like the model it wraps", async () => {
    const bare = await generateText({ model: openai.chat("gpt-4o-mini"), prompt, maxRetries: 0 });
    const model = wrapModel(openai.chat("gpt-4o-mini"), { stage: "descriptions" });
    expect(model.specificationVersion).toBe("v4");
    expect(model.provider).toBe("openai.chat");
    expect(model.modelId).toBe("gpt-4o-mini");
    expect(model.supportedUrls).toEqual(openai.chat("gpt-4o-mini").supportedUrls);
    const wrapped = await generateText({
      model,
      prompt,
      maxRetries: 0,
      providerOptions: { ballast: { stage: "features", item: "svc-1" } },
    });
    expect(wrapped.text).toBe(bare.text);
    // ballast's own options never reach the provider
    expect(server.requests[1]?.rawBody).not.toContain("ballast");
    expect(server.requests[1]?.rawBody).not.toContain("svc-1");
  });

  it("works with generateObject and structured output", async () => {
    // generateObject is deprecated in AI SDK 7 and says so once per process.
    expectWarning("DeprecationWarning");
    expectWarning("Warning");
    const model = layer().wrap(openai.chat("gpt-4o-mini"));
    const structured = await generateText({
      model,
      output: Output.object({ schema: z.object({ name: z.string() }) }),
      prompt: "A service record",
      maxRetries: 0,
    });
    expect(typeof structured.output.name).toBe("string");
    const { object } = await generateObject({
      model,
      schema: z.object({ name: z.string(), tier: z.number() }),
      prompt: "A service record",
      maxRetries: 0,
    });
    expect(typeof object.name).toBe("string");
    expect(typeof object.tier).toBe("number");
  });

  it("retries 429 after the Retry-After wait, and 5xx with jittered backoff", async () => {
    const model = layer({ retry: { baseDelayMs: 5, maxDelayMs: 5000, random: () => 0.5 } }).wrap(
      openai.chat("gpt-4o-mini"),
    );
    server.script([{ status: 429, retryAfter: 1 }, { status: 503 }, { status: 500 }]);
    const result = await generateText({ model, prompt, maxRetries: 0 });
    expect(result.text.length).toBeGreaterThan(0);
    expect(server.requests).toHaveLength(4);
    const retries = events.filter((e) => e.type === "retry");
    expect(retries.map((e) => e.code)).toEqual(["http_429", "http_503", "http_500"]);
    expect(retries[0]?.delayMs).toBe(1000); // honours Retry-After: 1
    expect(retries[1]?.delayMs).toBe(5); // full jitter: half of the 10 ms cap
    expect(retries[2]?.delayMs).toBe(10);
    expect(retries[0]?.requestId).toMatch(/^req_/);
  });

  it("gives up at once on a provider Retry-After beyond the delay clamp", async () => {
    const model = layer({ retry: { maxDelayMs: 100 } }).wrap(openai.chat("gpt-4o-mini"));
    server.script([{ status: 429, retryAfter: 30 }]);
    const error = await generateText({ model, prompt, maxRetries: 0 }).catch((e) => e);
    expect(ModelCallFailedError.isInstance(error)).toBe(true);
    expect(error.isRetryable).toBe(true);
    expect(server.requests).toHaveLength(1);
  });

  it("does not retry other 4xx errors", async () => {
    const model = layer().wrap(openai.chat("gpt-4o-mini"));
    server.script([{ status: 400, errorMessage: "Unsupported parameter" }]);
    const error = await generateText({ model, prompt, maxRetries: 0 }).catch((e) => e);
    expect(error).toBeInstanceOf(ModelCallFailedError);
    expect(error.code).toBe("model_call_failed");
    expect(error.isRetryable).toBe(false);
    expect(error.attempts).toEqual([
      expect.objectContaining({
        model: "openai:gpt-4o-mini",
        code: "http_400",
        statusCode: 400,
        retryable: false,
      }),
    ]);
    expect(error.message).toMatch(/fix the request/);
    expect(server.requests).toHaveLength(1);
  });

  it("falls back in order after exhausted retries, and records and logs who answered", async () => {
    const l = layer({ retry: { maxRetries: 1, baseDelayMs: 1 } });
    const model = l.wrap(openai.chat("gpt-4o-mini"), {
      stage: "mapping",
      fallbacks: [openai.chat("gpt-4.1"), openai.chat("gpt-5-mini")],
    });
    server.script([
      { match: forModel("gpt-4o-mini"), status: 503, times: 2 },
      { match: forModel("gpt-4.1"), status: 404, errorMessage: "The model does not exist" },
    ]);
    const result = await generateText({ model, prompt, maxRetries: 0 });
    expect(result.response.modelId).toBe("gpt-5-mini");
    expect(server.requests.map((r) => (r.body as { model: string }).model)).toEqual([
      "gpt-4o-mini",
      "gpt-4o-mini",
      "gpt-4.1",
      "gpt-5-mini",
    ]);
    const fallbacks = events.filter((e) => e.type === "fallback");
    expect(fallbacks.map((e) => [e.from, e.to, e.code])).toEqual([
      ["openai:gpt-4o-mini", "openai:gpt-4.1", "http_503"],
      ["openai:gpt-4.1", "openai:gpt-5-mini", "http_404"],
    ]);
    expect(
      logLines.some((l) => l.includes("answered by a fallback") && l.includes("openai:gpt-5-mini")),
    ).toBe(true);
    expect(l.costSummary().byModel.map((m) => m.model)).toEqual(["openai:gpt-5-mini"]);
    const metrics = await metricsRegistry.metrics();
    expect(metrics).toMatch(
      /ballast_model_fallbacks_total\{from="openai:gpt-4o-mini",to="openai:gpt-4.1"\} [1-9]/,
    );
    expect(metrics).toMatch(
      /ballast_model_retries_total\{model="openai:gpt-4o-mini",code="http_503"\} [1-9]/,
    );
    expect(metrics).toMatch(
      /ballast_model_calls_total\{model="openai:gpt-5-mini",stage="mapping",kind="generate",outcome="answered"\} [1-9]/,
    );
    expect(metrics).toMatch(
      /ballast_model_tokens_total\{model="openai:gpt-5-mini",stage="mapping",type="input"\} [1-9]/,
    );
  });

  it("hands over to the fallback while the breaker is open, then probes again", async () => {
    const l = layer({
      retry: { maxRetries: 0 },
      breaker: { consecutiveFailures: 2, coolDownMs: 150 },
    });
    const model = l.wrap(openai.chat("gpt-4o-mini"), { fallbacks: [openai.chat("gpt-4.1")] });
    server.script([{ match: forModel("gpt-4o-mini"), status: 502, times: 2 }]);
    await generateText({ model, prompt, maxRetries: 0 });
    await generateText({ model, prompt: `${prompt}!`, maxRetries: 0 });
    expect(l.breakerStats()["openai:gpt-4o-mini"]?.state).toBe("open");
    const before = server.requests.filter(forModel("gpt-4o-mini")).length;
    const third = await generateText({ model, prompt: `${prompt}?`, maxRetries: 0 });
    expect(third.response.modelId).toBe("gpt-4.1");
    expect(server.requests.filter(forModel("gpt-4o-mini")).length).toBe(before); // skipped while open
    await new Promise((r) => setTimeout(r, 160));
    const fourth = await generateText({ model, prompt: `${prompt}.`, maxRetries: 0 });
    expect(fourth.response.modelId).toBe("gpt-4o-mini"); // the half-open probe succeeded
    expect(l.breakerStats()["openai:gpt-4o-mini"]?.state).toBe("closed");
  });

  it("an open breaker without fallbacks fails fast with circuit_open", async () => {
    const l = layer({ retry: { maxRetries: 0 }, breaker: { consecutiveFailures: 1, coolDownMs: 60_000 } });
    const model = l.wrap(openai.chat("gpt-4o-mini"));
    server.script([{ status: 500 }]);
    await expect(generateText({ model, prompt, maxRetries: 0 })).rejects.toThrow(ModelCallFailedError);
    const error = await generateText({ model, prompt, maxRetries: 0 }).catch((e) => e);
    expect(error.attempts[0].code).toBe("circuit_open");
    expect(error.isRetryable).toBe(true);
    expect(server.requests).toHaveLength(1);
  });

  it("times out a hung attempt and retries it", async () => {
    const model = layer({ timeout: { attemptMs: 150 } }).wrap(openai.chat("gpt-4o-mini"));
    server.script([{ hang: true }]);
    const result = await generateText({ model, prompt, maxRetries: 0 });
    expect(result.text.length).toBeGreaterThan(0);
    expect(events.find((e) => e.type === "retry")?.code).toBe("model_timeout");
  });

  it("stops at the call timeout, retries included", async () => {
    const model = layer({ timeout: { callMs: 250, attemptMs: 100 } }).wrap(openai.chat("gpt-4o-mini"));
    server.script([{ hang: true, times: 100 }]);
    const error = await generateText({ model, prompt, maxRetries: 0 }).catch((e) => e);
    expect(error).toBeInstanceOf(ModelCallFailedError);
    expect(error.isRetryable).toBe(true);
    expect(error.attempts.at(-1).code).toBe("model_timeout");
    expect(error.cause.kind).toBe("call");
  });

  it("never retries an abort the caller asked for", async () => {
    const model = layer().wrap(openai.chat("gpt-4o-mini"), { fallbacks: [openai.chat("gpt-4.1")] });
    server.script([{ hang: true }]);
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    const error = await generateText({ model, prompt, maxRetries: 0, abortSignal: controller.signal }).catch(
      (e) => e,
    );
    expect(error.name).toBe("AbortError");
    expect(server.requests).toHaveLength(1);
    expect(events.filter((e) => e.type === "retry" || e.type === "fallback")).toEqual([]);
  });

  it("counts, traces and redacts failures for --trace-ids", async () => {
    const l = layer({ retry: { maxRetries: 1 } });
    const model = l.wrap(openai.chat("gpt-4o-mini"), { stage: "features" });
    server.script([{ status: 500, times: 2, errorMessage: "failed for jane.doe@example.com" }]);
    const error = await generateText({
      model,
      prompt,
      maxRetries: 0,
      providerOptions: { ballast: { item: "svc-42" } },
    }).catch((e) => e);
    const ids = server.requests.map((r) => r.index);
    expect(ids).toHaveLength(2);
    expect(error.requestIds).toHaveLength(2);
    expect(error.requestIds[0]).toMatch(/^req_/);
    const [trace] = l.failures();
    expect(trace).toMatchObject({ item: "svc-42", stage: "features", model: "openai:gpt-4o-mini" });
    expect(trace?.requestIds).toEqual(error.requestIds);
    expect(trace?.message).not.toContain("jane.doe@example.com");
    expect(formatTraceIds(l.failures())).toContain(
      `svc-42\tfeatures\topenai:gpt-4o-mini\tmodel_call_failed\t${error.requestIds.join(",")}`,
    );
    expect(logLines.join("")).not.toContain("jane.doe@example.com");
  });

  it("validates its options", () => {
    expect(() => wrapModel(openai.chat("gpt-4o-mini"), { retry: { maxRetries: -1 } })).toThrow(
      /retry.maxRetries/,
    );
    expect(() => wrapModel({} as never)).toThrow(/LanguageModelV4/);
    expect(() => createModelLayer({ limits: { x: { rpm: 0 } } })).toThrow(/limits.x.rpm/);
    expect(() => createModelLayer({ cache: { path: join(dir, "c.db"), maxSize: "huge" } })).toThrow(
      /not a size/,
    );
    expect(() => wrapModel(openai.chat("gpt-4o-mini"), { layer: layer(), cache: false })).toThrow(/layer/);
    expect(() => wrapModel(openai.chat("gpt-4o-mini"), { layer: {} as never })).toThrow(/ModelLayer/);
    expect(() => createModelLayer({ injectFailures: "p=2" })).toThrow(/inject-failures/);
  });

  it("rejects bad per-call options", async () => {
    const model = layer().wrap(openai.chat("gpt-4o-mini"));
    await expect(
      generateText({ model, prompt, maxRetries: 0, providerOptions: { ballast: { stage: 3 } } }),
    ).rejects.toThrow(/providerOptions.ballast/);
  });
});

describe("streams", () => {
  it("relays the provider's stream unchanged", async () => {
    const bare = await parts(streamText({ model: openai.chat("gpt-4o-mini"), prompt, maxRetries: 0 }));
    const model = layer().wrap(openai.chat("gpt-4o-mini"));
    const wrapped = await parts(streamText({ model, prompt, maxRetries: 0 }));
    // ids, dates and timings differ from call to call; everything else must be the same
    const strip = (ps: unknown[]) =>
      JSON.stringify(ps)
        .replace(/"(id|timestamp|responseId|date|x-request-id)":"[^"]*"/g, "")
        .replace(/"[a-zA-Z0-9]*(PerSecond|Ms|avg|max|min|median|p10|p90)":[0-9.e-]+/g, "");
    expect(strip(wrapped)).toEqual(strip(bare));
  });

  it("retries a stream that fails before its first chunk", async () => {
    const model = layer({ timeout: { firstChunkMs: 100 } }).wrap(openai.chat("gpt-4o-mini"));
    server.script([{ firstChunkDelayMs: 1000 }, { dropAfterChunks: 0 }, { errorAfterChunks: 1 }]);
    const text = await streamText({ model, prompt, maxRetries: 0 }).text;
    expect(text.length).toBeGreaterThan(0);
    expect(server.requests).toHaveLength(4);
    expect(events.filter((e) => e.type === "retry").map((e) => e.code)).toEqual([
      "model_timeout",
      "network_error",
      "http_500", // @ai-sdk/openai turns an in-stream error before any output into a 500
    ]);
  });

  it("a failure after content surfaces as an error: no retry, no fallback, no cache", async () => {
    const l = layer({ cache: { path: join(dir, "cache.db") } });
    const model = l.wrap(openai.chat("gpt-4o-mini"), { fallbacks: [openai.chat("gpt-4.1")] });
    server.script([{ dropAfterChunks: 4 }]);
    const { seen, error } = await failing(streamText({ model, prompt, maxRetries: 0 }));
    expect(seen.some((p) => p.type === "text-delta")).toBe(true);
    expect(seen.some((p) => p.type === "finish")).toBe(false);
    expect(StreamInterruptedError.isInstance(error)).toBe(true);
    expect((error as StreamInterruptedError).message).toMatch(/req_[0-9a-f]+/);
    expect(server.requests).toHaveLength(1);
    expect(events.some((e) => e.type === "retry" || e.type === "fallback")).toBe(false);
    // nothing was cached: the next identical call goes to the provider
    await streamText({ model, prompt, maxRetries: 0 }).text;
    expect(server.requests).toHaveLength(2);
    expect(l.cache?.stats()).toMatchObject({ writes: 1, hits: 0 });
    // `.text` rejects too: never a silently truncated success
    server.script([{ dropAfterChunks: 4 }]);
    await expect(streamText({ model, prompt: "dropped", maxRetries: 0 }).text).rejects.toThrow(/incomplete/);
  });

  it("an error part before any content is retried; a stream that ends early is an error", async () => {
    const usage = {
      inputTokens: { total: 1, noCache: 1, cacheRead: 0, cacheWrite: 0 },
      outputTokens: { total: 1, text: 1, reasoning: 0 },
    };
    const streams: LanguageModelV4StreamPart[][] = [
      [
        { type: "stream-start", warnings: [] },
        { type: "error", error: { message: "overloaded" } },
      ],
      [{ type: "stream-start", warnings: [] }],
      [
        { type: "stream-start", warnings: [] },
        { type: "text-start", id: "1" },
        { type: "text-delta", id: "1", delta: "ok" },
        { type: "text-end", id: "1" },
        { type: "finish", usage, finishReason: { unified: "stop", raw: "stop" } },
      ],
      [
        { type: "stream-start", warnings: [] },
        { type: "text-start", id: "1" },
      ],
      [
        { type: "stream-start", warnings: [] },
        { type: "text-start", id: "1" },
        { type: "finish", usage, finishReason: { unified: "interrupted", raw: undefined } },
      ],
    ];
    const mock = new MockLanguageModelV4({
      doStream: async () => ({ stream: simulateReadableStream({ chunks: streams.shift() ?? [] }) }),
    });
    const model = layer().wrap(mock);
    await expect(streamText({ model, prompt, maxRetries: 0 }).text).resolves.toBe("ok");
    expect(events.filter((e) => e.type === "retry").map((e) => e.code)).toEqual([
      "stream_error",
      "stream_empty",
    ]);
    await expect(streamText({ model, prompt, maxRetries: 0 }).text).rejects.toThrow(/without a finish event/);
    await expect(streamText({ model, prompt, maxRetries: 0 }).text).rejects.toThrow(
      /finish reason "interrupted"/,
    );
  });

  it("an in-stream provider error after content is an error too", async () => {
    const model = layer().wrap(openai.chat("gpt-4o-mini"));
    server.script([{ errorAfterChunks: 3 }]);
    await expect(streamText({ model, prompt, maxRetries: 0 }).text).rejects.toThrow();
    expect(server.requests).toHaveLength(1);
  });

  it("the call timeout still ends a stream after its first chunk", async () => {
    const model = layer({ timeout: { callMs: 200 } }).wrap(openai.chat("gpt-4o-mini"));
    server.script([{ chunkDelayMs: 100 }]);
    const { seen, error } = await failing(streamText({ model, prompt, maxRetries: 0 }));
    expect(seen.some((p) => p.type === "text-delta")).toBe(true);
    expect(StreamInterruptedError.isInstance(error)).toBe(true);
    expect((error as Error).message).toMatch(/timed out after 200 ms/);
  });

  it("a caller that stops reading releases the call", async () => {
    const l = layer({ limits: { "*": { concurrency: 1 } } });
    const model = l.wrap(openai.chat("gpt-4o-mini"));
    const result = await model.doStream({
      prompt: [{ role: "user", content: [{ type: "text", text: prompt }] }],
    });
    const reader = result.stream.getReader();
    await reader.read();
    await reader.cancel();
    expect(l.limiterStats()["openai:gpt-4o-mini"]?.inFlight).toBe(0);
    expect(l.failures()).toEqual([]);
  });
});

describe("cache through the wrapper", () => {
  it("serves generate and stream hits with no network, parts in order", async () => {
    const l = layer({ cache: { path: join(dir, "cache.db") } });
    const model = l.wrap(openai.chat("gpt-4o-mini"), { stage: "descriptions" });
    const first = await generateText({ model, prompt, maxRetries: 0 });
    const second = await generateText({ model, prompt, maxRetries: 0 });
    expect(second.text).toBe(first.text);
    expect(second.usage.outputTokens).toBe(first.usage.outputTokens);
    const call = { prompt: [{ role: "user" as const, content: [{ type: "text" as const, text: prompt }] }] };
    const live = await readAll((await model.doStream(call)).stream);
    const hit = await readAll((await model.doStream(call)).stream);
    expect(hit).toEqual(live);
    expect(live.map((p) => p.type)).toContain("text-delta");
    expect(server.requests).toHaveLength(2);
    expect(l.cache?.stats()).toMatchObject({ hits: 2, misses: 2, writes: 2 });
    const summary = l.costSummary();
    expect(summary).toMatchObject({ calls: 4, cacheHits: 2 });
    expect(summary.byStage[0]?.stage).toBe("descriptions");
    expect(summary.costUsd).toBeGreaterThan(0);
  });

  it("never caches errors, and respects read-only and per-call modes", async () => {
    const l = layer({ cache: { path: join(dir, "cache.db") } });
    const model = l.wrap(openai.chat("gpt-4o-mini"));
    server.script([{ status: 400 }]);
    await expect(generateText({ model, prompt, maxRetries: 0 })).rejects.toThrow();
    await generateText({ model, prompt, maxRetries: 0 });
    expect(server.requests).toHaveLength(2);
    await generateText({
      model,
      prompt: "other",
      maxRetries: 0,
      providerOptions: { ballast: { cacheMode: "off" } },
    });
    await generateText({ model, prompt: "other", maxRetries: 0 });
    expect(server.requests).toHaveLength(4);
    const readOnly = l.wrap(openai.chat("gpt-4o-mini"), { cacheMode: "read-only" });
    await generateText({ model: readOnly, prompt: "third", maxRetries: 0 });
    await generateText({ model: readOnly, prompt: "third", maxRetries: 0 });
    expect(server.requests).toHaveLength(6);
    await generateText({ model: readOnly, prompt, maxRetries: 0 });
    expect(server.requests).toHaveLength(6);
  });

  it("a corrupt entry is a miss and is healed by the next write", async () => {
    const path = join(dir, "cache.db");
    const l = layer({ cache: { path } });
    const model = l.wrap(openai.chat("gpt-4o-mini"));
    await generateText({ model, prompt, maxRetries: 0 });
    l.cache?.flush();
    const { DatabaseSync } = await import("node:sqlite");
    const db = new DatabaseSync(path);
    db.exec("UPDATE bodies SET body = CAST('{}' AS BLOB)");
    db.close();
    await generateText({ model, prompt, maxRetries: 0 });
    await generateText({ model, prompt, maxRetries: 0 });
    expect(server.requests).toHaveLength(2);
    expect(l.cache?.stats()).toMatchObject({ corrupt: 1, hits: 1 });
  });
});

describe("limits, budgets and chaos", () => {
  it("never lets more than rpm requests reach the provider in a window", async () => {
    const arrivals: number[] = [];
    const l = layer({ limits: { "openai:gpt-4o-mini": { rpm: 3, windowMs: 300 } } });
    const model = l.wrap(openai.chat("gpt-4o-mini"));
    await Promise.all(
      Array.from({ length: 7 }, (_, i) =>
        generateText({ model, prompt: `${prompt} ${i}`, maxRetries: 0 }).then(() =>
          arrivals.push(performance.now()),
        ),
      ),
    );
    expect(server.requests).toHaveLength(7);
    const stats = l.limiterStats()["openai:gpt-4o-mini"];
    expect(stats?.admitted).toBe(7);
    arrivals.sort((a, b) => a - b);
    // 7 requests at 3 per 300 ms need at least two full windows
    expect((arrivals.at(-1) as number) - (arrivals[0] as number)).toBeGreaterThanOrEqual(600 - 50);
  });

  it("enforces a stage budget under parallel fan-out", async () => {
    const l = layer({
      pricing: { "gpt-4o-mini": { input: 1000, output: 1000 } }, // $0.001 per token
      stageBudgets: { mapping: { costUsd: 0.5 } },
    });
    const model = l.wrap(openai.chat("gpt-4o-mini"), { stage: "mapping" });
    const results = await Promise.allSettled(
      Array.from({ length: 10 }, (_, i) =>
        generateText({ model, prompt: `item ${i}`, maxOutputTokens: 100, maxRetries: 0 }),
      ),
    );
    const ok = results.filter((r) => r.status === "fulfilled").length;
    const refused = results.filter((r) => r.status === "rejected");
    expect(ok).toBeGreaterThan(0);
    expect(refused.length).toBeGreaterThan(0);
    expect((refused[0] as PromiseRejectedResult).reason.code).toBe("budget_exceeded");
    expect(server.requests).toHaveLength(ok);
    expect(l.costSummary().costUsd).toBeLessThanOrEqual(0.5);
  });

  it("a soft budget warns once and lets calls through", async () => {
    const l = layer({ budget: { tokens: 10, mode: "soft" } });
    const model = l.wrap(openai.chat("gpt-4o-mini"));
    await generateText({ model, prompt, maxRetries: 0 });
    await generateText({ model, prompt: "again", maxRetries: 0 });
    const warnings = events.filter((e) => e.type === "budget_warning");
    expect(warnings).toHaveLength(1);
    expect(logLines.some((l) => l.includes("soft mode"))).toBe(true);
  });

  it("injected failures are seeded and exercise retries and fallbacks", async () => {
    const run = async () => {
      events = [];
      const l = layer({ injectFailures: "p=0.5,seed=11", retry: { maxRetries: 1, baseDelayMs: 1 } });
      const model = l.wrap(openai.chat("gpt-4o-mini"), { fallbacks: [openai.chat("gpt-4.1")] });
      const answered: string[] = [];
      for (let i = 0; i < 8; i++) {
        const result = await generateText({ model, prompt: `q${i}`, maxRetries: 0 }).catch(() => undefined);
        answered.push(result?.response.modelId ?? "failed");
      }
      return { answered, kinds: events.map((e) => `${e.type}:${"code" in e ? e.code : ""}`) };
    };
    const first = await run();
    const second = await run();
    expect(second).toEqual(first);
    expect(first.kinds).toContain("retry:injected_failure");
    expect(first.kinds).toContain("fallback:injected_failure");
    expect(first.answered.filter((a) => a !== "failed").length).toBeGreaterThan(4);
  });
});
