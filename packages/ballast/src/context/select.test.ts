import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MockEmbeddingModelV4 } from "ai/test";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { BallastError } from "../errors.ts";
import { embedderFromModel } from "./embedders.ts";
import { type ContextEngine, openContext } from "./engine.ts";
import type { SelectItem } from "./select.ts";
import { countTokens } from "./tokens.ts";

let dir: string;
const engines: ContextEngine[] = [];
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "ballast-select-"));
});
afterEach(async () => {
  for (const e of engines.splice(0)) await e.close();
  rmSync(dir, { recursive: true, force: true });
});

async function engine(options: Parameters<typeof openContext>[0] = {}): Promise<ContextEngine> {
  const e = await openContext({ path: join(dir, "s.db"), ...options });
  engines.push(e);
  return e;
}

const FILES: SelectItem[] = [
  {
    id: "src/journal.ts",
    text: "export function append(event) { /* journal append with hash chain */ }\n".repeat(20),
  },
  { id: "src/replay.ts", text: "export function replay(run) { /* replay the journal */ }\n".repeat(5) },
  {
    id: "src/budget.ts",
    text: "export function budget(tokens) { /* token budget */ }\n".repeat(40),
    summary: "budget.ts: enforces token budgets (summary)",
  },
  { id: "README.md", text: "ballast is a durable runtime for AI pipelines.\n" },
];

function capModel(cap: number) {
  let calls = 0;
  const model = new MockEmbeddingModelV4({
    provider: "mock",
    modelId: "len",
    maxEmbeddingsPerCall: 100,
    doEmbed: async ({ values }) => {
      calls++;
      if (calls > cap) throw new BallastError({ code: "embedding_cap_reached", message: "cap reached" });
      return {
        embeddings: values.map((v) => [v.includes("journal") ? 1 : 0, v.includes("budget") ? 1 : 0, 0.1]),
        warnings: [],
      };
    },
  });
  return { model, calls: () => calls };
}

