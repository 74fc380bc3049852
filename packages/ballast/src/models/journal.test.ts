import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createOpenAI } from "@ai-sdk/openai";
import { embedMany, generateText, streamText } from "ai";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type Ballast, createBallast } from "../flow/engine.ts";
import { createLogger } from "../flow/observe.ts";
import type { WorkflowContext } from "../flow/types.ts";
import { defineWorkflow } from "../flow/workflow.ts";
import { openSqliteJournal, type SqliteJournal } from "../journal/sqlite-journal.ts";
import type { JournalEvent } from "../journal/types.ts";
import type { FakeServer } from "../testing/fake-server.ts";
import { startFakeOpenAI } from "../testing/openai-fake.ts";
import type { ModelCalledData } from "./call-journal.ts";
import { formatCostSummary, summarizeModelCalls } from "./cost-summary.ts";
import { createModelLayer, type ModelLayer } from "./layer.ts";
import type { ModelLayerOptions } from "./options.ts";

let dir: string;
let journal: SqliteJournal;
let server: FakeServer;
let openai: ReturnType<typeof createOpenAI>;
const layers: ModelLayer[] = [];

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), "ballast-models-journal-"));
  journal = await openSqliteJournal({
    path: join(dir, "b.db"),
    blobDir: join(dir, "blobs"),
    durability: "normal",
  });
  server = await startFakeOpenAI({ seed: 5 });
  openai = createOpenAI({ baseURL: server.baseURL, apiKey: "sk-test-not-real" });
});
afterEach(async () => {
  for (const layer of layers.splice(0)) layer.close();
  await server.close();
  await journal.close();
  rmSync(dir, { recursive: true, force: true });
});

function layer(options: ModelLayerOptions = {}): ModelLayer {
  const l = createModelLayer({
    retry: { baseDelayMs: 1 },
    logger: createLogger({ level: "silent" }),
    ...options,
  });
  layers.push(l);
  return l;
}

const engine = (): Ballast => createBallast({ journal, logger: createLogger({ level: "silent" }) });

async function modelEvents(
  runId: string,
): Promise<(JournalEvent & { data: ModelCalledData & { key: string } })[]> {
  const events = await journal.readEvents(runId);
  return events.filter((e) => e.type === "model.called") as never;
}

type Input = { services: string[] };

function pipeline(l: ModelLayer, promptOf = (s: string) => `Describe service ${s}`) {
  const model = l.wrap(openai.chat("gpt-4o-mini"));
  return defineWorkflow({
    name: "service-ambitions",
    version: "1",
    run: async (ctx: WorkflowContext, input: Input) => {
      const descriptions = await ctx.map(input.services, (service) =>
        ctx.step("describe", async () => {
          const r = await generateText({
            model,
            prompt: promptOf(service),
            maxRetries: 0,
            providerOptions: { ballast: { stage: "descriptions", item: service } },
          });
          return r.text;
        }),
      );
      const features = await ctx.step("features", async () => {
        const parts: string[] = [];
        const s = streamText({
          model,
          prompt: `Features of ${descriptions.join(" ")}`,
          maxRetries: 0,
          providerOptions: { ballast: { stage: "features" } },
        });
        for await (const delta of s.textStream) parts.push(delta);
        return parts;
      });
      return { descriptions, features };
    },
  });
}

