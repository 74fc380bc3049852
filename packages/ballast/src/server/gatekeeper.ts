import type { AuditSink } from "../guard/audit-types.ts";
import type { PolicyEngine } from "../guard/policy-engine.ts";
import { isValidTenant } from "../guard/resource.ts";
import { ServerError } from "./errors.ts";
import { serverMetrics } from "./metrics.ts";
import {
  DEFAULT_TENANT,
  LOCAL_PRINCIPAL,
  type Principal,
  presentedToken,
  type TokenStore,
} from "./tokens.ts";

/**
 * Authentication and authorisation for every transport, in one place so REST, gRPC, the
 * proxy and MCP decide alike (seed 002 PE-3, SP-5). Without tokens the server trusts its
 * caller (it only ever listens on loopback then) and skips RBAC; with tokens, a missing or
 * unknown token is 401 and every request is put to the guard's policy engine, whose denials
 * are 403. Decisions depend only on who asks, the action, the resource and the tenant, never
 * on the transport's method or path, so REST and gRPC decide identically. Every denial is a `security.deny` audit record: the policy engine writes those
 * for 403s, this class for 401s. Tokens never reach the audit log or the logs.
 */

export interface AccessRequest {
  /** `runs.read`, `runs.write`, `context.search`, ... */
  action: string;
  /** The resource path inside the tenant: `runs`, `runs/<id>`, `context`, ... */
  path: string;
  /** The tenant owning the resource, when it is an existing object (a run). */
  ownerTenant?: string | undefined;
  transport: string;
  traceId: string;
}

export interface GatekeeperOptions {
  tokens: TokenStore;
  /** Required when tokens are configured. */
  policy?: PolicyEngine;
  /** Where 401s are recorded (the policy engine records 403s in its own sink). */
  audit?: AuditSink;
  /** How long an `allow` decision is reused for identical requests (default 1000 ms; 0 off). */
  decisionCacheMs?: number;
}

type HeaderFn = (name: string) => string | undefined;

const CACHE_LIMIT = 10_000;

export class Gatekeeper {
  readonly #tokens: TokenStore;
  readonly #policy: PolicyEngine | undefined;
  readonly #audit: AuditSink | undefined;
  readonly #cacheMs: number;
  // Cedar evaluations cost ~150 µs; repeated identical allows are served from here. Denials
  // are never cached, so each one is evaluated and audited.
  readonly #allowed = new Map<string, number>();

  constructor(options: GatekeeperOptions) {
    this.#tokens = options.tokens;
    this.#policy = options.policy;
    this.#audit = options.audit;
    this.#cacheMs = options.decisionCacheMs ?? 1000;
  }

  /** Whether tokens are configured (and so RBAC applies). */
  get enabled(): boolean {
    return this.#tokens.size > 0;
  }

  /** Forgets cached decisions (after a policy reload). */
  clearCache(): void {
    this.#allowed.clear();
  }

  /** The caller, or a 401 (audited). */
  authenticate(header: HeaderFn, request: AccessRequest): Principal {
    if (!this.enabled) return LOCAL_PRINCIPAL;
    const token = presentedToken(header);
    if (token === undefined || token === null) {
      return this.#unauthorized(
        header,
        request,
        token === null ? "conflicting" : "missing",
        token === null
          ? "Authorization and X-API-Token carry different tokens; send one token."
          : "This server requires a token: send `Authorization: Bearer <token>` or `X-API-Token: <token>`.",
      );
    }
    const principal = this.#tokens.lookup(token);
    if (principal === undefined) {
      return this.#unauthorized(
        header,
        request,
        "invalid",
        "The token is not valid for this server; check it, or ask its operator for a new one.",
      );
    }
    return principal;
  }

  /**
   * The tenant a request is for: `x-tenant`, else the caller's own tenant. Undefined for an
   * operator (`*`) or a local caller that names none, meaning every tenant.
   */
  requestTenant(principal: Principal, header: HeaderFn): string | undefined {
    const named = header("x-tenant")?.trim();
    if (named !== undefined && named !== "") return named;
    return principal.tenant === "*" ? undefined : principal.tenant;
  }

  /** Returns when `principal` may do `request` for `tenant`; throws a 403 otherwise. */
  authorize(principal: Principal, tenant: string | undefined, request: AccessRequest): void {
    if (!this.enabled || principal.anonymous) return;
    const policy = this.#policy;
    if (policy === undefined) {
      throw new ServerError(
        "internal",
        "Tokens are configured but no policy engine was given to the server.",
      );
    }
    const resourceTenant = request.ownerTenant ?? tenant ?? DEFAULT_TENANT;
    const requestTenant = tenant ?? resourceTenant;
    const resource = `${resourceTenant}:${request.path}`;
    const key = `${policy.policyVersion}\u0000${principal.tokenId}\u0000${request.action}\u0000${resource}\u0000${requestTenant}`;
    const now = Date.now();
    const until = this.#allowed.get(key);
    if (until !== undefined && until > now) return;
    const decision = policy.evaluate({
      subject: { id: principal.id, tenant: principal.tenant, roles: principal.roles },
      action: request.action,
      resource,
      tenant: requestTenant,
      traceId: request.traceId,
      transport: request.transport,
    });
    if (!decision.allowed) {
      serverMetrics.denials.inc({ transport: request.transport, reason: "forbidden" });
      throw new ServerError(
        "forbidden",
        `Token "${principal.tokenId}" may not ${request.action} on ${resource} (${decision.reasons.join(", ")}); ask the operator for a grant.`,
      );
    }
    if (this.#cacheMs > 0) {
      if (this.#allowed.size >= CACHE_LIMIT) this.#allowed.clear();
      this.#allowed.set(key, now + this.#cacheMs);
    }
  }

  #unauthorized(header: HeaderFn, request: AccessRequest, detail: string, message: string): never {
    serverMetrics.denials.inc({ transport: request.transport, reason: "unauthorized" });
    const named = header("x-tenant")?.trim() ?? "";
    // The header is the caller's text: record it only when it is a well-formed tenant name.
    const tenant = named === "" ? DEFAULT_TENANT : isValidTenant(named) ? named : "invalid";
    this.#audit?.append({
      kind: "security.deny",
      subject: "anonymous",
      action: request.action,
      resource: `${tenant}:${request.path}`,
      tenant,
      reason: "unauthorized",
      traceId: request.traceId,
      data: { transport: request.transport, failure: detail },
    });
    throw new ServerError("unauthorized", message);
  }
}
