import { z } from "zod";
import type { JsonValue } from "../canonical.ts";
import type { SearchOptions } from "../context/engine.ts";
import type { SearchResponse } from "../context/types.ts";
import type { Ballast } from "../flow/engine.ts";
import { metricsRegistry } from "../flow/observe.ts";
import type { AuditRecord } from "../guard/audit-log.ts";
import type { AuditSink } from "../guard/audit-types.ts";
import type { JournalEvent, JournalStore, ListRunsQuery, RunRecord } from "../journal/types.ts";
import { budgetHistoryOf, budgetOf } from "./budget-view.ts";
import { ServerError } from "./errors.ts";
import { auditedRunAction } from "./run-action-audit.ts";
import { DEFAULT_TENANT, type Principal } from "./tokens.ts";
import { watchEvents } from "./watch-events.ts";

/**
 * The API's operations, written once and served by every transport (REST, gRPC, Connect,
 * gRPC-Web, MCP). Each names the RBAC action it needs and the resource it touches; the
 * dispatcher authenticates, validates, authorises and times it before `run` is called.
 * Inputs and outputs are the JSON of the HTTP API, which is also the proto3 JSON of the
 * gRPC messages (grpc/ballast.proto).
 */

/** What the context engine must offer the server. */
export interface ContextSearcher {
  search(query: string, options?: SearchOptions): Promise<SearchResponse>;
}

/** What the audit log must offer the server. */
export interface AuditReader {
  list(filter?: {
    kind?: string;
    tenant?: string;
    traceId?: string;
    since?: string;
    limit?: number;
  }): AuditRecord[];
}

export interface ServiceDeps {
  journal: JournalStore;
  engine: Ballast;
  context?: ContextSearcher | undefined;
  audit?: AuditReader | undefined;
  /** Where run actions (cancel) are recorded; usually the same audit log. */
  auditSink?: AuditSink | undefined;
  version: string;
  /** How often live streams look for new events (ms). */
  pollMs: number;
}

export interface CallContext {
  principal: Principal;
  /** The tenant the request is for; undefined means every tenant (an operator or a local caller). */
  tenant: string | undefined;
  traceId: string;
  transport: string;
  /** Aborts on the deadline or when the caller goes away. */
  signal: AbortSignal;
}

export interface Operation<I = unknown, O = unknown> {
  readonly action: string;
  readonly input: z.ZodType<I>;
  /** The resource path inside the tenant (`runs/<id>`). */
  path(input: I): string;
  /** The tenant owning the target, for operations on an existing object. */
  owner?(input: I, deps: ServiceDeps): Promise<string | undefined>;
  /** Runs after authorisation, before anything is sent: a stream's 404 must come before its 200. */
  check?(input: I, deps: ServiceDeps): Promise<unknown>;
  /** Does no I/O and cannot hang: runs without a deadline timer (health, metrics). */
  readonly instant?: boolean;
  /** Unary operations. */
  run?(input: I, ctx: CallContext, deps: ServiceDeps): O | Promise<O>;
  /** Streaming operations (no server deadline; they end with the run or the caller). */
  stream?(input: I, ctx: CallContext, deps: ServiceDeps): AsyncIterable<O>;
}

function op<I, O>(definition: Operation<I, O>): Operation<I, O> {
  return definition;
}

/** Shared input schemas, so every route validates run ids and statuses alike. */
export const runId = z.string().min(1).max(256);
export const runStatus = z.enum([
  "queued",
  "running",
  "completed",
  "failed",
  "cancelled",
  "budget_exceeded",
  "timed_out",
]);
const json = z.json();
const nonNegative = z.number().min(0).finite();

/** Runs without a tenant (started outside the server) belong to the default tenant. */
function tenantOfRun(run: RunRecord | undefined): string | undefined {
  return run === undefined ? undefined : (run.tenant ?? DEFAULT_TENANT);
}

