import type { JsonValue } from "../canonical.ts";
import type { ErrorRecord } from "../errors.ts";

/**
 * The journal contract. Backends (SQLite now, PostgreSQL later) implement `JournalStore`;
 * everything above the journal (flow, models, server, CLI) talks only to this interface.
 */

export type RunStatus =
  | "queued"
  | "running"
  | "completed"
  | "failed"
  | "cancelled"
  | "budget_exceeded"
  | "timed_out";

export const TERMINAL_STATUSES: ReadonlySet<RunStatus> = new Set([
  "completed",
  "failed",
  "cancelled",
  "budget_exceeded",
  "timed_out",
]);

/** `full`: every acknowledged event survives kill -9 and power loss (fsync per commit).
 *  `normal`: survives kill -9 of the process, may lose the last commits on power loss. */
export type Durability = "full" | "normal";

export interface RunRecord {
  id: string;
  workflow: string;
  workflowVersion: string;
  status: RunStatus;
  input: JsonValue;
  output?: JsonValue;
  error?: ErrorRecord;
  /** The run this one was forked from, and the last event sequence it copied. */
  parentRunId?: string;
  forkedAtSeq?: number;
  tenant?: string;
  /** Run metadata (see flow/metadata.ts), written when the run ends. */
  metadata?: JsonValue;
  createdAt: string;
  updatedAt: string;
  /** Number of events in the journal and the hash of the last one. */
  eventCount: number;
  headHash: string;
}

export interface NewRun {
  id: string;
  workflow: string;
  workflowVersion: string;
  input: JsonValue;
  status?: RunStatus;
  parentRunId?: string;
  forkedAtSeq?: number;
  tenant?: string;
}

export interface RunPatch {
  status?: RunStatus;
  output?: JsonValue;
  error?: ErrorRecord | null;
  metadata?: JsonValue;
}

export interface NewEvent {
  /** Dotted event type: `run.started`, `step.completed`, `model.called`, ... */
  type: string;
  data: JsonValue;
}

export interface JournalEvent {
  runId: string;
  /** Position in the run's journal, from 0, without gaps. */
  seq: number;
  type: string;
  /** ISO-8601 time at which the event was appended. */
  at: string;
  data: JsonValue;
  /** Hash of the previous event (GENESIS_HASH for seq 0). */
  prev: string;
  /** SHA-256 of the canonical JSON of { runId, seq, type, at, data, prev }. */
  hash: string;
}

export const GENESIS_HASH = "0".repeat(64);

export interface AppendOptions {
  /** Applied to the run row in the same transaction as the event. */
  runPatch?: RunPatch;
  /** Resolve before the event is durable (it still lands in the next group commit).
   *  For events whose loss on a crash is harmless, like `step.started`. */
  lazy?: boolean;
}

export interface ListRunsQuery {
  status?: RunStatus;
  workflow?: string;
  tenant?: string;
  limit?: number;
  offset?: number;
}

export interface VerifyProblem {
  runId: string;
  seq: number;
  kind: "hash_mismatch" | "chain_broken" | "sequence_gap" | "head_mismatch" | "blob_corrupt" | "blob_missing";
  message: string;
}

export interface VerifyReport {
  ok: boolean;
  runsChecked: number;
  eventsChecked: number;
  problems: VerifyProblem[];
}

export interface BlobStore {
  /** Stores bytes under their SHA-256 and returns it; storing the same bytes twice is a no-op. */
  put(data: string | Uint8Array): Promise<string>;
  /** Reads and verifies a blob; throws `blob_corrupt` or `blob_missing`. */
  get(sha256: string): Promise<Buffer>;
  has(sha256: string): Promise<boolean>;
}

/** The process executing a run: only one at a time may append to it. */
export interface RunOwner {
  /** Unique per engine instance. */
  id: string;
  pid: number;
  host: string;
}

export interface JournalStore {
  readonly backend: "sqlite" | "postgres";
  readonly durability: Durability;
  readonly blobs: BlobStore;

  createRun(run: NewRun): Promise<RunRecord>;
  getRun(runId: string): Promise<RunRecord | undefined>;
  listRuns(query?: ListRunsQuery): Promise<RunRecord[]>;
  updateRun(runId: string, patch: RunPatch): Promise<void>;

  /**
   * Appends one event. Its `seq`, `prev` and `hash` are assigned synchronously, before
   * the first await, so appends issued in one order are journaled in that order. The
   * promise resolves once the event is durable (unless `lazy`). Appends from many
   * concurrent callers share one commit (group commit).
   */
  append(runId: string, event: NewEvent, options?: AppendOptions): Promise<JournalEvent>;
  readEvents(runId: string, range?: { fromSeq?: number; toSeq?: number }): Promise<JournalEvent[]>;

  /**
   * Claims the right to execute a run. Throws `run_busy` while another owner is alive: on
   * this host its process still exists, elsewhere it renewed the claim within `staleMs`.
   */
  claimRun(runId: string, owner: RunOwner, staleMs: number): Promise<void>;
  /** Keeps a claim fresh; a no-op unless `ownerId` holds it. */
  renewRun(runId: string, ownerId: string): Promise<void>;
  /** Gives a claim up; a no-op unless `ownerId` holds it. */
  releaseRun(runId: string, ownerId: string): Promise<void>;

  /** Checks every event's hash and chain link (one run, or all runs). */
  verify(runId?: string): Promise<VerifyReport>;
  close(): Promise<void>;
}
