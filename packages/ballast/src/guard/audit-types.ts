import type { JsonValue } from "../canonical.ts";

/**
 * What the guard layer records in the audit log. Security denials carry subject, action,
 * resource, tenant, reason and traceId (never a token: every field is redacted before it is
 * stored). `kind` is low-cardinality: `security.deny`, `policy.decision`, `policy.fail_open`,
 * `policy.loaded`, `policy.load_failed`, `budget.exceeded`, `audit.archived`, ...
 */
export interface AuditEventInput {
  kind: string;
  subject?: string;
  action?: string;
  resource?: string;
  tenant?: string;
  reason?: string;
  traceId?: string;
  data?: { [key: string]: JsonValue };
}

/** Anything that can take audit events: the SQLite `AuditLog`, or a test double. */
export interface AuditSink {
  append(event: AuditEventInput): unknown;
}
