import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { BallastError } from "../errors.ts";
import type { AuditEventInput } from "./audit-types.ts";
import { PolicyEngine, type PolicyRequest } from "./policy-engine.ts";

const GRANTS = {
  schemaVersion: 1,
  version: "g1",
  roles: {
    operator: [{ actions: ["command.exec", "runs.*"], resources: ["acme:*"] }],
    reader: [{ actions: ["runs.read"], resources: ["*:runs/*"] }],
    admin: [{ actions: ["*"], resources: ["*"] }],
  },
  subjects: { alice: { tenant: "acme", roles: ["operator"] }, root: { tenant: "*", roles: ["admin"] } },
};

const RULES = {
  schemaVersion: 1,
  version: "2025-10-29.1",
  rules: [
    { id: "health", effect: "allow", actions: ["http.get"], resources: ["*:health"] },
    {
      id: "freeze",
      effect: "deny",
      actions: ["runs.write"],
      resources: ["*:prod/*"],
      reason: "deny:prod_frozen",
    },
    { id: "web-tools", effect: "flag", actions: ["tool.call"], match: { tool: "http.*" } },
    { id: "curl", effect: "flag", actions: ["http.*"], match: { "header:User-Agent": "curl/*" } },
  ],
  forbiddenPatterns: [
    { id: "rm-root", match: { command: ["*rm -rf /*", "*mkfs*"] } },
    {
      id: "prod-delete",
      match: { method: "DELETE" },
      resources: ["*:prod/*"],
      reason: "forbidden:prod_delete",
    },
  ],
};

function engine(overrides: { rules?: unknown; grants?: unknown } = {}, audit?: AuditEventInput[]) {
  return new PolicyEngine({
    rules: "rules" in overrides ? overrides.rules : RULES,
    grants: "grants" in overrides ? overrides.grants : GRANTS,
    ...(audit === undefined ? {} : { audit: { append: (e: AuditEventInput) => audit.push(e) } }),
  });
}

const alice = { id: "alice" };
const exec = (command: string, resource = "acme:command/sh"): PolicyRequest => ({
  subject: alice,
  action: "command.exec",
  resource,
  context: { command },
});

describe("decisions", () => {
  const e = engine();

  it("allows a granted action and names the role and the policy version", () => {
    expect(e.evaluate(exec("ls -la"))).toEqual({
      decision: "allow",
      allowed: true,
      reasons: ["rbac:operator"],
      policyVersion: "2025-10-29.1",
      grantsVersion: "g1",
    });
  });

  it("denies by default", () => {
    expect(e.evaluate({ subject: alice, action: "tool.call", resource: "acme:tools/x" })).toMatchObject({
      decision: "deny",
      allowed: false,
      reasons: ["deny:default"],
    });
  });

  it("denies a forbidden pattern even when a grant allows", () => {
    expect(e.evaluate(exec("sudo rm -rf / --no-preserve-root")).reasons).toEqual(["forbidden:rm-root"]);
    expect(e.evaluate(exec("mkfs.ext4 /dev/sda")).decision).toBe("deny");
  });

  it("puts an explicit deny before a forbidden pattern", () => {
    const request: PolicyRequest = {
      subject: { id: "root" },
      action: "runs.write",
      resource: "acme:prod/db",
      context: { method: "delete" },
    };
    expect(e.evaluate(request)).toMatchObject({ decision: "deny", reasons: ["deny:prod_frozen"] });
    expect(e.evaluate({ ...request, action: "runs.update" }).reasons).toEqual(["forbidden:prod_delete"]);
    expect(e.evaluate({ ...request, action: "runs.update", context: { method: "GET" } }).reasons).toEqual([
      "rbac:admin",
    ]);
  });

  it("allows through an allow rule without any grant", () => {
    expect(
      e.evaluate({ subject: { id: "anon", tenant: "acme" }, action: "http.get", resource: "acme:health" }),
    ).toMatchObject({ decision: "allow", reasons: ["allow:health"] });
  });

  it("flags an allowed request that a flag rule matches, with header names matched case-insensitively", () => {
    const request: PolicyRequest = {
      subject: { id: "anon", tenant: "acme" },
      action: "http.get",
      resource: "acme:health",
      context: { headers: { "USER-AGENT": "curl/8.1" } },
    };
    expect(e.evaluate(request)).toMatchObject({ decision: "flag", allowed: true, reasons: ["flag:curl"] });
    expect(e.evaluate({ ...request, context: { headers: { "user-agent": ["curl/8", "x"] } } }).decision).toBe(
      "flag",
    );
    expect(e.evaluate({ ...request, context: { headers: { "User-Agent": "firefox" } } }).decision).toBe(
      "allow",
    );
    // A flag never grants.
    expect(
      e.evaluate({ subject: alice, action: "tool.call", resource: "acme:t", context: { tool: "http.fetch" } })
        .decision,
    ).toBe("deny");
  });

  it("gives the same answer for the same request, with sorted, de-duplicated reasons", () => {
    const twoDenies = engine({
      rules: {
        ...RULES,
        rules: [
          { id: "b", effect: "deny", actions: ["command.exec"], reason: "deny:zz" },
          { id: "a", effect: "deny", actions: ["command.*"], reason: "deny:aa" },
          { id: "c", effect: "deny", actions: ["*"], reason: "deny:aa" },
        ],
      },
    });
    const first = twoDenies.evaluate(exec("ls"));
    expect(first.reasons).toEqual(["deny:aa", "deny:zz"]);
    for (let i = 0; i < 5; i++) expect(twoDenies.evaluate(exec("ls"))).toEqual(first);
  });
});