export async function requireRun(deps: ServiceDeps, id: string): Promise<RunRecord> {
  const run = await deps.journal.getRun(id);
  if (run === undefined) {
    throw new ServerError("not_found", `No run "${id}" on this server; list runs with GET /v1/runs.`);
  }
  return run;
}

/** The tenant owning the run named in an input: what RBAC checks run actions against. */
export function runOwner<I extends { runId: string }>(
  input: I,
  deps: ServiceDeps,
): Promise<string | undefined> {
  return deps.journal.getRun(input.runId).then(tenantOfRun);
}

function encodeCursor(offset: number): string {
  return Buffer.from(JSON.stringify({ o: offset })).toString("base64url");
}

function decodeCursor(cursor: string): number {
  try {
    const value = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")) as { o?: unknown };
    if (Number.isInteger(value.o) && (value.o as number) >= 0) return value.o as number;
  } catch {
    // fall through to the error below
  }
  throw new ServerError(
    "invalid_argument",
    "cursor is not one this server returned; start again without it.",
  );
}

const SCAN_PAGE = 200;

/**
 * A page of runs visible to `tenant`. The journal filters by tenant itself, except for the
 * default tenant, which also owns runs recorded without one: those pages are scanned.
 */
async function listRunsPage(
  journal: JournalStore,
  filter: Omit<ListRunsQuery, "limit" | "offset" | "tenant">,
  tenant: string | undefined,
  limit: number,
  offset: number,
): Promise<{ runs: RunRecord[]; nextCursor?: string }> {
  if (tenant !== DEFAULT_TENANT) {
    const rows = await journal.listRuns({
      ...filter,
      ...(tenant === undefined ? {} : { tenant }),
      limit: limit + 1,
      offset,
    });
    const runs = rows.slice(0, limit);
    return rows.length > limit ? { runs, nextCursor: encodeCursor(offset + limit) } : { runs };
  }
  const runs: RunRecord[] = [];
  let scan = offset;
  for (;;) {
    const rows = await journal.listRuns({ ...filter, limit: SCAN_PAGE, offset: scan });
    for (const [i, row] of rows.entries()) {
      if (tenantOfRun(row) !== DEFAULT_TENANT) continue;
      if (runs.length === limit) return { runs, nextCursor: encodeCursor(scan + i) };
      runs.push(row);
    }
    if (rows.length < SCAN_PAGE) return { runs };
    scan += rows.length;
  }
}

function eventJson(event: JournalEvent): Record<string, JsonValue> {
  return {
    runId: event.runId,
    seq: event.seq,
    type: event.type,
    at: event.at,
    data: event.data,
    prev: event.prev,
    hash: event.hash,
  };
}

const budgetLimits = z.strictObject({
  tokens: nonNegative.optional(),
  costUsd: nonNegative.optional(),
  toolCalls: nonNegative.optional(),
  wallMs: nonNegative.optional(),
  steps: nonNegative.optional(),
  mode: z.enum(["soft", "enforce"]).optional(),
});

