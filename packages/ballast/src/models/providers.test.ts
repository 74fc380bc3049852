import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createAnthropic } from "@ai-sdk/anthropic";
import { createGoogleGenerativeAI } from "@ai-sdk/google";
import { createOpenAI } from "@ai-sdk/openai";
import type { LanguageModelV4, LanguageModelV4StreamPart } from "@ai-sdk/provider";
import { generateText, streamText } from "ai";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createBallast } from "../flow/engine.ts";
import { createLogger } from "../flow/observe.ts";
import type { WorkflowContext } from "../flow/types.ts";
import { defineWorkflow } from "../flow/workflow.ts";
import { openSqliteJournal } from "../journal/sqlite-journal.ts";
import { startFakeAnthropic } from "../testing/anthropic-fake.ts";
import type { FakeServer } from "../testing/fake-server.ts";
import { startFakeGemini } from "../testing/gemini-fake.ts";
import { createLocalModel } from "../testing/local-model.ts";
import { startFakeOpenAI } from "../testing/openai-fake.ts";
import { summarizeModelCalls } from "./cost-summary.ts";
import { StreamInterruptedError } from "./errors.ts";
import { createModelLayer, type ModelLayer } from "./layer.ts";
import type { ModelLayerOptions } from "./options.ts";

let dir: string;
let servers: FakeServer[];
const layers: ModelLayer[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "ballast-providers-"));
  servers = [];
});
afterEach(async () => {
  for (const layer of layers.splice(0)) layer.close();
  for (const server of servers) await server.close();
  rmSync(dir, { recursive: true, force: true });
});

async function fakes() {
  const [openaiServer, anthropicServer, geminiServer] = await Promise.all([
    startFakeOpenAI({ seed: 2 }),
    startFakeAnthropic({ seed: 2 }),
    startFakeGemini({ seed: 2 }),
  ]);
  servers.push(openaiServer, anthropicServer, geminiServer);
  return {
    openaiServer,
    anthropicServer,
    geminiServer,
    openai: createOpenAI({ baseURL: openaiServer.baseURL, apiKey: "sk-test-not-real" }),
    anthropic: createAnthropic({ baseURL: anthropicServer.baseURL, apiKey: "sk-ant-test-not-real" }),
    google: createGoogleGenerativeAI({ baseURL: geminiServer.baseURL, apiKey: "test-not-real" }),
  };
}

function layer(options: ModelLayerOptions = {}): ModelLayer {
  const l = createModelLayer({
    retry: { baseDelayMs: 1 },
    logger: createLogger({ level: "silent" }),
    ...options,
  });
  layers.push(l);
  return l;
}

async function readAll<T>(stream: ReadableStream<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const part of stream) out.push(part);
  return out;
}

const call = (text: string) => ({
  prompt: [{ role: "user" as const, content: [{ type: "text" as const, text }] }],
});
const prompt = "Map the billing service to the capability catalogue";

