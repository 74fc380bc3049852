import { createOpenAI } from "@ai-sdk/openai";
import { generateText } from "ai";
import * as testing from "ballast/testing";
import { afterEach, describe, expect, it } from "vitest";
import type { FakeServer } from "./fake-server.ts";
import { startFakeOpenAI } from "./openai-fake.ts";

const servers: FakeServer[] = [];
async function start(options: Parameters<typeof startFakeOpenAI>[0] = {}) {
  const server = await startFakeOpenAI(options);
  servers.push(server);
  return server;
}
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function call(server: FakeServer, prompt = "hello") {
  const openai = createOpenAI({ baseURL: server.baseURL, apiKey: "k" });
  return generateText({ model: openai.chat("gpt-4o-mini"), prompt, maxRetries: 0 }).then(
    (r) => ({ ok: true as const, text: r.text }),
    (e: { statusCode?: number }) => ({ ok: false as const, status: e.statusCode }),
  );
}

describe("fake server scripting", () => {
  it("binds 127.0.0.1 on an ephemeral port and exposes the API base URL", async () => {
    const server = await start();
    expect(server.url).toBe(`http://127.0.0.1:${server.port}`);
    expect(server.baseURL).toBe(`${server.url}/v1`);
    expect(server.port).toBeGreaterThan(0);
  });

  it("consumes steps in order, then falls back to the default", async () => {
    const server = await start();
    server.script([{ status: 500 }, { status: 503, times: 2 }, {}]);
    const outcomes = [];
    for (let i = 0; i < 5; i++) outcomes.push(await call(server));
    expect(outcomes.map((o) => (o.ok ? 200 : o.status))).toEqual([500, 503, 503, 200, 200]);
  });

  it("matches steps by request index or predicate", async () => {
    const server = await start({
      script: [
        { match: 2, status: 502 },
        { match: (r) => JSON.stringify(r.body).includes("boom"), status: 500 },
      ],
    });
    const a = await call(server, "fine");
    const b = await call(server, "boom please");
    const c = await call(server, "fine again");
    expect([a.ok, b.ok, c.ok]).toEqual([true, false, false]);
    expect(b.ok === false && b.status).toBe(500);
    expect(c.ok === false && c.status).toBe(502);
  });

  it("injects seeded failures at a stable rate", async () => {
    const pattern = async (seed: number) => {
      const server = await start({ seed, failureRate: 0.3, failureStatus: 429 });
      const out: number[] = [];
      for (let i = 0; i < 40; i++) {
        const r = await call(server);
        out.push(r.ok ? 200 : (r.status ?? 0));
      }
      return out;
    };
    const first = await pattern(42);
    expect(await pattern(42)).toEqual(first);
    const failures = first.filter((s) => s === 429).length;
    expect(failures).toBeGreaterThan(4);
    expect(failures).toBeLessThan(24);
    expect(await pattern(43)).not.toEqual(first);
  });

  it("applies fixed and seeded random latency and extra headers", async () => {
    const server = await start({ latencyMs: { min: 5, max: 15 }, seed: 1 });
    server.script({ latencyMs: 30, headers: { "x-extra": "yes" } });
    const openai = createOpenAI({ baseURL: server.baseURL, apiKey: "k" });
    const started = performance.now();
    const result = await generateText({ model: openai.chat("gpt-4o-mini"), prompt: "x", maxRetries: 0 });
    expect(performance.now() - started).toBeGreaterThanOrEqual(25);
    expect(result.response.headers?.["x-extra"]).toBe("yes");
    expect((await call(server)).ok).toBe(true);
  });

  it("uses the server-wide respond hook and usage override, and reset() forgets everything", async () => {
    const server = await start({
      respond: async (_request, intent) => (intent.lastUserText === "skip" ? undefined : { text: "fixed" }),
      usage: (intent) => ({ inputTokens: intent.lastUserText.length }),
    });
    await call(server);
    server.script({ status: 500 });
    server.reset();
    expect(server.requests).toEqual([]);
    const openai = createOpenAI({ baseURL: server.baseURL, apiKey: "k" });
    const fixed = await generateText({ model: openai.chat("gpt-4o-mini"), prompt: "abcdef", maxRetries: 0 });
    expect(server.requests[0]?.index).toBe(0);
    expect(fixed.text).toBe("fixed");
    expect(fixed.usage.inputTokens).toBe(6);
    const fallback = await generateText({ model: openai.chat("gpt-4o-mini"), prompt: "skip", maxRetries: 0 });
    expect(fallback.text).not.toBe("fixed");
    server.script([
      { reply: { json: { a: 1 } } },
      { reply: [1, 2] },
      { reply: { text: "cut", finishReason: "length" } },
    ]);
    const replies = [];
    for (let i = 0; i < 3; i++)
      replies.push(await generateText({ model: openai.chat("gpt-4o-mini"), prompt: "x", maxRetries: 0 }));
    expect(replies.map((r) => r.text)).toEqual(['{"a":1}', "[1,2]", "cut"]);
    const cut = replies[2]!;
    expect(cut.finishReason).toBe("length");
  });

  it("close() ends hung requests and is idempotent", async () => {
    const server = await start({ script: [{ hang: true }] });
    const pending = call(server);
    while (server.requests.length === 0) await new Promise((r) => setTimeout(r, 5));
    await Promise.all([server.close(), server.close()]);
    const outcome = await pending;
    expect(outcome.ok).toBe(false);
  });

  it("serves many concurrent calls", async () => {
    const server = await start({ latencyMs: 5 });
    const results = await Promise.all(Array.from({ length: 64 }, (_, i) => call(server, `prompt ${i}`)));
    expect(results.every((r) => r.ok)).toBe(true);
    expect(new Set(server.requests.map((r) => r.index)).size).toBe(64);
  });

  it("refuses a port that is taken", async () => {
    const server = await start();
    await expect(startFakeOpenAI({ port: server.port })).rejects.toThrow(/EADDRINUSE/);
  });

  it("is the ballast/testing subpath export", () => {
    expect(Object.keys(testing).sort()).toEqual([
      "DEFAULT_ANTHROPIC_MODELS",
      "DEFAULT_OPENAI_MODELS",
      "createLocalEmbeddingModel",
      "createLocalModel",
      "estimateTokens",
      "featureHashEmbedding",
      "sampleJsonSchema",
      "startFakeAnthropic",
      "startFakeGemini",
      "startFakeOpenAI",
    ]);
  });
});
