import { readFileSync } from "node:fs";
import { join } from "node:path";
import { sha256Hex } from "../canonical.ts";
import { ValidationError } from "../errors.ts";
import type { AuditEventInput, AuditSink } from "./audit-types.ts";
import { type Cedar, type EntityJson, loadCedar } from "./cedar.ts";
import {
  ACTION_ID,
  ACTION_TYPE,
  type CompiledPolicies,
  CompileError,
  compilePolicies,
  type PolicyMeta,
  RESOURCE_TYPE,
  ROLE_TYPE,
  SUBJECT_TYPE,
} from "./policy-compile.ts";
import {
  type DocumentProblem,
  type GrantsDocument,
  parseGrantsDocument,
  parseRulesDocument,
} from "./policy-schema.ts";
import { isValidName, isValidTenant, parseResource } from "./resource.ts";

/**
 * The fail-closed policy engine. A workflow step, a command, an HTTP route or a tool call
 * asks `evaluate(request)` and gets `allow`, `deny` or `flag` (allowed, but noted), with
 * sorted, de-duplicated reasons drawn only from the loaded documents and the fixed set
 * below, and the version of the rules that decided.
 *
 * Precedence: a configuration problem (`rules_invalid`, `rbac_grants_invalid`,
 * `schema_version_mismatch`) denies everything; then an explicit deny (deny rules, tenant
 * isolation, a forbid that failed to evaluate) beats a forbidden pattern, which beats an
 * allow (an allow rule or an RBAC grant); everything else is denied (`deny:default`).
 * Flag rules are looked at only for allowed requests.
 *
 * Hot reload (`load`) builds a new snapshot and swaps one reference: an evaluation uses the
 * snapshot it started with, and `pin()` lets a request that asks several questions keep one
 * version throughout.
 */

export type Decision = "allow" | "deny" | "flag";

export interface PolicySubject {
  id: string;
  /** The subject's tenant; `*` for platform operators. Grants for a known subject win. */
  tenant?: string;
  roles?: readonly string[];
}

export interface PolicyRequest {
  subject: PolicySubject;
  /** `command.exec`, `http.get`, `tool.call`, `runs.read`, ... */
  action: string;
  /** `tenant:resource`. */
  resource: string;
  /** The tenant the request is made for (e.g. the `x-tenant` header); default: the resource's. */
  tenant?: string;
  context?: {
    command?: string;
    path?: string;
    method?: string;
    tool?: string;
    /** Header names are matched case-insensitively. */
    headers?: Readonly<Record<string, string | readonly string[] | undefined>>;
  };
  /** Correlates the audit record; never used in the decision. */
  traceId?: string;
  /** How the request arrived (`http`, `sandbox`, `tool`, ...), for the audit record. */
  transport?: string;
}

export interface PolicyDecision {
  decision: Decision;
  /** `allow` or `flag`. */
  allowed: boolean;
  /** Sorted, de-duplicated, low-cardinality. */
  reasons: string[];
  /** The rules document's `version` (`none` when no valid rules are loaded). */
  policyVersion: string;
  grantsVersion: string;
}

/** Fixed reasons the engine itself emits (rules add their own, validated at load). */
export const BUILTIN_REASONS = [
  "deny:default",
  "deny:resource_cross_tenant",
  "deny:resource_malformed",
  "deny:resource_tenant_missing",
  "deny:action_malformed",
  "deny:subject_malformed",
  "fail_open",
  "policy_error",
  "rbac_grants_invalid",
  "rules_invalid",
  "schema_version_mismatch",
] as const;

export interface LoadResult {
  ok: boolean;
  policyVersion: string;
  grantsVersion: string;
  /** Set when the load failed: everything is denied with this reason until a good load. */
  reason?: DocumentProblem;
  problems: string[];
}

export interface PolicyEngineOptions {
  /** Rules document (object or JSON text). Missing → everything is denied (`rules_invalid`). */
  rules?: unknown;
  /** Grants document (object or JSON text). Missing → everything is denied (`rbac_grants_invalid`). */
  grants?: unknown;
  /**
   * Development only: when the documents are missing or invalid, allow with a `flag`
   * decision (reasons include `fail_open`) instead of denying. Every such decision is audited.
   */
  failOpen?: boolean;
  /** Where decisions are recorded (an `AuditLog`, or any sink). */
  audit?: AuditSink;
  /**
   * Percentage (0-100) of `allow` decisions that are audited, chosen deterministically by a
   * hash of the request. Denials and flags are always audited. Default 100.
   */
  auditAllowSamplePct?: number;
}

interface Snapshot {
  readonly serial: number;
  readonly policyVersion: string;
  readonly grantsVersion: string;
  readonly invalid?: DocumentProblem;
  readonly compiled?: CompiledPolicies;
  readonly grants?: GrantsDocument;
  readonly setId?: string;
  readonly flagSetId?: string;
  readonly schemaName?: string;
}

