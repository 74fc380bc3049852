import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { blobRef } from "./blob-store.ts";
import { openSqliteJournal, type SqliteJournal } from "./sqlite-journal.ts";

let dir: string;
let journal: SqliteJournal;
const dbPath = () => join(dir, "ballast.db");

async function open(): Promise<SqliteJournal> {
  return openSqliteJournal({ path: dbPath(), blobDir: join(dir, "blobs") });
}

/** Runs raw SQL against the database with the journal closed, then reopens it. */
async function tamper(sql: string, ...params: (string | number)[]): Promise<void> {
  await journal.close();
  const db = new DatabaseSync(dbPath());
  db.prepare(sql).run(...params);
  db.close();
  journal = await open();
}

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), "ballast-verify-"));
  journal = await open();
  for (const id of ["r1", "r2"]) {
    await journal.createRun({ id, workflow: "w", workflowVersion: "1", input: null });
    for (let i = 0; i < 5; i++) await journal.append(id, { type: "step.completed", data: { i } });
  }
});

afterEach(async () => {
  await journal.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("verify", () => {
  it("passes an untouched journal", async () => {
    expect(await journal.verify()).toEqual({ ok: true, runsChecked: 2, eventsChecked: 10, problems: [] });
    expect(await journal.verify("r2")).toMatchObject({ ok: true, runsChecked: 1, eventsChecked: 5 });
  });

  it("names the run and seq of modified event data", async () => {
    await tamper(`UPDATE events SET data = '{"i":99}' WHERE run_id = 'r2' AND seq = 3`);
    const report = await journal.verify();
    expect(report.ok).toBe(false);
    expect(report.problems).toEqual([
      expect.objectContaining({
        runId: "r2",
        seq: 3,
        kind: "hash_mismatch",
        message: expect.stringContaining("run r2, event 3"),
      }),
    ]);
    expect((await journal.verify("r1")).ok).toBe(true);
  });

  it("flags data that is no longer JSON", async () => {
    await tamper(`UPDATE events SET data = '{"i":' WHERE run_id = 'r1' AND seq = 0`);
    const report = await journal.verify("r1");
    expect(report.problems).toEqual([
      expect.objectContaining({ runId: "r1", seq: 0, kind: "hash_mismatch" }),
    ]);
  });

  it("names a changed hash and the link it breaks", async () => {
    await tamper(`UPDATE events SET hash = ? WHERE run_id = 'r1' AND seq = 2`, "f".repeat(64));
    const report = await journal.verify("r1");
    expect(report.problems.map((p) => [p.runId, p.seq, p.kind])).toEqual([
      ["r1", 2, "hash_mismatch"],
      ["r1", 3, "chain_broken"],
    ]);
  });

  it("names a deleted event in the middle", async () => {
    await tamper(`DELETE FROM events WHERE run_id = 'r1' AND seq = 2`);
    const report = await journal.verify();
    expect(report.problems.map((p) => [p.runId, p.seq, p.kind])).toEqual([
      ["r1", 2, "sequence_gap"],
      ["r1", 3, "chain_broken"],
    ]);
  });

  it("names a deleted last event through the run's head", async () => {
    await tamper(`DELETE FROM events WHERE run_id = 'r2' AND seq = 4`);
    const report = await journal.verify();
    expect(report.problems.map((p) => [p.runId, p.seq, p.kind])).toEqual([["r2", 4, "head_mismatch"]]);
  });

  it("names a re-sequenced event", async () => {
    await tamper(`UPDATE events SET seq = 7 WHERE run_id = 'r1' AND seq = 4`);
    const report = await journal.verify("r1");
    expect(report.problems.map((p) => [p.seq, p.kind])).toEqual([
      [4, "sequence_gap"],
      [7, "hash_mismatch"],
      [7, "head_mismatch"],
    ]);
  });

  it("names events whose run row is gone", async () => {
    await tamper(`DELETE FROM runs WHERE id = 'r2'`);
    const report = await journal.verify();
    expect(report.problems).toEqual([
      expect.objectContaining({ runId: "r2", seq: 4, kind: "head_mismatch" }),
    ]);
    expect((await journal.verify("r2")).ok).toBe(false);
  });

  it("refuses to verify a run that does not exist", async () => {
    await expect(journal.verify("nope")).rejects.toMatchObject({ code: "run_not_found" });
  });

  it("checks the blobs events point at", async () => {
    const good = await journal.blobs.put("a large step result");
    const bad = await journal.blobs.put("another large result");
    const gone = "0".repeat(63) + "1";
    await journal.append("r1", {
      type: "step.completed",
      data: { result: blobRef(good, 19), more: [blobRef(bad, 20)] },
    });
    await journal.append("r1", { type: "step.completed", data: { result: blobRef(gone, 1) } });
    expect((await journal.verify("r2")).ok).toBe(true);

    writeFileSync(journal.blobs.pathOf(bad), "tampered");
    const report = await journal.verify();
    expect(report.problems.map((p) => [p.runId, p.seq, p.kind])).toEqual([
      ["r1", 5, "blob_corrupt"],
      ["r1", 6, "blob_missing"],
    ]);
    expect(report.problems[0]?.message).toContain(bad);
  });
});
