import type { JournalEvent } from "ballast";
import { type CostSummary, summarizeModelCalls } from "ballast/models";

/**
 * Cost of a run from its journal alone: per stage and model (the model layer's summary of
 * `model.called` events) and per service (the `item` each call was made for). A finished
 * or interrupted run's cost is therefore known without the process that ran it.
 */

export interface ServiceCost {
  serviceId: string;
  calls: number;
  cacheHits: number;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
}

export interface CostReport {
  summary: CostSummary;
  byService: ServiceCost[];
}

export function costReport(events: readonly JournalEvent[]): CostReport {
  const byService = new Map<string, ServiceCost>();
  for (const event of events) {
    if (event.type !== "model.called") continue;
    const data = event.data as Record<string, unknown>;
    const serviceId = typeof data["item"] === "string" ? data["item"] : "(none)";
    let line = byService.get(serviceId);
    if (line === undefined) {
      line = { serviceId, calls: 0, cacheHits: 0, inputTokens: 0, outputTokens: 0, costUsd: 0 };
      byService.set(serviceId, line);
    }
    line.calls += 1;
    if (data["cacheHit"] === true) {
      line.cacheHits += 1;
      continue;
    }
    const usage = data["usage"] as { inputTokens?: number; outputTokens?: number } | undefined;
    line.inputTokens += usage?.inputTokens ?? 0;
    line.outputTokens += usage?.outputTokens ?? 0;
    line.costUsd += typeof data["costUsd"] === "number" ? data["costUsd"] : 0;
  }
  return {
    summary: summarizeModelCalls(events),
    byService: [...byService.values()].sort((a, b) => a.serviceId.localeCompare(b.serviceId)),
  };
}
