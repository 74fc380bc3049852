import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { AuditLog } from "./audit-log.ts";
import { defaultPolicyEngine, setDefaultPolicyEngine } from "./policy-default.ts";
import { PolicyEngine } from "./policy-engine.ts";

const saved = process.env["BALLAST_HOME"];
afterEach(() => {
  setDefaultPolicyEngine(undefined);
  if (saved === undefined) delete process.env["BALLAST_HOME"];
  else process.env["BALLAST_HOME"] = saved;
});

describe("the process-wide policy engine", () => {
  it("reads policy.json and rbac.json from BALLAST_HOME and audits to its database", () => {
    const home = mkdtempSync(join(tmpdir(), "ballast-default-policy-"));
    try {
      writeFileSync(join(home, "policy.json"), JSON.stringify({ schemaVersion: 1, version: "home-1" }));
      writeFileSync(join(home, "rbac.json"), JSON.stringify({ schemaVersion: 1, version: "g", roles: {} }));
      process.env["BALLAST_HOME"] = home;
      const engine = defaultPolicyEngine();
      expect(defaultPolicyEngine()).toBe(engine);
      expect(engine.policyVersion).toBe("home-1");
      engine.evaluate({ subject: { id: "x", tenant: "acme" }, action: "runs.read", resource: "acme:runs/1" });
      const log = AuditLog.open({ home, env: {} });
      expect(log.list().map((r) => r.kind)).toEqual(["policy.loaded", "security.deny"]);
      log.close();
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });

  it("denies everything without configuration, and can be replaced", () => {
    delete process.env["BALLAST_HOME"];
    expect(
      defaultPolicyEngine().evaluate({ subject: { id: "x", tenant: "a" }, action: "a", resource: "a:b" })
        .reasons,
    ).toEqual(["rules_invalid"]);
    const mine = new PolicyEngine({});
    setDefaultPolicyEngine(mine);
    expect(defaultPolicyEngine()).toBe(mine);
  });
});
