import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { DatabaseSync, type StatementSync } from "node:sqlite";
import { canonicalJson } from "../canonical.ts";
import { BallastError, ValidationError } from "../errors.ts";
import { collectBlobRefs, FileBlobStore } from "./blob-store.ts";
import { ChainChecker, eventHashFromCanonical } from "./chain.ts";
import {
  InvalidEventError,
  JournalBusyError,
  JournalClosedError,
  JournalConflictError,
  JournalWriteError,
  RunBusyError,
  RunExistsError,
  RunNotFoundError,
} from "./errors.ts";
import { assertSchemaKnown, migrate } from "./migrations.ts";
import { ownerAlive } from "./owner.ts";
import { type EventRow, eventFromRow, parseStoredData, type RunRow, runFromRow } from "./sqlite-rows.ts";
import {
  type AppendOptions,
  type Durability,
  GENESIS_HASH,
  type JournalEvent,
  type JournalStore,
  type ListRunsQuery,
  type NewEvent,
  type NewRun,
  type RunOwner,
  type RunPatch,
  type RunRecord,
  TERMINAL_STATUSES,
  type VerifyProblem,
  type VerifyReport,
} from "./types.ts";

export interface SqliteJournalOptions {
  /** The database file; created (with its folder) if missing. */
  path: string;
  /** The blob folder; created on the first `put`. */
  blobDir: string;
  /** `full` (default): each commit is fsynced. `normal`: survives kill -9, not power loss. */
  durability?: Durability;
  /** How long to wait for another process's write lock before failing, in ms (default 5000). */
  busyTimeoutMs?: number;
}

/** Counters for tests and diagnostics. */
export interface JournalStats {
  /** Group commits that succeeded (one transaction, one fsync each). */
  commits: number;
  /** Events made durable by those commits. */
  eventsCommitted: number;
  /** Group commits that failed and were rolled back. */
  failedCommits: number;
  /** Events waiting for the next commit. */
  pending: number;
  /** Runs whose head (next seq, last hash) is cached in memory. */
  cachedHeads: number;
}

/** The SQLite store; `stats()` is the only addition to the `JournalStore` contract. */
export interface SqliteJournal extends JournalStore {
  readonly backend: "sqlite";
  readonly path: string;
  readonly blobs: FileBlobStore;
  stats(): JournalStats;
}

export async function openSqliteJournal(options: SqliteJournalOptions): Promise<SqliteJournal> {
  return new SqliteJournalStore(options);
}

interface Head {
  next: number;
  hash: string;
}

interface PendingAppend {
  event: JournalEvent;
  dataJson: string;
  patch: PatchParams | undefined;
  /** The patch moves the run to a terminal status. */
  terminal: boolean;
  resolve: ((event: JournalEvent) => void) | undefined;
  reject: ((error: unknown) => void) | undefined;
}

const RUN_COLUMNS =
  "id, workflow, workflow_version, status, input, output, error, parent_run_id, forked_at_seq, tenant, metadata, created_at, updated_at, event_count, head_hash";

class SqliteJournalStore implements SqliteJournal {
  readonly backend = "sqlite" as const;
  readonly durability: Durability;
  readonly path: string;
  readonly blobs: FileBlobStore;

  readonly #db: DatabaseSync;
  readonly #heads = new Map<string, Head>();
  #queue: PendingAppend[] = [];
  #flushScheduled: NodeJS.Immediate | undefined;
  #closed = false;
  readonly #stats = { commits: 0, eventsCommitted: 0, failedCommits: 0 };
  readonly #listStatements = new Map<string, StatementSync>();

  readonly #begin: StatementSync;
  readonly #commit: StatementSync;
  readonly #rollback: StatementSync;
  readonly #insertEvent: StatementSync;
  readonly #advanceHead: StatementSync;
  readonly #patchRun: StatementSync;
  readonly #selectHead: StatementSync;
  readonly #selectOwner: StatementSync;
  readonly #setOwner: StatementSync;
  readonly #renewOwner: StatementSync;
  readonly #releaseOwner: StatementSync;
  readonly #insertRun: StatementSync;
  readonly #selectRun: StatementSync;
  readonly #selectEvents: StatementSync;
  readonly #selectEventsForVerify: StatementSync;
  readonly #selectRunIds: StatementSync;
  readonly #selectOrphanRunIds: StatementSync;