describe("tenant scoping", () => {
  const e = engine();

  it("denies a request for another tenant with a deny:resource reason", () => {
    const d = e.evaluate(exec("ls", "globex:command/sh"));
    expect(d.decision).toBe("deny");
    expect(d.reasons).toEqual(["deny:resource_cross_tenant"]);
    // Even a grant that matches every tenant stays inside the subject's own tenant.
    expect(
      e.evaluate({
        subject: { id: "bob", tenant: "acme", roles: ["reader"] },
        action: "runs.read",
        resource: "globex:runs/1",
      }).reasons,
    ).toEqual(["deny:resource_cross_tenant"]);
    expect(
      e.evaluate({
        subject: { id: "bob", tenant: "acme", roles: ["reader"] },
        action: "runs.read",
        resource: "acme:runs/1",
      }).decision,
    ).toBe("allow");
  });

  it("denies when the request's tenant differs from the resource's", () => {
    expect(e.evaluate({ ...exec("ls"), tenant: "globex" }).reasons).toEqual(["deny:resource_cross_tenant"]);
    expect(e.evaluate({ ...exec("ls"), tenant: "acme" }).decision).toBe("allow");
  });

  it("lets a `*` subject act in every tenant", () => {
    expect(
      e.evaluate({ subject: { id: "root" }, action: "runs.read", resource: "globex:runs/9" }).decision,
    ).toBe("allow");
  });

  it("uses the grants' tenant for a known subject, whatever the request claims", () => {
    expect(
      e.evaluate({
        subject: { id: "alice", tenant: "globex" },
        action: "command.exec",
        resource: "globex:command/sh",
      }).reasons,
    ).toEqual(["deny:resource_cross_tenant"]);
  });

  it.each([
    ["empty tenant", ":runs/1", "deny:resource_malformed"],
    ["no colon", "runs", "deny:resource_malformed"],
    ["empty resource", "acme:", "deny:resource_malformed"],
    ["wildcard in a request", "acme:runs/*", "deny:resource_malformed"],
    ["bad tenant characters", "ac me:runs/1", "deny:resource_malformed"],
    ["whitespace in the resource", "acme:runs/ 1", "deny:resource_malformed"],
  ])("denies a malformed resource (%s)", (_name, resource, reason) => {
    expect(e.evaluate({ subject: { id: "root" }, action: "runs.read", resource }).reasons).toEqual([reason]);
  });

  it("denies an empty requested tenant, an unknown subject without a tenant and malformed actions", () => {
    expect(e.evaluate({ ...exec("ls"), tenant: "" }).reasons).toEqual(["deny:resource_tenant_missing"]);
    expect(e.evaluate({ ...exec("ls"), tenant: "bad tenant" }).reasons).toEqual(["deny:resource_malformed"]);
    expect(
      e.evaluate({ subject: { id: "ghost" }, action: "runs.read", resource: "acme:runs/1" }).reasons,
    ).toEqual(["deny:subject_malformed"]);
    expect(e.evaluate({ subject: { id: "" }, action: "runs.read", resource: "acme:runs/1" }).reasons).toEqual(
      ["deny:subject_malformed"],
    );
    expect(e.evaluate({ subject: alice, action: "runs read", resource: "acme:runs/1" }).reasons).toEqual([
      "deny:action_malformed",
    ]);
  });

  it("unions overlapping wildcard grants and keeps prefixes exact", () => {
    const e2 = engine({
      grants: {
        schemaVersion: 1,
        version: "g2",
        roles: {
          a: [{ actions: ["runs.*"], resources: ["acme:runs/*"] }],
          b: [{ actions: ["runs.read"], resources: ["acme:runs/abc*"] }],
        },
      },
    });
    const who = { id: "u", tenant: "acme", roles: ["a", "b"] };
    expect(e2.evaluate({ subject: who, action: "runs.read", resource: "acme:runs/abc1" }).reasons).toEqual([
      "rbac:a",
      "rbac:b",
    ]);
    expect(e2.evaluate({ subject: who, action: "runs.read", resource: "acme:runs/x" }).reasons).toEqual([
      "rbac:a",
    ]);
    expect(e2.evaluate({ subject: who, action: "runsXread", resource: "acme:runs/x" }).reasons).toEqual([
      "deny:default",
    ]);
    expect(e2.evaluate({ subject: who, action: "runs.read", resource: "acme:runsx" }).reasons).toEqual([
      "deny:default",
    ]);
    expect(
      e2.evaluate({ subject: { ...who, roles: ["b"] }, action: "runs.write", resource: "acme:runs/abc" })
        .reasons,
    ).toEqual(["deny:default"]);
  });
});

