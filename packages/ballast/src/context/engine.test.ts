import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { MockEmbeddingModelV4 } from "ai/test";
import fc from "fast-check";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { BallastError } from "../errors.ts";
import { wrapEmbeddingModel } from "../models/index.ts";
import { embedderFromModel } from "./embedders.ts";
import { type ContextEngine, openContext } from "./engine.ts";
import type { DocumentInput } from "./types.ts";

let dir: string;
const open: ContextEngine[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "ballast-context-"));
});

afterEach(async () => {
  for (const ctx of open.splice(0)) await ctx.close();
  rmSync(dir, { recursive: true, force: true });
});

async function ctxAt(
  name = "ctx.db",
  options: Parameters<typeof openContext>[0] = {},
): Promise<ContextEngine> {
  const ctx = await openContext({ path: join(dir, name), ...options });
  open.push(ctx);
  return ctx;
}

const DOCS: DocumentInput[] = [
  {
    id: "journal",
    text: "The journal is an append-only log of events with a hash chain.",
    metadata: { kind: "doc", year: 2024 },
  },
  {
    id: "replay",
    text: "Replay re-executes a run against its journal without network calls.",
    metadata: { kind: "doc", year: 2025 },
  },
  {
    id: "budget",
    text: "Budgets limit tokens, cost and wall time per run.",
    metadata: { kind: "policy", year: 2023 },
  },
  {
    id: "cache",
    text: "The model cache serves repeated requests by their request hash.",
    metadata: { kind: "doc", tags: ["a"] },
  },
  {
    id: "sandbox",
    text: "Commands run in a sandbox under CPU and memory limits.",
    metadata: { kind: "policy", year: 2025 },
  },
];

/** A deterministic toy embedding: letter frequencies, so similar words give similar vectors. */
function letterVector(text: string): number[] {
  const v = new Array<number>(26).fill(0);
  for (const ch of text.toLowerCase()) {
    const i = ch.charCodeAt(0) - 97;
    if (i >= 0 && i < 26) v[i]! += 1;
  }
  return v;
}

function mockModel(options: { cap?: number } = {}) {
  let calls = 0;
  const model = new MockEmbeddingModelV4({
    provider: "mock",
    modelId: "letters",
    maxEmbeddingsPerCall: 100,
    doEmbed: async ({ values }) => {
      calls++;
      if (options.cap !== undefined && calls > options.cap) {
        throw new BallastError({
          code: "embedding_cap_reached",
          message: "The embedding call cap is reached.",
        });
      }
      return { embeddings: values.map(letterVector), warnings: [] };
    },
  });
  return { model, calls: () => calls };
}