export interface PinnedPolicy {
  readonly policyVersion: string;
  evaluate(request: PolicyRequest): PolicyDecision;
}

let serials = 0;

function sortedUnique(items: Iterable<string>): string[] {
  return [...new Set(items)].sort();
}

function headerValue(value: string | readonly string[] | undefined): string {
  if (value === undefined) return "";
  return typeof value === "string" ? value : value.join(", ");
}

export class PolicyEngine {
  #current: Snapshot;
  readonly #failOpen: boolean;
  readonly #audit: AuditSink | undefined;
  readonly #allowSamplePct: number;

  constructor(options: PolicyEngineOptions = {}) {
    this.#failOpen = options.failOpen === true;
    this.#audit = options.audit;
    const pct = options.auditAllowSamplePct ?? 100;
    if (!Number.isFinite(pct) || pct < 0 || pct > 100) {
      throw new ValidationError(
        "audit_sample_pct_invalid",
        `auditAllowSamplePct is ${pct}; give a percentage from 0 to 100 (BALLAST_AUDIT_ALLOW_SAMPLE_PCT).`,
      );
    }
    this.#allowSamplePct = pct;
    this.#current = { serial: 0, policyVersion: "none", grantsVersion: "none", invalid: "rules_invalid" };
    this.load({ rules: options.rules, grants: options.grants });
    if (this.#failOpen) {
      this.#record({
        kind: "policy.fail_open_enabled",
        reason: "fail_open",
        data: { policyVersion: this.#current.policyVersion },
      });
    }
  }

  /**
   * An engine configured from the environment: `BALLAST_POLICY` (JSON) or
   * `BALLAST_POLICY_FILE`, `BALLAST_RBAC_GRANTS` (JSON) or `BALLAST_RBAC_GRANTS_FILE`, else
   * `<home>/policy.json` and `<home>/rbac.json` when `home` is given;
   * `BALLAST_POLICY_FAIL_OPEN=1` for the development switch;
   * `BALLAST_AUDIT_ALLOW_SAMPLE_PCT` for allow sampling.
   */
  static fromEnv(
    options: { env?: Readonly<Record<string, string | undefined>>; home?: string; audit?: AuditSink } = {},
  ): PolicyEngine {
    const env = options.env ?? process.env;
    const sources = readSources(env, options.home);
    const pct = env["BALLAST_AUDIT_ALLOW_SAMPLE_PCT"];
    return new PolicyEngine({
      rules: sources.rules,
      grants: sources.grants,
      failOpen: env["BALLAST_POLICY_FAIL_OPEN"] === "1",
      ...(options.audit === undefined ? {} : { audit: options.audit }),
      ...(pct === undefined || pct === "" ? {} : { auditAllowSamplePct: Number(pct) }),
    });
  }

  get policyVersion(): string {
    return this.#current.policyVersion;
  }

  get failOpen(): boolean {
    return this.#failOpen;
  }

  /**
   * Validates and compiles both documents, then swaps them in atomically. Invalid documents
   * are swapped in too, as a deny-everything snapshot: the engine never keeps serving rules
   * an operator tried to replace, and the result (and the audit log) says why.
   */
  load(documents: { rules?: unknown; grants?: unknown }): LoadResult {
    const serial = ++serials;
    const rules = parseRulesDocument(documents.rules);
    const grants = parseGrantsDocument(documents.grants);
    const policyVersion = rules.ok ? rules.value.version : "none";
    const grantsVersion = grants.ok ? grants.value.version : "none";
    const fail = (reason: DocumentProblem, problems: string[]): LoadResult => {
      this.#current = { serial, policyVersion, grantsVersion, invalid: reason };
      this.#record({
        kind: "policy.load_failed",
        reason,
        data: { policyVersion, grantsVersion, problems: problems.length },
      });
      return { ok: false, policyVersion, grantsVersion, reason, problems };
    };
    if (!rules.ok) return fail(rules.reason, [...rules.problems, ...(grants.ok ? [] : grants.problems)]);
    if (!grants.ok) return fail(grants.reason, grants.problems);
    const cedar = loadCedar();
    let compiled: CompiledPolicies;
    try {
      compiled = compilePolicies(cedar, rules.value, grants.value);
    } catch (error) {
      if (error instanceof CompileError) return fail("rules_invalid", error.problems);
      throw error;
    }
    const setId = `ballast.policy.${serial}`;
    const flagSetId = Object.keys(compiled.flags).length > 0 ? `${setId}.flags` : undefined;
    const schemaName = `${setId}.schema`;
    for (const answer of [
      cedar.preparseSchema(schemaName, compiled.schema),
      cedar.preparsePolicySet(setId, { staticPolicies: compiled.main }),
      ...(flagSetId === undefined
        ? []
        : [cedar.preparsePolicySet(flagSetId, { staticPolicies: compiled.flags })]),
    ]) {
      if (answer.type === "failure")
        return fail(
          "rules_invalid",
          answer.errors.map((e) => `cedar: ${e.message}`),
        );
    }
    this.#current = {
      serial,
      policyVersion,
      grantsVersion,
      compiled,
      grants: grants.value,
      setId,
      schemaName,
      ...(flagSetId === undefined ? {} : { flagSetId }),
    };
    this.#record({ kind: "policy.loaded", data: { policyVersion, grantsVersion } });
    return { ok: true, policyVersion, grantsVersion, problems: [] };
  }

  /** Decides with the rules in force now. */
  evaluate(request: PolicyRequest): PolicyDecision {
    return this.#evaluate(this.#current, request);
  }

  /** A handle that keeps deciding with today's snapshot, whatever is loaded meanwhile. */
  pin(): PinnedPolicy {
    const snapshot = this.#current;
    return {
      policyVersion: snapshot.policyVersion,
      evaluate: (request) => this.#evaluate(snapshot, request),
    };
  }

  #evaluate(snapshot: Snapshot, request: PolicyRequest): PolicyDecision {
    const decision = decide(snapshot, request, this.#failOpen);
    this.#auditDecision(request, decision);
    return decision;
  }

  #auditDecision(request: PolicyRequest, decision: PolicyDecision): void {
    if (this.#audit === undefined) return;
    if (decision.decision === "allow" && !this.#sampled(request)) return;
    const failOpen = decision.reasons.includes("fail_open");
    this.#record({
      kind:
        decision.decision === "deny" ? "security.deny" : failOpen ? "policy.fail_open" : "policy.decision",
      subject: request.subject.id,
      action: request.action,
      resource: request.resource,
      tenant: request.tenant ?? parseResource(request.resource)?.tenant ?? "",
      reason: decision.reasons[0] ?? "",
      ...(request.traceId === undefined ? {} : { traceId: request.traceId }),
      data: {
        decision: decision.decision,
        reasons: decision.reasons,
        policyVersion: decision.policyVersion,
        grantsVersion: decision.grantsVersion,
        ...(request.transport === undefined ? {} : { transport: request.transport }),
      },
    });
  }

  #sampled(request: PolicyRequest): boolean {
    if (this.#allowSamplePct >= 100) return true;
    if (this.#allowSamplePct <= 0) return false;
    const key = `${request.subject.id}\u0000${request.action}\u0000${request.resource}\u0000${request.traceId ?? ""}`;
    return Number.parseInt(sha256Hex(key).slice(0, 8), 16) % 10_000 < this.#allowSamplePct * 100;
  }

  #record(event: AuditEventInput): void {
    this.#audit?.append(event);
  }
}

