import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { afterEach, describe, expect, it } from "vitest";
import { BallastError } from "../errors.ts";
import { AUDIT_GENESIS, AuditLog, budgetAuditEvent, parseTtlDays } from "./audit-log.ts";
import { PolicyEngine } from "./policy-engine.ts";

const dirs: string[] = [];
function home(): string {
  const dir = mkdtempSync(join(tmpdir(), "ballast-audit-"));
  dirs.push(dir);
  return dir;
}
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function clock(start = "2025-01-01T00:00:00.000Z") {
  let t = Date.parse(start);
  return {
    now: () => new Date(t),
    advanceDays: (days: number) => {
      t += days * 86_400_000;
    },
  };
}

const deny = (i: number) => ({
  kind: "security.deny",
  subject: `user${i}`,
  action: "runs.read",
  resource: "acme:runs/1",
  tenant: "acme",
  reason: "deny:resource_cross_tenant",
  traceId: "4bf92f3577b34da6a3ce929d0e0e4736",
});

describe("append and verify", () => {
  it("chains records from the genesis and verifies them", () => {
    const log = AuditLog.open({ home: home(), env: {} });
    const a = log.append(deny(1));
    const b = log.append({ kind: "policy.decision", data: { decision: "allow" } });
    expect(a.seq).toBe(1);
    expect(a.chainPrev).toBe(AUDIT_GENESIS);
    expect(b.chainPrev).toBe(a.chain);
    expect(a.chain).toMatch(/^[0-9a-f]{64}$/);
    expect(log.verify()).toEqual({
      ok: true,
      checked: 2,
      archivedChecked: 0,
      anchors: 0,
      firstSeq: 1,
      lastSeq: 2,
      problems: [],
    });
    log.close();
    log.close();
  });

  it("stores the database at <home>/ballast.db in the audit_events table", () => {
    const dir = home();
    const log = AuditLog.open({ home: dir, env: {} });
    log.append(deny(1));
    log.close();
    const db = new DatabaseSync(join(dir, "ballast.db"));
    expect((db.prepare("SELECT count(*) AS n FROM audit_events").get() as { n: number }).n).toBe(1);
    db.close();
  });

  it("redacts every field before storing it and keeps the trace id", () => {
    const log = AuditLog.open({ home: home(), env: {} });
    const record = log.append({
      ...deny(1),
      subject: "bob@example.com",
      data: { authorization: "Bearer abcdefghijklmnop", note: "token=s3cr3t", requestHash: "a".repeat(64) },
    });
    expect(record.subject).toBe("<<REDACTED>>");
    expect(record.traceId).toBe("4bf92f3577b34da6a3ce929d0e0e4736");
    expect(record.data).toEqual({
      authorization: "<<REDACTED>>",
      note: "token=<<REDACTED>>",
      requestHash: "a".repeat(64),
    });
    expect(JSON.stringify(log.list())).not.toMatch(/abcdefghijklmnop|s3cr3t|bob@/);
    expect(log.verify().ok).toBe(true);
    log.close();
  });

  it("refuses updates and deletes through SQLite triggers", () => {
    const dir = home();
    const log = AuditLog.open({ home: dir, env: {} });
    log.append(deny(1));
    const db = new DatabaseSync(join(dir, "ballast.db"));
    expect(() => db.exec("UPDATE audit_events SET kind = 'x'")).toThrow(/append-only/);
    expect(() => db.exec("DELETE FROM audit_events")).toThrow(/only by archiving/);
    db.close();
    log.close();
  });

  it("detects a changed, removed or reordered record", () => {
    const dir = home();
    const log = AuditLog.open({ home: dir, env: {} });
    for (let i = 1; i <= 5; i++) log.append(deny(i));
    const db = new DatabaseSync(join(dir, "ballast.db"));
    db.exec("DROP TRIGGER audit_events_no_update; DROP TRIGGER audit_events_archive_only;");
    db.exec(`UPDATE audit_events SET body = replace(body, 'user2', 'user9') WHERE seq = 2`);
    db.exec("UPDATE audit_events SET tenant = 'globex' WHERE seq = 3");
    db.exec("DELETE FROM audit_events WHERE seq = 4");
    db.close();
    const report = log.verify();
    expect(report.ok).toBe(false);
    expect(report.problems.map((p) => [p.seq, p.kind])).toEqual([
      [2, "hash_mismatch"],
      [3, "body_mismatch"],
      [5, "seq_gap"],
      [5, "chain_broken"],
    ]);
    log.close();
  });

  it("reports a body that is not JSON", () => {
    const dir = home();
    const log = AuditLog.open({ home: dir, env: {} });
    log.append(deny(1));
    const db = new DatabaseSync(join(dir, "ballast.db"));
    db.exec("DROP TRIGGER audit_events_no_update; UPDATE audit_events SET body = '{' WHERE seq = 1");
    db.close();
    expect(log.verify().problems.map((p) => p.kind)).toEqual(["body_mismatch"]);
    log.close();
  });

  it("rejects a bad kind and use after close", () => {
    const log = AuditLog.open({ home: home(), env: {} });
    expect(() => log.append({ kind: "Bad Kind" })).toThrow(/must match/);
    log.close();
    let caught: unknown;
    try {
      log.append(deny(1));
    } catch (error) {
      caught = error;
    }
    expect(BallastError.hasCode(caught, "audit_closed")).toBe(true);
  });
});