export function createOperations() {
  return {
    health: op({
      action: "health.read",
      input: z.strictObject({}),
      path: () => "health",
      instant: true,
      run: (_input, _ctx, deps) => ({ status: "ok", version: deps.version }),
    }),

    "runs.list": op({
      action: "runs.read",
      input: z.strictObject({
        status: runStatus.optional(),
        workflow: z.string().min(1).max(256).optional(),
        limit: z.number().int().min(1).max(500).optional(),
        cursor: z.string().min(1).max(512).optional(),
      }),
      path: () => "runs",
      run: async (input, ctx, deps) => {
        const offset = input.cursor === undefined ? 0 : decodeCursor(input.cursor);
        const filter = {
          ...(input.status === undefined ? {} : { status: input.status }),
          ...(input.workflow === undefined ? {} : { workflow: input.workflow }),
        };
        return listRunsPage(deps.journal, filter, ctx.tenant, input.limit ?? 50, offset);
      },
    }),

    "runs.get": op({
      action: "runs.read",
      input: z.strictObject({ runId }),
      path: (input) => `runs/${input.runId}`,
      owner: runOwner,
      run: (input, _ctx, deps) => requireRun(deps, input.runId),
    }),

    "runs.watch": op({
      action: "runs.read",
      input: z.strictObject({ runId, fromSeq: z.number().int().min(0).optional() }),
      path: (input) => `runs/${input.runId}`,
      owner: runOwner,
      check: (input, deps) => requireRun(deps, input.runId),
      stream: async function* (input, ctx, deps) {
        for await (const event of watchEvents(deps.journal, input.runId, {
          ...(input.fromSeq === undefined ? {} : { fromSeq: input.fromSeq }),
          pollMs: deps.pollMs,
          signal: ctx.signal,
        })) {
          yield eventJson(event);
        }
      },
    }),

    "runs.events": op({
      action: "runs.read",
      input: z.strictObject({
        runId,
        fromSeq: z.number().int().min(0).optional(),
        limit: z.number().int().min(1).max(1000).optional(),
      }),
      path: (input) => `runs/${input.runId}`,
      owner: runOwner,
      run: async (input, _ctx, deps) => {
        await requireRun(deps, input.runId);
        const from = input.fromSeq ?? 0;
        const limit = input.limit ?? 100;
        const events = await deps.journal.readEvents(input.runId, { fromSeq: from, toSeq: from + limit });
        const page = events.slice(0, limit).map(eventJson);
        return events.length > limit ? { events: page, nextSeq: from + limit } : { events: page };
      },
    }),

    "runs.start": op({
      action: "runs.write",
      input: z.strictObject({
        workflow: z.string().min(1).max(256),
        version: z.string().min(1).max(256).optional(),
        input: json.optional(),
        runId: runId.optional(),
        budget: budgetLimits.optional(),
        timeoutMs: z.number().positive().finite().optional(),
        wait: z.boolean().optional(),
      }),
      path: (input) => `workflows/${input.workflow}`,
      run: async (input, ctx, deps) => {
        const workflow = pickWorkflow(deps.engine, input.workflow, input.version);
        const handle = await deps.engine.start(workflow, (input.input ?? null) as never, {
          ...(input.runId === undefined ? {} : { runId: input.runId }),
          ...(input.budget === undefined ? {} : { budget: input.budget }),
          ...(input.timeoutMs === undefined ? {} : { timeoutMs: input.timeoutMs }),
          tenant: ctx.tenant ?? DEFAULT_TENANT,
        });
        if (input.wait === true) await handle.wait();
        return requireRun(deps, handle.runId);
      },
    }),

    "runs.cancel": op({
      action: "runs.cancel",
      input: z.strictObject({ runId, reason: z.string().max(1000).optional() }),
      path: (input) => `runs/${input.runId}`,
      owner: runOwner,
      run: async (input, ctx, deps) => {
        const run = await requireRun(deps, input.runId);
        return auditedRunAction(deps.auditSink, ctx, "runs.cancel", run, () =>
          deps.engine.cancel(input.runId, input.reason),
        );
      },
    }),

    "budget.get": op({
      action: "budget.read",
      input: z.strictObject({ runId }),
      path: (input) => `runs/${input.runId}`,
      owner: runOwner,
      run: async (input, _ctx, deps) => {
        await requireRun(deps, input.runId);
        return budgetOf(input.runId, await deps.journal.readEvents(input.runId));
      },
    }),

    "budget.history": op({
      action: "budget.read",
      input: z.strictObject({ runId, limit: z.number().int().min(1).max(10_000).optional() }),
      path: (input) => `runs/${input.runId}`,
      owner: runOwner,
      run: async (input, _ctx, deps) => {
        await requireRun(deps, input.runId);
        return budgetHistoryOf(input.runId, await deps.journal.readEvents(input.runId), input.limit ?? 100);
      },
    }),

    "context.search": op({
      action: "context.search",
      input: z.strictObject({
        query: z.string().max(10_000),
        k: z.number().int().optional(),
        strategy: z.string().optional(),
        fusion: z.string().optional(),
        rrfK: z.number().optional(),
        weights: z.strictObject({ sparse: z.number(), dense: z.number() }).optional(),
        candidates: z.number().int().optional(),
        filters: json.optional(),
        scope: z.strictObject({ session: z.string().optional(), task: z.string().optional() }).optional(),
        atVersion: z.number().int().min(0).optional(),
        atTime: z.string().min(1).max(64).optional(),
      }),
      path: () => "context",
      run: async (input, _ctx, deps) => {
        if (deps.context === undefined) {
          throw new ServerError(
            "unavailable",
            "This server has no context engine; start it with one to search.",
          );
        }
        const { query, rrfK, atVersion, atTime, filters, ...config } = input;
        if (atVersion !== undefined && atTime !== undefined) {
          throw new ServerError("invalid_argument", "Give atVersion or atTime, not both.");
        }
        const options: SearchOptions = {
          ...(config as SearchOptions),
          ...(rrfK === undefined ? {} : { rrf_k: rrfK }),
          // A JSON null filter is the same as none.
          ...(filters === undefined || filters === null ? {} : { filters }),
          ...(atVersion === undefined ? {} : { at: atVersion }),
          ...(atTime === undefined ? {} : { at: { time: atTime } }),
        };
        return deps.context.search(query, options);
      },
    }),

    "audit.list": op({
      action: "audit.read",
      input: z.strictObject({
        kind: z.string().min(1).max(64).optional(),
        traceId: z.string().min(1).max(128).optional(),
        runId: runId.optional(),
        since: z.string().min(1).max(64).optional(),
        limit: z.number().int().min(1).max(10_000).optional(),
      }),
      path: () => "audit",
      run: async (input, ctx, deps) => {
        if (deps.audit === undefined) {
          throw new ServerError("unavailable", "This server has no audit log; start it with one to read it.");
        }
        const limit = input.limit ?? 100;
        const records = deps.audit.list({
          ...(input.kind === undefined ? {} : { kind: input.kind }),
          ...(input.traceId === undefined ? {} : { traceId: input.traceId }),
          ...(input.since === undefined ? {} : { since: input.since }),
          ...(ctx.tenant === undefined ? {} : { tenant: ctx.tenant }),
          limit: input.runId === undefined ? limit : 10_000,
        });
        const kept =
          input.runId === undefined
            ? records
            : records.filter((r) => r.data?.["runId"] === input.runId).slice(0, limit);
        return { records: kept };
      },
    }),

    "metrics.read": op({
      action: "metrics.read",
      input: z.strictObject({}),
      path: () => "metrics",
      instant: true,
      run: () => metricsRegistry.metrics(),
    }),
  };
}

export type Operations = ReturnType<typeof createOperations>;
export type OperationName = keyof Operations;

function pickWorkflow(engine: Ballast, name: string, version: string | undefined) {
  if (name.startsWith("ballast.")) {
    throw new ServerError("not_found", `Workflow "${name}" is internal to ballast and cannot be started.`);
  }
  if (version !== undefined) {
    const found = engine.workflows.get(name, version);
    if (found === undefined) {
      throw new ServerError(
        "not_found",
        `No workflow "${name}" version "${version}" is registered on this server.`,
      );
    }
    return found;
  }
  const candidates = engine.workflows.list().filter((w) => w.name === name);
  if (candidates.length === 0) {
    throw new ServerError(
      "not_found",
      `No workflow "${name}" is registered on this server; registered: ${
        engine.workflows
          .list()
          .map((w) => `${w.name}@${w.version}`)
          .filter((w) => !w.startsWith("ballast."))
          .join(", ") || "none"
      }.`,
    );
  }
  if (candidates.length > 1) {
    throw new ServerError(
      "invalid_argument",
      `Workflow "${name}" has versions ${candidates.map((w) => w.version).join(", ")}; say which one in "version".`,
    );
  }
  return candidates[0]!;
}