  constructor(options: SqliteJournalOptions) {
    const durability = options.durability ?? "full";
    if (durability !== "full" && durability !== "normal") {
      throw new ValidationError(
        "invalid_durability",
        `Journal durability "${String(durability)}" is not known: use "full" (survives power loss, the default) or "normal" (survives kill -9, faster).`,
      );
    }
    this.durability = durability;
    this.path = options.path;
    this.blobs = new FileBlobStore({ dir: options.blobDir, durability });

    mkdirSync(dirname(options.path), { recursive: true });
    const db = new DatabaseSync(options.path);
    try {
      db.exec(`PRAGMA busy_timeout = ${Math.max(0, Math.trunc(options.busyTimeoutMs ?? 5000))}`);
      // Refuse a newer schema before touching anything (not even the journal mode).
      assertSchemaKnown(db, options.path);
      db.exec("PRAGMA journal_mode = WAL");
      db.exec(`PRAGMA synchronous = ${durability === "full" ? "FULL" : "NORMAL"}`);
      migrate(db, options.path);
    } catch (error) {
      db.close();
      throw error;
    }
    this.#db = db;

    this.#begin = db.prepare("BEGIN IMMEDIATE");
    this.#commit = db.prepare("COMMIT");
    this.#rollback = db.prepare("ROLLBACK");
    this.#insertEvent = db.prepare(
      "INSERT INTO events (run_id, seq, type, at, data, prev, hash) VALUES (?, ?, ?, ?, ?, ?, ?)",
    );
    // Guarded by the expected count, so a head another process moved is caught, not overwritten.
    this.#advanceHead = db.prepare(
      "UPDATE runs SET event_count = ?, head_hash = ?, updated_at = ? WHERE id = ? AND event_count = ?",
    );
    this.#patchRun = db.prepare(
      `UPDATE runs SET
         status = coalesce($status, status),
         output = CASE WHEN $setOutput THEN $output ELSE output END,
         error = CASE WHEN $setError THEN $error ELSE error END,
         metadata = CASE WHEN $setMetadata THEN $metadata ELSE metadata END,
         updated_at = $at
       WHERE id = $id`,
    );
    this.#selectHead = db.prepare("SELECT event_count, head_hash FROM runs WHERE id = ?");
    this.#selectOwner = db.prepare("SELECT owner, owner_seen_at FROM runs WHERE id = ?");
    this.#setOwner = db.prepare("UPDATE runs SET owner = ?, owner_seen_at = ? WHERE id = ?");
    this.#renewOwner = db.prepare(
      "UPDATE runs SET owner_seen_at = ? WHERE id = ? AND json_extract(owner, '$.id') = ?",
    );
    this.#releaseOwner = db.prepare(
      "UPDATE runs SET owner = NULL, owner_seen_at = NULL WHERE id = ? AND json_extract(owner, '$.id') = ?",
    );
    this.#insertRun = db.prepare(
      `INSERT INTO runs (${RUN_COLUMNS}) VALUES (?, ?, ?, ?, ?, NULL, NULL, ?, ?, ?, NULL, ?, ?, 0, ?)`,
    );
    this.#selectRun = db.prepare(`SELECT ${RUN_COLUMNS} FROM runs WHERE id = ?`);
    this.#selectEvents = db.prepare(
      "SELECT run_id, seq, type, at, data, prev, hash FROM events WHERE run_id = ? AND seq >= ? AND seq <= ? ORDER BY seq",
    );
    this.#selectEventsForVerify = db.prepare(
      "SELECT seq, type, at, data, prev, hash FROM events WHERE run_id = ? ORDER BY seq",
    );
    this.#selectRunIds = db.prepare("SELECT id, event_count, head_hash FROM runs ORDER BY created_at, rowid");
    this.#selectOrphanRunIds = db.prepare(
      "SELECT DISTINCT run_id FROM events WHERE run_id NOT IN (SELECT id FROM runs) ORDER BY run_id",
    );
  }

  stats(): JournalStats {
    return { ...this.#stats, pending: this.#queue.length, cachedHeads: this.#heads.size };
  }

  async createRun(run: NewRun): Promise<RunRecord> {
    this.#assertOpen("create a run");
    if (typeof run.id !== "string" || run.id === "") {
      throw new ValidationError("invalid_run_id", "A run id must be a non-empty string.");
    }
    if (typeof run.workflow !== "string" || typeof run.workflowVersion !== "string") {
      throw new ValidationError(
        "invalid_run",
        `Run "${run.id}" needs a workflow name and a workflow version (strings); got ${typeof run.workflow} and ${typeof run.workflowVersion}.`,
        { runId: run.id },
      );
    }
    let inputJson: string;
    try {
      inputJson = canonicalJson(run.input);
    } catch (error) {
      throw new ValidationError(
        "invalid_run",
        `The input of run "${run.id}" is not plain JSON: ${(error as Error).message}.`,
        { runId: run.id },
      );
    }
    const now = new Date().toISOString();
    const record: RunRecord = {
      id: run.id,
      workflow: run.workflow,
      workflowVersion: run.workflowVersion,
      status: run.status ?? "queued",
      input: run.input,
      createdAt: now,
      updatedAt: now,
      eventCount: 0,
      headHash: GENESIS_HASH,
    };
    if (run.parentRunId !== undefined) record.parentRunId = run.parentRunId;
    if (run.forkedAtSeq !== undefined) record.forkedAtSeq = run.forkedAtSeq;
    if (run.tenant !== undefined) record.tenant = run.tenant;
    try {
      this.#insertRun.run(
        record.id,
        record.workflow,
        record.workflowVersion,
        record.status,
        inputJson,
        run.parentRunId ?? null,
        run.forkedAtSeq ?? null,
        run.tenant ?? null,
        now,
        now,
        GENESIS_HASH,
      );
    } catch (error) {
      if ((error as { errcode?: unknown }).errcode === SQLITE_CONSTRAINT_PRIMARYKEY)
        throw new RunExistsError(run.id);
      throw error;
    }
    this.#heads.set(run.id, { next: 0, hash: GENESIS_HASH });
    return record;
  }

  async getRun(runId: string): Promise<RunRecord | undefined> {
    this.#assertOpen("read a run");
    this.#flush();
    const row = this.#selectRun.get(runId) as RunRow | undefined;
    return row === undefined ? undefined : runFromRow(row);
  }

  async listRuns(query: ListRunsQuery = {}): Promise<RunRecord[]> {
    this.#assertOpen("list runs");
    this.#flush();
    const where: string[] = [];
    const params: (string | number)[] = [];
    for (const [column, value] of [
      ["status", query.status],
      ["workflow", query.workflow],
      ["tenant", query.tenant],
    ] as const) {
      if (value !== undefined) {
        where.push(`${column} = ?`);
        params.push(value);
      }
    }
    params.push(checkCount("limit", query.limit, -1), checkCount("offset", query.offset, 0));
    const sql = `SELECT ${RUN_COLUMNS} FROM runs${where.length > 0 ? ` WHERE ${where.join(" AND ")}` : ""} ORDER BY created_at DESC, rowid DESC LIMIT ? OFFSET ?`;
    let statement = this.#listStatements.get(sql);
    if (statement === undefined) {
      statement = this.#db.prepare(sql);
      this.#listStatements.set(sql, statement);
    }
    return (statement.all(...params) as unknown as RunRow[]).map(runFromRow);
  }

  async claimRun(runId: string, owner: RunOwner, staleMs: number): Promise<void> {
    this.#assertOpen("claim a run");
    this.#flush();
    const now = Date.now();
    this.#begin.run();
    try {
      const row = this.#selectOwner.get(runId) as
        | { owner: string | null; owner_seen_at: number | null }
        | undefined;
      if (row === undefined) throw new RunNotFoundError(runId);
      const current = row.owner === null ? undefined : (JSON.parse(row.owner) as RunOwner);
      if (current !== undefined && current.id !== owner.id) {
        const seenMsAgo = now - (row.owner_seen_at ?? 0);
        if (ownerAlive(current, seenMsAgo, staleMs)) throw new RunBusyError(runId, current, seenMsAgo);
      }
      this.#setOwner.run(JSON.stringify(owner), now, runId);
      this.#commit.run();
    } catch (error) {
      this.#rollback.run();
      throw error;
    }
  }

  async renewRun(runId: string, ownerId: string): Promise<void> {
    this.#assertOpen("renew a run claim");
    this.#flush();
    this.#renewOwner.run(Date.now(), runId, ownerId);
  }

  async releaseRun(runId: string, ownerId: string): Promise<void> {
    this.#assertOpen("release a run claim");
    this.#flush();
    this.#releaseOwner.run(runId, ownerId);
  }

  async updateRun(runId: string, patch: RunPatch): Promise<void> {
    this.#assertOpen("update a run");
    // Commit queued events first, so the row never runs ahead of its journal.
    this.#flush();
    let params: PatchParams;
    try {
      params = patchParams(runId, patch, new Date().toISOString());
    } catch (error) {
      throw new ValidationError(
        "invalid_run_patch",
        `Cannot update run "${runId}": ${(error as Error).message}. Outputs, errors and metadata must be plain JSON.`,
        { runId },
      );
    }
    const result = this.#patchRun.run(params);
    if (result.changes === 0) throw new RunNotFoundError(runId);
    if (patch.status !== undefined && TERMINAL_STATUSES.has(patch.status)) this.#heads.delete(runId);
  }

  append(runId: string, event: NewEvent, options?: AppendOptions): Promise<JournalEvent> {
    if (this.#closed) return Promise.reject(new JournalClosedError(`append to run "${runId}"`));
    let head = this.#heads.get(runId);
    if (head === undefined) {
      const row = this.#selectHead.get(runId) as { event_count: number; head_hash: string } | undefined;
      if (row === undefined) return Promise.reject(new RunNotFoundError(runId));
      head = { next: row.event_count, hash: row.head_hash };
      this.#heads.set(runId, head);
    }
    const type = event.type;
    if (typeof type !== "string" || type === "") {
      return Promise.reject(
        new InvalidEventError(runId, String(type), "the event type must be a non-empty string"),
      );
    }
    const at = new Date().toISOString();
    let dataJson: string;
    let patch: PatchParams | undefined;
    try {
      dataJson = canonicalJson(event.data);
      if (options?.runPatch !== undefined) patch = patchParams(runId, options.runPatch, at);
    } catch (error) {
      return Promise.reject(new InvalidEventError(runId, type, (error as Error).message));
    }

    // Seq, prev and hash are fixed here, synchronously: appends are journaled in call order.
    const seq = head.next;
    const prev = head.hash;
    const hash = eventHashFromCanonical(runId, seq, type, at, dataJson, prev);
    head.next = seq + 1;
    head.hash = hash;

    const journalEvent: JournalEvent = { runId, seq, type, at, data: event.data, prev, hash };
    const entry: PendingAppend = {
      event: journalEvent,
      dataJson,
      patch,
      terminal: options?.runPatch?.status !== undefined && TERMINAL_STATUSES.has(options.runPatch.status),
      resolve: undefined,
      reject: undefined,
    };
    this.#queue.push(entry);
    if (this.#flushScheduled === undefined) this.#flushScheduled = setImmediate(this.#onImmediate);

    if (options?.lazy === true) return Promise.resolve(journalEvent);
    return new Promise<JournalEvent>((resolve, reject) => {
      entry.resolve = resolve;
      entry.reject = reject;
    });
  }

  async readEvents(runId: string, range: { fromSeq?: number; toSeq?: number } = {}): Promise<JournalEvent[]> {
    this.#assertOpen(`read the journal of run "${runId}"`);
    this.#flush();
    const rows = this.#selectEvents.all(
      runId,
      range.fromSeq ?? 0,
      range.toSeq ?? Number.MAX_SAFE_INTEGER,
    ) as unknown as EventRow[];
    if (rows.length === 0 && this.#selectHead.get(runId) === undefined) throw new RunNotFoundError(runId);
    return rows.map(eventFromRow);
  }

  async verify(runId?: string): Promise<VerifyReport> {
    this.#assertOpen("verify the journal");
    this.#flush();
    const problems: VerifyProblem[] = [];
    const blobUses = new Map<string, { runId: string; seq: number }>();
    let runsChecked = 0;
    let eventsChecked = 0;

    const checkRun = (id: string, head: { event_count: number; head_hash: string } | undefined): void => {
      const checker = new ChainChecker(id);
      for (const row of this.#selectEventsForVerify.iterate(id) as Iterable<Omit<EventRow, "run_id">>) {
        const data = parseStoredData(row.data);
        checker.add({ seq: row.seq, type: row.type, at: row.at, data, prev: row.prev, hash: row.hash });
        if (data !== undefined) {
          for (const sha of collectBlobRefs(data))
            if (!blobUses.has(sha)) blobUses.set(sha, { runId: id, seq: row.seq });
        }
      }
      problems.push(
        ...checker.finish(
          head === undefined ? undefined : { eventCount: head.event_count, headHash: head.head_hash },
        ),
      );
      runsChecked++;
      eventsChecked += checker.eventsChecked;
    };

    if (runId !== undefined) {
      const head = this.#selectHead.get(runId) as { event_count: number; head_hash: string } | undefined;
      const hasEvents = this.#selectEvents.get(runId, 0, Number.MAX_SAFE_INTEGER) !== undefined;
      if (head === undefined && !hasEvents) throw new RunNotFoundError(runId);
      checkRun(runId, head);
    } else {
      const runs = this.#selectRunIds.all() as { id: string; event_count: number; head_hash: string }[];
      for (const run of runs) checkRun(run.id, run);
      for (const orphan of this.#selectOrphanRunIds.all() as { run_id: string }[])
        checkRun(orphan.run_id, undefined);
    }

    for (const [sha, use] of blobUses) {
      try {
        await this.blobs.get(sha);
      } catch (error) {
        if (BallastError.hasCode(error, "blob_corrupt") || BallastError.hasCode(error, "blob_missing")) {
          problems.push({
            runId: use.runId,
            seq: use.seq,
            kind: error.code as "blob_corrupt" | "blob_missing",
            message: `run ${use.runId}, event ${use.seq}: ${error.message}`,
          });
        } else {
          throw error;
        }
      }
    }
    return { ok: problems.length === 0, runsChecked, eventsChecked, problems };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#flush();
    this.#closed = true;
    this.#db.close();
  }

  readonly #onImmediate = (): void => {
    this.#flushScheduled = undefined;
    this.#flush();
  };

  /** One group commit: every queued append in one transaction, so they share one fsync. */
  #flush(): void {
    if (this.#flushScheduled !== undefined) {
      clearImmediate(this.#flushScheduled);
      this.#flushScheduled = undefined;
    }
    const batch = this.#queue;
    if (batch.length === 0) return;
    this.#queue = [];
    let current: JournalEvent | undefined;
    try {
      this.#begin.run();
      try {
        for (const entry of batch) {
          const e = entry.event;
          current = e;
          this.#insertEvent.run(e.runId, e.seq, e.type, e.at, entry.dataJson, e.prev, e.hash);
          if (this.#advanceHead.run(e.seq + 1, e.hash, e.at, e.runId, e.seq).changes !== 1) {
            throw new JournalConflictError(e.runId, e.seq);
          }
          if (entry.patch !== undefined) this.#patchRun.run(entry.patch);
        }
        this.#commit.run();
      } catch (error) {
        this.#rollbackQuietly();
        throw error;
      }
    } catch (error) {
      this.#stats.failedCommits++;
      const failure = this.#commitFailure(error, current);
      // The cached heads counted events that were never written: re-read them on next use.
      for (const entry of batch) this.#heads.delete(entry.event.runId);
      for (const entry of batch) entry.reject?.(failure);
      return;
    }
    this.#stats.commits++;
    this.#stats.eventsCommitted += batch.length;
    for (const entry of batch) {
      // A run that has ended rarely gets more events: forget its head (the row has it), so a
      // long-lived process does not keep one per run it ever touched.
      if (entry.terminal) this.#heads.delete(entry.event.runId);
      entry.resolve?.(entry.event);
    }
  }

  #commitFailure(error: unknown, current: JournalEvent | undefined): BallastError {
    if (BallastError.isInstance(error)) return error;
    const errcode = (error as { errcode?: unknown } | null)?.errcode;
    const code = sqliteCode(error);
    if (code === SQLITE_BUSY || code === SQLITE_LOCKED) return new JournalBusyError(this.path, error);
    // Only a duplicate (run_id, seq) means another writer got there first.
    if (errcode === SQLITE_CONSTRAINT_PRIMARYKEY && current !== undefined) {
      return new JournalConflictError(current.runId, current.seq);
    }
    return new JournalWriteError(this.path, error);
  }

  /** Rolls back after a failed commit; the commit's own error is the one worth reporting. */
  #rollbackQuietly(): void {
    try {
      if (this.#db.isTransaction) this.#rollback.run();
    } catch {
      // The connection already ended the transaction (SQLite does on some I/O errors).
    }
  }

  #assertOpen(operation: string): void {
    if (this.#closed) throw new JournalClosedError(operation);
  }
}

const SQLITE_BUSY = 5;
const SQLITE_LOCKED = 6;
const SQLITE_CONSTRAINT_PRIMARYKEY = 1555;

/** The primary SQLite result code of a node:sqlite error, if it is one. */
function sqliteCode(error: unknown): number | undefined {
  const errcode = (error as { errcode?: unknown } | null)?.errcode;
  return typeof errcode === "number" ? errcode & 0xff : undefined;
}

type PatchParams = Record<string, string | number | null>;

function patchParams(runId: string, patch: RunPatch, at: string): PatchParams {
  return {
    id: runId,
    at,
    status: patch.status ?? null,
    setOutput: patch.output === undefined ? 0 : 1,
    output: patch.output === undefined ? null : canonicalJson(patch.output),
    setError: patch.error === undefined ? 0 : 1,
    error: patch.error === undefined || patch.error === null ? null : canonicalJson(patch.error),
    setMetadata: patch.metadata === undefined ? 0 : 1,
    metadata: patch.metadata === undefined ? null : canonicalJson(patch.metadata),
  };
}

function checkCount(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 0) {
    throw new ValidationError(
      "invalid_query",
      `listRuns: ${name} must be a non-negative integer, got ${value}.`,
    );
  }
  return value;
}
