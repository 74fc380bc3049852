import { setTimeout as sleep } from "node:timers/promises";
import { z } from "zod";
import { redactValue } from "../../guard/redact.ts";
import type { JournalEvent, RunRecord } from "../../journal/types.ts";
import { budgetOf } from "../budget-view.ts";
import { ServerError } from "../errors.ts";
import { requireRun, runId, runOwner, runStatus, type ServiceDeps } from "../operations.ts";
import { type CallCost, callCostsOf, costReport } from "./costs.ts";
import { eventDetail } from "./event-detail.ts";
import { scanRuns } from "./run-scan.ts";
import { type RunSummary, SummaryCache, summarizeRun } from "./run-summary.ts";
import { buildTimeline } from "./timeline.ts";
import { viewOperation } from "./view-operation.ts";

/**
 * The read-side operations behind the dashboard's pages: runs with their totals, a live feed
 * of changes, a run's waterfall, one event in detail, spend over time, budgeted selection
 * and audit-chain verification. Each reads the journal (or the context engine, or the audit
 * log) and nothing else; tenants see only their own runs, as in the rest of the API.
 */

const isoTime = z
  .string()
  .min(1)
  .max(64)
  .refine((s) => !Number.isNaN(Date.parse(s)), "not an ISO time");

/** What a budgeted selection needs from the context engine (ContextEngine has it). */
interface Selector {
  select(options: Record<string, unknown>): Promise<unknown>;
}

/** What audit verification needs from the audit log (AuditLog has it). */
interface Verifier {
  verify(): unknown;
}

function hasMethod<T>(value: unknown, name: string): value is T {
  return typeof (value as Record<string, unknown> | undefined)?.[name] === "function";
}

/** Case-insensitive text search over what the runs list shows. */
function matcher(q: string | undefined): ((run: RunRecord) => boolean) | undefined {
  const needle = q?.trim().toLowerCase();
  if (needle === undefined || needle === "") return undefined;
  return (run) =>
    [
      run.id,
      run.workflow,
      run.workflowVersion,
      run.status,
      run.tenant ?? "",
      run.parentRunId ?? "",
      run.error?.message ?? "",
    ].some((field) => field.toLowerCase().includes(needle));
}

export interface ViewsOptions {
  /** How often the live runs feed looks for changes (ms). */
  feedPollMs?: number;
  /** Most recent runs the costs page reads. */
  costRuns?: number;
}

