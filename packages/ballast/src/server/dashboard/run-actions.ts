import { z } from "zod";
import type { AuditSink } from "../../guard/audit-types.ts";
import { requireRun, runId, runOwner } from "../operations.ts";
import { auditedRunAction } from "../run-action-audit.ts";
import { viewOperation } from "./view-operation.ts";

/**
 * Run actions the API lacked: resume, replay and fork (cancel is the API's own
 * `POST /v1/runs/:id/cancel`, audited the same way). Each is an RBAC action of its own (`runs.resume`,
 * `runs.replay`, `runs.fork`) on `<tenant>:runs/<id>`, and each admitted call is written to
 * the audit log as `run.action` with who asked, the outcome and, for a fork, the new run.
 * Nothing here deletes: a fork is a new run, a replay writes nothing.
 */

export function runActions(audit: AuditSink | undefined) {
  return {
    "runs.resume": viewOperation({
      action: "runs.resume",
      input: z.strictObject({ runId }),
      path: (input) => `runs/${input.runId}`,
      owner: runOwner,
      run: async (input, ctx, deps) => {
        const run = await requireRun(deps, input.runId);
        await auditedRunAction(audit, ctx, "runs.resume", run, () => deps.engine.resume(input.runId));
        return requireRun(deps, input.runId);
      },
    }),

    "runs.replay": viewOperation({
      action: "runs.replay",
      input: z.strictObject({ runId }),
      path: (input) => `runs/${input.runId}`,
      owner: runOwner,
      run: async (input, ctx, deps) => {
        const run = await requireRun(deps, input.runId);
        return auditedRunAction(
          audit,
          ctx,
          "runs.replay",
          run,
          () => deps.engine.replay(input.runId),
          (report) => ({ eventsMatched: report.eventsMatched }),
        );
      },
    }),

    "runs.fork": viewOperation({
      action: "runs.fork",
      input: z.strictObject({
        runId,
        atSeq: z.number().int().min(0),
        version: z.string().min(1).max(256).optional(),
        newRunId: runId.optional(),
      }),
      path: (input) => `runs/${input.runId}`,
      owner: runOwner,
      run: async (input, ctx, deps) => {
        const run = await requireRun(deps, input.runId);
        const handle = await auditedRunAction(
          audit,
          ctx,
          "runs.fork",
          run,
          () =>
            deps.engine.fork(input.runId, {
              atSeq: input.atSeq,
              ...(input.version === undefined ? {} : { version: input.version }),
              ...(input.newRunId === undefined ? {} : { runId: input.newRunId }),
            }),
          (forked) => ({ forkRunId: forked.runId, atSeq: input.atSeq }),
        );
        return requireRun(deps, handle.runId);
      },
    }),
  };
}
