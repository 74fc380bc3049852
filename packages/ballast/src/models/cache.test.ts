import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { sha256Hex } from "../canonical.ts";
import { ResponseCache } from "./cache.ts";

let dir: string;
let path: string;
const open: ResponseCache[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "ballast-cache-"));
  path = join(dir, "cache.db");
});
afterEach(() => {
  for (const cache of open.splice(0)) cache.close();
  rmSync(dir, { recursive: true, force: true });
});

function cache(options: Partial<ConstructorParameters<typeof ResponseCache>[0]> = {}): ResponseCache {
  const c = new ResponseCache({ path, ...options });
  open.push(c);
  return c;
}

function corrupt(key: string, body: string) {
  for (const c of open) c.flush();
  const db = new DatabaseSync(path);
  db.prepare("UPDATE bodies SET body = ? WHERE key = ?").run(Buffer.from(body), key);
  db.close();
}

describe("ResponseCache", () => {
  it("stores, verifies and serves entries; misses are counted", () => {
    const c = cache();
    expect(c.get("k1")).toBeUndefined();
    c.set("k1", { text: "hello" }, { kind: "generate", stage: "descriptions", model: "openai:gpt-4o-mini" });
    expect(c.get("k1")?.value).toEqual({ text: "hello" });
    expect(c.stats()).toMatchObject({ hits: 1, misses: 1, writes: 1, entries: 1, corrupt: 0 });
    expect(c.stats().byStage).toEqual({ descriptions: { entries: 1, bytes: 16 } });
    expect(c.stats().byKind["generate"]?.entries).toBe(1);
  });

  it("detects a corrupt entry, serves a miss and purges it when writable", () => {
    const c = cache();
    c.set("k1", { text: "hello" }, { kind: "generate" });
    corrupt("k1", '{"text":"HELLO"}');
    expect(c.get("k1")).toBeUndefined();
    expect(c.stats()).toMatchObject({ corrupt: 1, misses: 1, hits: 0, entries: 0 });
  });

  it("a corrupt body that is not even JSON is detected too", () => {
    const c = cache();
    c.set("k1", { a: 1 }, { kind: "generate" });
    c.flush();
    const db = new DatabaseSync(path);
    // body and manifest hash changed together: the hash matches, the JSON does not parse
    db.prepare("UPDATE bodies SET body = ? WHERE key = ?").run(Buffer.from("{not json"), "k1");
    db.prepare("UPDATE manifest SET sha256 = ? WHERE key = ?").run(sha256Hex("{not json"), "k1");
    db.close();
    expect(c.get("k1")).toBeUndefined();
    expect(c.stats().corrupt).toBe(1);
  });

  it("read-only mode serves hits, never writes and never purges", () => {
    const writer = cache();
    writer.set("good", { v: 1 }, { kind: "generate" });
    writer.set("bad", { v: 2 }, { kind: "generate" });
    writer.close();
    corrupt("bad", "tampered");
    const reader = cache({ mode: "read-only" });
    expect(reader.writable).toBe(false);
    expect(reader.get("good")?.value).toEqual({ v: 1 });
    expect(reader.get("bad")).toBeUndefined();
    reader.set("new", { v: 3 }, { kind: "generate" });
    expect(reader.get("new")).toBeUndefined();
    expect(reader.stats()).toMatchObject({ entries: 2, corrupt: 1, hits: 1, misses: 2 });
    expect(() => reader.purge({ all: true })).toThrow(/read-only mode/);
  });

  it("read-only on a missing file is an empty cache; off is no cache", () => {
    const reader = cache({ mode: "read-only", path: join(dir, "absent.db") });
    expect(reader.get("x")).toBeUndefined();
    expect(reader.stats().entries).toBe(0);
    expect(reader.validate().checked).toBe(0);
    const off = cache({ mode: "off" });
    off.set("x", 1, { kind: "generate" });
    expect(off.get("x")).toBeUndefined();
  });

  it("read-only on a file that is not a cache reads nothing", () => {
    const other = join(dir, "other.db");
    const db = new DatabaseSync(other);
    db.exec("CREATE TABLE t (x)");
    db.close();
    const reader = cache({ mode: "read-only", path: other });
    expect(reader.get("x")).toBeUndefined();
  });

  it("evicts least recently read entries past the byte cap", () => {
    let now = 1000;
    const c = cache({ maxBytes: 100, now: () => now });
    const body = { pad: "x".repeat(30) }; // 40 bytes as JSON
    c.set("a", body, { kind: "generate" });
    now += 1;
    c.set("b", body, { kind: "generate" });
    c.flush(); // what the next turn of the event loop does
    now += 1;
    expect(c.get("a")).toBeDefined(); // a is now more recent than b
    now += 1;
    c.set("c", body, { kind: "generate" });
    c.flush();
    expect(c.get("b")).toBeUndefined();
    expect(c.get("a")).toBeDefined();
    expect(c.get("c")).toBeDefined();
    expect(c.stats()).toMatchObject({ evictions: 1, entries: 2, bytes: 80 });
    // replacing an entry does not double count its size
    c.set("c", body, { kind: "generate" });
    c.flush();
    expect(c.stats().bytes).toBe(80);
  });

  it("expires entries by stage TTL", () => {
    let now = 0;
    const c = cache({ now: () => now, ttlMs: { default: 1000, stages: { mapping: 100 } } });
    expect(c.ttlFor("mapping")).toBe(100);
    expect(c.ttlFor("other")).toBe(1000);
    c.set("m", 1, { kind: "generate", stage: "mapping" });
    c.set("d", 2, { kind: "generate", stage: "descriptions" });
    c.set("q", 3, { kind: "generate", stage: "mapping" });
    c.flush();
    c.set("q", 3, { kind: "generate", stage: "mapping" }); // still queued when it expires
    now = 150;
    expect(c.get("q")).toBeUndefined();
    expect(c.get("m")).toBeUndefined();
    expect(c.get("d")?.value).toBe(2);
    expect(c.stats()).toMatchObject({ expired: 2, entries: 2 });
  });

  it("validate reports incorrect hashes and fixes them on request", () => {
    const c = cache();
    for (const key of ["a", "b", "c"]) c.set(key, { key }, { kind: "stream" });
    corrupt("b", "nope");
    const report = c.validate();
    expect(report).toEqual({ checked: 3, ok: 2, corrupt: 1, corruptKeys: ["b"], purged: 0 });
    expect(c.stats().entries).toBe(3);
    expect(c.validate({ fix: true })).toMatchObject({ corrupt: 1, purged: 1 });
    expect(c.validate()).toMatchObject({ checked: 2, ok: 2, corrupt: 0 });
  });

  it("purges by age, size, corruption and everything, reporting exact counts", () => {
    let now = 0;
    const c = cache({ now: () => now });
    c.set("old1", { v: "x".repeat(10) }, { kind: "generate" });
    c.set("old2", { v: "x".repeat(10) }, { kind: "generate" });
    now = 10_000;
    c.set("new1", { v: "x".repeat(10) }, { kind: "generate" });
    c.set("new2", { v: "x".repeat(10) }, { kind: "generate" });
    c.set("new3", { v: "x".repeat(10) }, { kind: "generate" });
    expect(c.purge({ olderThanMs: 5000 })).toEqual({ removed: 2, bytesFreed: 36, entries: 3, bytes: 54 });
    expect(c.purge({ maxBytes: 20 })).toEqual({ removed: 2, bytesFreed: 36, entries: 1, bytes: 18 });
    corrupt("new3", "bad");
    expect(c.purge({ corrupt: true })).toMatchObject({ removed: 1, entries: 0 });
    c.set("z", 1, { kind: "generate" });
    expect(c.purge({ all: true })).toMatchObject({ removed: 1, entries: 0, bytes: 0 });
    expect(c.stats().purged).toBe(6);
  });

  it("keeps counters in the file across instances", () => {
    const a = cache();
    a.set("k", 1, { kind: "generate" });
    a.get("k");
    a.get("missing");
    a.close();
    a.close();
    expect(a.get("k")).toBeUndefined();
    const b = cache();
    expect(b.stats()).toMatchObject({ hits: 1, misses: 1, writes: 1, entries: 1 });
    expect(b.stats().oldestAt).not.toBeNull();
  });
});