export function dashboardViews(options: ViewsOptions = {}) {
  const summaries = new SummaryCache();
  const costs = new Map<string, { eventCount: number; calls: CallCost[] }>();
  const feedPollMs = options.feedPollMs ?? 1000;
  const costRuns = options.costRuns ?? 2000;

  async function summaryOf(deps: ServiceDeps, run: RunRecord): Promise<RunSummary> {
    const cached = summaries.get(run);
    if (cached !== undefined) return cached;
    const summary = summarizeRun(run, await deps.journal.readEvents(run.id));
    summaries.set(run, summary);
    return summary;
  }

  async function costsOf(deps: ServiceDeps, run: RunRecord): Promise<CallCost[]> {
    const cached = costs.get(run.id);
    if (cached !== undefined && cached.eventCount === run.eventCount) return cached.calls;
    const calls = callCostsOf(run, await deps.journal.readEvents(run.id));
    if (run.status !== "running" && run.status !== "queued") {
      if (costs.size >= costRuns * 2) costs.clear();
      costs.set(run.id, { eventCount: run.eventCount, calls });
    }
    return calls;
  }

  return {
    "views.runs": viewOperation({
      action: "runs.read",
      input: z.strictObject({
        status: runStatus.optional(),
        workflow: z.string().min(1).max(256).optional(),
        q: z.string().max(256).optional(),
        limit: z.number().int().min(1).max(200).optional(),
        cursor: z.string().min(1).max(512).optional(),
      }),
      path: () => "runs",
      run: async (input, ctx, deps) => {
        const page = await scanRuns(deps.journal, {
          filter: {
            ...(input.status === undefined ? {} : { status: input.status }),
            ...(input.workflow === undefined ? {} : { workflow: input.workflow }),
          },
          tenant: ctx.tenant,
          limit: input.limit ?? 25,
          cursor: input.cursor,
          match: matcher(input.q),
        });
        const runs: RunSummary[] = [];
        for (const run of page.runs) runs.push(await summaryOf(deps, run));
        return { runs, ...(page.nextCursor === undefined ? {} : { nextCursor: page.nextCursor }) };
      },
    }),

    "views.runs.live": viewOperation<Record<string, never>, unknown>({
      action: "runs.read",
      input: z.strictObject({}),
      path: () => "runs",
      stream: async function* (_input, ctx, deps) {
        const seen = new Map<string, string>();
        let first = true;
        let seq = 0;
        while (!ctx.signal.aborted) {
          const { runs } = await scanRuns(deps.journal, { filter: {}, tenant: ctx.tenant, limit: 200 });
          const changed: RunRecord[] = [];
          let added = 0;
          for (const run of runs) {
            const state = `${run.status}:${run.eventCount}`;
            const before = seen.get(run.id);
            if (before !== state) {
              if (before === undefined) added += 1;
              seen.set(run.id, state);
              if (!first) changed.push(run);
            }
          }
          if (!first && changed.length > 0) {
            const out: RunSummary[] = [];
            for (const run of changed.slice(0, 50)) out.push(await summaryOf(deps, run));
            yield { type: "runs.changed", seq: seq++, runs: out, added };
          } else if (first) {
            yield { type: "runs.watching", seq: seq++, runs: runs.length };
          }
          first = false;
          try {
            await sleep(feedPollMs, undefined, { signal: ctx.signal });
          } catch {
            return;
          }
        }
      },
    }),

    "runs.timeline": viewOperation({
      action: "runs.read",
      input: z.strictObject({ runId }),
      path: (input) => `runs/${input.runId}`,
      owner: runOwner,
      run: async (input, _ctx, deps) => {
        const run = await requireRun(deps, input.runId);
        const events = await deps.journal.readEvents(run.id);
        const summary = summarizeRun(run, events);
        return {
          // What came from the user or the workflow is redacted; hashes and ids are not secrets.
          run: {
            ...run,
            input: redactValue(run.input),
            ...(run.output === undefined ? {} : { output: redactValue(run.output) }),
            ...(run.error === undefined ? {} : { error: redactValue(run.error) }),
          },
          summary,
          timeline: buildTimeline(run, events),
          budget: { ...budgetOf(run.id, events), steps: summary.steps, wallMs: summary.durationMs },
        };
      },
    }),

    "runs.event": viewOperation({
      action: "runs.read",
      input: z.strictObject({ runId, seq: z.number().int().min(0) }),
      path: (input) => `runs/${input.runId}`,
      owner: runOwner,
      run: async (input, _ctx, deps) => {
        await requireRun(deps, input.runId);
        const events: JournalEvent[] = await deps.journal.readEvents(input.runId, { toSeq: input.seq });
        const event = events[events.length - 1];
        if (event === undefined || event.seq !== input.seq) {
          throw new ServerError("not_found", `Run "${input.runId}" has no event ${input.seq}.`);
        }
        return eventDetail(event, events, deps.journal.blobs);
      },
    }),

    "views.costs": viewOperation({
      action: "runs.read",
      input: z.strictObject({
        since: isoTime.optional(),
        until: isoTime.optional(),
        target: z.number().int().min(1).max(500).optional(),
      }),
      path: () => "runs",
      run: async (input, ctx, deps) => {
        const { runs } = await scanRuns(deps.journal, { filter: {}, tenant: ctx.tenant, limit: costRuns });
        const perRun: CallCost[][] = [];
        for (const run of runs) perRun.push(await costsOf(deps, run));
        return costReport(perRun, {
          ...(input.since === undefined ? {} : { since: Date.parse(input.since) }),
          until: input.until === undefined ? Date.now() : Date.parse(input.until),
          ...(input.target === undefined ? {} : { target: input.target }),
        });
      },
    }),

    "context.select": viewOperation({
      action: "context.search",
      input: z.strictObject({
        query: z.string().max(10_000),
        budgetTokens: z.number().int().min(1).max(10_000_000),
        deliverables: z.array(z.string().min(1).max(1024)).max(1000).optional(),
        filters: z.json().optional(),
        mode: z.enum(["auto", "semantic", "lexical"]).optional(),
        limit: z.number().int().min(1).max(1000).optional(),
      }),
      path: () => "context",
      run: async (input, _ctx, deps) => {
        const context = deps.context;
        if (!hasMethod<Selector>(context, "select")) {
          throw new ServerError(
            "unavailable",
            "This server's context engine has no budgeted selection; start it with a ContextEngine.",
          );
        }
        const { filters, ...rest } = input;
        return context.select({ ...rest, ...(filters === undefined || filters === null ? {} : { filters }) });
      },
    }),

    "audit.verify": viewOperation({
      action: "audit.read",
      input: z.strictObject({}),
      path: () => "audit",
      run: async (_input, _ctx, deps) => {
        const audit = deps.audit;
        if (!hasMethod<Verifier>(audit, "verify")) {
          throw new ServerError(
            "unavailable",
            "This server's audit log cannot verify its chain; start it with an AuditLog.",
          );
        }
        return audit.verify();
      },
    }),
  };
}
