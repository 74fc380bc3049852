import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createBallast } from "../flow/engine.ts";
import { createLogger } from "../flow/observe.ts";
import type { Workflow } from "../flow/types.ts";
import { defineWorkflow } from "../flow/workflow.ts";
import { AuditLog } from "../guard/audit-log.ts";
import { PolicyEngine } from "../guard/policy-engine.ts";
import { openSqliteJournal } from "../journal/sqlite-journal.ts";
import type { JournalStore } from "../journal/types.ts";
import { type BallastServer, createServer, type ServerOptions } from "./server.ts";
import { hashToken, type TokenEntry } from "./tokens.ts";

/**
 * @internal Fixtures for the server's own tests: a temporary home with a real SQLite
 * journal and audit log, a grants document, and tokens for a few subjects. Not exported
 * from `ballast/server`.
 */

export const TOKENS = {
  alice: "tok-alice-0123456789abcdef",
  bob: "tok-bob-0123456789abcdef",
  root: "tok-root-0123456789abcdef",
  nobody: "tok-nobody-0123456789abcdef",
} as const;

export const TOKEN_ENTRIES: TokenEntry[] = [
  { id: "alice", sha256: hashToken(TOKENS.alice), tenant: "acme", roles: ["operator"] },
  { id: "bob", sha256: hashToken(TOKENS.bob), tenant: "globex", roles: ["reader"] },
  { id: "root", sha256: hashToken(TOKENS.root), tenant: "*", roles: ["admin"] },
  { id: "nobody", sha256: hashToken(TOKENS.nobody), tenant: "acme" },
];

export const RULES = { schemaVersion: 1, version: "rules-1", rules: [] };

export const GRANTS = {
  schemaVersion: 1,
  version: "grants-1",
  roles: {
    operator: [
      {
        actions: [
          "health.read",
          "runs.*",
          "budget.read",
          "context.search",
          "models.*",
          "mcp.connect",
          "metrics.read",
        ],
        resources: ["acme:*"],
      },
    ],
    reader: [{ actions: ["health.read", "runs.read", "budget.read"], resources: ["globex:*"] }],
    admin: [{ actions: ["*"], resources: ["*"] }],
  },
  subjects: {},
};

export const slow = defineWorkflow({
  name: "slow",
  version: "1",
  run: async (ctx, ms: number) =>
    ctx.step("wait", async (step) => {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, ms);
        step.signal.addEventListener("abort", () => {
          clearTimeout(timer);
          resolve();
        });
      });
      return ms;
    }),
});

export const greet = defineWorkflow({
  name: "greet",
  version: "1",
  budget: { tokens: 1000, mode: "soft" },
  run: async (ctx, who: string) => ctx.step("hello", () => `hello ${who}`),
});

export interface Fixture {
  home: string;
  journal: JournalStore;
  audit: AuditLog;
  policy: PolicyEngine;
  close(): Promise<void>;
}

export async function fixture(): Promise<Fixture> {
  const home = mkdtempSync(join(tmpdir(), "ballast-server-"));
  const journal = await openSqliteJournal({
    path: join(home, "ballast.db"),
    blobDir: join(home, "blobs"),
    durability: "normal",
  });
  const audit = AuditLog.open({ home, env: {} });
  const policy = new PolicyEngine({ rules: RULES, grants: GRANTS, audit, auditAllowSamplePct: 0 });
  return {
    home,
    journal,
    audit,
    policy,
    async close() {
      await journal.close();
      audit.close();
      rmSync(home, { recursive: true, force: true });
    },
  };
}

/** A server over the fixture; with `auth` the test tokens and grants apply. */
export async function serverFor(
  fx: Fixture,
  options: Partial<ServerOptions> & { auth?: boolean } = {},
): Promise<BallastServer> {
  const { auth, ...rest } = options;
  const logger = createLogger({ level: "silent" });
  return createServer({
    journal: fx.journal,
    engine: createBallast({ journal: fx.journal, logger }),
    audit: fx.audit,
    workflows: [greet, slow] as unknown as Workflow<never, unknown>[],
    port: 0,
    logger,
    ...(auth ? { tokens: TOKEN_ENTRIES, policy: fx.policy } : {}),
    ...rest,
  });
}
