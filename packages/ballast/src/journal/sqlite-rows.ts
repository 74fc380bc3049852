import type { JsonValue } from "../canonical.ts";
import type { ErrorRecord } from "../errors.ts";
import type { JournalEvent, RunRecord, RunStatus } from "./types.ts";

/** Row shapes of the SQLite schema (migrations.ts) and their mapping to the contract types. */

export interface RunRow {
  id: string;
  workflow: string;
  workflow_version: string;
  status: string;
  input: string;
  output: string | null;
  error: string | null;
  parent_run_id: string | null;
  forked_at_seq: number | null;
  tenant: string | null;
  metadata: string | null;
  created_at: string;
  updated_at: string;
  event_count: number;
  head_hash: string;
}

export interface EventRow {
  run_id: string;
  seq: number;
  type: string;
  at: string;
  data: string;
  prev: string;
  hash: string;
}

export function runFromRow(row: RunRow): RunRecord {
  const run: RunRecord = {
    id: row.id,
    workflow: row.workflow,
    workflowVersion: row.workflow_version,
    status: row.status as RunStatus,
    input: JSON.parse(row.input) as JsonValue,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    eventCount: row.event_count,
    headHash: row.head_hash,
  };
  if (row.output !== null) run.output = JSON.parse(row.output) as JsonValue;
  if (row.error !== null) run.error = JSON.parse(row.error) as ErrorRecord;
  if (row.parent_run_id !== null) run.parentRunId = row.parent_run_id;
  if (row.forked_at_seq !== null) run.forkedAtSeq = row.forked_at_seq;
  if (row.tenant !== null) run.tenant = row.tenant;
  if (row.metadata !== null) run.metadata = JSON.parse(row.metadata) as JsonValue;
  return run;
}

export function eventFromRow(row: EventRow): JournalEvent {
  return {
    runId: row.run_id,
    seq: row.seq,
    type: row.type,
    at: row.at,
    data: JSON.parse(row.data) as JsonValue,
    prev: row.prev,
    hash: row.hash,
  };
}

/** Parses stored event data for verification; undefined when it is not valid JSON. */
export function parseStoredData(text: string): JsonValue | undefined {
  try {
    return JSON.parse(text) as JsonValue;
  } catch {
    return undefined;
  }
}
