import type { JournalEvent, RunRecord } from "../../journal/types.ts";

/**
 * Spend over time, by workflow, stage and model, from the runs' `model.called` events. A
 * cache hit counts as a call and costs nothing (the model layer's rule). A fork's copy of its
 * parent's journal is not counted again: only what the fork called after the fork point.
 * Buckets come from a fixed ladder so a range gets at most about `target` of them.
 */

export interface CallCost {
  /** Epoch ms of the call's end. */
  at: number;
  workflow: string;
  stage: string;
  model: string;
  tokens: number;
  costUsd: number;
  cacheHit: boolean;
}

export interface CostSeries {
  key: string;
  costUsd: number[];
  tokens: number[];
  calls: number[];
  totalCostUsd: number;
  totalTokens: number;
  totalCalls: number;
}

export interface CostReport {
  since: string;
  until: string;
  bucketMs: number;
  /** Start of each bucket (ISO). */
  buckets: string[];
  byWorkflow: CostSeries[];
  byStage: CostSeries[];
  byModel: CostSeries[];
  totals: { costUsd: number; tokens: number; calls: number; cacheHits: number; runs: number };
}

const NO_STAGE = "(none)";
const MINUTE = 60_000;
const LADDER = [
  MINUTE,
  5 * MINUTE,
  15 * MINUTE,
  60 * MINUTE,
  6 * 60 * MINUTE,
  24 * 60 * MINUTE,
  7 * 24 * 60 * MINUTE,
  30 * 24 * 60 * MINUTE,
];

/** The calls of one run that count towards spend. */
export function callCostsOf(run: RunRecord, events: readonly JournalEvent[]): CallCost[] {
  const copiedThrough = run.forkedAtSeq ?? -1;
  const out: CallCost[] = [];
  for (const event of events) {
    if (event.type !== "model.called" || event.seq <= copiedThrough) continue;
    const data = (event.data ?? {}) as Record<string, unknown>;
    const usage = (data["usage"] ?? {}) as Record<string, unknown>;
    const cacheHit = data["cacheHit"] === true;
    const input = typeof usage["inputTokens"] === "number" ? usage["inputTokens"] : 0;
    const output = typeof usage["outputTokens"] === "number" ? usage["outputTokens"] : 0;
    out.push({
      at: Date.parse(event.at),
      workflow: run.workflow,
      stage: typeof data["stage"] === "string" ? data["stage"] : NO_STAGE,
      model: `${String(data["provider"])}:${String(data["modelId"])}`,
      tokens: cacheHit ? 0 : input + output,
      costUsd: cacheHit || typeof data["costUsd"] !== "number" ? 0 : data["costUsd"],
      cacheHit,
    });
  }
  return out;
}

export function bucketSize(spanMs: number, target: number): number {
  for (const size of LADDER) if (spanMs / size <= target) return size;
  return LADDER[LADDER.length - 1]!;
}

export function costReport(
  perRun: readonly CallCost[][],
  range: { since?: number; until: number; target?: number },
): CostReport {
  const inRange = (c: CallCost) => (range.since === undefined || c.at >= range.since) && c.at <= range.until;
  const calls = perRun.flat().filter(inRange);
  const earliest = calls.reduce((min, c) => Math.min(min, c.at), range.until);
  const since = range.since ?? earliest;
  const size = bucketSize(Math.max(1, range.until - since), range.target ?? 48);
  const start = Math.floor(since / size) * size;
  const count = Math.max(1, Math.floor((range.until - start) / size) + 1);
  const buckets = Array.from({ length: count }, (_, i) => new Date(start + i * size).toISOString());
  const groups = {
    workflow: new Map<string, CostSeries>(),
    stage: new Map<string, CostSeries>(),
    model: new Map<string, CostSeries>(),
  };
  const totals = { costUsd: 0, tokens: 0, calls: 0, cacheHits: 0, runs: 0 };
  totals.runs = perRun.filter((run) => run.some(inRange)).length;
  for (const call of calls) {
    const index = Math.min(count - 1, Math.floor((call.at - start) / size));
    for (const [map, key] of [
      [groups.workflow, call.workflow],
      [groups.stage, call.stage],
      [groups.model, call.model],
    ] as const) {
      let series = map.get(key);
      if (series === undefined) {
        series = {
          key,
          costUsd: new Array(count).fill(0),
          tokens: new Array(count).fill(0),
          calls: new Array(count).fill(0),
          totalCostUsd: 0,
          totalTokens: 0,
          totalCalls: 0,
        };
        map.set(key, series);
      }
      series.costUsd[index]! += call.costUsd;
      series.tokens[index]! += call.tokens;
      series.calls[index]! += 1;
      series.totalCostUsd += call.costUsd;
      series.totalTokens += call.tokens;
      series.totalCalls += 1;
    }
    totals.costUsd += call.costUsd;
    totals.tokens += call.tokens;
    totals.calls += 1;
    if (call.cacheHit) totals.cacheHits += 1;
  }
  const sorted = (map: Map<string, CostSeries>) =>
    [...map.values()].sort((a, b) => b.totalCostUsd - a.totalCostUsd || a.key.localeCompare(b.key));
  return {
    since: new Date(since).toISOString(),
    until: new Date(range.until).toISOString(),
    bucketMs: size,
    buckets,
    byWorkflow: sorted(groups.workflow),
    byStage: sorted(groups.stage),
    byModel: sorted(groups.model),
    totals,
  };
}
