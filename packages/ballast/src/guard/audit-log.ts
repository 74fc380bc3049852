import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  writeSync,
} from "node:fs";
import { basename, dirname, join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { canonicalJson, type JsonValue, sha256Hex } from "../canonical.ts";
import { BallastError, ValidationError } from "../errors.ts";
import { homeDatabasePath, resolveHome } from "../home.ts";
import type { AuditEventInput, AuditSink } from "./audit-types.ts";
import { redactValue } from "./redact.ts";

/**
 * The append-only, SHA-256-chained audit log, in its own tables of the ballast SQLite
 * database (`<home>/ballast.db`). Each record's `chain` is
 * `sha256(chainPrev + canonicalJson(record))`, so changing, removing or reordering any
 * record breaks every later link; `verify()` walks the chain.
 *
 * Retention (`BALLAST_AUDIT_TTL_DAYS`) archives, never silently deletes: the expired prefix
 * is written to a JSONL file (fsynced), an anchor row records the file's SHA-256 and the
 * last archived `chain`, and only then are the rows removed, in the same transaction that
 * appends an `audit.archived` record. The remaining chain starts at the anchor, so it still
 * verifies, and the archives verify against their anchors. SQLite triggers refuse UPDATE,
 * and DELETE of anything not covered by an anchor.
 */

export const AUDIT_SCHEMA_SQL = `
CREATE TABLE IF NOT EXISTS audit_events (
  seq        INTEGER PRIMARY KEY,
  ts         TEXT NOT NULL,
  kind       TEXT NOT NULL,
  tenant     TEXT,
  trace_id   TEXT,
  body       TEXT NOT NULL,
  chain_prev TEXT NOT NULL,
  chain      TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_events_ts ON audit_events (ts);
CREATE INDEX IF NOT EXISTS audit_events_kind_ts ON audit_events (kind, ts);
CREATE INDEX IF NOT EXISTS audit_events_tenant_ts ON audit_events (tenant, ts);
CREATE TABLE IF NOT EXISTS audit_anchors (
  seq_through    INTEGER PRIMARY KEY,
  seq_from       INTEGER NOT NULL,
  chain          TEXT NOT NULL,
  archive_file   TEXT NOT NULL,
  archive_sha256 TEXT NOT NULL,
  created_at     TEXT NOT NULL
);
CREATE TRIGGER IF NOT EXISTS audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_events_archive_only BEFORE DELETE ON audit_events
WHEN OLD.seq > COALESCE((SELECT MAX(seq_through) FROM audit_anchors), 0)
BEGIN SELECT RAISE(ABORT, 'audit_events rows are removed only by archiving'); END;
CREATE TRIGGER IF NOT EXISTS audit_anchors_no_update BEFORE UPDATE ON audit_anchors
BEGIN SELECT RAISE(ABORT, 'audit_anchors is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_anchors_no_delete BEFORE DELETE ON audit_anchors
BEGIN SELECT RAISE(ABORT, 'audit_anchors is append-only'); END;
`;

export const AUDIT_GENESIS = "0".repeat(64);

/** One stored record, as returned by `list()` and written to archives. */
export interface AuditRecord {
  seq: number;
  ts: string;
  kind: string;
  subject?: string;
  action?: string;
  resource?: string;
  tenant?: string;
  reason?: string;
  traceId?: string;
  data?: { [key: string]: JsonValue };
  chainPrev: string;
  chain: string;
}

export type AuditProblemKind =
  | "seq_gap"
  | "chain_broken"
  | "hash_mismatch"
  | "body_mismatch"
  | "archive_missing"
  | "archive_mismatch"
  | "anchor_mismatch";

export interface AuditProblem {
  seq: number;
  kind: AuditProblemKind;
  message: string;
}

export interface AuditVerifyReport {
  ok: boolean;
  /** Records checked in the database. */
  checked: number;
  /** Records checked in archive files. */
  archivedChecked: number;
  anchors: number;
  firstSeq: number | null;
  lastSeq: number | null;
  problems: AuditProblem[];
}

export interface ArchiveResult {
  archived: number;
  file: string | null;
  seqFrom: number | null;
  seqThrough: number | null;
}

export interface AuditLogOptions {
  /** Ballast home; the database is `<home>/ballast.db`. Default: `resolveHome()`. */
  home?: string;
  /** Database file, instead of the home's. */
  path?: string;
  /** Where archives go. Default: `audit-archive/` next to the database. */
  archiveDir?: string;
  /** Retention in days; default `BALLAST_AUDIT_TTL_DAYS`; unset keeps everything. Applied on open. */
  ttlDays?: number;
  /** Clock, for tests of retention. */
  now?: () => Date;
  env?: Readonly<Record<string, string | undefined>>;
}

interface Row {
  seq: number;
  ts: string;
  kind: string;
  tenant: string | null;
  trace_id: string | null;
  body: string;
  chain_prev: string;
  chain: string;
}

interface AnchorRow {
  seq_through: number;
  seq_from: number;
  chain: string;
  archive_file: string;
  archive_sha256: string;
}

const KIND = /^[a-z][a-z0-9_.]{0,63}$/;

function chainOf(prev: string, record: Omit<AuditRecord, "chainPrev" | "chain">): string {
  return sha256Hex(prev + canonicalJson(record));
}

export function parseTtlDays(value: string | undefined): number | undefined {
  if (value === undefined || value.trim() === "") return undefined;
  const days = Number(value);
  if (!Number.isFinite(days) || days <= 0) {
    throw new ValidationError(
      "audit_ttl_invalid",
      `BALLAST_AUDIT_TTL_DAYS is "${value}"; set a positive number of days, or unset it to keep the audit log whole.`,
    );
  }
  return days;
}

export class AuditLog implements AuditSink {
  readonly path: string;
  readonly archiveDir: string;
  readonly #db: DatabaseSync;
  readonly #now: () => Date;
  #closed = false;

  private constructor(path: string, archiveDir: string, now: () => Date) {
    this.path = path;
    this.archiveDir = archiveDir;
    this.#now = now;
    mkdirSync(dirname(path), { recursive: true });
    this.#db = new DatabaseSync(path);
    try {
      this.#db.exec("PRAGMA busy_timeout = 5000");
      this.#db.exec("PRAGMA journal_mode = WAL");
      this.#db.exec(AUDIT_SCHEMA_SQL);
    } catch (error) {
      this.#db.close();
      throw error;
    }
  }

  /** Opens (creating if needed) the audit tables and applies retention if configured. */
  static open(options: AuditLogOptions = {}): AuditLog {
    const env = options.env ?? process.env;
    const path = options.path ?? homeDatabasePath(resolveHome(options.home));
    const archiveDir = options.archiveDir ?? join(dirname(path), "audit-archive");
    const ttlDays = options.ttlDays ?? parseTtlDays(env["BALLAST_AUDIT_TTL_DAYS"]);
    const log = new AuditLog(path, archiveDir, options.now ?? (() => new Date()));
    if (ttlDays !== undefined) log.archive({ ttlDays });
    return log;
  }

  /** Appends one record (redacted) and returns it with its chain. Durable on return. */
  append(event: AuditEventInput): AuditRecord {
    this.#assertOpen();
    if (!KIND.test(event.kind)) {
      throw new ValidationError(
        "audit_kind_invalid",
        `Audit kind "${event.kind}" must match ${KIND.source}.`,
      );
    }
    const clean = redactValue(event);
    this.#db.exec("BEGIN IMMEDIATE");
    try {
      const record = this.#appendInTransaction(clean);
      this.#db.exec("COMMIT");
      return record;
    } catch (error) {
      this.#db.exec("ROLLBACK");
      throw error;
    }
  }

  #tip(): { seq: number; chain: string } {
    const last = this.#db.prepare("SELECT seq, chain FROM audit_events ORDER BY seq DESC LIMIT 1").get() as
      | { seq: number; chain: string }
      | undefined;
    if (last !== undefined) return last;
    const anchor = this.#db
      .prepare("SELECT seq_through AS seq, chain FROM audit_anchors ORDER BY seq_through DESC LIMIT 1")
      .get() as { seq: number; chain: string } | undefined;
    return anchor ?? { seq: 0, chain: AUDIT_GENESIS };
  }

  #appendInTransaction(event: AuditEventInput): AuditRecord {
    const tip = this.#tip();
    const record: Omit<AuditRecord, "chainPrev" | "chain"> = {
      seq: tip.seq + 1,
      ts: this.#now().toISOString(),
      kind: event.kind,
      ...(event.subject === undefined ? {} : { subject: event.subject }),
      ...(event.action === undefined ? {} : { action: event.action }),
      ...(event.resource === undefined ? {} : { resource: event.resource }),
      ...(event.tenant === undefined ? {} : { tenant: event.tenant }),
      ...(event.reason === undefined ? {} : { reason: event.reason }),
      ...(event.traceId === undefined ? {} : { traceId: event.traceId }),
      ...(event.data === undefined ? {} : { data: event.data }),
    };
    const chain = chainOf(tip.chain, record);
    this.#db
      .prepare(
        "INSERT INTO audit_events (seq, ts, kind, tenant, trace_id, body, chain_prev, chain) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
      )
      .run(
        record.seq,
        record.ts,
        record.kind,
        record.tenant ?? null,
        record.traceId ?? null,
        canonicalJson(record),
        tip.chain,
        chain,
      );
    return { ...record, chainPrev: tip.chain, chain };
  }

  /** Records, oldest first, redacted again on the way out (patterns may have grown since). */
  list(
    filter: { kind?: string; tenant?: string; traceId?: string; since?: string; limit?: number } = {},
  ): AuditRecord[] {
    this.#assertOpen();
    const where: string[] = [];
    const params: (string | number)[] = [];
    const columns = { kind: "kind", tenant: "tenant", traceId: "trace_id" } as const;
    for (const [key, column] of Object.entries(columns)) {
      const value = filter[key as keyof typeof columns];
      if (value === undefined) continue;
      where.push(`${column} = ?`);
      params.push(value);
    }
    if (filter.since !== undefined) {
      where.push("ts >= ?");
      params.push(filter.since);
    }
    const requested = filter.limit ?? 1000;
    const limit = Number.isFinite(requested) ? Math.max(1, Math.min(10_000, Math.trunc(requested))) : 1000;
    const rows = this.#db
      .prepare(
        `SELECT * FROM audit_events ${where.length > 0 ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY seq LIMIT ${limit}`,
      )
      .all(...params) as unknown as Row[];
    return rows.map((row) => redactValue(toRecord(row)));
  }

  /**
   * Archives records older than `ttlDays` (a contiguous prefix) to a JSONL file, then removes
   * them from the database under an anchor, and appends an `audit.archived` record.
   */
  archive(options: { ttlDays: number }): ArchiveResult {
    this.#assertOpen();
    if (!Number.isFinite(options.ttlDays) || options.ttlDays <= 0) {
      throw new ValidationError(
        "audit_ttl_invalid",
        `ttlDays is ${options.ttlDays}; give a positive number of days.`,
      );
    }
    const cutoff = new Date(this.#now().getTime() - options.ttlDays * 86_400_000).toISOString();
    const rows: Row[] = [];
    for (const row of this.#db
      .prepare("SELECT * FROM audit_events ORDER BY seq")
      .iterate() as Iterable<Row>) {
      if (row.ts >= cutoff) break;
      rows.push(row);
    }
    const first = rows[0];
    const last = rows.at(-1);
    if (first === undefined || last === undefined)
      return { archived: 0, file: null, seqFrom: null, seqThrough: null };

    mkdirSync(this.archiveDir, { recursive: true });
    const file = join(
      this.archiveDir,
      `audit-${String(first.seq).padStart(12, "0")}-${String(last.seq).padStart(12, "0")}.jsonl`,
    );
    const content = rows.map((row) => `${canonicalJson(toRecord(row))}\n`).join("");
    writeDurably(file, content);
    const digest = sha256Hex(content);

    this.#db.exec("BEGIN IMMEDIATE");
    try {
      this.#db
        .prepare(
          "INSERT INTO audit_anchors (seq_through, seq_from, chain, archive_file, archive_sha256, created_at) VALUES (?, ?, ?, ?, ?, ?)",
        )
        .run(last.seq, first.seq, last.chain, basename(file), digest, this.#now().toISOString());
      this.#db.prepare("DELETE FROM audit_events WHERE seq <= ?").run(last.seq);
      this.#appendInTransaction({
        kind: "audit.archived",
        reason: "retention",
        data: {
          seqFrom: first.seq,
          seqThrough: last.seq,
          count: rows.length,
          file: basename(file),
          sha256: digest,
        },
      });
      this.#db.exec("COMMIT");
    } catch (error) {
      this.#db.exec("ROLLBACK");
      throw error;
    }
    return { archived: rows.length, file, seqFrom: first.seq, seqThrough: last.seq };
  }

  /** Walks the chain in the database and, unless `archives: false`, every archive file. */
  verify(options: { archives?: boolean } = {}): AuditVerifyReport {
    this.#assertOpen();
    const problems: AuditProblem[] = [];
    const anchors = this.#db
      .prepare("SELECT * FROM audit_anchors ORDER BY seq_through")
      .all() as unknown as AnchorRow[];
    let archivedChecked = 0;

    // Archives: each file must hash to its anchor, chain from the previous anchor, and end
    // at its anchor's chain.
    let prevChain = AUDIT_GENESIS;
    let prevSeq = 0;
    for (const anchor of anchors) {
      if (anchor.seq_from !== prevSeq + 1) {
        problems.push({
          seq: anchor.seq_from,
          kind: "anchor_mismatch",
          message: `anchor starts at ${anchor.seq_from}, expected ${prevSeq + 1}`,
        });
      }
      if (options.archives !== false) {
        const file = join(this.archiveDir, anchor.archive_file);
        if (!existsSync(file)) {
          problems.push({
            seq: anchor.seq_from,
            kind: "archive_missing",
            message: `archive ${anchor.archive_file} is missing from ${this.archiveDir}`,
          });
        } else {
          const content = readFileSync(file, "utf8");
          if (sha256Hex(content) !== anchor.archive_sha256) {
            problems.push({
              seq: anchor.seq_from,
              kind: "archive_mismatch",
              message: `archive ${anchor.archive_file} does not match its recorded SHA-256`,
            });
          }
          let expectSeq = anchor.seq_from;
          let chain = prevChain;
          for (const line of content.split("\n")) {
            if (line === "") continue;
            archivedChecked++;
            const record = JSON.parse(line) as AuditRecord;
            checkRecord(record, expectSeq, chain, problems);
            chain = record.chain;
            expectSeq = record.seq + 1;
          }
          if (chain !== anchor.chain || expectSeq !== anchor.seq_through + 1) {
            problems.push({
              seq: anchor.seq_through,
              kind: "anchor_mismatch",
              message: `archive ${anchor.archive_file} does not end at its anchor`,
            });
          }
        }
      }
      prevChain = anchor.chain;
      prevSeq = anchor.seq_through;
    }

    let checked = 0;
    let firstSeq: number | null = null;
    let lastSeq: number | null = null;
    let expectSeq = prevSeq + 1;
    let chain = prevChain;
    for (const row of this.#db
      .prepare("SELECT * FROM audit_events ORDER BY seq")
      .iterate() as Iterable<Row>) {
      checked++;
      firstSeq ??= row.seq;
      lastSeq = row.seq;
      let record: AuditRecord;
      try {
        record = toRecord(row);
      } catch {
        problems.push({
          seq: row.seq,
          kind: "body_mismatch",
          message: `record ${row.seq} has a body that is not JSON`,
        });
        chain = row.chain;
        expectSeq = row.seq + 1;
        continue;
      }
      if (
        record.seq !== row.seq ||
        record.ts !== row.ts ||
        record.kind !== row.kind ||
        (record.tenant ?? null) !== row.tenant ||
        (record.traceId ?? null) !== row.trace_id
      ) {
        problems.push({
          seq: row.seq,
          kind: "body_mismatch",
          message: `record ${row.seq}: columns differ from the hashed body`,
        });
      }
      checkRecord(record, expectSeq, chain, problems);
      chain = row.chain;
      expectSeq = row.seq + 1;
    }
    return {
      ok: problems.length === 0,
      checked,
      archivedChecked,
      anchors: anchors.length,
      firstSeq,
      lastSeq,
      problems,
    };
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#db.close();
  }

  #assertOpen(): void {
    if (this.#closed) {
      throw new BallastError({
        code: "audit_closed",
        message: `The audit log at ${this.path} is closed; open it again with AuditLog.open().`,
      });
    }
  }
}

