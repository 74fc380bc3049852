import { homeDatabasePath } from "../home.ts";
import { AuditLog } from "./audit-log.ts";
import { PolicyEngine } from "./policy-engine.ts";

let engine: PolicyEngine | undefined;

/**
 * The process-wide policy engine that commands inside a run ask when no engine is passed:
 * built on first use from the environment (`BALLAST_POLICY*`, `BALLAST_RBAC_GRANTS*`, or
 * `policy.json` / `rbac.json` in `$BALLAST_HOME`), auditing to `$BALLAST_HOME/ballast.db`
 * when `BALLAST_HOME` is set. With nothing configured it denies everything (`rules_invalid`).
 */
export function defaultPolicyEngine(): PolicyEngine {
  if (engine === undefined) {
    const home = process.env["BALLAST_HOME"];
    const hasHome = home !== undefined && home !== "";
    engine = PolicyEngine.fromEnv({
      ...(hasHome ? { home, audit: AuditLog.open({ path: homeDatabasePath(home) }) } : {}),
    });
  }
  return engine;
}

/** Installs (or with `undefined`, forgets) the process-wide engine. */
export function setDefaultPolicyEngine(value: PolicyEngine | undefined): void {
  engine = value;
}
