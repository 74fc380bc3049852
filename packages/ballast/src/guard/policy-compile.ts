import type { Cedar, Expr, PatternElem, PolicyJson, SchemaJson } from "./cedar.ts";
import type { ForbiddenPattern, GrantsDocument, Rule, RulesDocument } from "./policy-schema.ts";
import { type PrefixPattern, parseNamePattern, parseResourcePattern } from "./resource.ts";

/**
 * Compiles our two documents into one Cedar policy set (plus a second set for `flag`
 * rules, which mark a request without granting it) and a Cedar schema.
 *
 * Mapping onto Cedar:
 * - a subject is `Ballast::Subject::"<id>"` with attribute `tenant`, member of its
 *   `Ballast::Role::"<role>"` entities; a role grant is a `permit` for `principal in Role`;
 * - a resource `acme:runs/1` is `Ballast::Resource::"acme:runs/1"` with attributes
 *   `tenant` and `path`; patterns become `==` or `like "prefix*"` on them;
 * - every request uses the single action `Ballast::Action::"request"`; the ballast action
 *   name is `context.action`, so `runs.*` patterns can use `like`;
 * - `deny` rules and forbidden patterns are `forbid` policies, tenant isolation is a
 *   built-in `forbid`. Cedar's forbid-over-permit and default deny give the precedence; the
 *   classes below decide which reasons are reported.
 */

export type PolicyClass = "deny" | "forbidden" | "allow" | "flag";

export interface PolicyMeta {
  class: PolicyClass;
  reason: string;
}

export interface CompiledPolicies {
  schema: SchemaJson<string>;
  main: Record<string, PolicyJson>;
  flags: Record<string, PolicyJson>;
  meta: Map<string, PolicyMeta>;
  /** Context attribute for each header a rule matches on, by lower-case header name. */
  headerAttrs: Map<string, string>;
}

export const NS = "Ballast";
export const SUBJECT_TYPE = `${NS}::Subject`;
export const RESOURCE_TYPE = `${NS}::Resource`;
export const ROLE_TYPE = `${NS}::Role`;
export const ACTION_TYPE = `${NS}::Action`;
export const ACTION_ID = "request";
export const CONTEXT_FIELDS = ["action", "tenant", "command", "path", "method", "tool"] as const;

export const REASON_CROSS_TENANT = "deny:resource_cross_tenant";
const REASON_FORMAT = /^[a-z][a-z0-9_.:-]{0,63}$/;

export class CompileError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(problems.join("; "));
    this.problems = problems;
  }
}

// ------------------------------------------------------------------ expression helpers

const TRUE: Expr = { Value: true };
const value = (v: string): Expr => ({ Value: v });
const attr = (variable: "principal" | "resource" | "context", name: string): Expr => ({
  ".": { left: { Var: variable }, attr: name },
});
const eq = (left: Expr, right: Expr): Expr => ({ "==": { left, right } });

function and(parts: Expr[]): Expr {
  const useful = parts.filter((p) => p !== TRUE);
  if (useful.length === 0) return TRUE;
  return useful.reduce((left, right) => ({ "&&": { left, right } }));
}

function or(parts: Expr[]): Expr {
  if (parts.some((p) => p === TRUE)) return TRUE;
  return parts.reduce((left, right) => ({ "||": { left, right } }));
}

/** A glob (`*` = anything) as a Cedar `like` pattern; no escaping needed in JSON form. */
export function globToPattern(glob: string): PatternElem[] {
  const out: PatternElem[] = [];
  glob.split("*").forEach((part, i) => {
    if (i > 0) out.push("Wildcard");
    if (part !== "") out.push({ Literal: part });
  });
  return out;
}

function prefixExpr(subject: Expr, pattern: PrefixPattern): Expr {
  if (!pattern.wildcard) return eq(subject, value(pattern.prefix));
  if (pattern.prefix === "") return TRUE;
  return { like: { left: subject, pattern: [{ Literal: pattern.prefix }, "Wildcard"] } };
}

function actionsExpr(actions: readonly string[]): Expr {
  return or(actions.map((a) => prefixExpr(attr("context", "action"), parseNamePattern(a)!)));
}