function checkRecord(
  record: AuditRecord,
  expectSeq: number,
  prevChain: string,
  problems: AuditProblem[],
): void {
  if (record.seq !== expectSeq) {
    problems.push({
      seq: record.seq,
      kind: "seq_gap",
      message: `expected record ${expectSeq}, found ${record.seq}`,
    });
  }
  if (record.chainPrev !== prevChain) {
    problems.push({
      seq: record.seq,
      kind: "chain_broken",
      message: `record ${record.seq} does not link to its predecessor`,
    });
  }
  const { chainPrev, chain, ...body } = record;
  if (chainOf(chainPrev, body) !== chain) {
    problems.push({
      seq: record.seq,
      kind: "hash_mismatch",
      message: `record ${record.seq} was changed after it was written`,
    });
  }
}

function toRecord(row: Row): AuditRecord {
  const body = JSON.parse(row.body) as Omit<AuditRecord, "chainPrev" | "chain">;
  return { ...body, chainPrev: row.chain_prev, chain: row.chain };
}

function writeDurably(file: string, content: string): void {
  const tmp = `${file}.tmp`;
  const fd = openSync(tmp, "w", 0o600);
  try {
    writeSync(fd, content);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
  const dir = openSync(dirname(file), "r");
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
}

/** An audit record for a budget event (`budget.started`, `budget.exceeded`, ...). */
export function budgetAuditEvent(event: {
  kind: `budget.${string}`;
  runId: string;
  tenant?: string;
  traceId?: string;
  budget: string;
  used: number;
  limit: number;
  mode?: "soft" | "enforce";
}): AuditEventInput {
  return {
    kind: event.kind,
    reason: event.budget,
    ...(event.tenant === undefined ? {} : { tenant: event.tenant }),
    ...(event.traceId === undefined ? {} : { traceId: event.traceId }),
    data: {
      runId: event.runId,
      budget: event.budget,
      used: event.used,
      limit: event.limit,
      ...(event.mode === undefined ? {} : { mode: event.mode }),
    },
  };
}
