import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BallastError } from "../errors.ts";
import { type ContextEngine, openContext } from "./engine.ts";
import { canonicalizeFilters, type Filter, matchesFilter } from "./filters.ts";

const field = fc.constantFrom("a", "b", "n.x", "tag");
const scalar = fc.oneof(
  fc.constantFrom("x", "y", "é", "10"),
  fc.integer({ min: -2, max: 10 }),
  fc.constantFrom(1.5, 0),
  fc.boolean(),
  fc.constant(null),
);
const comparable = fc.oneof(fc.constantFrom("x", "y", "Z"), fc.integer({ min: -2, max: 10 }));

const filterArb: fc.Arbitrary<Filter> = fc.letrec<{ filter: Filter }>((tie) => ({
  filter: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.record({ field, op: fc.constantFrom("eq" as const, "ne" as const), value: scalar }),
    fc.record({
      field,
      op: fc.constantFrom("gt" as const, "gte" as const, "lt" as const, "lte" as const),
      value: comparable,
    }),
    fc.record({
      field,
      op: fc.constantFrom("in" as const, "nin" as const),
      value: fc.array(scalar, { minLength: 1, maxLength: 4 }),
    }),
    fc.record({ field, op: fc.constant("exists" as const), value: fc.boolean() }),
    fc.record({ and: fc.array(tie("filter"), { minLength: 1, maxLength: 3 }) }),
    fc.record({ or: fc.array(tie("filter"), { minLength: 1, maxLength: 3 }) }),
    fc.record({ not: tie("filter") }),
  ),
})).filter;

/** Re-serialises a value with object keys in a random order. */
function shuffledJson(value: unknown, seed: number): string {
  let s = seed;
  const next = () => {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    return s;
  };
  const walk = (v: unknown): string => {
    if (Array.isArray(v)) return `[${v.map(walk).join(", ")}]`;
    if (v !== null && typeof v === "object") {
      const keys = Object.keys(v).sort(() => (next() % 2 === 0 ? -1 : 1));
      return `{ ${keys.map((k) => `${JSON.stringify(k)} : ${walk((v as Record<string, unknown>)[k])}`).join(" , ")} }`;
    }
    return JSON.stringify(v);
  };
  return walk(value);
}

describe("canonicalisation", () => {
  it("gives a dict and its JSON string, in any key order, one canonical form", () => {
    fc.assert(
      fc.property(filterArb, fc.integer(), (filter, seed) => {
        const fromObject = canonicalizeFilters(filter).canonical;
        const fromString = canonicalizeFilters(shuffledJson(filter, seed)).canonical;
        expect(fromString).toBe(fromObject);
        // Canonical form is a fixed point.
        expect(canonicalizeFilters(fromObject).canonical).toBe(fromObject);
      }),
      { numRuns: 200 },
    );
  });

  it("sorts and de-duplicates in/nin values", () => {
    expect(canonicalizeFilters({ value: [3, "a", 1, 3], op: "in", field: "k" }).canonical).toBe(
      '{"field":"k","op":"in","value":["a",1,3]}',
    );
  });

  it("rejects anything outside the grammar with filters_invalid", () => {
    const junk = fc.oneof(
      fc.anything(),
      fc.record({ field, op: fc.constantFrom("like", "regex", "EQ"), value: scalar }),
      fc.record({ field: fc.constantFrom("", "a..b", "$x", "a b"), op: fc.constant("eq"), value: scalar }),
      fc.record({ field, op: fc.constantFrom("gt", "lt"), value: fc.constantFrom(true, null) }),
      fc.record({ and: fc.constant([]) }),
      fc.record({ field, op: fc.constant("in"), value: fc.constant([]) }),
      fc.record({ field, op: fc.constant("exists"), value: fc.constantFrom(1, "yes") }),
      fc.constantFrom("{not json", "[]", "null", '{"and":[{"field":"a","op":"eq","value":1,"extra":2}]}'),
    );
    fc.assert(
      fc.property(junk, (value) => {
        let valid = true;
        try {
          canonicalizeFilters(value);
        } catch (error) {
          valid = false;
          expect(BallastError.hasCode(error, "filters_invalid")).toBe(true);
          expect((error as Error).message).toMatch(/^Invalid filters: /);
        }
        // fc.anything() can, rarely, produce a valid filter; then it must round-trip.
        if (valid) expect(canonicalizeFilters(canonicalizeFilters(value).canonical)).toBeDefined();
      }),
      { numRuns: 300 },
    );
    expect(() => canonicalizeFilters("{not json")).toThrow("Invalid filters: the string is not valid JSON.");
    expect(() => canonicalizeFilters({ field: "a", op: "eq" })).toThrow(
      "Invalid filters: the root is not a valid filter node.",
    );
    let deep: Filter = { field: "a", op: "exists", value: true };
    for (let i = 0; i < 16; i++) deep = { not: deep };
    expect(() => canonicalizeFilters(deep)).toThrow("nesting is deeper than 16");
  });
});