describe("retention by archiving", () => {
  it("archives expired records to JSONL under an anchor; the rest still verifies, and so do the archives", () => {
    const dir = home();
    const c = clock();
    const log = AuditLog.open({ home: dir, now: c.now, env: {} });
    for (let i = 1; i <= 4; i++) log.append(deny(i));
    c.advanceDays(10);
    log.append(deny(5));
    c.advanceDays(1);
    const result = log.archive({ ttlDays: 7 });
    expect(result).toMatchObject({ archived: 4, seqFrom: 1, seqThrough: 4 });
    const files = readdirSync(join(dir, "audit-archive"));
    expect(files).toEqual(["audit-000000000001-000000000004.jsonl"]);
    const lines = readFileSync(join(dir, "audit-archive", files[0]!), "utf8")
      .trim()
      .split("\n");
    expect(lines.map((l) => JSON.parse(l).seq)).toEqual([1, 2, 3, 4]);
    const remaining = log.list();
    expect(remaining.map((r) => [r.seq, r.kind])).toEqual([
      [5, "security.deny"],
      [6, "audit.archived"],
    ]);
    expect(remaining[1]?.data).toMatchObject({ seqFrom: 1, seqThrough: 4, count: 4 });
    expect(log.verify()).toMatchObject({
      ok: true,
      checked: 2,
      archivedChecked: 4,
      anchors: 1,
      firstSeq: 5,
      lastSeq: 6,
    });
    // Nothing more to archive.
    expect(log.archive({ ttlDays: 7 }).archived).toBe(0);
    log.close();
  });

  it("continues the chain from the anchor when everything was archived", () => {
    const dir = home();
    const c = clock();
    const log = AuditLog.open({ home: dir, now: c.now, env: {} });
    log.append(deny(1));
    c.advanceDays(2);
    log.archive({ ttlDays: 1 });
    c.advanceDays(2);
    log.archive({ ttlDays: 1 });
    log.append(deny(2));
    const report = log.verify();
    expect(report).toMatchObject({ ok: true, anchors: 2, archivedChecked: 2, firstSeq: 3, lastSeq: 4 });
    log.close();
  });

  it("applies BALLAST_AUDIT_TTL_DAYS on open and rejects a bad value", () => {
    const dir = home();
    const c = clock();
    const first = AuditLog.open({ home: dir, now: c.now, env: {} });
    first.append(deny(1));
    first.close();
    c.advanceDays(40);
    const second = AuditLog.open({ home: dir, now: c.now, env: { BALLAST_AUDIT_TTL_DAYS: "30" } });
    expect(second.list().map((r) => r.kind)).toEqual(["audit.archived"]);
    second.close();
    expect(() => AuditLog.open({ home: dir, env: { BALLAST_AUDIT_TTL_DAYS: "soon" } })).toThrow(
      /positive number/,
    );
    expect(parseTtlDays(undefined)).toBeUndefined();
    expect(parseTtlDays(" ")).toBeUndefined();
    expect(parseTtlDays("1.5")).toBe(1.5);
    const log = AuditLog.open({ home: dir, env: {} });
    expect(() => log.archive({ ttlDays: 0 })).toThrow(/positive/);
    log.close();
  });

  it("detects a changed, missing or truncated archive", () => {
    const dir = home();
    const c = clock();
    const log = AuditLog.open({ home: dir, now: c.now, env: {} });
    for (let i = 1; i <= 3; i++) log.append(deny(i));
    c.advanceDays(5);
    const { file } = log.archive({ ttlDays: 1 });
    const original = readFileSync(file!, "utf8");

    writeFileSync(file!, original.replace("user2", "user7"));
    expect(log.verify().problems.map((p) => p.kind)).toEqual(["archive_mismatch", "hash_mismatch"]);

    writeFileSync(file!, original.split("\n").slice(0, 2).join("\n"));
    expect(log.verify().problems.map((p) => p.kind)).toEqual(["archive_mismatch", "anchor_mismatch"]);

    rmSync(file!);
    expect(log.verify().problems.map((p) => p.kind)).toEqual(["archive_missing"]);
    // The database part alone still verifies.
    expect(log.verify({ archives: false }).ok).toBe(true);
    log.close();
  });
});