describe("fail-closed configuration", () => {
  const request = exec("ls");

  it.each([
    ["missing rules", { rules: undefined }, "rules_invalid"],
    ["rules that are not JSON", { rules: "{nope" }, "rules_invalid"],
    ["rules with an unknown field", { rules: { ...RULES, extra: true } }, "rules_invalid"],
    [
      "rules with a bad pattern",
      { rules: { ...RULES, rules: [{ id: "x", effect: "allow", actions: ["ru*ns"] }] } },
      "rules_invalid",
    ],
    ["duplicate rule ids", { rules: { ...RULES, rules: [RULES.rules[0], RULES.rules[0]] } }, "rules_invalid"],
    ["rules of another schema version", { rules: { ...RULES, schemaVersion: 2 } }, "schema_version_mismatch"],
    ["rules without a schema version", { rules: { version: "x", rules: [] } }, "schema_version_mismatch"],
    ["missing grants", { grants: undefined }, "rbac_grants_invalid"],
    ["grants that are not JSON", { grants: "[" }, "rbac_grants_invalid"],
    ["grants with wrong types", { grants: { ...GRANTS, roles: { a: "all" } } }, "rbac_grants_invalid"],
    ["grants with an unknown field", { grants: { ...GRANTS, admins: [] } }, "rbac_grants_invalid"],
    [
      "grants of another schema version",
      { grants: { ...GRANTS, schemaVersion: 3 } },
      "schema_version_mismatch",
    ],
    ["Cedar that does not parse", { rules: { ...RULES, cedar: "permit(principal" } }, "rules_invalid"],
    [
      "Cedar that fails the schema",
      { rules: { ...RULES, cedar: "permit(principal, action, resource) when { context.nope };" } },
      "rules_invalid",
    ],
    [
      "Cedar with a bad reason",
      { rules: { ...RULES, cedar: '@reason("Has Spaces") forbid(principal, action, resource);' } },
      "rules_invalid",
    ],
  ])("denies everything on %s", (_name, overrides, reason) => {
    const audit: AuditEventInput[] = [];
    const e = engine(overrides, audit);
    const d = e.evaluate(request);
    expect(d).toMatchObject({ decision: "deny", allowed: false, reasons: [reason] });
    expect(audit.map((a) => a.kind)).toEqual(["policy.load_failed", "security.deny"]);
  });

  it("reports the problems of a failed load", () => {
    const e = engine();
    const result = e.load({ rules: { ...RULES, rules: [{ id: "x", effect: "maybe" }] }, grants: GRANTS });
    expect(result.ok).toBe(false);
    expect(result.reason).toBe("rules_invalid");
    expect(result.problems.join("\n")).toMatch(/rules\.0\.effect/);
    expect(e.evaluate(request).reasons).toEqual(["rules_invalid"]);
  });

  it("fails open only with the explicit development switch, and audits every such decision", () => {
    const audit: AuditEventInput[] = [];
    const e = new PolicyEngine({ failOpen: true, grants: GRANTS, audit: { append: (ev) => audit.push(ev) } });
    expect(e.failOpen).toBe(true);
    expect(e.evaluate(request)).toMatchObject({
      decision: "flag",
      allowed: true,
      reasons: ["fail_open", "rules_invalid"],
    });
    expect(audit.map((a) => a.kind)).toEqual([
      "policy.load_failed",
      "policy.fail_open_enabled",
      "policy.fail_open",
    ]);
    // With valid rules the switch changes nothing.
    e.load({ rules: RULES, grants: GRANTS });
    expect(e.evaluate(exec("rm -rf /")).decision).toBe("deny");
  });

  it("rejects a bad audit sample percentage", () => {
    let caught: unknown;
    try {
      new PolicyEngine({ auditAllowSamplePct: 101 });
    } catch (error) {
      caught = error;
    }
    expect(BallastError.hasCode(caught, "audit_sample_pct_invalid")).toBe(true);
  });
});

