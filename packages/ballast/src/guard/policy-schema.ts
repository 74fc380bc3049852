import { z } from "zod";
import { parseNamePattern, parseResourcePattern } from "./resource.ts";

/**
 * The two documents the policy engine loads, validated with zod. Both carry
 * `schemaVersion` (the document format; only 1 exists) and `version` (the operator's label,
 * reported as `policy.version` on every decision).
 *
 * Rules document:
 * ```json
 * {
 *   "schemaVersion": 1,
 *   "version": "2025-10-29.1",
 *   "rules": [
 *     { "id": "health", "effect": "allow", "actions": ["http.get"], "resources": ["*:health"] },
 *     { "id": "no-prod-writes", "effect": "deny", "actions": ["runs.write"], "resources": ["*:prod/*"], "reason": "deny:prod_frozen" },
 *     { "id": "web-tools", "effect": "flag", "actions": ["tool.call"], "match": { "tool": "http.*" } }
 *   ],
 *   "forbiddenPatterns": [
 *     { "id": "rm-root", "match": { "command": ["*rm -rf /*", "*mkfs*"] } }
 *   ],
 *   "cedar": "@reason(\"deny:weekend\") forbid(principal, action, resource) when { context.method == \"DELETE\" };"
 * }
 * ```
 * Grants document (RBAC):
 * ```json
 * {
 *   "schemaVersion": 1,
 *   "version": "grants-7",
 *   "roles": { "operator": [{ "actions": ["command.exec", "runs.*"], "resources": ["acme:*"] }] },
 *   "subjects": { "alice": { "tenant": "acme", "roles": ["operator"] } }
 * }
 * ```
 * Patterns end in `*` or are `*`; resources are `tenant:resource`; `match` values are
 * globs where `*` matches anything (Cedar `like`). Header fields are `header:<name>`,
 * matched case-insensitively on the name.
 *
 * Rolling over to a new `schemaVersion` (when one exists): a ballast reads exactly one
 * schema version and denies everything (`schema_version_mismatch`) on any other, so
 * convert the documents first, deploy the ballast that reads the new version together
 * with them, and hot-reload (`PolicyEngine.load`); the audit log records `policy.loaded`
 * with both versions. Bump `version` on every content change: it is what decisions and
 * audit records cite.
 */

export const POLICY_SCHEMA_VERSION = 1;
export const GRANTS_SCHEMA_VERSION = 1;

const reason = z
  .string()
  .regex(
    /^[a-z][a-z0-9_.:-]{0,63}$/,
    "a reason is 1-64 characters of a-z 0-9 _ . : - starting with a letter",
  );
const id = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, "an id is 1-64 characters of A-Z a-z 0-9 _ . -");
const version = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.:+-]{0,63}$/, "a version is 1-64 characters of A-Z a-z 0-9 _ . : + -");
const actionPattern = z.string().refine((s) => parseNamePattern(s) !== undefined, {
  message: "an action is a name of A-Z a-z 0-9 _ . : / -, optionally ending in * (or just *)",
});
const resourcePattern = z.string().refine((s) => parseResourcePattern(s) !== undefined, {
  message: "a resource pattern is tenant:resource, each part optionally ending in * (or just *)",
});
const matchField = z
  .string()
  .regex(
    /^(?:command|path|method|tool|header:[A-Za-z0-9-]{1,64})$/,
    "a match field is command, path, method, tool or header:<name>",
  );
const glob = z.string().min(1).max(512);
const match = z.record(matchField, z.union([glob, z.array(glob).min(1).max(64)]));

const rule = z.strictObject({
  id,
  effect: z.enum(["allow", "deny", "flag"]),
  actions: z.array(actionPattern).min(1).default(["*"]),
  resources: z.array(resourcePattern).min(1).default(["*"]),
  roles: z.array(id).min(1).optional(),
  subjects: z.array(z.string().min(1).max(256)).min(1).optional(),
  match: match.optional(),
  reason: reason.optional(),
  description: z.string().max(1000).optional(),
});