function resourcesExpr(resources: readonly string[]): Expr {
  return or(
    resources.map((r) => {
      const p = parseResourcePattern(r)!;
      return and([
        prefixExpr(attr("resource", "tenant"), p.tenant),
        prefixExpr(attr("resource", "path"), p.path),
      ]);
    }),
  );
}

const entity = (type: string, id: string): Expr => ({ Value: { __entity: { type, id } } });

function principalExpr(rule: { roles?: string[] | undefined; subjects?: string[] | undefined }): Expr {
  const members = [
    ...(rule.roles ?? []).map((r) => entity(ROLE_TYPE, r)),
    ...(rule.subjects ?? []).map((s) => entity(SUBJECT_TYPE, s)),
  ];
  if (members.length === 0) return TRUE;
  return { in: { left: { Var: "principal" }, right: { Set: members } } };
}

/** Context attribute that holds a match field. */
export function fieldAttr(field: string): string {
  return field.startsWith("header:") ? `h_${field.slice(7).toLowerCase().replaceAll("-", "_")}` : field;
}

function matchExpr(match: Record<string, string | string[]> | undefined): Expr {
  if (match === undefined) return TRUE;
  return and(
    Object.keys(match)
      .sort()
      .map((field) => {
        const globs = match[field]!;
        return or(
          (Array.isArray(globs) ? globs : [globs]).map(
            (g): Expr => ({ like: { left: attr("context", fieldAttr(field)), pattern: globToPattern(g) } }),
          ),
        );
      }),
  );
}

function policy(effect: "permit" | "forbid", body: Expr, unless = false): PolicyJson {
  return {
    effect,
    principal: { op: "All" },
    action: { op: "==", entity: { type: ACTION_TYPE, id: ACTION_ID } },
    resource: { op: "All" },
    conditions: body === TRUE ? [] : [{ kind: unless ? "unless" : "when", body }],
  };
}

function defaultReason(prefix: string, id: string): string {
  return `${prefix}:${id.toLowerCase()}`.slice(0, 64);
}

// ------------------------------------------------------------------ compile

function buildSchema(headerAttrs: Iterable<string>): SchemaJson<string> {
  const contextAttrs: Record<string, { type: "String" }> = {};
  for (const name of [...CONTEXT_FIELDS, ...headerAttrs]) contextAttrs[name] = { type: "String" };
  return {
    [NS]: {
      entityTypes: {
        Role: {},
        Subject: {
          memberOfTypes: ["Role"],
          shape: { type: "Record", attributes: { tenant: { type: "String" } } },
        },
        Resource: {
          shape: { type: "Record", attributes: { tenant: { type: "String" }, path: { type: "String" } } },
        },
      },
      actions: {
        [ACTION_ID]: {
          appliesTo: {
            principalTypes: ["Subject"],
            resourceTypes: ["Resource"],
            context: { type: "Record", attributes: contextAttrs },
          },
        },
      },
    },
  };
}

function collectHeaders(items: readonly (Rule | ForbiddenPattern)[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const item of items) {
    for (const field of Object.keys(item.match ?? {})) {
      if (field.startsWith("header:")) out.set(field.slice(7).toLowerCase(), fieldAttr(field));
    }
  }
  return new Map([...out].sort(([a], [b]) => (a < b ? -1 : 1)));
}

function compileRawCedar(
  cedar: Cedar,
  text: string,
  main: Record<string, PolicyJson>,
  flags: Record<string, PolicyJson>,
  meta: Map<string, PolicyMeta>,
): void {
  const parts = cedar.policySetTextToParts(text);
  if (parts.type === "failure") throw new CompileError(parts.errors.map((e) => `cedar: ${e.message}`));
  if (parts.policy_templates.length > 0)
    throw new CompileError(["cedar: templates are not supported; write static policies"]);
  parts.policies.forEach((source, i) => {
    const json = cedar.policyToJson(source);
    if (json.type === "failure")
      throw new CompileError(json.errors.map((e) => `cedar policy ${i}: ${e.message}`));
    const annotations = json.json.annotations ?? {};
    const id = `cedar.${annotations["id"] ?? i}`;
    if (meta.has(id)) throw new CompileError([`cedar policy ${i}: duplicate @id "${annotations["id"]}"`]);
    const isFlag = json.json.effect === "permit" && annotations["effect"] === "flag";
    const cls: PolicyClass =
      json.json.effect === "forbid"
        ? annotations["kind"] === "forbidden_pattern"
          ? "forbidden"
          : "deny"
        : isFlag
          ? "flag"
          : "allow";
    const reason =
      annotations["reason"] ??
      (cls === "allow"
        ? "allow:cedar"
        : cls === "flag"
          ? "flag:cedar"
          : cls === "forbidden"
            ? "forbidden:cedar"
            : "deny:cedar");
    if (!REASON_FORMAT.test(reason)) {
      throw new CompileError([
        `cedar policy ${i}: @reason "${reason}" must be 1-64 characters of a-z 0-9 _ . : -`,
      ]);
    }
    (isFlag ? flags : main)[id] = json.json;
    meta.set(id, { class: cls, reason });
  });
}

