import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { canonicalJson, type JsonValue } from "../canonical.ts";
import { ChainChecker, eventHash, eventHashFromCanonical } from "./chain.ts";
import { GENESIS_HASH } from "./types.ts";

const json = fc.jsonValue() as fc.Arbitrary<JsonValue>;

describe("chain", () => {
  it("computes the same hash on the hot path as from the canonical object", () => {
    fc.assert(
      fc.property(fc.string(), fc.nat(), fc.string(), json, (runId, seq, type, data) => {
        const at = new Date(seq).toISOString();
        const prev = GENESIS_HASH;
        expect(eventHashFromCanonical(runId, seq, type, at, canonicalJson(data), prev)).toBe(
          eventHash({ runId, seq, type, at, data, prev }),
        );
      }),
    );
  });

  it("accepts a well-formed chain and an empty run", () => {
    const checker = new ChainChecker("r");
    let prev = GENESIS_HASH;
    for (let seq = 0; seq < 3; seq++) {
      const event = { runId: "r", seq, type: "t", at: "2025-01-01T00:00:00.000Z", data: { seq }, prev };
      const hash = eventHash(event);
      checker.add({ ...event, hash });
      prev = hash;
    }
    expect(checker.finish({ eventCount: 3, headHash: prev })).toEqual([]);
    expect(new ChainChecker("empty").finish({ eventCount: 0, headHash: GENESIS_HASH })).toEqual([]);
  });

  it("reports a run row that claims events the journal does not have", () => {
    const problems = new ChainChecker("r").finish({ eventCount: 2, headHash: "a".repeat(64) });
    expect(problems).toEqual([expect.objectContaining({ runId: "r", seq: 1, kind: "head_mismatch" })]);
  });
});
