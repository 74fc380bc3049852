/**
 * Seed 000, point 8.2 — STAGED for the next phase, interfaces only: multi-run orchestration
 * (an HTTP API that accepts audits, a worker queue that runs them, an artifact store that
 * keeps reports and metadata). Types only; docs/staging-8.2.md says how each maps onto
 * ballast (server, flow queue, blob store) and what is left to build.
 */

import type { AuditConfigInput } from "../config.ts";
import type { AuditMetadata } from "../lineage/metadata.ts";

/** POST /audits: body. The run directory is replaced by an artifact reference. */
export interface AuditRequest {
  /** Where the run's inputs are (an uploaded bundle in the artifact store). */
  input: ArtifactRef;
  options: Omit<AuditConfigInput, "runDir" | "out" | "journalHome">;
  /** Client-chosen key: the same key never starts two audits. */
  idempotencyKey: string;
  tenant?: string;
}

export type AuditState = "queued" | "running" | "completed" | "failed" | "cancelled";

/** GET /audits/:id */
export interface AuditStatus {
  id: string;
  state: AuditState;
  submittedAt: string;
  startedAt?: string;
  endedAt?: string;
  /** Depth frames done / total while running. */
  progress?: { done: number; total: number };
  report?: ArtifactRef;
  metadata?: AuditMetadata;
  error?: { code: string; message: string };
}

/** The HTTP surface (to be mounted on ballast/server). */
export interface AuditApi {
  submit(request: AuditRequest): Promise<AuditStatus>;
  get(id: string): Promise<AuditStatus | undefined>;
  list(filter: { tenant?: string; state?: AuditState; limit?: number; cursor?: string }): Promise<{
    items: AuditStatus[];
    next?: string;
  }>;
  cancel(id: string): Promise<AuditStatus>;
}

/** One claimed job: a worker runs it and reports back, or its lease lapses and another takes it. */
export interface AuditJob {
  id: string;
  request: AuditRequest;
  attempt: number;
  leaseUntil: string;
}

/** The worker queue (ballast's run queue: `FOR UPDATE SKIP LOCKED` on Postgres). */
export interface AuditQueue {
  enqueue(request: AuditRequest): Promise<{ id: string; deduplicated: boolean }>;
  claim(workerId: string, leaseMs: number): Promise<AuditJob | undefined>;
  heartbeat(jobId: string, workerId: string, leaseMs: number): Promise<void>;
  complete(jobId: string, result: { report: ArtifactRef; metadata: AuditMetadata }): Promise<void>;
  fail(jobId: string, error: { code: string; message: string; retryable: boolean }): Promise<void>;
}

/** A content-addressed artifact (SHA-256), as ballast's blob store keeps them. */
export interface ArtifactRef {
  sha256: string;
  bytes: number;
  mediaType: string;
  name: string;
}

/** Reports, split-report bundles, metadata and lineage; run inputs arrive as bundles too. */
export interface ArtifactStore {
  put(name: string, mediaType: string, content: AsyncIterable<Uint8Array> | Uint8Array): Promise<ArtifactRef>;
  get(ref: ArtifactRef): Promise<AsyncIterable<Uint8Array>>;
  /** A time-limited URL for a browser to open a report. */
  url(ref: ArtifactRef, ttlSeconds: number): Promise<string>;
  /** Deletion only by an explicit, confirmed purge (ballast's rule). */
  purge(refs: ArtifactRef[], confirm: "purge"): Promise<number>;
}