describe("readback and producers", () => {
  it("filters by kind, tenant, trace id and time, and bounds the page", () => {
    const c = clock();
    const log = AuditLog.open({ home: home(), now: c.now, env: {} });
    log.append(deny(1));
    c.advanceDays(1);
    log.append({ ...deny(2), tenant: "globex", traceId: "t-2" });
    log.append(
      budgetAuditEvent({
        kind: "budget.exceeded",
        runId: "run_1",
        budget: "tokens",
        used: 120,
        limit: 100,
        mode: "enforce",
      }),
    );
    expect(log.list({ tenant: "globex" }).map((r) => r.seq)).toEqual([2]);
    expect(log.list({ traceId: "t-2" }).map((r) => r.seq)).toEqual([2]);
    expect(log.list({ kind: "budget.exceeded" })[0]).toMatchObject({
      reason: "tokens",
      data: { runId: "run_1", budget: "tokens", used: 120, limit: 100, mode: "enforce" },
    });
    expect(log.list({ since: "2025-01-02T00:00:00.000Z" }).map((r) => r.seq)).toEqual([2, 3]);
    expect(log.list({ limit: 1 }).map((r) => r.seq)).toEqual([1]);
    expect(
      budgetAuditEvent({
        kind: "budget.started",
        runId: "r",
        budget: "cost",
        used: 0,
        limit: 1,
        tenant: "a",
        traceId: "t",
      }),
    ).toMatchObject({
      tenant: "a",
      traceId: "t",
    });
    log.close();
  });

  it("is the policy engine's audit sink", () => {
    const log = AuditLog.open({ home: home(), env: {} });
    const engine = new PolicyEngine({ audit: log });
    engine.evaluate({
      subject: { id: "alice", tenant: "acme" },
      action: "runs.read",
      resource: "acme:runs/1",
      traceId: "trace-9",
    });
    const kinds = log.list().map((r) => [r.kind, r.reason ?? ""]);
    expect(kinds).toEqual([
      ["policy.load_failed", "rules_invalid"],
      ["security.deny", "rules_invalid"],
    ]);
    expect(log.list({ traceId: "trace-9" })).toHaveLength(1);
    expect(log.verify().ok).toBe(true);
    log.close();
  });
});