describe("raw Cedar policies", () => {
  it("takes @reason, @kind and @effect annotations", () => {
    const e = engine({
      rules: {
        schemaVersion: 1,
        version: "c1",
        cedar: `
          @id("weekend") @reason("deny:no_deletes") forbid(principal, action, resource) when { context.method == "DELETE" };
          @reason("forbidden:curl") @kind("forbidden_pattern") forbid(principal, action, resource) when { context.command like "*curl*" };
          @effect("flag") @reason("flag:big") permit(principal, action, resource) when { context.path like "/big/*" };
          permit(principal in Ballast::Role::"operator", action, resource) when { context.action == "extra.op" };
        `,
      },
    });
    expect(e.evaluate({ ...exec("ls"), context: { method: "delete", command: "curl x" } }).reasons).toEqual([
      "deny:no_deletes",
    ]);
    expect(e.evaluate(exec("curl http://x")).reasons).toEqual(["forbidden:curl"]);
    expect(e.evaluate({ ...exec("ls"), context: { path: "/big/file" } })).toMatchObject({
      decision: "flag",
      reasons: ["flag:big"],
    });
    expect(e.evaluate({ subject: alice, action: "extra.op", resource: "acme:x" }).reasons).toEqual([
      "allow:cedar",
    ]);
  });

  it("rejects templates and duplicate ids", () => {
    expect(
      engine({ rules: { ...RULES, cedar: "permit(principal == ?principal, action, resource);" } }).evaluate(
        exec("ls"),
      ).reasons,
    ).toEqual(["rules_invalid"]);
    const dup = '@id("a") forbid(principal, action, resource); @id("a") forbid(principal, action, resource);';
    expect(
      engine({ rules: { ...RULES, cedar: dup } })
        .load({ rules: { ...RULES, cedar: dup }, grants: GRANTS })
        .problems.join(),
    ).toMatch(/duplicate/);
  });
});

describe("hot reload", () => {
  it("swaps atomically; a pinned request keeps its version and events carry policy.version", async () => {
    const audit: AuditEventInput[] = [];
    const e = engine({}, audit);
    const v2 = { ...RULES, version: "v2", forbiddenPatterns: [{ id: "no-ls", match: { command: "ls*" } }] };
    const inFlight = Array.from({ length: 20 }, async (_, i) => {
      const pinned = e.pin();
      await new Promise((resolve) => setTimeout(resolve, i % 3));
      const first = pinned.evaluate(exec("ls"));
      await new Promise((resolve) => setImmediate(resolve));
      const second = pinned.evaluate(exec("ls"));
      return [pinned.policyVersion, first, second] as const;
    });
    const reload = new Promise<void>((resolve) =>
      setTimeout(() => {
        expect(e.load({ rules: v2, grants: GRANTS }).ok).toBe(true);
        resolve();
      }, 1),
    );
    const results = await Promise.all([...inFlight, reload.then(() => null)]);
    for (const result of results) {
      if (result === null) continue;
      const [version, first, second] = result;
      expect(first.policyVersion).toBe(version);
      expect(second).toEqual(first);
      expect(first.decision).toBe(version === "v2" ? "deny" : "allow");
    }
    expect(e.policyVersion).toBe("v2");
    expect(e.evaluate(exec("ls")).reasons).toEqual(["forbidden:no-ls"]);
    const versions = audit
      .filter((a) => a.kind === "security.deny" || a.kind === "policy.decision")
      .map((a) => a.data?.["policyVersion"]);
    expect(versions.length).toBeGreaterThan(0);
    expect(versions.every((v) => v === "2025-10-29.1" || v === "v2")).toBe(true);
  });
});