describe("documents", () => {
  it("upserts idempotently, versions every change and returns metadata", async () => {
    const ctx = await ctxAt();
    expect(await ctx.version()).toBe(0);
    const first = await ctx.upsert(DOCS);
    expect(first).toEqual({ inserted: 5, updated: 0, skipped: 0, version: 5 });
    expect(await ctx.upsert(DOCS)).toEqual({ inserted: 0, updated: 0, skipped: 5, version: 5 });
    const changed = await ctx.upsert([
      { ...DOCS[0]!, text: "The journal is a hash-chained log." },
      DOCS[1]!,
      DOCS[1]!,
    ]);
    expect(changed).toEqual({ inserted: 0, updated: 1, skipped: 2, version: 6 });
    const doc = await ctx.get("journal");
    expect(doc).toMatchObject({
      id: "journal",
      version: 2,
      metadata: { kind: "doc", year: 2024 },
      scope: "global",
    });
    expect((await ctx.get("journal", { at: 5 }))?.text).toBe(DOCS[0]!.text);
    const history = await ctx.history("journal");
    expect(history.map((h) => [h.version, h.validFrom, h.validTo])).toEqual([
      [1, 1, 6],
      [2, 6, undefined],
    ]);
    const { results } = await ctx.search("hash chained journal", { strategy: "SPARSE" });
    expect(results[0]).toMatchObject({ id: "journal", metadata: { kind: "doc", year: 2024 }, version: 2 });
  });

  it("rejects a batch that repeats an id with different content, writing nothing", async () => {
    const ctx = await ctxAt();
    const bad = [DOCS[0]!, { ...DOCS[0]!, text: "other" }];
    await expect(ctx.upsert(bad)).rejects.toMatchObject({ code: "batch_conflict" });
    expect(await ctx.version()).toBe(0);
  });

  it("validates documents with stable messages", async () => {
    const ctx = await ctxAt();
    await expect(ctx.upsert([{ id: "", text: "x" }])).rejects.toThrow(
      "Document 0 is invalid: id must be a non-empty string",
    );
    await expect(ctx.upsert([{ id: "a", text: "x", scope: "session" }])).rejects.toThrow(
      "session and task documents need a scopeId",
    );
    await expect(ctx.upsert([{ id: "a", text: "x", scopeId: "s" }])).rejects.toThrow(
      "global documents take no scopeId",
    );
    await expect(ctx.upsert([{ id: "a", text: "x", extra: 1 } as never])).rejects.toThrow(
      "unknown field extra",
    );
    await expect(ctx.upsert("nope" as never)).rejects.toMatchObject({ code: "documents_invalid" });
    await expect(ctx.delete("nope" as never)).rejects.toMatchObject({ code: "documents_invalid" });
  });

  it("deletes as a new version and keeps history for time travel", async () => {
    const ctx = await ctxAt();
    await ctx.upsert(DOCS);
    expect(await ctx.delete(["budget", "missing", "budget"])).toEqual({ deleted: 1, missing: 1, version: 6 });
    expect(await ctx.get("budget")).toBeUndefined();
    expect((await ctx.get("budget", { at: { version: 5 } }))?.text).toContain("Budgets");
    expect(
      (await ctx.search("budgets tokens", { strategy: "SPARSE" })).results.map((r) => r.id),
    ).not.toContain("budget");
    expect((await ctx.search("budgets tokens", { strategy: "SPARSE", at: 5 })).results[0]?.id).toBe("budget");
    // Re-inserting a deleted id starts a new revision.
    expect(await ctx.upsert([DOCS[2]!])).toMatchObject({ inserted: 1, version: 7 });
    expect((await ctx.get("budget"))?.version).toBe(2);
  });

  it("persists across reopen and shares the journal's database file", async () => {
    const ctx = await ctxAt("shared.db");
    await ctx.upsert(DOCS);
    await ctx.close();
    open.length = 0;
    const again = await ctxAt("shared.db");
    expect(await again.version()).toBe(5);
    expect((await again.search("sandbox memory limits", { strategy: "SPARSE" })).results[0]?.id).toBe(
      "sandbox",
    );
    const home = await openContext({ home: join(dir, "home") });
    open.push(home);
    expect(home.store.location).toBe(join(dir, "home", "ballast.db"));
  });

  it("refuses an index from a newer schema or another analyzer, and use after close", async () => {
    const path = join(dir, "schema.db");
    const ctx = await openContext({ path });
    await ctx.close();
    await expect(ctx.version()).rejects.toMatchObject({ code: "context_closed" });
    await ctx.close();
    const db = new DatabaseSync(path);
    db.exec("UPDATE ctx_meta SET value = 'other-analyzer' WHERE key = 'analyzer'");
    await expect(openContext({ path })).rejects.toMatchObject({ code: "context_analyzer_changed" });
    db.exec("UPDATE ctx_meta SET value = '99' WHERE key = 'schema_version'");
    await expect(openContext({ path })).rejects.toMatchObject({ code: "context_schema_too_new" });
    db.close();
  });

  it("sees writes made through another connection", async () => {
    const a = await ctxAt("two.db");
    const b = await ctxAt("two.db");
    await a.upsert(DOCS.slice(0, 2));
    expect((await b.search("replay network", { strategy: "SPARSE" })).results[0]?.id).toBe("replay");
    await b.upsert([{ ...DOCS[1]!, text: "Replay serves effects from the journal." }]);
    await b.delete(["journal"]);
    const hits = (await a.search("journal", { strategy: "SPARSE" })).results.map((r) => r.id);
    expect(hits).toEqual(["replay"]);
    expect(await a.version()).toBe(4);
  });
});

