import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { openTempJournal, type TempJournal } from "../../test/temp-journal.ts";
import { openSqliteJournal, type SqliteJournal } from "../journal/sqlite-journal.ts";
import { RunBudget } from "./budget.ts";
import { type Ballast, createBallast } from "./engine.ts";
import { createLogger } from "./observe.ts";
import { currentScope } from "./scope.ts";
import { defineWorkflow } from "./workflow.ts";

let temp: TempJournal;
let journal: SqliteJournal;
let ballast: Ballast;

beforeEach(async () => {
  temp = await openTempJournal("budget");
  journal = temp.journal;
  ballast = createBallast({ journal, logger: createLogger({ level: "silent" }) });
});

afterEach(async () => {
  await journal.close(); // a test may have reopened it
  await temp.close();
});

const events = async (runId: string, type: string) =>
  (await journal.readEvents(runId))
    .filter((e) => e.type === type)
    .map((e) => e.data as Record<string, unknown>);

/** What the model layer does around a call: reserve the worst case, then commit what was used. */
async function spend(worstTokens: number, actualTokens: number, costUsd = 0): Promise<void> {
  const scope = currentScope();
  if (!scope) throw new Error("outside a run");
  const reservation = scope.budget.reserve(
    { tokens: worstTokens, costUsd, toolCalls: 1 },
    scope.stepId ?? "workflow",
  );
  await new Promise((r) => setTimeout(r, 5));
  reservation.commit({ tokens: actualTokens, costUsd, toolCalls: 1 });
}

