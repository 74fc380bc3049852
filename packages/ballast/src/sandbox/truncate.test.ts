import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeTruncated, OutputCapture, truncationMarker, utf8Boundary } from "./truncate.ts";

const enc = (s: string) => Buffer.from(s, "utf8");

describe("UTF-8 safe truncation", () => {
  it("marks a cut with the exact cap and never splits a character", () => {
    expect(decodeTruncated(enc("héllo wörld"), 2)).toBe("h\n[TRUNCATED at 2 bytes]");
    expect(decodeTruncated(enc("€€€"), 4)).toBe("€\n[TRUNCATED at 4 bytes]");
    expect(decodeTruncated(enc("😀x"), 3)).toBe("[TRUNCATED at 3 bytes]");
    expect(decodeTruncated(enc("ab\n"), 3)).toBe("ab\n");
    expect(decodeTruncated(enc("ab\ncd"), 3)).toBe("ab\n[TRUNCATED at 3 bytes]");
    expect(truncationMarker(10)).toBe("[TRUNCATED at 10 bytes]");
  });

  it("replaces invalid bytes deterministically and keeps the marker", () => {
    const bad = Buffer.from([0x61, 0xff, 0xfe, 0x62, 0x80, 0x80, 0x80, 0x80, 0x63]);
    expect(decodeTruncated(bad, 100)).toBe("a\ufffd\ufffdb\ufffd\ufffd\ufffd\ufffdc");
    expect(decodeTruncated(bad, 6)).toBe("a\ufffd\ufffdb\ufffd\ufffd\n[TRUNCATED at 6 bytes]");
    expect(utf8Boundary(Buffer.from([0x80, 0x80, 0x80, 0x80, 0x80]), 4)).toBe(4);
    expect(utf8Boundary(Buffer.from([0x80, 0x80]), 1)).toBe(1);
  });

  it("keeps a prefix of the text within the cap for any input (property)", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary" }), fc.integer({ min: 1, max: 64 }), (text, max) => {
        const bytes = enc(text);
        const out = decodeTruncated(bytes, max);
        if (bytes.length <= max) {
          expect(out).toBe(text);
          return;
        }
        const marker = truncationMarker(max);
        expect(out.endsWith(marker)).toBe(true);
        const head = out.slice(0, -marker.length).replace(/\n$/, "");
        expect(text.startsWith(head)).toBe(true);
        const headBytes = enc(head).length;
        expect(headBytes).toBeLessThanOrEqual(max);
        expect(max - headBytes).toBeLessThan(4);
        expect(out.isWellFormed()).toBe(true);
      }),
    );
  });

  it("captures streams in chunks, counting every byte", () => {
    const capture = new OutputCapture(5);
    for (const chunk of ["ab", "cé", "fghij", "k"]) capture.push(enc(chunk));
    expect(capture.totalBytes).toBe(11);
    expect(capture.truncated).toBe(true);
    expect(capture.text()).toBe("abcé\n[TRUNCATED at 5 bytes]");
    const small = new OutputCapture(10);
    small.push(enc("hi"));
    expect([small.text(), small.truncated]).toEqual(["hi", false]);
  });
});