describe("across providers", () => {
  it("falls back from OpenAI to Anthropic to Gemini and records who answered", async () => {
    const f = await fakes();
    const l = layer({ retry: { maxRetries: 1, baseDelayMs: 1 } });
    const model = l.wrap(f.openai.chat("gpt-4o-mini"), {
      stage: "mapping",
      fallbacks: [f.anthropic("claude-3-5-haiku-latest"), f.google("gemini-2.5-flash")],
    });
    f.openaiServer.script([{ status: 503, times: 2 }]);
    f.anthropicServer.script([{ status: 529 }, { status: 529 }]); // Anthropic's "overloaded"
    // maxOutputTokens set: Anthropic warns about unknown models without it
    const result = await generateText({ model, prompt, maxOutputTokens: 500, maxRetries: 0 });
    expect(result.text.length).toBeGreaterThan(0);
    expect(l.costSummary().byModel.map((m) => m.model)).toEqual(["google:gemini-2.5-flash"]);
    expect(l.costSummary().costUsd).toBeGreaterThan(0);

    // streamed: Anthropic answers, and its stream is relayed unchanged
    f.openaiServer.script([{ status: 500, times: 2 }]);
    const streamed = await streamText({ model, prompt: `${prompt}.`, maxOutputTokens: 500, maxRetries: 0 })
      .text;
    expect(streamed.length).toBeGreaterThan(0);
    expect(l.costSummary().byModel.map((m) => m.model)).toContain("anthropic:claude-3-5-haiku-latest");
  });

  it("retries Anthropic and Gemini errors by status, and drops mid-stream surface as errors", async () => {
    const f = await fakes();
    const l = layer();
    const claude = l.wrap(f.anthropic("claude-sonnet-4-5"));
    const gemini = l.wrap(f.google("gemini-2.5-flash"));
    f.anthropicServer.script([{ status: 429, retryAfter: 0 }]);
    f.geminiServer.script([{ status: 503 }]);
    await expect(generateText({ model: claude, prompt, maxRetries: 0 })).resolves.toBeDefined();
    await expect(generateText({ model: gemini, prompt, maxRetries: 0 })).resolves.toBeDefined();
    expect(f.anthropicServer.requests).toHaveLength(2);
    expect(f.geminiServer.requests).toHaveLength(2);
    f.anthropicServer.script([{ dropAfterChunks: 5 }]);
    const error: unknown = await Promise.resolve(
      streamText({ model: claude, prompt: "drop", maxRetries: 0 }).text,
    ).then(
      () => undefined,
      (e: unknown) => e,
    );
    const cause = (error as { cause?: unknown } | undefined)?.cause;
    expect(StreamInterruptedError.isInstance(error) || StreamInterruptedError.isInstance(cause)).toBe(true);
    f.geminiServer.script([{ dropAfterChunks: 2 }]);
    await expect(streamText({ model: gemini, prompt: "drop", maxRetries: 0 }).text).rejects.toThrow();
  });

  it("caches and replays each provider's stream parts in order", async () => {
    const f = await fakes();
    const l = layer({ cache: { path: join(dir, "cache.db") } });
    const models: LanguageModelV4[] = [
      l.wrap(f.openai.responses("gpt-4.1")),
      l.wrap(f.anthropic("claude-sonnet-4-5")),
      l.wrap(f.google("gemini-2.5-flash")),
    ];
    for (const model of models) {
      const live = await readAll((await model.doStream(call(prompt))).stream);
      const hit = await readAll((await model.doStream(call(prompt))).stream);
      expect(hit).toEqual(live);
      expect(live.some((p: LanguageModelV4StreamPart) => p.type === "text-delta")).toBe(true);
      const first = await model.doGenerate(call(`${prompt}?`));
      const again = await model.doGenerate(call(`${prompt}?`));
      expect(again.content).toEqual(first.content);
    }
    const requests = servers.reduce((n, s) => n + s.requests.length, 0);
    expect(requests).toBe(6);
    const summary = l.costSummary();
    expect(summary.cacheHits).toBe(6);
    expect(summary.tokens.reasoningTokens).toBeGreaterThanOrEqual(0);
  });

  it("the deterministic local model works offline, inside a run, with replay", async () => {
    const journal = await openSqliteJournal({
      path: join(dir, "b.db"),
      blobDir: join(dir, "blobs"),
      durability: "normal",
    });
    try {
      const model = layer().wrap(createLocalModel({ seed: 4 }), { stage: "descriptions" });
      const wf = defineWorkflow({
        name: "offline",
        version: "1",
        run: async (ctx: WorkflowContext) =>
          ctx.step("describe", async () => {
            const chunks: string[] = [];
            for await (const d of streamText({ model, prompt, maxRetries: 0 }).textStream) chunks.push(d);
            return chunks;
          }),
      });
      const ballast = createBallast({ journal, logger: createLogger({ level: "silent" }) });
      const run = await ballast.start(wf, {});
      const output = await run.result();
      const replay = await ballast.replay(run.runId);
      expect(replay.output).toEqual(output);
      const summary = summarizeModelCalls(await journal.readEvents(run.runId));
      expect(summary.byStage[0]).toMatchObject({ stage: "descriptions", calls: 1 });
    } finally {
      await journal.close();
    }
  });
});
