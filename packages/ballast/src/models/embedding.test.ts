import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createOpenAI } from "@ai-sdk/openai";
import { embed, embedMany } from "ai";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createLogger } from "../flow/observe.ts";
import type { FakeServer } from "../testing/fake-server.ts";
import { startFakeOpenAI } from "../testing/openai-fake.ts";
import { EmbeddingCapError, ModelCallFailedError } from "./errors.ts";
import { createModelLayer, type ModelLayer } from "./layer.ts";
import type { ModelLayerOptions } from "./options.ts";
import { wrapEmbeddingModel } from "./wrap-model.ts";

let server: FakeServer;
let openai: ReturnType<typeof createOpenAI>;
let dir: string;
const layers: ModelLayer[] = [];

beforeEach(async () => {
  server = await startFakeOpenAI({ seed: 9 });
  openai = createOpenAI({ baseURL: server.baseURL, apiKey: "sk-test-not-real" });
  dir = mkdtempSync(join(tmpdir(), "ballast-embed-"));
});
afterEach(async () => {
  for (const layer of layers.splice(0)) layer.close();
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

function layer(options: ModelLayerOptions = {}): ModelLayer {
  const l = createModelLayer({
    cache: { path: join(dir, "cache.db") },
    retry: { baseDelayMs: 1 },
    logger: createLogger({ level: "silent" }),
    ...options,
  });
  layers.push(l);
  return l;
}

const sentValues = () => server.requests.map((r) => (r.body as { input: string[] }).input);

describe("wrapped embedding models", () => {
  it("caches each value by content hash and only sends the new ones", async () => {
    const l = layer();
    const model = l.wrapEmbedding(openai.embedding("text-embedding-3-small"), { phase: "index" });
    expect(model.provider).toBe("openai.embedding");
    expect(model.maxEmbeddingsPerCall).toBe(openai.embedding("text-embedding-3-small").maxEmbeddingsPerCall);
    expect(model.supportsParallelCalls).toBe(
      openai.embedding("text-embedding-3-small").supportsParallelCalls,
    );
    const first = await embedMany({ model, values: ["alpha", "beta"], maxRetries: 0 });
    const second = await embedMany({ model, values: ["beta", "gamma", "alpha"], maxRetries: 0 });
    expect(sentValues()).toEqual([["alpha", "beta"], ["gamma"]]);
    expect(second.embeddings[0]).toEqual(first.embeddings[1]);
    expect(second.embeddings[2]).toEqual(first.embeddings[0]);
    const again = await embed({ model, value: "gamma", maxRetries: 0 });
    expect(again.embedding).toEqual(second.embeddings[1]);
    expect(server.requests).toHaveLength(2);
    expect(l.embeddingStats({ phase: "index" })).toEqual({
      hits: 3,
      misses: 3,
      calls: 2,
      cap: -1,
      fallbackReason: null,
    });
    expect(l.costSummary().byModel[0]?.model).toBe("openai:text-embedding-3-small");
  });

  it("the cache key includes the dimensions", async () => {
    const model = layer().wrapEmbedding(openai.embedding("text-embedding-3-small"));
    await embed({ model, value: "alpha", maxRetries: 0 });
    await embed({ model, value: "alpha", maxRetries: 0, providerOptions: { openai: { dimensions: 8 } } });
    expect(server.requests).toHaveLength(2);
  });

  it("caps provider calls per phase: 0 disables, N caps, -1 is unlimited", async () => {
    const l = layer({ embeddingCaps: { perPhase: { select: 1, lexical: 0 } } });
    const model = l.wrapEmbedding(openai.embedding("text-embedding-3-small"));
    const call = (value: string, phase: string) =>
      embed({ model, value, maxRetries: 0, providerOptions: { ballast: { phase } } });
    await call("one", "select");
    const capped = await call("two", "select").catch((e) => e);
    expect(EmbeddingCapError.isInstance(capped)).toBe(true);
    expect(capped.code).toBe("embedding_cap_exceeded");
    expect(capped.reason).toBe("cap_exceeded");
    await expect(call("one", "select")).resolves.toBeDefined(); // a cache hit needs no call
    const disabled = await call("x", "lexical").catch((e) => e);
    expect(disabled.code).toBe("embeddings_disabled");
    await call("a", "other");
    await call("b", "other");
    expect(l.embeddingStats({ phase: "select" })).toEqual({
      hits: 1,
      misses: 2,
      calls: 1,
      cap: 1,
      fallbackReason: "cap_exceeded",
    });
    expect(l.embeddingStats({ phase: "lexical" })).toMatchObject({
      calls: 0,
      cap: 0,
      fallbackReason: "disabled",
    });
    expect(l.embeddingStats({ phase: "other" })).toMatchObject({ calls: 2, cap: -1, fallbackReason: null });
    expect(l.embeddingStats()).toMatchObject({ calls: 3, hits: 1 });
  });

  it("caps provider calls per run, under parallel calls too", async () => {
    const l = layer({ embeddingCaps: { perRun: 2, perPhase: -1 } });
    const model = l.wrapEmbedding(openai.embedding("text-embedding-3-small"));
    const results = await Promise.allSettled(
      ["a", "b", "c", "d", "e"].map((value) => embed({ model, value, maxRetries: 0 })),
    );
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(2);
    expect(server.requests).toHaveLength(2);
    expect(l.embeddingStats()).toMatchObject({ calls: 2, cap: 2, fallbackReason: "cap_exceeded" });
  });

  it("retries transient failures and reports the rest", async () => {
    const model = wrapEmbeddingModel(openai.embedding("text-embedding-3-small"), {
      retry: { maxRetries: 1, baseDelayMs: 1 },
      logger: createLogger({ level: "silent" }),
    });
    server.script([{ status: 503 }]);
    await expect(embed({ model, value: "x", maxRetries: 0 })).resolves.toBeDefined();
    server.script([{ status: 401, times: 2 }]);
    const error = await embed({ model, value: "y", maxRetries: 0 }).catch((e) => e);
    expect(ModelCallFailedError.isInstance(error)).toBe(true);
    expect(error.isRetryable).toBe(false);
  });

  it("without a cache every value is sent", async () => {
    const model = wrapEmbeddingModel(openai.embedding("text-embedding-3-small"), {
      phase: "p",
      logger: createLogger({ level: "silent" }),
    });
    await embed({ model, value: "same", maxRetries: 0 });
    await embed({ model, value: "same", maxRetries: 0 });
    expect(server.requests).toHaveLength(2);
    expect(() => wrapEmbeddingModel({} as never)).toThrow(/EmbeddingModelV4/);
  });
});
