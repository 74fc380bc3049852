import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { canonicalJson } from "../canonical.ts";
import { BallastError } from "../errors.ts";
import { eventHash } from "./chain.ts";
import { openSqliteJournal, type SqliteJournal } from "./sqlite-journal.ts";
import { GENESIS_HASH } from "./types.ts";

let dir: string;
let journal: SqliteJournal;

async function open(durability: "full" | "normal" = "full"): Promise<SqliteJournal> {
  return openSqliteJournal({ path: join(dir, "ballast.db"), blobDir: join(dir, "blobs"), durability });
}

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), "ballast-journal-"));
  journal = await open();
});

afterEach(async () => {
  await journal.close();
  rmSync(dir, { recursive: true, force: true });
});

const newRun = (id: string, extra: Partial<Parameters<SqliteJournal["createRun"]>[0]> = {}) => ({
  id,
  workflow: "demo",
  workflowVersion: "1",
  input: { n: 1 },
  ...extra,
});

describe("runs", () => {
  it("creates, reads and updates a run", async () => {
    const created = await journal.createRun(newRun("r1", { tenant: "acme" }));
    expect(created).toMatchObject({
      id: "r1",
      status: "queued",
      eventCount: 0,
      headHash: GENESIS_HASH,
      tenant: "acme",
    });
    expect(await journal.getRun("r1")).toEqual(created);

    await journal.updateRun("r1", { status: "completed", output: { ok: true }, metadata: { seed: 3 } });
    const done = await journal.getRun("r1");
    expect(done).toMatchObject({ status: "completed", output: { ok: true }, metadata: { seed: 3 } });

    const error = { name: "Error", code: "boom", message: "x", isRetryable: false };
    await journal.updateRun("r1", { status: "failed", error });
    expect((await journal.getRun("r1"))?.error).toEqual(error);
    await journal.updateRun("r1", { error: null, output: null });
    const cleared = await journal.getRun("r1");
    expect(cleared?.error).toBeUndefined();
    expect(cleared?.output).toBeNull();
    expect(cleared?.status).toBe("failed");
  });

  it("keeps fork lineage", async () => {
    await journal.createRun(newRun("parent"));
    const child = await journal.createRun(
      newRun("child", { parentRunId: "parent", forkedAtSeq: 4, status: "running" }),
    );
    expect(await journal.getRun("child")).toEqual(child);
    expect(child).toMatchObject({ parentRunId: "parent", forkedAtSeq: 4, status: "running" });
  });

  it("refuses a duplicate run id and unknown runs", async () => {
    await journal.createRun(newRun("r1"));
    await expect(journal.createRun(newRun("r1"))).rejects.toMatchObject({ code: "run_exists" });
    await expect(journal.createRun(newRun(""))).rejects.toMatchObject({ code: "invalid_run_id" });
    expect(await journal.getRun("nope")).toBeUndefined();
    await expect(journal.updateRun("nope", { status: "failed" })).rejects.toMatchObject({
      code: "run_not_found",
    });
    await expect(journal.append("nope", { type: "x", data: null })).rejects.toMatchObject({
      code: "run_not_found",
      message: expect.stringContaining('"nope"'),
    });
    await expect(journal.readEvents("nope")).rejects.toMatchObject({ code: "run_not_found" });
    await expect(journal.updateRun("r1", { output: { bad: Number.NaN } })).rejects.toMatchObject({
      code: "invalid_run_patch",
    });
  });

  it("lists runs by status, workflow and tenant, newest first, with paging", async () => {
    await journal.createRun(newRun("a", { status: "running" }));
    await journal.createRun(newRun("b", { workflow: "other", tenant: "t1" }));
    await journal.createRun(newRun("c", { status: "running", tenant: "t1" }));
    const ids = async (q?: Parameters<SqliteJournal["listRuns"]>[0]) =>
      (await journal.listRuns(q)).map((r) => r.id);
    expect(await ids()).toEqual(["c", "b", "a"]);
    expect(await ids({ status: "running" })).toEqual(["c", "a"]);
    expect(await ids({ workflow: "other" })).toEqual(["b"]);
    expect(await ids({ tenant: "t1", status: "running" })).toEqual(["c"]);
    expect(await ids({ limit: 1, offset: 1 })).toEqual(["b"]);
    expect(await ids({ limit: 1, offset: 1 })).toEqual(["b"]);
    await expect(journal.listRuns({ limit: -1 })).rejects.toMatchObject({ code: "invalid_query" });
  });
});

