// The API's shapes, from the server's own modules (type-only: nothing of the server is bundled).

export type { KeptItem, OmittedItem, SelectResult } from "../../src/context/select.ts";
export type { SearchHit, SearchResponse } from "../../src/context/types.ts";
export type { RunMetadata } from "../../src/flow/metadata.ts";
export type { ReplayReport } from "../../src/flow/replay.ts";
export type { AuditRecord, AuditVerifyReport } from "../../src/guard/audit-log.ts";
export type { RunRecord } from "../../src/journal/types.ts";
export type { BudgetView } from "../../src/server/budget-view.ts";
export type { CostReport, CostSeries } from "../../src/server/dashboard/costs.ts";
export type { EventDetail, ModelCallDetail } from "../../src/server/dashboard/event-detail.ts";
export type { BudgetUse, RunSummary } from "../../src/server/dashboard/run-summary.ts";
export type { Timeline, TimelineError, TimelineSpan } from "../../src/server/dashboard/timeline.ts";

import type { RunRecord } from "../../src/journal/types.ts";
import type { BudgetView } from "../../src/server/budget-view.ts";
import type { RunSummary } from "../../src/server/dashboard/run-summary.ts";
import type { Timeline } from "../../src/server/dashboard/timeline.ts";

/** `GET /v1/runs/:id/timeline`. */
export interface RunView {
  run: RunRecord;
  summary: RunSummary;
  timeline: Timeline;
  budget: BudgetView & { steps: number; wallMs: number };
}

export interface RunsPage {
  runs: RunSummary[];
  nextCursor?: string;
}
