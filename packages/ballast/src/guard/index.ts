/**
 * `ballast/guard`: fail-closed policy (Cedar), RBAC with tenants, redaction, the audit chain
 * and text sanitising. Cedar's WebAssembly loads on the first policy compile, not on import.
 */
export {
  type AttributeFilter,
  type AttributeFilterOptions,
  type Attributes,
  type AttributeValue,
  createAttributeFilter,
  DEFAULT_ATTRIBUTE_ALLOWLIST,
  filterAttributes,
} from "./attributes.ts";
export {
  type ArchiveResult,
  AUDIT_GENESIS,
  AUDIT_SCHEMA_SQL,
  AuditLog,
  type AuditLogOptions,
  type AuditProblem,
  type AuditProblemKind,
  type AuditRecord,
  type AuditVerifyReport,
  budgetAuditEvent,
  parseTtlDays,
} from "./audit-log.ts";
export type { AuditEventInput, AuditSink } from "./audit-types.ts";
export {
  BUILTIN_REASONS,
  type Decision,
  type LoadResult,
  type PinnedPolicy,
  type PolicyDecision,
  PolicyEngine,
  type PolicyEngineOptions,
  type PolicyRequest,
  type PolicySubject,
} from "./policy-engine.ts";
export {
  GRANTS_SCHEMA_VERSION,
  type GrantsDocument,
  grantsDocumentSchema,
  POLICY_SCHEMA_VERSION,
  parseGrantsDocument,
  parseRulesDocument,
  type RulesDocument,
  rulesDocumentSchema,
} from "./policy-schema.ts";
export {
  configureRedaction,
  createRedactor,
  getRedactor,
  type HeadersLike,
  isIdentifierFieldName,
  isSecretFieldName,
  isSecretHeaderName,
  parseRedactPatterns,
  REDACTED,
  type RedactionPattern,
  type RedactionProfile,
  type Redactor,
  type RedactorOptions,
  type RedactPatternSpec,
  redact,
  redactError,
  redactHeaders,
  redactLabels,
  redactValue,
} from "./redact.ts";
export { parseResource, parseResourcePattern, type ResourcePattern, type ResourceRef } from "./resource.ts";
export { type SanitizeOptions, sanitizeModelText } from "./sanitize.ts";
