import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type Ballast, createBallast } from "../flow/engine.ts";
import { createLogger } from "../flow/observe.ts";
import { currentScope, type RunScope, runInScope } from "../flow/scope.ts";
import { defineWorkflow } from "../flow/workflow.ts";
import type { AuditEventInput } from "../guard/audit-types.ts";
import { setDefaultPolicyEngine } from "../guard/policy-default.ts";
import { PolicyEngine } from "../guard/policy-engine.ts";
import { openSqliteJournal, type SqliteJournal } from "../journal/sqlite-journal.ts";
import type { JournalEvent } from "../journal/types.ts";
import { exec } from "./exec.ts";
import type { ExecResult } from "./types.ts";

let dir: string;
let journal: SqliteJournal;
let ballast: Ballast;
const audit: AuditEventInput[] = [];

const RULES = {
  schemaVersion: 1,
  version: "p1",
  forbiddenPatterns: [{ id: "no-rm", match: { command: "*rm -rf*" } }],
};
const GRANTS = {
  schemaVersion: 1,
  version: "g1",
  roles: { workflow: [{ actions: ["command.exec"], resources: ["default:command/*"] }] },
};

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), "ballast-exec-run-"));
  journal = await openSqliteJournal({
    path: join(dir, "b.db"),
    blobDir: join(dir, "blobs"),
    durability: "normal",
  });
  ballast = createBallast({ journal, logger: createLogger({ level: "silent" }) });
  audit.length = 0;
  setDefaultPolicyEngine(
    new PolicyEngine({ rules: RULES, grants: GRANTS, audit: { append: (e) => audit.push(e) } }),
  );
});

afterEach(async () => {
  setDefaultPolicyEngine(undefined);
  await journal.close();
  rmSync(dir, { recursive: true, force: true });
});

async function commandEvents(runId: string): Promise<JournalEvent[]> {
  const events = await journal.readEvents(runId);
  return events.filter((e) => e.type === "command.ran");
}

describe("exec inside a run", () => {
  it("asks the policy, runs, journals command.ran, and a replay serves it without running anything", async () => {
    const counter = join(dir, "count.txt");
    const wf = defineWorkflow({
      name: "build",
      version: "1",
      run: async (ctx) =>
        ctx.step("compile", async () => {
          const r = await exec("sh", ["-c", `echo run >> ${counter}; echo compiled`]);
          return { status: r.status, stdout: r.stdout, policy: r.policy };
        }),
    });
    const run = await ballast.start(wf, null);
    const output = await run.result();
    expect(output).toEqual({
      status: "OK",
      stdout: "compiled\n",
      policy: { decision: "allow", reasons: ["rbac:workflow"], policyVersion: "p1" },
    });
    expect(readFileSync(counter, "utf8")).toBe("run\n");
    const events = await commandEvents(run.runId);
    expect(events).toHaveLength(1);
    const data = events[0]!.data as unknown as { requestHash: string; command: string; result: ExecResult };
    expect(data.command).toBe("sh");
    expect(data.requestHash).toMatch(/^[0-9a-f]{64}$/);
    expect(data.result.stdout).toBe("compiled\n");

    const report = await ballast.replay(run.runId);
    expect(report.status).toBe("completed");
    expect(report.output).toEqual(output);
    expect(readFileSync(counter, "utf8")).toBe("run\n");
  });

  it("denies a command the policy forbids, journals the denial, and audits it", async () => {
    const wf = defineWorkflow({
      name: "cleanup",
      version: "1",
      run: async (ctx) =>
        ctx.step(
          "wipe",
          async () => (await exec("sh", ["-c", "rm -rf /nonexistent-dir"], { traceId: "trace-wipe" })).status,
        ),
    });
    const run = await ballast.start(wf, null);
    expect(await run.result()).toBe("SANDBOX_DENIED");
    const [event] = await commandEvents(run.runId);
    expect((event!.data as unknown as { result: ExecResult }).result).toMatchObject({
      status: "SANDBOX_DENIED",
      reason: "policy_denied",
      traceId: "trace-wipe",
      policy: { decision: "deny", reasons: ["forbidden:no-rm"] },
    });
    expect(audit.find((a) => a.kind === "security.deny")).toMatchObject({
      subject: "workflow",
      action: "command.exec",
      resource: "default:command/sh",
      tenant: "default",
      reason: "forbidden:no-rm",
      traceId: "trace-wipe",
    });
  });

  it("denies everything when no policy is configured (fail-closed)", async () => {
    setDefaultPolicyEngine(new PolicyEngine({}));
    const wf = defineWorkflow({
      name: "bare",
      version: "1",
      run: async (ctx) => ctx.step("s", async () => (await exec("true")).policy),
    });
    const run = await ballast.start(wf, null);
    expect(await run.result()).toMatchObject({ decision: "deny", reasons: ["rules_invalid"] });
  });

  it("uses a passed engine, subject and tenant", async () => {
    const engine = new PolicyEngine({
      rules: RULES,
      grants: { ...GRANTS, roles: { ci: [{ actions: ["command.exec"], resources: ["acme:command/true"] }] } },
    });
    const wf = defineWorkflow({
      name: "tenanted",
      version: "1",
      run: async (ctx) =>
        ctx.step("s", async () => {
          const ok = await exec("true", [], {
            policy: engine,
            tenant: "acme",
            subject: { id: "ci-bot", tenant: "acme", roles: ["ci"] },
          });
          const other = await exec("false", [], {
            policy: engine,
            tenant: "acme",
            subject: { id: "ci-bot", tenant: "acme", roles: ["ci"] },
          });
          return [ok.status, other.status];
        }),
    });
    const run = await ballast.start(wf, null);
    expect(await run.result()).toEqual(["OK", "SANDBOX_DENIED"]);
  });
});

