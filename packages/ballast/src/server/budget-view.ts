import type { BudgetCommittedData, BudgetEventData } from "../flow/events.ts";
import { EV } from "../flow/events.ts";
import { RunHistory } from "../flow/run-history.ts";
import type { BudgetLimits } from "../flow/types.ts";
import type { JournalEvent } from "../journal/types.ts";

/**
 * A run's budget as its journal tells it (seed 002 BM-1/BM-2, PE-5): the limits from
 * `run.started`, the usage summed from `budget.committed`, and one snapshot per `budget.*`
 * event, so the history is exactly as durable and as ordered as the journal itself.
 */

export interface BudgetUsageView {
  tokens: number;
  costUsd: number;
  toolCalls: number;
}

export interface BudgetView {
  runId: string;
  mode: "soft" | "enforce";
  limits: BudgetLimits;
  used: BudgetUsageView;
  /** Dimensions that crossed their limit in soft mode, sorted. */
  warnings: string[];
  /** The dimension that stopped the run, if one did. */
  exceeded?: string;
}

export interface BudgetSnapshotView {
  seq: number;
  at: string;
  type: string;
  label?: string;
  dimension?: string;
  limit?: number;
  /** Usage after this event. */
  used: BudgetUsageView;
}

export interface BudgetHistoryView {
  runId: string;
  snapshots: BudgetSnapshotView[];
  /** Budget events older than the returned window. */
  omitted: number;
}

export function budgetOf(runId: string, events: readonly JournalEvent[]): BudgetView {
  const history = new RunHistory(events);
  const limits = { ...((history.started?.budget as BudgetLimits | undefined) ?? {}) };
  const exceeded = events.find((e) => e.type === EV.budgetExceeded)?.data as BudgetEventData | undefined;
  return {
    runId,
    mode: limits.mode ?? "enforce",
    limits,
    used: { ...history.budgetUsed },
    warnings: [...history.budgetWarnings].sort(),
    ...(exceeded === undefined ? {} : { exceeded: exceeded.dimension }),
  };
}

/** The last `limit` budget events, oldest first, each with the cumulative usage after it. */
export function budgetHistoryOf(
  runId: string,
  events: readonly JournalEvent[],
  limit: number,
): BudgetHistoryView {
  const used: BudgetUsageView = { tokens: 0, costUsd: 0, toolCalls: 0 };
  const snapshots: BudgetSnapshotView[] = [];
  for (const event of events) {
    if (!event.type.startsWith("budget.")) continue;
    const data = (event.data ?? {}) as Partial<BudgetCommittedData & BudgetEventData>;
    if (event.type === EV.budgetCommitted) {
      used.tokens += data.tokens ?? 0;
      used.costUsd += data.costUsd ?? 0;
      used.toolCalls += data.toolCalls ?? 0;
    }
    snapshots.push({
      seq: event.seq,
      at: event.at,
      type: event.type,
      ...(typeof data.label === "string" ? { label: data.label } : {}),
      ...(typeof data.dimension === "string" ? { dimension: data.dimension } : {}),
      ...(typeof data.limit === "number" ? { limit: data.limit } : {}),
      used: { ...used },
    });
  }
  const kept = snapshots.slice(Math.max(0, snapshots.length - limit));
  return { runId, snapshots: kept, omitted: snapshots.length - kept.length };
}
