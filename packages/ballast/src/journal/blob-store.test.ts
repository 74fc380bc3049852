import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { sha256Hex } from "../canonical.ts";
import { BallastError } from "../errors.ts";
import { blobRef, collectBlobRefs, FileBlobStore, isBlobRef } from "./blob-store.ts";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "ballast-blobs-"));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe("FileBlobStore", () => {
  it("stores bytes under their SHA-256, in a two-level layout, and reads them back", async () => {
    const store = new FileBlobStore({ dir });
    const sha = await store.put("hello");
    expect(sha).toBe(sha256Hex("hello"));
    expect(store.pathOf(sha)).toBe(join(dir, sha.slice(0, 2), sha.slice(2)));
    expect((await store.get(sha)).toString()).toBe("hello");
    expect(await store.has(sha)).toBe(true);
    const bytes = new Uint8Array([0, 1, 2, 255]);
    expect(await store.get(await store.put(bytes))).toEqual(Buffer.from(bytes));
  });

  it("deduplicates identical content and leaves no temp files", async () => {
    const store = new FileBlobStore({ dir, durability: "normal" });
    const [a, b, c] = await Promise.all([
      store.put("same"),
      store.put("same"),
      store.put(Buffer.from("same")),
    ]);
    expect(new Set([a, b, c]).size).toBe(1);
    expect(await store.put("same")).toBe(a);
    expect(readdirSync(join(dir, a!.slice(0, 2)))).toEqual([a!.slice(2)]);
  });

  it("rewrites a damaged copy of a different size on put", async () => {
    const store = new FileBlobStore({ dir });
    const sha = await store.put("content");
    writeFileSync(store.pathOf(sha), "x");
    await store.put("content");
    expect((await store.get(sha)).toString()).toBe("content");
  });

  it("detects a corrupt blob on read and names it", async () => {
    const store = new FileBlobStore({ dir });
    const sha = await store.put("original");
    writeFileSync(store.pathOf(sha), "modified");
    const error = await store.get(sha).catch((e: unknown) => e);
    expect(BallastError.hasCode(error, "blob_corrupt")).toBe(true);
    expect((error as Error).message).toContain(sha);
    expect((error as Error).message).toContain("verify");
  });

  it("reports a missing blob and rejects malformed ids", async () => {
    const store = new FileBlobStore({ dir });
    const sha = sha256Hex("never stored");
    expect(await store.has(sha)).toBe(false);
    await expect(store.get(sha)).rejects.toMatchObject({
      code: "blob_missing",
      message: expect.stringContaining(sha),
    });
    await expect(store.get("../../etc/passwd")).rejects.toMatchObject({ code: "invalid_blob_id" });
    expect(() => store.pathOf("ABC")).toThrow(/not a blob id/);
  });

  it("surfaces read errors other than a missing file", async () => {
    const store = new FileBlobStore({ dir });
    const sha = sha256Hex("dir");
    const { mkdirSync } = await import("node:fs");
    mkdirSync(store.pathOf(sha), { recursive: true });
    await expect(store.get(sha)).rejects.toMatchObject({ code: "EISDIR" });
    expect(await store.has(sha)).toBe(false);
  });
});

describe("blob references", () => {
  it("finds every reference in event data", () => {
    const a = sha256Hex("a");
    const b = sha256Hex("b");
    const data = {
      x: blobRef(a, 1),
      list: [1, "s", null, { nested: blobRef(b, 2) }],
      notRef: { $blob: "short" },
    };
    expect(collectBlobRefs(data)).toEqual([a, b]);
    expect(isBlobRef({ $blob: a })).toBe(true);
    expect(isBlobRef(null)).toBe(false);
    expect(collectBlobRefs("plain")).toEqual([]);
  });
});
