import { describe, expect, it } from "vitest";
import { createAttributeFilter, filterAttributes } from "./attributes.ts";
import { createRedactor } from "./redact.ts";

describe("attribute allowlist", () => {
  it("keeps allowlisted keys, drops unknown ones and redacts strings", () => {
    expect(
      filterAttributes({
        "run.id": "run_1",
        status: "ok",
        "result.count": 3,
        "error.code": "model.timeout Bearer abcdefghijklmnop",
        "user.email": "a@b.io",
        "http.body": "{}",
      }),
    ).toEqual({
      "error.code": "model.timeout Bearer <<REDACTED>>",
      "result.count": 3,
      "run.id": "run_1",
      status: "ok",
    });
  });

  it("caps long values with ... and arrays by item count", () => {
    const filter = createAttributeFilter({ maxLength: 8, maxItems: 2 });
    expect(filter({ status: "abcdefghijkl", "policy.reasons": ["aaaaaaaaaaaa", "b", "c"] })).toEqual({
      "policy.reasons": ["aaaaa...", "b"],
      status: "abcde...",
    });
    // Never leaves half a surrogate pair.
    expect(createAttributeFilter({ maxLength: 5 })({ status: "a😀bcdef" })).toEqual({ status: "a..." });
  });

  it("drops values that are not attribute-shaped", () => {
    const filter = createAttributeFilter();
    expect(
      filter({
        status: { nested: true },
        attempt: Number.NaN,
        "cache.hit": false,
        "result.count": [1, Number.POSITIVE_INFINITY, 2],
        "policy.reasons": ["a", 1],
        "step.id": [],
        "trace.id": [true, false],
        tenant: null,
      }),
    ).toEqual({ "cache.hit": false, "result.count": [1, 2], "trace.id": [true, false] });
  });

  it("supports namespace entries and replacing the defaults", () => {
    const filter = createAttributeFilter({
      allow: ["app.*"],
      replaceDefaults: true,
      redactor: createRedactor({ env: {} }),
    });
    expect(filter.allows("app.user")).toBe(true);
    expect(filter.allows("app.")).toBe(false);
    expect(filter.allows("run.id")).toBe(false);
    expect(filter({ "app.user": "x@y.io", "run.id": "r" })).toEqual({ "app.user": "<<REDACTED>>" });
  });
});
