import type { AuditSink } from "../guard/audit-types.ts";
import type { RunRecord } from "../journal/types.ts";
import { classify } from "./errors.ts";
import { DEFAULT_TENANT } from "./tokens.ts";

/** Who asked, as the audit record needs it (a subset of the operations' CallContext). */
export interface ActionCaller {
  principal: { id: string };
  traceId: string;
  transport: string;
}

/**
 * Runs an action on a run (cancel, resume, replay, fork) and records it and its outcome in
 * the audit log as `run.action`, whichever transport or page asked for it.
 */
export async function auditedRunAction<T>(
  audit: AuditSink | undefined,
  caller: ActionCaller,
  action: string,
  run: RunRecord,
  work: () => Promise<T>,
  details: (value: T) => Record<string, string | number | boolean> = () => ({}),
): Promise<T> {
  const tenant = run.tenant ?? DEFAULT_TENANT;
  const record = (outcome: string, data: Record<string, string | number | boolean>) =>
    audit?.append({
      kind: "run.action",
      subject: caller.principal.id,
      action,
      resource: `${tenant}:runs/${run.id}`,
      tenant,
      traceId: caller.traceId,
      data: { runId: run.id, outcome, transport: caller.transport, ...data },
    });
  try {
    const value = await work();
    record("ok", details(value));
    return value;
  } catch (error) {
    record("error", { code: classify(error).code });
    throw error;
  }
}