function readSources(
  env: Readonly<Record<string, string | undefined>>,
  home: string | undefined,
): { rules: unknown; grants: unknown } {
  const read = (path: string): string | undefined => {
    try {
      return readFileSync(path, "utf8");
    } catch {
      return undefined;
    }
  };
  const pick = (inline: string, file: string, homeFile: string): unknown => {
    const text = env[inline];
    if (text !== undefined && text !== "") return text;
    const path = env[file];
    if (path !== undefined && path !== "") return read(path);
    return home === undefined ? undefined : read(join(home, homeFile));
  };
  return {
    rules: pick("BALLAST_POLICY", "BALLAST_POLICY_FILE", "policy.json"),
    grants: pick("BALLAST_RBAC_GRANTS", "BALLAST_RBAC_GRANTS_FILE", "rbac.json"),
  };
}

// ------------------------------------------------------------------ the decision

function verdict(snapshot: Snapshot, decision: Decision, reasons: Iterable<string>): PolicyDecision {
  return {
    decision,
    allowed: decision !== "deny",
    reasons: sortedUnique(reasons),
    policyVersion: snapshot.policyVersion,
    grantsVersion: snapshot.grantsVersion,
  };
}

function decide(snapshot: Snapshot, request: PolicyRequest, failOpen: boolean): PolicyDecision {
  if (snapshot.invalid !== undefined || snapshot.compiled === undefined) {
    const reason = snapshot.invalid ?? "rules_invalid";
    return failOpen ? verdict(snapshot, "flag", [reason, "fail_open"]) : verdict(snapshot, "deny", [reason]);
  }
  const compiled = snapshot.compiled;
  const resource = parseResource(request.resource);
  if (resource === undefined) return verdict(snapshot, "deny", ["deny:resource_malformed"]);
  if (typeof request.action !== "string" || !isValidName(request.action)) {
    return verdict(snapshot, "deny", ["deny:action_malformed"]);
  }
  const subjectId = request.subject?.id;
  if (typeof subjectId !== "string" || subjectId === "" || subjectId.length > 256) {
    return verdict(snapshot, "deny", ["deny:subject_malformed"]);
  }
  const known = snapshot.grants?.subjects[subjectId];
  const subjectTenant = known?.tenant ?? request.subject.tenant ?? "";
  if (subjectTenant !== "*" && !isValidTenant(subjectTenant)) {
    return verdict(snapshot, "deny", ["deny:subject_malformed"]);
  }
  const requestTenant = request.tenant ?? resource.tenant;
  if (requestTenant === "") return verdict(snapshot, "deny", ["deny:resource_tenant_missing"]);
  if (!isValidTenant(requestTenant)) return verdict(snapshot, "deny", ["deny:resource_malformed"]);

  const roles = sortedUnique([...(known?.roles ?? []), ...(request.subject.roles ?? [])]);
  const ctx = request.context ?? {};
  const context: Record<string, string> = {
    action: request.action,
    tenant: requestTenant,
    command: ctx.command ?? "",
    path: ctx.path ?? "",
    method: (ctx.method ?? "").toUpperCase(),
    tool: ctx.tool ?? "",
  };
  const headers = new Map<string, string>();
  for (const [name, v] of Object.entries(ctx.headers ?? {})) headers.set(name.toLowerCase(), headerValue(v));
  for (const [name, attrName] of compiled.headerAttrs) context[attrName] = headers.get(name) ?? "";

  const entities: EntityJson[] = [
    {
      uid: { type: SUBJECT_TYPE, id: subjectId },
      attrs: { tenant: subjectTenant },
      parents: roles.map((r) => ({ type: ROLE_TYPE, id: r })),
    },
    {
      uid: { type: RESOURCE_TYPE, id: resource.raw },
      attrs: { tenant: resource.tenant, path: resource.path },
      parents: [],
    },
  ];
  const cedar = loadCedar();
  const main = authorize(cedar, snapshot, snapshot.setId!, entities, subjectId, resource.raw, context);
  if (main === undefined) return verdict(snapshot, "deny", ["policy_error"]);

  const classOf = (id: string): PolicyMeta | undefined => compiled.meta.get(id);
  // A forbid that failed to evaluate might have applied: fail closed.
  const forbidErrored = main.errors.some((id) => {
    const m = classOf(id);
    return m !== undefined && (m.class === "deny" || m.class === "forbidden");
  });
  if (main.decision === "deny") {
    const satisfied = main.reasons.map(classOf).filter((m): m is PolicyMeta => m !== undefined);
    const denies = satisfied.filter((m) => m.class === "deny").map((m) => m.reason);
    if (forbidErrored) denies.push("policy_error");
    if (denies.length > 0) return verdict(snapshot, "deny", denies);
    const forbidden = satisfied.filter((m) => m.class === "forbidden").map((m) => m.reason);
    if (forbidden.length > 0) return verdict(snapshot, "deny", forbidden);
    return verdict(snapshot, "deny", ["deny:default"]);
  }
  if (forbidErrored) return verdict(snapshot, "deny", ["policy_error"]);
  const allowReasons = main.reasons.map((id) => classOf(id)?.reason ?? "allow:cedar");
  if (snapshot.flagSetId !== undefined) {
    const flags = authorize(cedar, snapshot, snapshot.flagSetId, entities, subjectId, resource.raw, context);
    if (flags === undefined) return verdict(snapshot, "deny", ["policy_error"]);
    if (flags.decision === "allow") {
      return verdict(
        snapshot,
        "flag",
        flags.reasons.map((id) => classOf(id)?.reason ?? "flag:cedar"),
      );
    }
  }
  return verdict(snapshot, "allow", allowReasons);
}

interface CedarOutcome {
  decision: "allow" | "deny";
  reasons: string[];
  errors: string[];
}

function authorize(
  cedar: Cedar,
  snapshot: Snapshot,
  setId: string,
  entities: EntityJson[],
  subjectId: string,
  resourceId: string,
  context: Record<string, string>,
): CedarOutcome | undefined {
  const answer = cedar.statefulIsAuthorized({
    principal: { type: SUBJECT_TYPE, id: subjectId },
    action: { type: ACTION_TYPE, id: ACTION_ID },
    resource: { type: RESOURCE_TYPE, id: resourceId },
    context,
    entities,
    preparsedPolicySetId: setId,
    preparsedSchemaName: snapshot.schemaName!,
    validateRequest: true,
  });
  if (answer.type === "failure") return undefined;
  return {
    decision: answer.response.decision,
    reasons: answer.response.diagnostics.reason,
    errors: answer.response.diagnostics.errors.map((e) => e.policyId),
  };
}