describe("search", () => {
  it("validates its config with stable messages", async () => {
    const ctx = await ctxAt();
    const cases: [object, string][] = [
      [{ k: 0 }, "Invalid search config: k must be an integer greater than 0."],
      [{ k: 1.5 }, "Invalid search config: k must be an integer greater than 0."],
      [{ rrf_k: 0 }, "Invalid search config: rrf_k must be a number greater than 0."],
      [{ weights: { sparse: 2 } }, "Invalid search config: weights.sparse must be a number between 0 and 1."],
      [
        { weights: { sparse: 0, dense: 0 } },
        "Invalid search config: weights.sparse and weights.dense must not both be 0.",
      ],
      [{ strategy: "HYBRID" }, "Invalid search config: strategy must be one of AUTO, DENSE, SPARSE."],
      [{ fusion: "max" }, "Invalid search config: fusion must be one of convex, rrf."],
      [{ colour: "red" }, 'Invalid search config: unknown search option "colour".'],
    ];
    for (const [config, message] of cases) {
      const error = await ctx.search("x", config).catch((e: unknown) => e);
      expect(BallastError.hasCode(error, "search_config_invalid")).toBe(true);
      expect((error as Error).message).toBe(message);
    }
    await expect(ctx.search(1 as never)).rejects.toMatchObject({ code: "search_config_invalid" });
    await expect(ctx.search("x", { at: { when: 1 } as never })).rejects.toMatchObject({ code: "at_invalid" });
    await expect(ctx.search("x", { at: 3 })).rejects.toMatchObject({ code: "version_not_found" });
    await expect(openContext({ path: join(dir, "bad.db"), bm25: { b: 3 } })).rejects.toMatchObject({
      code: "search_config_invalid",
    });
  });

  it("orders by score then id, deterministically", async () => {
    const ctx = await ctxAt();
    // Identical texts tie exactly; ids decide.
    await ctx.upsert(["d", "b", "c", "a", "e"].map((id) => ({ id, text: "same words here" })));
    const { results } = await ctx.search("words", { k: 3, strategy: "SPARSE" });
    expect(results.map((r) => r.id)).toEqual(["a", "b", "c"]);
    expect(new Set(results.map((r) => r.score)).size).toBe(1);
  });

  it("answers 4 concurrent identical searches identically (CE-15)", async () => {
    const ctx = await ctxAt();
    await ctx.upsert(DOCS);
    await ctx.fitLsa({ dimensions: 3 });
    for (const strategy of ["SPARSE", "AUTO", "DENSE"] as const) {
      const runs = await Promise.all([1, 2, 3, 4].map(() => ctx.search("journal run limits", { strategy })));
      for (const run of runs) expect(run).toEqual(runs[0]);
    }
  });

  it("applies filters and scopes before ranking", async () => {
    const ctx = await ctxAt();
    const many: DocumentInput[] = Array.from({ length: 30 }, (_, i) => ({
      id: `n${String(i).padStart(2, "0")}`,
      text: "run journal ".repeat(5),
      metadata: { kind: "noise" },
    }));
    await ctx.upsert([...many, ...DOCS]);
    // BM25 alone ranks the noise first; the one policy match must still be found at k=1.
    const filtered = await ctx.search("run journal tokens", {
      k: 1,
      strategy: "SPARSE",
      filters: JSON.stringify({ field: "kind", op: "eq", value: "policy" }),
    });
    expect(filtered.results.map((r) => r.id)).toEqual(["budget"]);
    expect(filtered.filters).toBe('{"field":"kind","op":"eq","value":"policy"}');
    await expect(
      ctx.search("x", { filters: { field: "kind", op: "like", value: "p" } }),
    ).rejects.toMatchObject({
      code: "filters_invalid",
    });
    await ctx.upsert([
      { id: "s1", text: "session note about the journal", scope: "session", scopeId: "S1" },
      { id: "s2", text: "session note about the journal", scope: "session", scopeId: "S2" },
      { id: "t1", text: "task note about the journal", scope: "task", scopeId: "T1" },
    ]);
    const scoped = await ctx.search("note journal", {
      k: 50,
      strategy: "SPARSE",
      scope: { session: "S1", task: "T1" },
    });
    const ids = scoped.results.map((r) => r.id);
    expect(ids).toContain("s1");
    expect(ids).toContain("t1");
    expect(ids).not.toContain("s2");
    expect(scoped.results.find((r) => r.id === "s1")).toMatchObject({ scope: "session", scopeId: "S1" });
  });

  it("falls back to BM25 without an embedder and says why", async () => {
    const ctx = await ctxAt();
    await ctx.upsert(DOCS);
    const response = await ctx.search("journal", { strategy: "DENSE" });
    expect(response.strategy).toBe("SPARSE");
    expect(response.fallback).toMatchObject({ requested: "DENSE", used: "SPARSE", reason: "no_embedder" });
    expect(ctx.metrics().fallbacks).toEqual({ no_embedder: 1 });
    expect((await ctx.search("", { strategy: "SPARSE" })).results).toEqual([]);
    await expect(ctx.backfillEmbeddings()).rejects.toMatchObject({ code: "no_embedder" });
  });

  it("fits LSA, searches densely and fuses by convex combination or RRF", async () => {
    const ctx = await ctxAt();
    await ctx.upsert(DOCS);
    const fit = await ctx.fitLsa({ dimensions: 4 });
    expect(fit).toMatchObject({ dimensions: 4, documents: 5, embedded: 5 });
    expect(fit.model).toMatch(/^lsa:[0-9a-f]{16}$/);
    const dense = await ctx.search("journal hash chain", { strategy: "DENSE", k: 2 });
    expect(dense.strategy).toBe("DENSE");
    expect(dense.results).toHaveLength(2);
    const convex = await ctx.search("journal hash chain", { strategy: "AUTO" });
    expect(convex).toMatchObject({ strategy: "HYBRID", fusion: "convex" });
    expect(convex.results[0]).toMatchObject({ id: "journal" });
    expect(convex.results[0]!.sparse).toBeGreaterThan(0);
    expect(typeof convex.results[0]!.dense).toBe("number");
    const rrf = await ctx.search("journal hash chain", {
      fusion: "rrf",
      rrf_k: 10,
      weights: { sparse: 1, dense: 1 },
    });
    expect(rrf).toMatchObject({ strategy: "HYBRID", fusion: "rrf" });
    expect(rrf.results[0]!.score).toBeCloseTo(1 / 11 + 1 / 11, 10);
    // Documents added after the fit are folded into the model.
    const added = await ctx.upsert([{ id: "chain", text: "A hash chain makes the journal tamper evident." }]);
    expect(added.embeddings).toMatchObject({ model: fit.model, embedded: 1 });
    const withNew = await ctx.search("tamper evident hash chain", { strategy: "DENSE", k: 6 });
    expect(withNew.results.map((r) => r.id)).toContain("chain");
    // The model persists: a reopened engine uses it without refitting.
    await ctx.close();
    open.length = 0;
    const again = await ctxAt();
    expect((await again.embedder())?.id).toBe(fit.model);
    expect((await again.search("tamper evident", { strategy: "AUTO" })).strategy).toBe("HYBRID");
  });

  it("embeds through an AI SDK model with a persistent cache, and falls back when the cap is reached", async () => {
    const { model, calls } = mockModel({ cap: 2 });
    const embedder = embedderFromModel(model);
    expect(embedder.id).toBe("mock:letters");
    const ctx = await ctxAt("ai.db", { embedder });
    const up = await ctx.upsert(DOCS);
    expect(up.embeddings).toEqual({ model: "mock:letters", embedded: 5 });
    const hybrid = await ctx.search("journal", { strategy: "AUTO" });
    expect(hybrid.strategy).toBe("HYBRID");
    expect(calls()).toBe(2);
    // Cached query: no call.
    await ctx.search("journal", { strategy: "DENSE" });
    expect(calls()).toBe(2);
    expect(ctx.metrics().embeddingCache).toMatchObject({ hits: 1, misses: 6, calls: 2, embedded: 6 });
    // A new query needs a call; the cap refuses it and the engine answers lexically.
    const capped = await ctx.search("sandbox limits", { strategy: "AUTO" });
    expect(capped.strategy).toBe("SPARSE");
    expect(capped.fallback).toMatchObject({ reason: "embedding_cap_reached", requested: "AUTO" });
    expect(capped.results[0]?.id).toBe("sandbox");
    const late = await ctx.upsert([{ id: "late", text: "late document" }]);
    expect(late.embeddings?.failed?.reason).toBe("embedding_cap_reached");
    expect(ctx.metrics().fallbacks).toEqual({ embedding_cap_reached: 2 });
    // The cache survives a restart: a fresh engine (and model) re-embeds nothing known.
    await ctx.close();
    open.length = 0;
    const fresh = mockModel();
    const again = await ctxAt("ai.db", { embedder: embedderFromModel(fresh.model) });
    await again.search("journal", { strategy: "DENSE" });
    expect(fresh.calls()).toBe(0);
    expect(again.metrics().embeddingCache.hits).toBe(1);
    expect(await again.backfillEmbeddings()).toEqual({ model: "mock:letters", embedded: 1 });
    expect(fresh.calls()).toBe(1);
  });

  it("goes through the model layer's call cap (wrapEmbeddingModel) and records why it fell back", async () => {
    const { model, calls } = mockModel();
    const wrapped = wrapEmbeddingModel(model, { embeddingCaps: { perRun: 1 } });
    const ctx = await ctxAt("layer.db", { embedder: embedderFromModel(wrapped, { id: "mock:letters" }) });
    expect((await ctx.upsert(DOCS)).embeddings).toEqual({ model: "mock:letters", embedded: 5 });
    const capped = await ctx.search("journal events", { strategy: "AUTO" });
    expect(capped.strategy).toBe("SPARSE");
    expect(capped.fallback?.reason).toBe("embedding_cap_exceeded");
    expect(capped.results[0]?.id).toBe("journal");
    expect(calls()).toBe(1);
  });

  it("reports an unexpected embedder error as embedding_failed", async () => {
    const model = new MockEmbeddingModelV4({
      maxEmbeddingsPerCall: 100,
      doEmbed: async () => {
        throw new Error("boom");
      },
    });
    const ctx = await ctxAt("fail.db", { embedder: embedderFromModel(model, { id: "broken" }) });
    await ctx.upsert(DOCS.slice(0, 1));
    const response = await ctx.search("journal");
    expect(response.fallback?.reason).toBe("embedding_failed");
    expect(response.fallback?.message).toContain("boom");
  });
});