const forbiddenPattern = z.strictObject({
  id,
  match: match.refine((m) => Object.keys(m).length > 0, { message: "match needs at least one field" }),
  actions: z.array(actionPattern).min(1).default(["*"]),
  resources: z.array(resourcePattern).min(1).default(["*"]),
  reason: reason.optional(),
  description: z.string().max(1000).optional(),
});

export const rulesDocumentSchema = z
  .strictObject({
    schemaVersion: z.literal(POLICY_SCHEMA_VERSION),
    version,
    rules: z.array(rule).max(10_000).default([]),
    forbiddenPatterns: z.array(forbiddenPattern).max(10_000).default([]),
    cedar: z.string().max(1_000_000).optional(),
  })
  .superRefine((doc, ctx) => {
    const seen = new Set<string>();
    for (const item of [...doc.rules, ...doc.forbiddenPatterns]) {
      if (seen.has(item.id)) ctx.addIssue({ code: "custom", message: `duplicate rule id "${item.id}"` });
      seen.add(item.id);
    }
  });

const grant = z.strictObject({
  actions: z.array(actionPattern).min(1),
  resources: z.array(resourcePattern).min(1),
});

export const grantsDocumentSchema = z.strictObject({
  schemaVersion: z.literal(GRANTS_SCHEMA_VERSION),
  version,
  roles: z.record(id, z.array(grant).max(1000)),
  subjects: z
    .record(
      z.string().min(1).max(256),
      z.strictObject({
        tenant: z.string().regex(/^(?:\*|[A-Za-z0-9][A-Za-z0-9_.-]{0,63})$/, "a tenant is a name or *"),
        roles: z.array(id).max(100),
      }),
    )
    .default({}),
});

export type RulesDocument = z.infer<typeof rulesDocumentSchema>;
export type GrantsDocument = z.infer<typeof grantsDocumentSchema>;
export type Rule = RulesDocument["rules"][number];
export type ForbiddenPattern = RulesDocument["forbiddenPatterns"][number];

export type DocumentProblem = "rules_invalid" | "rbac_grants_invalid" | "schema_version_mismatch";

export type ParseResult<T> =
  | { ok: true; value: T }
  | { ok: false; reason: DocumentProblem; problems: string[] };

function parseWith<T>(
  input: unknown,
  schema: z.ZodType<T>,
  expectedVersion: number,
  invalid: DocumentProblem,
  what: string,
): ParseResult<T> {
  let value = input;
  if (value === undefined || value === null || (typeof value === "string" && value.trim() === "")) {
    return { ok: false, reason: invalid, problems: [`no ${what} were given`] };
  }
  if (typeof value === "string") {
    try {
      value = JSON.parse(value);
    } catch (error) {
      return {
        ok: false,
        reason: invalid,
        problems: [`${what} are not valid JSON: ${(error as Error).message}`],
      };
    }
  }
  if (typeof value === "object" && value !== null && !Array.isArray(value)) {
    const declared = (value as { schemaVersion?: unknown }).schemaVersion;
    if (declared !== expectedVersion) {
      return {
        ok: false,
        reason: "schema_version_mismatch",
        problems: [
          `${what} declare schemaVersion ${JSON.stringify(declared ?? null)}; this ballast reads schemaVersion ${expectedVersion}`,
        ],
      };
    }
  }
  const parsed = schema.safeParse(value);
  if (parsed.success) return { ok: true, value: parsed.data };
  return {
    ok: false,
    reason: invalid,
    problems: parsed.error.issues.map((issue) => `${issue.path.join(".") || "(root)"}: ${issue.message}`),
  };
}

/** Validates a rules document (object or JSON text). */
export function parseRulesDocument(input: unknown): ParseResult<RulesDocument> {
  return parseWith(input, rulesDocumentSchema, POLICY_SCHEMA_VERSION, "rules_invalid", "policy rules");
}

/** Validates a grants document (object or JSON text). */
export function parseGrantsDocument(input: unknown): ParseResult<GrantsDocument> {
  return parseWith(input, grantsDocumentSchema, GRANTS_SCHEMA_VERSION, "rbac_grants_invalid", "RBAC grants");
}
