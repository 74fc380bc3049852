import { createHash } from "node:crypto";

/**
 * Deterministic randomness for the test doubles. Written here (a few lines) rather than
 * taken from a library because `ballast/testing` must stay dependency-free: every value a
 * fake produces is a pure function of its seed and the request, so tests are reproducible.
 */

function digest(parts: ReadonlyArray<string | number>): Buffer {
  // The separator keeps ("a", "bc") and ("ab", "c") apart.
  return createHash("sha256").update(parts.join("\u001f")).digest();
}

/** A uniform [0, 1) stream seeded by the SHA-256 of `parts` (the sfc32 generator). */
export function seededRandom(...parts: ReadonlyArray<string | number>): () => number {
  const bytes = digest(parts);
  let a = bytes.readUInt32LE(0);
  let b = bytes.readUInt32LE(4);
  let c = bytes.readUInt32LE(8);
  let d = bytes.readUInt32LE(12);
  return () => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
}

/** A hex string of `length` characters (at most 64) derived from `parts`. */
export function hashHex(length: number, ...parts: ReadonlyArray<string | number>): string {
  return digest(parts).toString("hex").slice(0, length);
}

const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/** A base62 string of `length` characters derived from `parts`, for provider-looking ids. */
export function hashId(length: number, ...parts: ReadonlyArray<string | number>): string {
  const random = seededRandom(...parts);
  let out = "";
  for (let i = 0; i < length; i++) out += BASE62[Math.floor(random() * 62)];
  return out;
}

/** An integer in [min, max] drawn from `random`. */
export function randomInt(random: () => number, min: number, max: number): number {
  return min + Math.floor(random() * (max - min + 1));
}

/** One element of a non-empty array drawn from `random`. */
export function pick<T>(random: () => number, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)] as T;
}
