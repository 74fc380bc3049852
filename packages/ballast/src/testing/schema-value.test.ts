import { describe, expect, it } from "vitest";
import { estimateTokens, keywords, localText, streamPieces } from "./local-text.ts";
import { sampleJsonSchema } from "./schema-value.ts";
import { hashId, seededRandom } from "./seeded-random.ts";

const sample = (schema: unknown, seed = 1) => sampleJsonSchema(schema, seededRandom(seed));

describe("sampleJsonSchema", () => {
  it("is deterministic per seed", () => {
    const schema = { type: "object", properties: { a: { type: "string" }, b: { type: "number" } } };
    expect(sample(schema, 1)).toEqual(sample(schema, 1));
    expect(sample(schema, 1)).not.toEqual(sample(schema, 2));
  });

  it("follows $ref, anyOf, oneOf, allOf, const, enum and type arrays", () => {
    const value = sample({
      $defs: { Point: { type: "object", properties: { x: { type: "integer" } }, required: ["x"] } },
      type: "object",
      properties: {
        point: { $ref: "#/$defs/Point" },
        legacy: { $ref: "#/definitions/Missing" },
        external: { $ref: "other.json" },
        maybe: { anyOf: [{ type: "null" }, { type: "boolean" }] },
        one: { oneOf: [{ const: "fixed" }] },
        both: {
          allOf: [{ properties: { p: { type: "string" } } }, { properties: { q: { type: "integer" } } }],
        },
        pick: { enum: ["red", "green"] },
        nullable: { type: ["null", "integer"], minimum: 3, maximum: 3 },
        nothing: { type: "null" },
        any: {},
      },
    }) as Record<string, unknown>;
    expect(value["point"]).toEqual({ x: expect.any(Number) });
    expect(typeof value["legacy"]).toBe("string");
    expect(typeof value["external"]).toBe("string");
    expect(typeof value["maybe"]).toBe("boolean");
    expect(value["one"]).toBe("fixed");
    expect(value["both"]).toEqual({ p: expect.any(String), q: expect.any(Number) });
    expect(["red", "green"]).toContain(value["pick"]);
    expect(value["nullable"]).toBe(3);
    expect(value["nothing"]).toBeNull();
    expect(typeof value["any"]).toBe("string");
  });

  it("honours formats, lengths and numeric bounds", () => {
    const value = sample({
      type: "object",
      properties: {
        when: { type: "string", format: "date-time" },
        day: { type: "string", format: "date" },
        at: { type: "string", format: "time" },
        mail: { type: "string", format: "email" },
        link: { type: "string", format: "uri" },
        uuid: { type: "string", format: "uuid" },
        userId: { type: "string" },
        long: { type: "string", minLength: 40, maxLength: 45 },
        short: { type: "string", maxLength: 3 },
        even: { type: "integer", minimum: 10, maximum: 20, multipleOf: 2 },
        open: { type: "integer", exclusiveMinimum: 0, exclusiveMaximum: 2 },
        below: { type: "number", maximum: -5 },
        ratio: { type: "number", exclusiveMinimum: 0, exclusiveMaximum: 1 },
        hinted: { type: "integer", description: "How many. exclusive minimum: 0; minimum: 4; maximum: 4." },
      },
    }) as Record<string, unknown>;
    const str = (key: string) => String(value[key]);
    const num = (key: string) => Number(value[key]);
    expect(str("when")).toMatch(/^2024-\d\d-\d\dT00:00:00Z$/);
    expect(str("day")).toMatch(/^2024-\d\d-\d\d$/);
    expect(str("at")).toMatch(/^\d\d:\d\d:00$/);
    expect(str("mail")).toMatch(/^\w+@example\.com$/);
    expect(str("link")).toMatch(/^https:\/\/example\.com\//);
    expect(str("uuid")).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-a[0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(str("userId")).toMatch(/^userId-\d{4}$/);
    expect(str("long").length).toBeGreaterThanOrEqual(40);
    expect(str("long").length).toBeLessThanOrEqual(45);
    expect(str("short").length).toBeLessThanOrEqual(3);
    expect(num("even") % 2).toBe(0);
    expect(num("even")).toBeGreaterThanOrEqual(10);
    expect(num("open")).toBe(1);
    expect(num("below")).toBeLessThanOrEqual(-5);
    expect(num("ratio")).toBeGreaterThan(0);
    expect(num("ratio")).toBeLessThan(1);
    expect(num("hinted")).toBe(4);
  });

  it("builds arrays, tuples and terminating recursive structures", () => {
    expect(sample({ type: "array", items: { type: "integer" }, minItems: 4, maxItems: 4 })).toHaveLength(4);
    expect(sample({ type: "array", maxItems: 0 })).toEqual([]);
    expect(sample({ prefixItems: [{ const: 1 }, { type: "string" }] })).toEqual([1, expect.any(String)]);
    const tree = {
      $ref: "#/$defs/Node",
      $defs: {
        Node: {
          type: "object",
          properties: {
            name: { type: "string" },
            children: { type: "array", items: { $ref: "#/$defs/Node" } },
          },
          required: ["name", "children"],
        },
      },
    };
    const depth = (node: unknown): number => {
      const children = (node as { children?: unknown[] }).children ?? [];
      return 1 + Math.max(0, ...children.map(depth));
    };
    expect(depth(sample(tree))).toBeLessThan(12);
    expect(sample("not a schema")).toEqual(expect.any(String));
    expect(sample({ type: "OBJECT", properties: { n: { type: "BOOLEAN" } } })).toEqual({
      n: expect.any(Boolean),
    });
  });
});

describe("local text helpers", () => {
  it("extracts keywords, estimates tokens and splits stream pieces losslessly", () => {
    expect(keywords("Please explain the rate limiter and the rate of 2024 calls")).toEqual([
      "rate",
      "limiter",
      "calls",
    ]);
    expect(estimateTokens("")).toBe(0);
    expect(estimateTokens("abcdefgh")).toBe(2);
    const text = localText({ prompt: "caching journals", seed: 1 }).text;
    expect(streamPieces(text).join("")).toBe(text);
    expect(streamPieces("")).toEqual([]);
    expect(localText({ prompt: "", seed: 1 }).text).toMatch(/this question/);
    expect(hashId(10, "a")).toMatch(/^[0-9A-Za-z]{10}$/);
  });
});