/** Compiles validated documents; throws `CompileError` with readable problems. */
export function compilePolicies(
  cedar: Cedar,
  rules: RulesDocument,
  grants: GrantsDocument,
): CompiledPolicies {
  const main: Record<string, PolicyJson> = {};
  const flags: Record<string, PolicyJson> = {};
  const meta = new Map<string, PolicyMeta>();
  const headerAttrs = collectHeaders([...rules.rules, ...rules.forbiddenPatterns]);

  // Tenant isolation: a subject acts only inside its own tenant (or everywhere with `*`),
  // and a request names the tenant it is for.
  main["builtin.subject_tenant"] = policy(
    "forbid",
    or([
      eq(attr("principal", "tenant"), value("*")),
      eq(attr("principal", "tenant"), attr("resource", "tenant")),
    ]),
    true,
  );
  meta.set("builtin.subject_tenant", { class: "deny", reason: REASON_CROSS_TENANT });
  main["builtin.request_tenant"] = policy(
    "forbid",
    eq(attr("context", "tenant"), attr("resource", "tenant")),
    true,
  );
  meta.set("builtin.request_tenant", { class: "deny", reason: REASON_CROSS_TENANT });

  for (const rule of rules.rules) {
    const body = and([
      actionsExpr(rule.actions),
      resourcesExpr(rule.resources),
      principalExpr(rule),
      matchExpr(rule.match),
    ]);
    const id = `rule.${rule.id}`;
    if (rule.effect === "flag") {
      flags[id] = policy("permit", body);
      meta.set(id, { class: "flag", reason: rule.reason ?? defaultReason("flag", rule.id) });
    } else {
      main[id] = policy(rule.effect === "allow" ? "permit" : "forbid", body);
      meta.set(id, {
        class: rule.effect === "allow" ? "allow" : "deny",
        reason: rule.reason ?? defaultReason(rule.effect, rule.id),
      });
    }
  }
  for (const item of rules.forbiddenPatterns) {
    const id = `forbidden.${item.id}`;
    main[id] = policy(
      "forbid",
      and([actionsExpr(item.actions), resourcesExpr(item.resources), matchExpr(item.match)]),
    );
    meta.set(id, { class: "forbidden", reason: item.reason ?? defaultReason("forbidden", item.id) });
  }
  for (const role of Object.keys(grants.roles).sort()) {
    grants.roles[role]!.forEach((grant, i) => {
      const id = `grant.${role}.${i}`;
      main[id] = policy(
        "permit",
        and([principalExpr({ roles: [role] }), actionsExpr(grant.actions), resourcesExpr(grant.resources)]),
      );
      meta.set(id, { class: "allow", reason: defaultReason("rbac", role) });
    });
  }
  if (rules.cedar !== undefined && rules.cedar.trim() !== "")
    compileRawCedar(cedar, rules.cedar, main, flags, meta);

  const schema = buildSchema(headerAttrs.values());
  for (const set of [main, flags]) {
    if (Object.keys(set).length === 0) continue;
    const answer = cedar.validate({
      schema,
      policies: { staticPolicies: set },
      validationSettings: { mode: "strict" },
    });
    if (answer.type === "failure") throw new CompileError(answer.errors.map((e) => `cedar: ${e.message}`));
    if (answer.validationErrors.length > 0) {
      throw new CompileError(answer.validationErrors.map((e) => `${e.policyId}: ${e.error.message}`));
    }
  }
  return { schema, main, flags, meta, headerAttrs };
}