describe("audit of decisions", () => {
  it("records denials with subject, action, resource, tenant, reason and traceId, and never a token", () => {
    const audit: AuditEventInput[] = [];
    const e = engine({}, audit);
    e.evaluate({
      ...exec("rm -rf /", "globex:x"),
      traceId: "t-1",
      transport: "http",
      context: { headers: { authorization: "Bearer abcdefghijkl" } },
    });
    const deny = audit.find((a) => a.kind === "security.deny");
    expect(deny).toEqual({
      kind: "security.deny",
      subject: "alice",
      action: "command.exec",
      resource: "globex:x",
      tenant: "globex",
      reason: "deny:resource_cross_tenant",
      traceId: "t-1",
      data: {
        decision: "deny",
        reasons: ["deny:resource_cross_tenant"],
        policyVersion: "2025-10-29.1",
        grantsVersion: "g1",
        transport: "http",
      },
    });
    expect(JSON.stringify(audit)).not.toContain("abcdefghijkl");
  });

  it("samples allow decisions deterministically", () => {
    const count = (pct: number) => {
      const audit: AuditEventInput[] = [];
      const e = new PolicyEngine({
        rules: RULES,
        grants: GRANTS,
        auditAllowSamplePct: pct,
        audit: { append: (ev) => audit.push(ev) },
      });
      for (let i = 0; i < 200; i++) e.evaluate({ ...exec("ls"), traceId: `t${i}` });
      return audit.filter((a) => a.kind === "policy.decision").length;
    };
    expect(count(0)).toBe(0);
    expect(count(100)).toBe(200);
    const half = count(50);
    expect(half).toBeGreaterThan(50);
    expect(half).toBeLessThan(150);
    expect(count(50)).toBe(half);
  });
});

describe("configuration from the environment", () => {
  it("reads inline JSON, files, and the home's policy.json / rbac.json", () => {
    const dir = mkdtempSync(join(tmpdir(), "ballast-policy-"));
    writeFileSync(join(dir, "policy.json"), JSON.stringify(RULES));
    writeFileSync(join(dir, "rbac.json"), JSON.stringify(GRANTS));
    expect(PolicyEngine.fromEnv({ env: {}, home: dir }).evaluate(exec("ls")).decision).toBe("allow");
    expect(
      PolicyEngine.fromEnv({
        env: {
          BALLAST_POLICY_FILE: join(dir, "policy.json"),
          BALLAST_RBAC_GRANTS: JSON.stringify(GRANTS),
          BALLAST_AUDIT_ALLOW_SAMPLE_PCT: "10",
        },
      }).policyVersion,
    ).toBe("2025-10-29.1");
    expect(
      PolicyEngine.fromEnv({ env: { BALLAST_POLICY_FILE: join(dir, "missing.json") } }).evaluate(exec("ls"))
        .reasons,
    ).toEqual(["rules_invalid"]);
    const open = PolicyEngine.fromEnv({ env: { BALLAST_POLICY_FAIL_OPEN: "1" } });
    expect(open.evaluate(exec("ls")).decision).toBe("flag");
    expect(PolicyEngine.fromEnv({ env: {} }).evaluate(exec("ls")).decision).toBe("deny");
  });
});