describe("budgets", () => {
  it("enforce: stops the run at the step limit with budget_exceeded", async () => {
    let ran = 0;
    const wf = defineWorkflow({
      name: "steps",
      version: "1",
      budget: { steps: 3 },
      run: async (ctx) => {
        for (let i = 0; i < 10; i++) await ctx.step("s", () => ran++);
        return "done";
      },
    });
    const run = await ballast.start(wf, null);
    await expect(run.result()).rejects.toMatchObject({
      code: "budget_exceeded",
      details: { dimension: "steps", limit: 3, used: 4, label: "s#3" },
    });
    expect(ran).toBe(3);
    expect(await ballast.getRun(run.runId)).toMatchObject({
      status: "budget_exceeded",
      error: { code: "budget_exceeded" },
    });
    const last = (await journal.readEvents(run.runId)).at(-1);
    expect(last).toMatchObject({ type: "budget.exceeded", data: { dimension: "steps", limit: 3 } });
    expect((await journal.verify(run.runId)).ok).toBe(true);
  });

  it("soft: warns once per dimension in the journal and carries on", async () => {
    const wf = defineWorkflow({
      name: "soft",
      version: "1",
      budget: { mode: "soft", steps: 2, tokens: 100 },
      run: async (ctx) => {
        for (let i = 0; i < 4; i++) await ctx.step("s", () => spend(80, 80));
        return "done";
      },
    });
    const run = await ballast.start(wf, null);
    expect(await run.result()).toBe("done");
    const warnings = await events(run.runId, "budget.warning");
    expect(warnings.map((w) => w["dimension"]).sort()).toEqual(["steps", "tokens"]);
    const committed = await events(run.runId, "budget.committed");
    expect(committed).toHaveLength(4);
    expect(committed[0]).toMatchObject({ label: "s#0", tokens: 80, toolCalls: 1 });
  });

  it("enforce holds under parallel fan-out: in-flight worst cases count", async () => {
    let dispatched = 0;
    const wf = defineWorkflow({
      name: "fanout",
      version: "1",
      budget: { tokens: 1000 },
      run: async (ctx) =>
        ctx.map(
          Array.from({ length: 20 }, (_, i) => i),
          (i) =>
            ctx.step(
              "call",
              async () => {
                const scope = currentScope();
                const reservation = scope?.budget.reserve({ tokens: 300 }, `call ${i}`);
                dispatched++;
                await new Promise((r) => setTimeout(r, 20));
                reservation?.commit({ tokens: 100 });
                return i;
              },
              { retry: false },
            ),
        ),
    });
    const run = await ballast.start(wf, null);
    await expect(run.result()).rejects.toMatchObject({
      code: "budget_exceeded",
      details: { dimension: "tokens" },
    });
    // 3 x 300 fit in 1000; the fourth concurrent reservation did not, whatever the actual use.
    expect(dispatched).toBe(3);
    expect((await ballast.getRun(run.runId)).status).toBe("budget_exceeded");
  });

  it("enforce: actual use past the limit stops the run after the effect", async () => {
    const wf = defineWorkflow({
      name: "overspend",
      version: "1",
      budget: { costUsd: 0.01 },
      run: async (ctx) => {
        await ctx.step("a", () => spend(10, 10, 0.02));
        return ctx.step("b", () => 1);
      },
    });
    const end = await (await ballast.start(wf, null)).wait();
    expect(end).toMatchObject({ status: "budget_exceeded", error: { details: { dimension: "costUsd" } } });
  });

  it("enforce: wall time counts from the start of the run", async () => {
    const wf = defineWorkflow({
      name: "wall",
      version: "1",
      budget: { wallMs: 40 },
      run: async (ctx) =>
        ctx.step("sleep", (step) => new Promise((r) => step.signal.addEventListener("abort", r))),
    });
    const end = await (await ballast.start(wf, null)).wait();
    expect(end).toMatchObject({
      status: "budget_exceeded",
      error: { details: { dimension: "wallMs", limit: 40 } },
    });
  });

  it("a resumed run keeps what earlier executions used", async () => {
    const first = defineWorkflow({
      name: "resume-budget",
      version: "1",
      budget: { tokens: 150 },
      run: async (ctx) => {
        await ctx.step("a", () => spend(100, 100));
        await ctx.step("hang", () => new Promise(() => {}));
        return "unreachable";
      },
    });
    const run = await ballast.start(first, null);
    while ((await events(run.runId, "step.started")).length < 2) await new Promise((r) => setTimeout(r, 5));
    await journal.close();
    journal = await openSqliteJournal({
      path: join(temp.dir, "b.db"),
      blobDir: join(temp.dir, "blobs"),
      durability: "normal",
    });
    const second = defineWorkflow({
      name: "resume-budget",
      version: "1",
      run: async (ctx) => {
        await ctx.step("a", () => spend(100, 100));
        await ctx.step("hang", () => spend(100, 100));
        return "over";
      },
    });
    const engine = createBallast({ journal, workflows: [second], logger: createLogger({ level: "silent" }) });
    const end = await (await engine.resume(run.runId)).wait();
    // The budget recorded at start applies, and the 100 tokens spent before the crash count.
    expect(end).toMatchObject({
      status: "budget_exceeded",
      error: { details: { dimension: "tokens", used: 200 } },
    });
  });

  it("reservations commit or release once; limits left unset are unlimited", () => {
    const noted: string[] = [];
    const budget = new RunBudget({
      runId: "r",
      limits: { tokens: 10 },
      callbacks: {
        onWarning: () => noted.push("warn"),
        onExceeded: () => noted.push("exceeded"),
        onCommit: (label) => noted.push(`commit ${label}`),
      },
    });
    const a = budget.reserve({ tokens: 6, costUsd: 5 }, "a");
    a.release();
    a.commit({ tokens: 100 });
    const b = budget.reserve({ tokens: 10 }, "b");
    b.commit({});
    b.release();
    expect(budget.used).toEqual({ tokens: 0, costUsd: 0, toolCalls: 0 });
    expect(noted).toEqual([]);
    expect(() => budget.reserve({ tokens: 11 }, "c")).toThrow(
      expect.objectContaining({ code: "budget_exceeded" }),
    );
    expect(() => budget.reserve({ tokens: 1 }, "d")).toThrow(
      expect.objectContaining({ code: "budget_exceeded" }),
    );
    expect(() => budget.countStep("s#0")).toThrow(expect.objectContaining({ code: "budget_exceeded" }));
    expect(noted).toEqual(["exceeded"]);
    budget.wallTimeUp(5);
    expect(budget.exceeded?.details).toMatchObject({ dimension: "tokens" });
  });
});
