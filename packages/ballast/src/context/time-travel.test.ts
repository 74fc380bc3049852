import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { openContext } from "./engine.ts";
import type { DocumentInput, SearchHit } from "./types.ts";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "ballast-tt-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const WORDS = ["alpha", "beta", "gamma", "delta", "epsilon", "the"];
const docArb = fc.record({
  id: fc.constantFrom("a", "b", "c", "d", "e"),
  text: fc.array(fc.constantFrom(...WORDS), { minLength: 1, maxLength: 8 }).map((w) => w.join(" ")),
  metadata: fc.record({ group: fc.constantFrom("x", "y") }),
});
const opArb = fc.oneof(
  {
    weight: 3,
    arbitrary: fc
      .array(docArb, { minLength: 1, maxLength: 3 })
      .map((docs) => ({ kind: "upsert" as const, docs })),
  },
  {
    weight: 1,
    arbitrary: fc
      .array(fc.constantFrom("a", "b", "c"), { minLength: 1, maxLength: 2 })
      .map((ids) => ({ kind: "delete" as const, ids })),
  },
);

/** What a hit means independently of where it is stored (row ids and revisions differ). */
const essence = (hits: SearchHit[]) =>
  hits.map((h) => ({ id: h.id, score: h.score, text: h.text, metadata: h.metadata }));

describe("time travel", () => {
  it("answers at every version exactly as an index rebuilt from that version's documents", async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(opArb, { minLength: 1, maxLength: 6 }),
        fc.array(fc.constantFrom(...WORDS), { minLength: 1, maxLength: 3 }),
        async (ops, queryWords) => {
          const query = queryWords.join(" ");
          const id = run++;
          const ctx = await openContext({ path: join(dir, `live-${id}.db`) });
          const snapshots: { version: number; docs: Map<string, DocumentInput> }[] = [];
          const model = new Map<string, DocumentInput>();
          try {
            for (const op of ops) {
              if (op.kind === "upsert") {
                const unique = [...new Map(op.docs.map((d) => [d.id, d])).values()];
                await ctx.upsert(unique);
                for (const d of unique) model.set(d.id, d);
              } else {
                await ctx.delete(op.ids);
                for (const i of op.ids) model.delete(i);
              }
              snapshots.push({ version: await ctx.version(), docs: new Map(model) });
            }
            for (const [i, snap] of snapshots.entries()) {
              const rebuilt = await openContext({ path: join(dir, `rebuilt-${id}-${i}.db`) });
              try {
                await rebuilt.upsert([...snap.docs.values()]);
                for (const filters of [undefined, { field: "group", op: "eq", value: "x" }]) {
                  const options = {
                    k: 10,
                    strategy: "SPARSE" as const,
                    ...(filters === undefined ? {} : { filters }),
                  };
                  const past = await ctx.search(query, { ...options, at: snap.version });
                  const fresh = await rebuilt.search(query, options);
                  expect(essence(past.results)).toEqual(essence(fresh.results));
                  expect(past.version).toBe(snap.version);
                }
              } finally {
                await rebuilt.close();
              }
            }
          } finally {
            await ctx.close();
          }
        },
      ),
      { numRuns: 20 },
    );
  });

  it("resolves a time to the last version at or before it", async () => {
    let clock = Date.parse("2025-01-01T00:00:00Z");
    const ctx = await openContext({ path: join(dir, "t.db"), now: () => new Date(clock) });
    try {
      await ctx.upsert([{ id: "a", text: "first words" }]);
      clock += 60_000;
      await ctx.upsert([{ id: "a", text: "second words" }]);
      clock -= 30_000; // a clock that steps back never reorders history
      await ctx.upsert([{ id: "b", text: "third words" }]);
      const at = (time: string | number | Date) => ctx.search("words", { strategy: "SPARSE", at: { time } });
      expect((await at("2024-12-31T00:00:00Z")).results).toEqual([]);
      expect((await at("2025-01-01T00:00:30Z")).results.map((r) => r.text)).toEqual(["first words"]);
      expect((await at(new Date("2025-01-01T00:01:00Z"))).version).toBe(3);
      expect((await at(Date.parse("2025-01-01T00:00:00Z"))).version).toBe(1);
      const history = await ctx.history("b");
      expect(history[0]?.createdAt).toBe("2025-01-01T00:01:00.000Z");
      await expect(ctx.search("words", { at: { time: "not a date" } })).rejects.toMatchObject({
        code: "at_invalid",
      });
      expect((await ctx.search("words", { strategy: "SPARSE", at: 0 })).results).toEqual([]);
    } finally {
      await ctx.close();
    }
  });
});
