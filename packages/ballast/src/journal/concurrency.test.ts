import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { pathToFileURL } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { BallastError } from "../errors.ts";
import { openSqliteJournal, type SqliteJournal } from "./sqlite-journal.ts";

let dir: string;
const dbPath = () => join(dir, "ballast.db");
const open = (busyTimeoutMs?: number) =>
  openSqliteJournal({
    path: dbPath(),
    blobDir: join(dir, "blobs"),
    ...(busyTimeoutMs === undefined ? {} : { busyTimeoutMs }),
  });
const run = (id: string) => ({ id, workflow: "w", workflowVersion: "1", input: null });

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "ballast-concurrency-"));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe("failed commits", () => {
  let journal: SqliteJournal;
  beforeEach(async () => {
    journal = await open(20);
    await journal.createRun(run("a"));
    await journal.createRun(run("b"));
  });
  afterEach(async () => {
    await journal.close();
  });

  it("fails a commit that cannot get the write lock as retryable journal_busy, then recovers", async () => {
    await journal.append("a", { type: "x", data: 0 });
    const holder = new DatabaseSync(dbPath());
    holder.exec("BEGIN IMMEDIATE");
    const failed = await Promise.allSettled([
      journal.append("a", { type: "x", data: 1 }),
      journal.append("b", { type: "x", data: 1 }),
    ]);
    holder.exec("COMMIT");
    holder.close();
    for (const result of failed) {
      expect(result.status).toBe("rejected");
      const reason = (result as PromiseRejectedResult).reason as unknown;
      expect(BallastError.hasCode(reason, "journal_busy")).toBe(true);
      expect((reason as BallastError).isRetryable).toBe(true);
    }
    // Nothing from the failed group was written; the next appends continue the chain.
    expect((await journal.append("a", { type: "x", data: 2 })).seq).toBe(1);
    expect((await journal.append("b", { type: "x", data: 2 })).seq).toBe(0);
    expect((await journal.verify()).ok).toBe(true);
  });

  it("reports a duplicate seq written behind its back as journal_conflict", async () => {
    const raw = new DatabaseSync(dbPath());
    raw
      .prepare(
        "INSERT INTO events (run_id, seq, type, at, data, prev, hash) VALUES ('a', 0, 'x', 'x', '1', 'x', 'x')",
      )
      .run();
    raw.close();
    await expect(journal.append("a", { type: "x", data: 1 })).rejects.toMatchObject({
      code: "journal_conflict",
      message: expect.stringContaining('Run "a"'),
    });
  });

  it("reports any other write failure as journal_write_failed and rolls the group back", async () => {
    const raw = new DatabaseSync(dbPath());
    raw.exec(
      "CREATE TRIGGER no_boom BEFORE INSERT ON events WHEN NEW.type = 'boom' BEGIN SELECT RAISE(ABORT, 'disk on fire'); END",
    );
    raw.close();
    const results = await Promise.allSettled([
      journal.append("a", { type: "ok", data: 1 }),
      journal.append("a", { type: "boom", data: 2 }),
    ]);
    expect(results.map((r) => r.status)).toEqual(["rejected", "rejected"]);
    expect((results[1] as PromiseRejectedResult).reason).toMatchObject({
      code: "journal_write_failed",
      message: expect.stringContaining("disk on fire"),
    });
    expect(await journal.readEvents("a")).toEqual([]);
    expect((await journal.getRun("a"))?.eventCount).toBe(0);
    expect(journal.stats()).toMatchObject({ failedCommits: 1, pending: 0 });
  });

  it("refuses runs without a workflow or with non-JSON input", async () => {
    await expect(
      journal.createRun({ ...run("c"), workflow: undefined as unknown as string }),
    ).rejects.toMatchObject({
      code: "invalid_run",
    });
    await expect(journal.createRun({ ...run("c"), input: { n: Number.NaN } })).rejects.toMatchObject({
      code: "invalid_run",
    });
    expect(await journal.getRun("c")).toBeUndefined();
  });
});

/** Several processes open the same fresh file at once and append to their own runs. */
const WRITER = `
import { openSqliteJournal } from ${JSON.stringify(pathToFileURL(join(import.meta.dirname, "sqlite-journal.ts")).href)};
const [path, blobDir, id] = process.argv.slice(2);
const journal = await openSqliteJournal({ path, blobDir });
await journal.createRun({ id, workflow: "w", workflowVersion: "1", input: null });
for (let i = 0; i < 40; i++) {
  await Promise.all([0, 1, 2].map((k) => journal.append(id, { type: "step.completed", data: { i, k } })));
}
await journal.close();
`;

function runWriter(script: string, id: string): Promise<void> {
  const child = spawn(
    process.execPath,
    ["--conditions=ballast-source", script, dbPath(), join(dir, "blobs"), id],
    {
      stdio: ["ignore", "ignore", "pipe"],
    },
  );
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  return new Promise((resolve, reject) => {
    child.on("exit", (code) =>
      code === 0 ? resolve() : reject(new Error(`writer ${id} exited ${code}: ${stderr}`)),
    );
  });
}

describe("several processes", () => {
  it("share one database file", async () => {
    const script = join(dir, "writer.mjs");
    writeFileSync(script, WRITER);
    await Promise.all(["p1", "p2", "p3"].map((id) => runWriter(script, id)));
    const journal = await open();
    try {
      const report = await journal.verify();
      expect(report).toMatchObject({ ok: true, runsChecked: 3, eventsChecked: 360 });
      expect((await journal.listRuns()).map((r) => r.eventCount)).toEqual([120, 120, 120]);
    } finally {
      await journal.close();
    }
  });
});