describe("select", () => {
  it("keeps deliverables first, ranks the rest lexically and stays within the budget", async () => {
    const ctx = await engine();
    const readme = await countTokens(FILES[3]!.text);
    const replay = await countTokens(FILES[1]!.text);
    const summary = await countTokens(FILES[2]!.summary!);
    const budget = replay + readme + summary + 2;
    const result = await ctx.select({
      query: "replay the journal",
      budgetTokens: budget,
      deliverables: ["README.md"],
      items: FILES,
    });
    expect(result.mode).toBe("lexical");
    expect(result.fallbackReason).toBe("no_embedder");
    expect(result.kept.map((k) => [k.id, k.reason])).toEqual([
      ["README.md", "deliverable"],
      ["src/replay.ts", "relevant"],
      ["src/budget.ts", "relevant"],
    ]);
    const sub = result.kept.find((k) => k.id === "src/budget.ts")!;
    expect(sub).toMatchObject({ substituted: true, text: "budget.ts: enforces token budgets (summary)" });
    expect(sub.fullTokens).toBeGreaterThan(sub.tokens);
    expect(result.omitted).toEqual([
      expect.objectContaining({
        id: "src/journal.ts",
        reason: "over_budget",
        remaining: budget - readme - replay,
      }),
    ]);
    expect(result.usedTokens).toBe(readme + replay + sub.tokens);
    expect(result.usedTokens).toBeLessThanOrEqual(budget);
    expect(result.tokensSaved).toBe(sub.fullTokens - sub.tokens);
    expect(result.metrics).toMatchObject({
      context_budget_cap_tokens: budget,
      context_budget_selected_tokens_est: result.usedTokens,
      artifact_tokens_used_est: sub.tokens,
      fullfile_tokens_avoided_est: result.tokensSaved,
      artifact_substitutions: 1,
      substituted_paths: ["src/budget.ts"],
      files_kept: 3,
      files_omitted: 1,
    });
  });

  it("reports a deliverable that does not fit, and honours a substitution hook and cl100k", async () => {
    const ctx = await engine();
    const result = await ctx.select({
      query: "journal",
      budgetTokens: 10,
      deliverables: ["src/journal.ts"],
      items: FILES,
      mode: "lexical",
      encoding: "cl100k_base",
      substitute: (item) => (item.id === "src/replay.ts" ? "replay()" : undefined),
    });
    expect(result.fallbackReason).toBeUndefined();
    expect(result.omitted[0]).toMatchObject({ id: "src/journal.ts", reason: "deliverable_over_budget" });
    expect(result.kept.map((k) => k.id)).toContain("src/replay.ts");
    expect(result.kept.find((k) => k.id === "src/replay.ts")?.text).toBe("replay()");
  });

  it("ranks semantically through the embedding cache and falls back to lexical at the cap", async () => {
    const { model, calls } = capModel(1);
    const ctx = await engine({ embedder: embedderFromModel(model) });
    const semantic = await ctx.select({ query: "budget", budgetTokens: 100_000, items: FILES });
    expect(semantic.mode).toBe("semantic");
    expect(semantic.kept[0]?.id).toBe("src/budget.ts");
    expect(semantic.metrics).toMatchObject({ embedding_cache_hits: 0, embedding_cache_misses: 5 });
    expect(calls()).toBe(1);
    // Same texts again: all cached, no call.
    const cached = await ctx.select({ query: "budget", budgetTokens: 100_000, items: FILES });
    expect(cached.metrics).toMatchObject({ embedding_cache_hits: 5, embedding_cache_misses: 0 });
    // A new query needs a call beyond the cap: lexical, with the reason.
    const capped = await ctx.select({ query: "replay", budgetTokens: 100_000, items: FILES });
    expect(capped).toMatchObject({ mode: "lexical", fallbackReason: "embedding_cap_reached" });
    expect(capped.kept[0]?.id).toBe("src/replay.ts");
    expect(ctx.metrics().fallbacks).toEqual({ embedding_cap_reached: 1 });
  });

  it("selects from the index's documents, with their summaries, semantically once LSA is fitted", async () => {
    const ctx = await engine();
    await ctx.upsert(FILES.map((f) => ({ ...f, metadata: { lang: f.id.endsWith(".md") ? "md" : "ts" } })));
    const lexical = await ctx.select({
      query: "budget tokens",
      budgetTokens: 1000,
      mode: "lexical",
      filters: { field: "lang", op: "eq", value: "ts" },
      scope: {},
      at: await ctx.version(),
    });
    expect(lexical.mode).toBe("lexical");
    expect(lexical.kept[0]).toMatchObject({ id: "src/budget.ts", substituted: true });
    await ctx.fitLsa({ dimensions: 2 });
    const semantic = await ctx.select({ query: "journal hash chain", budgetTokens: 1000, limit: 2 });
    expect(semantic.mode).toBe("semantic");
    expect(semantic.kept.length + semantic.omitted.length).toBeLessThanOrEqual(2);
  });

  it("validates its input", async () => {
    const ctx = await engine();
    await expect(ctx.select({ query: 1 as never, budgetTokens: 1 })).rejects.toMatchObject({
      code: "select_invalid",
    });
    await expect(ctx.select({ query: "q", budgetTokens: -1 })).rejects.toMatchObject({
      code: "select_invalid",
    });
    await expect(
      ctx.select({ query: "q", budgetTokens: 1, items: [{ id: 1 } as never] }),
    ).rejects.toMatchObject({
      code: "select_invalid",
    });
    await expect(ctx.select({ query: "q", budgetTokens: 1, items: [FILES[0]!, FILES[0]!] })).rejects.toThrow(
      "appears twice",
    );
    expect(await countTokens("<|endoftext|> hello")).toBeGreaterThan(2);
  });
});
