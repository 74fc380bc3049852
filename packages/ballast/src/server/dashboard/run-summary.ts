import type { JsonValue } from "../../canonical.ts";
import { EV } from "../../flow/events.ts";
import type { RunMetadata } from "../../flow/metadata.ts";
import type { BudgetLimits } from "../../flow/types.ts";
import type { JournalEvent, RunRecord } from "../../journal/types.ts";
import { TERMINAL_STATUSES } from "../../journal/types.ts";
import { budgetOf } from "../budget-view.ts";
import { errorOf } from "./timeline.ts";

/**
 * One line of the runs list: what the run is, how long it took, its tokens, cost, cache-hit
 * rate and how much of its budget it used. Finished runs take tokens and cost from their run
 * metadata (the numbers `GET /v1/runs/:id` reports); running ones from their journal so far,
 * counted the same way (model calls' input + output tokens, committed budget cost).
 */

export interface BudgetUse {
  mode: "soft" | "enforce";
  /** The largest used/limit ratio over the limited dimensions (null when nothing is limited). */
  use: number | null;
  /** The dimension with that ratio. */
  dimension?: string;
  exceeded?: string;
  warnings: string[];
}

export interface RunSummary {
  id: string;
  workflow: string;
  workflowVersion: string;
  status: RunRecord["status"];
  tenant?: string;
  parentRunId?: string;
  forkedAtSeq?: number;
  createdAt: string;
  updatedAt: string;
  durationMs: number;
  eventCount: number;
  steps: number;
  retries: number;
  tokens: number;
  costUsd: number;
  calls: number;
  cacheHits: number;
  /** Cache hits over model calls; null for a run without model calls. */
  cacheHitRate: number | null;
  budget: BudgetUse;
  error?: { code: string; message: string };
}

const WALL_DIMENSIONS = ["tokens", "costUsd", "toolCalls", "steps", "wallMs"] as const;

function metadataOf(run: RunRecord): Partial<RunMetadata> | undefined {
  const metadata = run.metadata;
  return metadata !== null && typeof metadata === "object" && !Array.isArray(metadata)
    ? (metadata as unknown as Partial<RunMetadata>)
    : undefined;
}

/** The run's wall time: metadata's start to end when it ended, else to `now`. */
export function durationOf(run: RunRecord, events: readonly JournalEvent[], now: number): number {
  const metadata = metadataOf(run);
  const start = Date.parse(metadata?.startedAt ?? events[0]?.at ?? run.createdAt);
  const ended = TERMINAL_STATUSES.has(run.status);
  const end = ended ? Date.parse(metadata?.endedAt ?? events[events.length - 1]?.at ?? run.updatedAt) : now;
  return Math.max(0, end - start);
}

export function summarizeRun(run: RunRecord, events: readonly JournalEvent[], now = Date.now()): RunSummary {
  let calls = 0;
  let cacheHits = 0;
  let tokens = 0;
  let retries = 0;
  const steps = new Set<string>();
  for (const event of events) {
    const data = (event.data ?? {}) as Record<string, JsonValue>;
    if (event.type === "model.called") {
      calls += 1;
      if (data["cacheHit"] === true) cacheHits += 1;
      const usage = (data["usage"] ?? {}) as Record<string, unknown>;
      for (const field of ["inputTokens", "outputTokens"]) {
        const value = usage[field];
        if (typeof value === "number" && Number.isFinite(value)) tokens += value;
      }
    } else if (event.type === EV.stepStarted && typeof data["stepId"] === "string") {
      steps.add(data["stepId"]);
    } else if (event.type === EV.stepAttemptFailed) {
      retries += 1;
    }
  }
  const metadata = metadataOf(run);
  const budget = budgetOf(run.id, events);
  const durationMs = durationOf(run, events, now);
  if (metadata?.tokens) tokens = metadata.tokens.total;
  const costUsd = typeof metadata?.costUsd === "number" ? metadata.costUsd : budget.used.costUsd;
  const used: Record<(typeof WALL_DIMENSIONS)[number], number> = {
    tokens: budget.used.tokens,
    costUsd: budget.used.costUsd,
    toolCalls: budget.used.toolCalls,
    steps: steps.size,
    wallMs: durationMs,
  };
  let use: number | null = null;
  let dimension: string | undefined;
  const limits = budget.limits as BudgetLimits;
  for (const name of WALL_DIMENSIONS) {
    const limit = limits[name];
    if (typeof limit !== "number" || limit <= 0) continue;
    const ratio = used[name] / limit;
    if (use === null || ratio > use) {
      use = ratio;
      dimension = name;
    }
  }
  const error = errorOf(run.error);
  return {
    id: run.id,
    workflow: run.workflow,
    workflowVersion: run.workflowVersion,
    status: run.status,
    ...(run.tenant === undefined ? {} : { tenant: run.tenant }),
    ...(run.parentRunId === undefined ? {} : { parentRunId: run.parentRunId }),
    ...(run.forkedAtSeq === undefined ? {} : { forkedAtSeq: run.forkedAtSeq }),
    createdAt: run.createdAt,
    updatedAt: run.updatedAt,
    durationMs,
    eventCount: run.eventCount,
    steps: steps.size,
    retries,
    tokens,
    costUsd,
    calls,
    cacheHits,
    cacheHitRate: calls === 0 ? null : cacheHits / calls,
    budget: {
      mode: budget.mode,
      use,
      ...(dimension === undefined ? {} : { dimension }),
      ...(budget.exceeded === undefined ? {} : { exceeded: budget.exceeded }),
      warnings: budget.warnings,
    },
    ...(error === undefined ? {} : { error }),
  };
}

/**
 * Summaries of finished runs never change: they are kept (by run id and event count) so a
 * refreshed page reads only the journals of runs still going.
 */
export class SummaryCache {
  readonly #entries = new Map<string, { eventCount: number; summary: RunSummary }>();
  readonly #limit: number;

  constructor(limit = 5000) {
    this.#limit = limit;
  }

  get(run: RunRecord): RunSummary | undefined {
    const entry = this.#entries.get(run.id);
    return entry !== undefined && entry.eventCount === run.eventCount ? entry.summary : undefined;
  }

  set(run: RunRecord, summary: RunSummary): void {
    if (!TERMINAL_STATUSES.has(run.status)) return;
    if (this.#entries.size >= this.#limit) {
      const oldest = this.#entries.keys().next().value;
      if (oldest !== undefined) this.#entries.delete(oldest);
    }
    this.#entries.set(run.id, { eventCount: run.eventCount, summary });
  }
}
