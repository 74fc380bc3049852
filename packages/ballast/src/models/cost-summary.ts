import type { JournalEvent } from "../journal/types.ts";
import type { TokenUsage } from "./codec.ts";

/**
 * Token and cost totals per stage and per model: kept live by the layer, or rebuilt from a
 * run's `model.called` events (so a finished run's summary needs nothing but its journal).
 */

export interface CostLine extends TokenUsage {
  stage: string;
  model: string;
  calls: number;
  cacheHits: number;
  costUsd: number;
  /** Calls whose model has no price in the pricing map (their cost counts as 0). */
  unpriced: number;
}

export interface CostSummary {
  calls: number;
  cacheHits: number;
  costUsd: number;
  tokens: TokenUsage;
  byStage: CostLine[];
  byModel: CostLine[];
  /** One line per stage and model. */
  lines: CostLine[];
}

export interface CostRecord {
  stage: string | undefined;
  model: string;
  usage: TokenUsage;
  costUsd: number | null;
  cacheHit: boolean;
}

const NO_STAGE = "(none)";

function emptyLine(stage: string, model: string): CostLine {
  return {
    stage,
    model,
    calls: 0,
    cacheHits: 0,
    costUsd: 0,
    unpriced: 0,
    inputTokens: 0,
    outputTokens: 0,
    cacheReadTokens: 0,
    cacheWriteTokens: 0,
    reasoningTokens: 0,
  };
}

function addTo(line: CostLine, record: CostRecord): void {
  line.calls += 1;
  if (record.cacheHit) {
    line.cacheHits += 1;
    return; // a hit used no provider tokens
  }
  line.inputTokens += record.usage.inputTokens;
  line.outputTokens += record.usage.outputTokens;
  line.cacheReadTokens += record.usage.cacheReadTokens;
  line.cacheWriteTokens += record.usage.cacheWriteTokens;
  line.reasoningTokens += record.usage.reasoningTokens;
  if (record.costUsd === null) line.unpriced += 1;
  else line.costUsd += record.costUsd;
}

export class CostLedger {
  readonly #lines = new Map<string, CostLine>();

  add(record: CostRecord): void {
    const stage = record.stage ?? NO_STAGE;
    const key = `${stage}\0${record.model}`;
    let line = this.#lines.get(key);
    if (line === undefined) {
      line = emptyLine(stage, record.model);
      this.#lines.set(key, line);
    }
    addTo(line, record);
  }

  summary(): CostSummary {
    return summarize([...this.#lines.values()]);
  }
}

function summarize(lines: CostLine[]): CostSummary {
  const byStage = new Map<string, CostLine>();
  const byModel = new Map<string, CostLine>();
  const total = emptyLine("*", "*");
  for (const line of lines) {
    for (const [map, key, stage, model] of [
      [byStage, line.stage, line.stage, "*"],
      [byModel, line.model, "*", line.model],
    ] as const) {
      let agg = map.get(key);
      if (agg === undefined) {
        agg = emptyLine(stage, model);
        map.set(key, agg);
      }
      merge(agg, line);
    }
    merge(total, line);
  }
  const order = (a: CostLine, b: CostLine) =>
    a.stage.localeCompare(b.stage) || a.model.localeCompare(b.model);
  return {
    calls: total.calls,
    cacheHits: total.cacheHits,
    costUsd: total.costUsd,
    tokens: {
      inputTokens: total.inputTokens,
      outputTokens: total.outputTokens,
      cacheReadTokens: total.cacheReadTokens,
      cacheWriteTokens: total.cacheWriteTokens,
      reasoningTokens: total.reasoningTokens,
    },
    byStage: [...byStage.values()].sort(order),
    byModel: [...byModel.values()].sort(order),
    lines: [...lines].sort(order),
  };
}

function merge(into: CostLine, line: CostLine): void {
  into.calls += line.calls;
  into.cacheHits += line.cacheHits;
  into.costUsd += line.costUsd;
  into.unpriced += line.unpriced;
  into.inputTokens += line.inputTokens;
  into.outputTokens += line.outputTokens;
  into.cacheReadTokens += line.cacheReadTokens;
  into.cacheWriteTokens += line.cacheWriteTokens;
  into.reasoningTokens += line.reasoningTokens;
}

/** The cost summary of a run, from its journal's `model.called` events. */
export function summarizeModelCalls(events: readonly JournalEvent[]): CostSummary {
  const ledger = new CostLedger();
  for (const event of events) {
    if (event.type !== "model.called") continue;
    const data = event.data as Record<string, unknown> | null;
    if (data === null || typeof data !== "object") continue;
    ledger.add({
      stage: typeof data["stage"] === "string" ? data["stage"] : undefined,
      model: `${String(data["provider"])}:${String(data["modelId"])}`,
      usage: data["usage"] as unknown as TokenUsage,
      costUsd: typeof data["costUsd"] === "number" ? data["costUsd"] : null,
      cacheHit: data["cacheHit"] === true,
    });
  }
  return ledger.summary();
}

/** A plain-text table of the summary, for the end of a run. */
export function formatCostSummary(summary: CostSummary): string {
  const rows = summary.lines.map((l) => [
    l.stage,
    l.model,
    String(l.calls),
    String(l.cacheHits),
    String(l.inputTokens),
    String(l.outputTokens),
    String(l.cacheReadTokens),
    String(l.reasoningTokens),
    `$${l.costUsd.toFixed(6)}${l.unpriced > 0 ? ` (+${l.unpriced} unpriced)` : ""}`,
  ]);
  const stageRows = summary.byStage.map((l) => [`${l.stage} total`, `$${l.costUsd.toFixed(6)}`]);
  const headers = ["stage", "model", "calls", "hits", "in", "out", "cached", "reasoning", "cost"];
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join("  ")
      .trimEnd();
  return [
    line(headers),
    ...rows.map(line),
    ...stageRows.map((r) => r.join(": ")),
    `total: ${summary.calls} calls, ${summary.cacheHits} cache hits, $${summary.costUsd.toFixed(6)}`,
  ].join("\n");
}