/** A hand-driven scope for paths the engine does not reach on its own. */
function scopeWith(
  mode: "live" | "replay",
  recorded: Map<string, JournalEvent>,
  appended: unknown[] = [],
): RunScope {
  let n = 0;
  const budget = { reserved: 0, committed: 0, released: 0 };
  return Object.assign(
    {
      runId: "run-1",
      stepId: "s#0",
      mode,
      signal: new AbortController().signal,
      budget: {
        reserve: () => {
          budget.reserved++;
          return { commit: () => void budget.committed++, release: () => void budget.released++ };
        },
      },
      nextEffectKey: (type: string) => `s#0/${type}#${n++}`,
      recordedEffect: (key: string) => recorded.get(key),
      recordEffect: async (key: string, type: string, data: unknown) => {
        appended.push({ key, type, data });
        return { runId: "run-1", seq: 0, type, at: "", data, prev: "", hash: "" } as JournalEvent;
      },
    },
    { counts: budget },
  ) as RunScope;
}

describe("exec with a scope", () => {
  it("reserves and commits one tool call of budget per command", async () => {
    const scope = scopeWith("live", new Map());
    const r = await runInScope(scope, () => exec("true"));
    expect(r.status).toBe("OK");
    expect((scope as unknown as { counts: object }).counts).toEqual({
      reserved: 1,
      committed: 1,
      released: 0,
    });
    expect(currentScope()).toBeUndefined();
  });

  it("serves a recorded result on resume and refuses a different command at the same key", async () => {
    const appended: unknown[] = [];
    const live = scopeWith("live", new Map(), appended);
    const first = await runInScope(live, () => exec("echo", ["once"]));
    const recordedData = (appended[0] as { data: unknown }).data;
    const recorded = new Map([["s#0/command.ran#0", { data: recordedData } as JournalEvent]]);
    const resumed = await runInScope(scopeWith("live", recorded), () => exec("echo", ["once"]));
    expect(resumed).toEqual(first);
    await expect(runInScope(scopeWith("live", recorded), () => exec("echo", ["twice"]))).rejects.toThrow(
      /differs from the recorded/,
    );
  });

  it("runs nothing in replay mode when nothing was recorded", async () => {
    const marker = join(dir, "should-not-exist");
    await expect(runInScope(scopeWith("replay", new Map()), () => exec("touch", [marker]))).rejects.toThrow(
      /replay runs no commands/,
    );
    expect(existsSync(marker)).toBe(false);
  });

  it("releases the reservation when the command cannot start", async () => {
    const scope = scopeWith("live", new Map());
    await expect(
      runInScope(scope, () => exec("true", [], { capabilities: undefined, timeoutMs: -1 })),
    ).rejects.toThrow(/timeoutMs/);
    expect((scope as unknown as { counts: { reserved: number } }).counts.reserved).toBe(0);
  });
});

describe("exec outside a run with a policy", () => {
  it("asks the given engine and runs only what it allows", async () => {
    const engine = new PolicyEngine({ rules: RULES, grants: GRANTS });
    const ok = await exec("echo", ["hi"], { policy: engine });
    expect(ok).toMatchObject({ status: "OK", stdout: "hi\n", policy: { decision: "allow" } });
    const denied = await exec("sh", ["-c", "rm -rf /x"], { policy: engine });
    expect(denied).toMatchObject({
      status: "SANDBOX_DENIED",
      reason: "policy_denied",
      exitCode: null,
      stdout: "",
    });
    expect(denied.traceId).toMatch(/^[0-9a-f]{32}$/);
  });
});