describe("model calls inside a run", () => {
  it("journals every call as model.called with hash, model, usage, cost, latency and request id", async () => {
    const l = layer();
    const run = await engine().start(pipeline(l), { services: ["billing", "search"] });
    const output = (await run.result()) as { descriptions: string[]; features: string[] };
    expect(output.descriptions).toHaveLength(2);
    const events = await modelEvents(run.runId);
    expect(events).toHaveLength(3);
    const requestIds = server.requests.map((r) => r.index);
    expect(requestIds).toHaveLength(3);
    const [first] = events;
    expect(first?.data).toMatchObject({
      kind: "generate",
      provider: "openai",
      modelId: "gpt-4o-mini",
      requested: "openai:gpt-4o-mini",
      stage: "descriptions",
      cacheHit: false,
      attempts: 1,
    });
    expect(first?.data.key).toMatch(/describe#0\/model\.called#0$/);
    expect(first?.data.requestHash).toMatch(/^[0-9a-f]{64}$/);
    expect(first?.data.requestId).toMatch(/^req_[0-9a-f]{32}$/);
    expect(first?.data.usage.inputTokens).toBeGreaterThan(0);
    expect(first?.data.usage.outputTokens).toBeGreaterThan(0);
    expect(first?.data.costUsd).toBeGreaterThan(0);
    expect(first?.data.latencyMs).toBeGreaterThan(0);
    expect(first?.data.prompt).toBeUndefined(); // prompt logging is off by default
    const stream = events.find((e) => e.data.kind === "stream");
    expect(stream?.data.stage).toBe("features");
    expect(Array.isArray(stream?.data.parts)).toBe(true);

    const summary = summarizeModelCalls(await journal.readEvents(run.runId));
    expect(summary.byStage.map((s) => [s.stage, s.calls])).toEqual([
      ["descriptions", 2],
      ["features", 1],
    ]);
    expect(summary.costUsd).toBeCloseTo(l.costSummary().costUsd, 12);
    expect(formatCostSummary(summary)).toContain("descriptions total");
  });

  it("replays generate results and stream parts byte for byte with no network", async () => {
    const l = layer();
    const ballast = engine();
    const run = await ballast.start(pipeline(l), { services: ["billing", "search", "ledger"] });
    const output = await run.result();
    const seen = server.requests.length;
    await server.close(); // any network call in the replay would fail
    const replay = await engine().register(pipeline(layer())).replay(run.runId);
    expect(replay.status).toBe("completed");
    expect(JSON.stringify(replay.output)).toBe(JSON.stringify(output));
    expect(server.requests.length).toBe(seen);
  });

  it("a prompt changed since the recording is a divergence naming the step", async () => {
    const run = await engine().start(pipeline(layer()), { services: ["billing"] });
    await run.result();
    const changed = engine().register(pipeline(layer(), (s) => `Describe the service called ${s}`));
    const error = await changed.replay(run.runId).catch((e) => e);
    expect(error.code).toBe("replay_divergence");
    expect(error.message).toMatch(/describe#0/);
  });

  it("a resumed run serves recorded calls and diverges on a changed prompt", async () => {
    const l = layer();
    let fail = true;
    const model = l.wrap(openai.chat("gpt-4o-mini"));
    const make = (prompt: string) =>
      defineWorkflow({
        name: "resumable",
        version: "1",
        retry: { maxAttempts: 1 },
        run: async (ctx: WorkflowContext) => {
          const a = await ctx.step("a", async () => {
            const first = await generateText({ model, prompt, maxRetries: 0 });
            if (fail) throw new Error("crash after the model call");
            return first.text;
          });
          return a;
        },
      });
    const ballast = engine();
    const run = await ballast.start(make("first prompt"), {});
    const result = await run.wait();
    expect(result.status).toBe("failed");
    expect(server.requests).toHaveLength(1);
    fail = false;
    const forked = await engine()
      .register(make("first prompt"))
      .fork(run.runId, {
        atSeq: (await journal.readEvents(run.runId)).findIndex((e) => e.type === "model.called"),
      });
    await forked.result();
    expect(server.requests).toHaveLength(1); // the model call came from the journal
    const diverged = await engine()
      .register(make("another prompt"))
      .fork(run.runId, {
        atSeq: (await journal.readEvents(run.runId)).findIndex((e) => e.type === "model.called"),
      });
    const failure = await diverged.wait();
    // The engine fails the step with the divergence as its cause.
    const cause = failure.error?.details?.["cause"] as { code: string; message: string } | undefined;
    expect(cause?.code).toBe("replay_divergence");
    expect(cause?.message).toMatch(/in step a#0/);
  });

  it("enforces the run's cost budget under parallel fan-out and ends the run politely", async () => {
    const l = layer({ pricing: { "gpt-4o-mini": { input: 1000, output: 1000 } } });
    const model = l.wrap(openai.chat("gpt-4o-mini"));
    const fanOut = defineWorkflow({
      name: "fan-out",
      version: "1",
      budget: { costUsd: 1, mode: "enforce" },
      run: async (ctx: WorkflowContext) =>
        ctx.map(
          Array.from({ length: 12 }, (_, i) => i),
          (i) =>
            ctx.step(
              "call",
              async () =>
                (await generateText({ model, prompt: `item ${i}`, maxOutputTokens: 200, maxRetries: 0 }))
                  .text,
              { retry: false },
            ),
        ),
    });
    const run = await engine().start(fanOut, {});
    const result = await run.wait();
    expect(result.status).toBe("budget_exceeded");
    const summary = summarizeModelCalls(await journal.readEvents(run.runId));
    expect(summary.costUsd).toBeLessThanOrEqual(1);
    expect(server.requests.length).toBe(summary.calls);
    expect(server.requests.length).toBeLessThan(12);
  });

  it("journals a redacted prompt only when prompt logging is on", async () => {
    const l = layer({ logPrompts: true });
    const model = l.wrap(openai.chat("gpt-4o-mini"));
    const wf = defineWorkflow({
      name: "transcript",
      version: "1",
      run: async (ctx: WorkflowContext) =>
        ctx.step("ask", async () => {
          const r = await generateText({
            model,
            system: "You are terse.",
            prompt:
              "Email the summary to jane.doe@example.com using key sk-proj-abcdefghijklmnopqrstuvwx1234",
            maxRetries: 0,
          });
          return r.text;
        }),
    });
    const run = await engine().start(wf, {});
    await run.result();
    const [event] = await modelEvents(run.runId);
    expect(event?.data.prompt).toContain("system: You are terse.");
    expect(event?.data.prompt).toContain("<<REDACTED>>");
    expect(event?.data.prompt).not.toContain("jane.doe@example.com");
    expect(event?.data.prompt).not.toContain("sk-proj-abcdefghijklmnopqrstuvwx1234");
  });

  it("cache hits inside a run are journaled as hits", async () => {
    const l = layer({ cache: { path: join(dir, "cache.db") } });
    await engine()
      .start(pipeline(l), { services: ["billing"] })
      .then((r) => r.result());
    const second = await engine().start(pipeline(l), { services: ["billing"] });
    await second.result();
    const events = await modelEvents(second.runId);
    expect(events.every((e) => e.data.cacheHit)).toBe(true);
    expect(events.every((e) => e.data.attempts === 0 && e.data.costUsd === 0)).toBe(true);
    expect(server.requests).toHaveLength(2);
    const summary = summarizeModelCalls(await journal.readEvents(second.runId));
    expect(summary).toMatchObject({ calls: 2, cacheHits: 2, costUsd: 0 });
  });

  it("journals embeddings and replays them without the provider", async () => {
    const l = layer();
    const embedder = l.wrapEmbedding(openai.embedding("text-embedding-3-small"), { phase: "index" });
    const wf = defineWorkflow({
      name: "embed",
      version: "1",
      run: async (ctx: WorkflowContext) =>
        ctx.step("vectors", async () => {
          const { embeddings } = await embedMany({
            model: embedder,
            values: ["alpha", "beta"],
            maxRetries: 0,
          });
          return embeddings.map((v) => v.slice(0, 4));
        }),
    });
    const run = await engine().start(wf, {});
    const output = await run.result();
    const [event] = await modelEvents(run.runId);
    expect(event?.data).toMatchObject({ kind: "embed", stage: "index", cacheHit: false });
    await server.close();
    const replay = await engine().register(wf).replay(run.runId);
    expect(replay.output).toEqual(output);
  });
});