describe("merge documents", () => {
  it("writes a clean merge as a new revision and holds back a conflicted one", async () => {
    const ctx = await ctxAt();
    await ctx.upsert([{ id: "f", text: "one\ntwo\nthree\n", metadata: { path: "f.txt" } }]);
    await ctx.upsert([{ id: "f", text: "one\ntwo changed\nthree\n", metadata: { path: "f.txt" } }]);
    const clean = await ctx.mergeDocument("f", { baseVersion: 1, text: "one\ntwo\nthree\nfour\n" });
    expect(clean).toMatchObject({
      applied: true,
      clean: true,
      version: 3,
      summary: { added: 2, removed: 1, conflicts: 0 },
    });
    const doc = await ctx.get("f");
    expect(doc?.text).toBe("one\ntwo changed\nthree\nfour\n");
    expect(doc?.metadata).toEqual({ path: "f.txt", ballast_merge: { base: 1, ours: 2 } });
    const conflicted = await ctx.mergeDocument("f", { baseVersion: 1, text: "one\ntwo theirs\nthree\n" });
    expect(conflicted).toMatchObject({ applied: false, clean: false, summary: { conflicts: 1 } });
    expect(await ctx.version()).toBe(3);
    const forced = await ctx.mergeDocument("f", {
      baseVersion: 1,
      text: "one\ntwo theirs\nthree\n",
      writeConflicts: true,
      labels: { ours: "live", theirs: "incoming" },
    });
    expect(forced.applied).toBe(true);
    expect((await ctx.get("f"))?.text).toContain("<<<<<<< live\n");
    await expect(ctx.mergeDocument("f", { baseVersion: 9, text: "" })).rejects.toMatchObject({
      code: "document_not_found",
    });
    await expect(ctx.mergeDocument("nope", { baseVersion: 1, text: "" })).rejects.toMatchObject({
      code: "document_not_found",
    });
  });
});

