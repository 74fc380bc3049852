import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { BallastError } from "../errors.ts";
import { sanitizeModelText } from "./sanitize.ts";

describe("sanitizeModelText", () => {
  it("strips control characters other than newline and tab", () => {
    expect(sanitizeModelText("a\u0000b\u0007c\u0008d\te\nf\u007fg\u0085h\u0090i")).toBe("abcd\te\nfg\nhi");
  });

  it("removes terminal escape sequences whole", () => {
    expect(
      sanitizeModelText("\u001b[31mred\u001b[0m \u001b]0;title\u0007ok \u001b]8;;http://x\u001b\\link"),
    ).toBe("red ok link");
  });

  it("removes bidirectional overrides and byte-order marks", () => {
    expect(sanitizeModelText("\ufeffadmin\u202e\u2066txt")).toBe("admintxt");
  });

  it("normalises whitespace and line breaks", () => {
    expect(sanitizeModelText("  one\u00a0\u00a0two   three \r\n\r\n\r\n\rfour\u2028five  \n")).toBe(
      "one two three\n\nfour\nfive",
    );
    expect(sanitizeModelText("cafe\u0301")).toBe("café");
  });

  it("enforces the maximum length on grapheme boundaries", () => {
    expect(sanitizeModelText("abcdefghij", { maxLength: 5 })).toBe("abcd…");
    expect(sanitizeModelText("abcde", { maxLength: 5 })).toBe("abcde");
    expect(sanitizeModelText("ab 👩‍👩‍👧 cd", { maxLength: 6 })).toBe("ab…");
    expect(sanitizeModelText("abcdef", { maxLength: 3, ellipsis: "" })).toBe("abc");
    expect(sanitizeModelText("abcdef", { maxLength: 1, ellipsis: "[cut]" })).toBe("a");
    expect(sanitizeModelText("😀😀😀😀", { maxLength: 3 })).toBe("😀😀…");
  });

  it("accepts non-strings and rejects a bad maxLength", () => {
    expect(sanitizeModelText(undefined)).toBe("");
    expect(sanitizeModelText(42)).toBe("42");
    let caught: unknown;
    try {
      sanitizeModelText("x", { maxLength: 0 });
    } catch (error) {
      caught = error;
    }
    expect(BallastError.hasCode(caught, "sanitize_max_length_invalid")).toBe(true);
  });

  it("never emits a forbidden control character, never exceeds maxLength, and is idempotent", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary" }), fc.integer({ min: 1, max: 64 }), (text, maxLength) => {
        const out = sanitizeModelText(text, { maxLength });
        expect(out).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/);
        expect([...out].length).toBeLessThanOrEqual(maxLength);
        expect(out.isWellFormed()).toBe(true);
        if ([...out].length < maxLength) expect(sanitizeModelText(out, { maxLength })).toBe(out);
      }),
    );
  });
});