describe("properties", () => {
  const e = engine();
  const name = fc.stringMatching(/^[a-z]{1,6}(\.[a-z*]{1,6})?$/);
  const tenant = fc.constantFrom("acme", "globex", "", "ac me", "*");
  const path = fc.stringMatching(/^[a-z/*]{0,8}$/);
  const request = fc.record({
    subject: fc.record({
      id: fc.constantFrom("alice", "root", "bob", ""),
      tenant: fc.option(tenant, { nil: undefined }),
      roles: fc.array(fc.constantFrom("operator", "reader", "admin", "ghost")),
    }),
    action: name,
    resource: fc.tuple(tenant, path).map(([t, p]) => `${t}:${p}`),
    context: fc.record({
      command: fc.string(),
      method: fc.constantFrom("GET", "delete", ""),
      tool: fc.string(),
    }),
  });

  it("is deterministic, never throws, and always returns sorted unique reasons with the version", () => {
    fc.assert(
      fc.property(request, (req) => {
        const a = e.evaluate(req as PolicyRequest);
        const b = e.evaluate(structuredClone(req) as PolicyRequest);
        expect(b).toEqual(a);
        expect(a.reasons.length).toBeGreaterThan(0);
        expect([...new Set(a.reasons)].sort()).toEqual(a.reasons);
        expect(a.policyVersion).toBe("2025-10-29.1");
        expect(a.allowed).toBe(a.decision !== "deny");
        for (const reason of a.reasons) expect(reason).toMatch(/^[a-z][a-z0-9_.:-]{0,63}$/);
      }),
      { numRuns: 300 },
    );
  });

  it("never allows a command that a forbidden pattern matches, whatever the grants", () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), (before, after) => {
        const d = e.evaluate({
          subject: { id: "root" },
          action: "command.exec",
          resource: "acme:c",
          context: { command: `${before}rm -rf /${after}` },
        });
        expect(d.decision).toBe("deny");
      }),
      { numRuns: 200 },
    );
  });
});

describe("Cedar agrees with a plain reading of the grants", () => {
  it("allows exactly what some grant of the subject's roles matches inside its tenant (property)", async () => {
    const { parseNamePattern, parseResource, parseResourcePattern, matchesPrefix, matchesResource } =
      await import("./resource.ts");
    const part = fc.constantFrom("a", "ab", "b", "runs/1", "runs/12", "");
    const pattern = fc
      .tuple(fc.constantFrom("acme", "globex", "*", "ac*"), part, fc.boolean())
      .map(([t, p, star]) => (t === "*" && p === "" ? "*" : `${t}:${p}${star || p === "" ? "*" : ""}`));
    const actionPattern = fc
      .tuple(fc.constantFrom("runs.", "runs.read", "tools.", ""), fc.boolean())
      .map(([a, star]) => (a === "" ? "*" : `${a}${star || a.endsWith(".") ? "*" : ""}`));
    const grant = fc.record({
      actions: fc.array(actionPattern, { minLength: 1, maxLength: 2 }),
      resources: fc.array(pattern, { minLength: 1, maxLength: 2 }),
    });
    fc.assert(
      fc.property(
        fc.dictionary(fc.constantFrom("r1", "r2", "r3"), fc.array(grant, { maxLength: 2 })),
        fc.subarray(["r1", "r2", "r3"]),
        fc.constantFrom("acme", "globex", "*"),
        fc.constantFrom("runs.read", "runs.write", "tools.call", "other"),
        fc
          .tuple(fc.constantFrom("acme", "globex"), fc.constantFrom("a", "ab", "runs/1", "runs/123", "b"))
          .map(([t, p]) => `${t}:${p}`),
        (roles, subjectRoles, tenant, action, resource) => {
          const e = new PolicyEngine({
            rules: { schemaVersion: 1, version: "p" },
            grants: { schemaVersion: 1, version: "g", roles },
          });
          const d = e.evaluate({ subject: { id: "s", tenant, roles: subjectRoles }, action, resource });
          const ref = parseResource(resource)!;
          const sameTenant = tenant === "*" || tenant === ref.tenant;
          const granted = subjectRoles.some((role) =>
            (roles[role] ?? []).some(
              (g) =>
                g.actions.some((a) => matchesPrefix(parseNamePattern(a)!, action)) &&
                g.resources.some((r) => matchesResource(parseResourcePattern(r)!, ref)),
            ),
          );
          expect(d.decision).toBe(sameTenant && granted ? "allow" : "deny");
          if (!sameTenant) expect(d.reasons).toEqual(["deny:resource_cross_tenant"]);
        },
      ),
      { numRuns: 150 },
    );
  });
});