describe("append", () => {
  it("round-trips events with a hash chain", async () => {
    await journal.createRun(newRun("r1"));
    const first = await journal.append("r1", { type: "run.started", data: { b: 2, a: [1, "x", null] } });
    const second = await journal.append("r1", { type: "step.completed", data: "done" });
    expect(first).toMatchObject({ runId: "r1", seq: 0, prev: GENESIS_HASH });
    expect(second).toMatchObject({ seq: 1, prev: first.hash });
    const { hash, ...rest } = first;
    expect(hash).toBe(eventHash(rest));

    const events = await journal.readEvents("r1");
    expect(events).toEqual([first, second]);
    expect(await journal.readEvents("r1", { fromSeq: 1 })).toEqual([second]);
    expect(await journal.readEvents("r1", { toSeq: 0 })).toEqual([first]);

    const run = await journal.getRun("r1");
    expect(run).toMatchObject({ eventCount: 2, headHash: second.hash });
  });

  it("stores event data as canonical JSON", async () => {
    await journal.createRun(newRun("r1"));
    await journal.append("r1", { type: "t", data: { z: 1, a: { d: 1, c: 2 } } });
    await journal.close();
    const db = new DatabaseSync(join(dir, "ballast.db"));
    const row = db.prepare("SELECT data FROM events").get() as { data: string };
    db.close();
    expect(row.data).toBe(canonicalJson({ a: { c: 2, d: 1 }, z: 1 }));
    expect(row.data).toBe('{"a":{"c":2,"d":1},"z":1}');
    journal = await open();
  });

  it("assigns seqs in call order under 100 concurrent appends, in one commit", async () => {
    await journal.createRun(newRun("r1"));
    const before = journal.stats();
    const events = await Promise.all(
      Array.from({ length: 100 }, (_, i) => journal.append("r1", { type: "step.completed", data: { i } })),
    );
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i));
    expect(events.map((e) => (e.data as { i: number }).i)).toEqual(events.map((_, i) => i));
    const after = journal.stats();
    expect(after.commits - before.commits).toBe(1);
    expect(after.eventsCommitted - before.eventsCommitted).toBe(100);
    expect((await journal.verify("r1")).ok).toBe(true);
  });

  it("groups appends to many runs from one turn into one commit, and later turns into the next", async () => {
    for (const id of ["a", "b", "c"]) await journal.createRun(newRun(id));
    const before = journal.stats().commits;
    await Promise.all(["a", "b", "c", "a"].map((id) => journal.append(id, { type: "x", data: id })));
    expect(journal.stats().commits - before).toBe(1);
    await journal.append("b", { type: "x", data: 2 });
    expect(journal.stats().commits - before).toBe(2);
    expect((await journal.getRun("a"))?.eventCount).toBe(2);
    expect((await journal.verify()).ok).toBe(true);
  });

  it("resolves lazy appends at once and still commits them with the next group", async () => {
    await journal.createRun(newRun("r1"));
    const lazy = await journal.append("r1", { type: "step.started", data: null }, { lazy: true });
    expect(journal.stats().pending).toBe(1);
    const durable = await journal.append("r1", { type: "step.completed", data: 1 });
    expect(durable.prev).toBe(lazy.hash);
    expect(journal.stats().pending).toBe(0);
    expect((await journal.readEvents("r1")).map((e) => e.type)).toEqual(["step.started", "step.completed"]);
  });

  it("applies a run patch in the same transaction as the event", async () => {
    await journal.createRun(newRun("r1", { status: "running" }));
    const e = await journal.append(
      "r1",
      { type: "run.completed", data: { out: 1 } },
      { runPatch: { status: "completed", output: { out: 1 } } },
    );
    expect(await journal.getRun("r1")).toMatchObject({
      status: "completed",
      output: { out: 1 },
      eventCount: 1,
      headHash: e.hash,
      updatedAt: e.at,
    });
  });

  it("forgets the cached head of a run that ended, and still continues its chain", async () => {
    await journal.createRun(newRun("r1", { status: "running" }));
    await journal.createRun(newRun("r2", { status: "running" }));
    await journal.append("r1", { type: "x", data: 1 });
    await journal.append("r2", { type: "x", data: 1 });
    expect(journal.stats().cachedHeads).toBe(2);
    await journal.append("r1", { type: "run.completed", data: null }, { runPatch: { status: "completed" } });
    await journal.updateRun("r2", { status: "cancelled" });
    expect(journal.stats().cachedHeads).toBe(0);
    const after = await journal.append("r1", { type: "note", data: null });
    expect(after.seq).toBe(2);
    expect((await journal.verify()).ok).toBe(true);
  });

  it("rejects data that is not JSON without using up a seq", async () => {
    await journal.createRun(newRun("r1"));
    await expect(
      journal.append("r1", { type: "x", data: { n: Number.POSITIVE_INFINITY } }),
    ).rejects.toMatchObject({
      code: "invalid_event",
    });
    await expect(journal.append("r1", { type: "", data: 1 })).rejects.toMatchObject({
      code: "invalid_event",
    });
    await expect(
      journal.append("r1", { type: "x", data: 1 }, { runPatch: { output: { n: Number.NaN } } }),
    ).rejects.toMatchObject({ code: "invalid_event" });
    const ok = await journal.append("r1", { type: "x", data: 1 });
    expect(ok.seq).toBe(0);
  });

  it("continues a run's chain after reopening", async () => {
    await journal.createRun(newRun("r1"));
    const first = await journal.append("r1", { type: "x", data: 1 });
    await journal.close();
    journal = await open();
    const second = await journal.append("r1", { type: "x", data: 2 });
    expect(second).toMatchObject({ seq: 1, prev: first.hash });
    expect((await journal.verify()).ok).toBe(true);
  });

  it("detects another process appending to the same run and recovers on the next append", async () => {
    await journal.createRun(newRun("r1"));
    await journal.append("r1", { type: "x", data: 1 });
    const other = await open();
    await other.append("r1", { type: "x", data: "other" });
    await other.close();

    const conflict = await journal.append("r1", { type: "x", data: 2 }).catch((e: unknown) => e);
    expect(BallastError.hasCode(conflict, "journal_conflict")).toBe(true);
    expect(journal.stats().failedCommits).toBe(1);
    const next = await journal.append("r1", { type: "x", data: 3 });
    expect(next.seq).toBe(2);
    expect((await journal.verify("r1")).ok).toBe(true);
  });

  it("works in normal durability mode", async () => {
    await journal.close();
    journal = await open("normal");
    expect(journal.durability).toBe("normal");
    await journal.createRun(newRun("r1"));
    await Promise.all([1, 2, 3].map((n) => journal.append("r1", { type: "x", data: n })));
    await journal.close();
    const db = new DatabaseSync(join(dir, "ballast.db"));
    expect(db.prepare("PRAGMA journal_mode").get()).toEqual({ journal_mode: "wal" });
    db.close();
    journal = await open("normal");
    expect(await journal.readEvents("r1")).toHaveLength(3);
    expect((await journal.verify()).ok).toBe(true);
  });

  it("refuses an unknown durability", async () => {
    await expect(
      openSqliteJournal({ path: join(dir, "x.db"), blobDir: dir, durability: "fast" as "full" }),
    ).rejects.toMatchObject({ code: "invalid_durability" });
  });
});

describe("close", () => {
  it("commits pending lazy events and refuses further use", async () => {
    await journal.createRun(newRun("r1"));
    void journal.append("r1", { type: "x", data: 1 }, { lazy: true });
    await journal.close();
    await journal.close();
    await expect(journal.append("r1", { type: "x", data: 2 })).rejects.toMatchObject({
      code: "journal_closed",
    });
    await expect(journal.getRun("r1")).rejects.toMatchObject({ code: "journal_closed" });
    journal = await open();
    expect(await journal.readEvents("r1")).toHaveLength(1);
  });
});