describe("evaluation", () => {
  let dir: string;
  let ctx: ContextEngine;
  const metadataArb = fc.record(
    {
      a: scalar,
      b: fc.oneof(scalar, fc.array(scalar, { maxLength: 2 })),
      n: fc.oneof(fc.record({ x: scalar }, { requiredKeys: [] }), scalar),
      tag: comparable,
    },
    { requiredKeys: [] },
  );
  const docs = fc.sample(metadataArb, { numRuns: 60, seed: 42 }).map((metadata, i) => ({
    id: `d${String(i).padStart(2, "0")}`,
    text: "common words",
    metadata: metadata as Record<string, never>,
  }));

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "ballast-filters-"));
    ctx = await openContext({ path: join(dir, "f.db") });
    await ctx.upsert(docs);
  });
  afterAll(async () => {
    await ctx.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("matches exactly the documents the in-memory evaluator accepts (SQL = spec)", async () => {
    await fc.assert(
      fc.asyncProperty(filterArb, async (filter) => {
        const { results } = await ctx.search("common", { k: 100, strategy: "SPARSE", filters: filter });
        const expected = docs
          .filter((d) => matchesFilter(canonicalizeFilters(filter).filter, d.metadata))
          .map((d) => d.id);
        expect(results.map((r) => r.id).sort()).toEqual(expected.sort());
      }),
      { numRuns: 150 },
    );
  });

  it("follows the documented typed semantics", () => {
    const m = { s: "b", n: 2, t: true, z: null, arr: [1], o: { k: "v" } };
    expect(matchesFilter({ field: "n", op: "eq", value: 2 }, m)).toBe(true);
    expect(matchesFilter({ field: "n", op: "eq", value: "2" }, m)).toBe(false);
    expect(matchesFilter({ field: "t", op: "eq", value: true }, m)).toBe(true);
    expect(matchesFilter({ field: "z", op: "eq", value: null }, m)).toBe(true);
    expect(matchesFilter({ field: "missing", op: "ne", value: 1 }, m)).toBe(true);
    expect(matchesFilter({ field: "missing", op: "gt", value: 1 }, m)).toBe(false);
    expect(matchesFilter({ field: "s", op: "gte", value: "a" }, m)).toBe(true);
    expect(matchesFilter({ field: "s", op: "lte", value: "a" }, m)).toBe(false);
    expect(matchesFilter({ field: "s", op: "lt", value: 5 }, m)).toBe(false);
    expect(matchesFilter({ field: "arr", op: "exists", value: true }, m)).toBe(true);
    expect(matchesFilter({ field: "arr", op: "eq", value: 1 }, m)).toBe(false);
    expect(matchesFilter({ field: "o.k", op: "in", value: ["v", 3] }, m)).toBe(true);
    expect(matchesFilter({ field: "o.k", op: "nin", value: ["v"] }, m)).toBe(false);
  });
});
