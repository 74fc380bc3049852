import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { Command } from "commander";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type CliResult, runCli } from "../../../test/cli-harness.ts";
import { defaultCachePath, ResponseCache } from "../../models/cache.ts";
import { registerCacheCommand } from "./cache.ts";

let home: string;

/** The command mounted the way the CLI's main program mounts it (global --json and --home). */
function program(): Command {
  const p = new Command("ballast").option("--json").option("--home <dir>").exitOverride();
  registerCacheCommand(p);
  return p;
}

const cli = (...args: string[]): Promise<CliResult> => runCli(program(), home, args);

function seed(now: () => number = Date.now): string {
  const path = defaultCachePath(home);
  const cache = new ResponseCache({ path, now });
  cache.set("a", { text: "a".repeat(100) }, { kind: "generate", stage: "descriptions" });
  cache.set("b", { text: "b".repeat(100) }, { kind: "stream", stage: "features" });
  cache.set("c", { text: "c".repeat(100) }, { kind: "generate", stage: "mapping" });
  cache.get("a");
  cache.get("zzz");
  cache.close();
  return path;
}

beforeEach(() => {
  home = mkdtempSync(join(tmpdir(), "ballast-cache-cli-"));
});
afterEach(() => {
  rmSync(home, { recursive: true, force: true });
});

describe("ballast cache", () => {
  it("stats reports exact counters, as text and JSON", async () => {
    seed();
    const json = JSON.parse((await cli("cache", "stats", "--json")).out);
    expect(json).toMatchObject({ entries: 3, hits: 1, misses: 1, writes: 3, corrupt: 0, bytes: 333 });
    expect(json.byStage.features).toEqual({ entries: 1, bytes: 111 });
    const text = (await cli("cache", "stats")).out;
    expect(text).toContain("entries");
    expect(text).toContain("descriptions");
  });

  it("validate reports an incorrect hash, exits 1, and --fix removes it", async () => {
    const path = seed();
    const db = new DatabaseSync(path);
    db.prepare("UPDATE bodies SET body = ? WHERE key = ?").run(Buffer.from('{"text":"tampered"}'), "b");
    db.close();
    const report = await cli("cache", "validate", "--json");
    expect(report.exitCode).toBe(1);
    expect(JSON.parse(report.out)).toEqual({ checked: 3, ok: 2, corrupt: 1, corruptKeys: ["b"], purged: 0 });
    expect((await cli("cache", "validate")).out).toContain("validate --fix");
    const fixed = await cli("cache", "validate", "--fix", "--json");
    expect(fixed.exitCode).toBe(0);
    expect(JSON.parse(fixed.out)).toMatchObject({ corrupt: 1, purged: 1 });
    expect((await cli("cache", "validate")).out).toContain("checked 2: 2 ok, 0 corrupt");
  });

  it("purge trims by age and size and reports counts", async () => {
    let now = 0;
    seed(() => now);
    now = Date.now();
    const aged = JSON.parse((await cli("cache", "purge", "--older-than", "7d", "--json")).out);
    expect(aged).toEqual({ removed: 3, bytesFreed: 333, entries: 0, bytes: 0 });
    seed();
    const sized = JSON.parse((await cli("cache", "purge", "--max-size", "200B", "--json")).out);
    expect(sized).toMatchObject({ removed: 2, entries: 1, bytes: 111 });
    expect((await cli("cache", "purge", "--all")).out).toContain("removed 1 entries");
    expect((await cli("cache", "purge", "--expired", "--corrupt", "--json")).out).toContain('"removed": 0');
  });

  it("explains what is missing", async () => {
    const missing = await cli("cache", "stats");
    expect(missing.exitCode).toBe(1);
    expect(missing.err).toContain("No model cache at");
    seed();
    const bare = await cli("cache", "purge");
    expect(bare.exitCode).toBe(1);
    expect(bare.err).toContain("--older-than");
    expect((await cli("cache", "purge", "--older-than", "soon")).err).toContain("not a duration");
    const other = join(home, "other.db");
    new ResponseCache({ path: other }).close();
    expect(JSON.parse((await cli("cache", "--path", other, "stats", "--json")).out).entries).toBe(0);
  });
});