describe("properties", () => {
  const docArb = fc.record({
    id: fc.constantFrom("a", "b", "c", "d"),
    text: fc
      .array(fc.constantFrom("alpha", "beta", "gamma", "delta", "the"), { minLength: 1, maxLength: 6 })
      .map((w) => w.join(" ")),
    metadata: fc.record({ n: fc.integer({ min: 0, max: 3 }) }),
  });

  it("upserting the same batch twice changes nothing the second time", async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(docArb, { maxLength: 8 }), async (batch) => {
        // Same id with different content in one batch is rejected; keep the first of each id.
        const unique = [...new Map(batch.map((d) => [d.id, d])).values()];
        const ctx = await openContext({ path: join(dir, `idem-${run++}.db`) });
        try {
          const first = await ctx.upsert([...unique, ...unique]);
          expect(first.inserted).toBe(unique.length);
          expect(first.skipped).toBe(unique.length);
          const second = await ctx.upsert(unique);
          expect(second).toEqual({ inserted: 0, updated: 0, skipped: unique.length, version: first.version });
        } finally {
          await ctx.close();
        }
      }),
      { numRuns: 25 },
    );
  });

  it("orders every result list by score desc, then id asc", async () => {
    const ctx = await ctxAt();
    await ctx.upsert(
      Array.from({ length: 12 }, (_, i) => ({
        id: `doc${(i * 7) % 12}`,
        text: ["alpha beta", "beta gamma", "alpha", "gamma delta alpha"][i % 4]!,
      })),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.constantFrom("alpha", "beta", "gamma", "delta"), { minLength: 1, maxLength: 3 }),
        fc.integer({ min: 1, max: 12 }),
        async (words, k) => {
          const { results } = await ctx.search(words.join(" "), { k, strategy: "SPARSE" });
          for (let i = 1; i < results.length; i++) {
            const [a, b] = [results[i - 1]!, results[i]!];
            expect(a.score > b.score || (a.score === b.score && a.id < b.id)).toBe(true);
          }
        },
      ),
      { numRuns: 40 },
    );
  });
});
