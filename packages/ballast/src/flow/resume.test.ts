import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { openSqliteJournal, type SqliteJournal } from "../journal/sqlite-journal.ts";
import { createBallast } from "./engine.ts";
import { createLogger } from "./observe.ts";
import { deriveIdempotencyKey } from "./step-runner.ts";
import type { StepContext } from "./types.ts";
import { defineWorkflow } from "./workflow.ts";

let dir: string;
const open: SqliteJournal[] = [];

async function openJournal(): Promise<SqliteJournal> {
  const journal = await openSqliteJournal({ path: join(dir, "b.db"), blobDir: join(dir, "blobs") });
  open.push(journal);
  return journal;
}

const quiet = () => createLogger({ level: "silent" });

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "ballast-resume-"));
});

afterEach(async () => {
  for (const journal of open.splice(0)) await journal.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A promise the test resolves by hand, to hold a step mid-flight. */
function gate(): { wait: Promise<void>; open: () => void } {
  let release!: () => void;
  const wait = new Promise<void>((resolve) => {
    release = resolve;
  });
  return { wait, open: release };
}

/** Lets queued appends reach the database (group commits run on setImmediate). */
const settle = () => new Promise((resolve) => setTimeout(resolve, 20));

/**
 * The "process" dies while step `charge` is running: its journal is closed under it, the way
 * a SIGKILL leaves the database, and a new engine on a new connection resumes the run.
 */
describe("resume after a crash", () => {
  it("serves completed steps, re-runs the interrupted one under the same key, and records the re-execution", async () => {
    const executions: Record<string, number> = {};
    const keys: string[] = [];
    const held = gate();
    const makeWorkflow = (hold: boolean) =>
      defineWorkflow({
        name: "pay",
        version: "1",
        run: async (ctx, input: { amount: number }) => {
          const count = (name: string) => {
            executions[name] = (executions[name] ?? 0) + 1;
          };
          const quote = await ctx.step("quote", () => {
            count("quote");
            return input.amount * 2;
          });
          const at = ctx.now();
          const charge = await ctx.step(
            "charge",
            async (step: StepContext) => {
              count("charge");
              keys.push(step.idempotencyKey);
              if (hold) await held.wait;
              return { charged: quote, key: step.idempotencyKey };
            },
            { sideEffect: true },
          );
          const receipt = await ctx.step("receipt", () => {
            count("receipt");
            return `receipt for ${charge.charged}`;
          });
          return { quote, charge, receipt, at };
        },
      });

    const first = await openJournal();
    const engineA = createBallast({ journal: first, logger: quiet() });
    const run = await engineA.start(makeWorkflow(true), { amount: 21 });
    while ((executions["charge"] ?? 0) === 0) await settle();
    await settle();
    await first.close(); // the crash: nothing more reaches the journal

    const second = await openJournal();
    expect((await second.getRun(run.runId))?.status).toBe("running");
    const engineB = createBallast({ journal: second, logger: quiet() });
    engineB.register(makeWorkflow(false));
    const resumed = await engineB.resume(run.runId);
    const output = (await resumed.result()) as { at: number; charge: { key: string } };

    expect(executions).toEqual({ quote: 1, charge: 2, receipt: 1 });
    expect(keys[0]).toBe(keys[1]);
    expect(keys[0]).toBe(deriveIdempotencyKey(run.runId, "charge#0"));
    expect(output.charge.key).toBe(keys[0]);
    const events = await second.readEvents(run.runId);
    const reexecuted = events.find((e) => e.type === "step.reexecuted");
    expect(reexecuted?.data).toMatchObject({ stepId: "charge#0", attempt: 1, idempotencyKey: keys[0] });
    expect(events.map((e) => e.type)).toContain("run.resumed");
    // ctx.now was journaled before the crash: the resumed run saw the same value.
    const now = events.find((e) => e.type === "ctx.now");
    expect(now?.data).toMatchObject({ value: output.at });
    expect((await second.verify(run.runId)).ok).toBe(true);
    expect((await second.getRun(run.runId))?.metadata).toMatchObject({ counts: { cached: 1, executed: 2 } });
    // The replay of the resumed run proves the same output without running `charge` again.
    const report = await engineB.replay(run.runId);
    expect(report.output).toEqual(output);
    expect(executions).toEqual({ quote: 2, charge: 2, receipt: 2 });
    held.open();
  });

  it("keeps a caller-given idempotency key across the re-execution", async () => {
    const keys: string[] = [];
    const held = gate();
    const makeWorkflow = (hold: boolean) =>
      defineWorkflow({
        name: "given-key",
        version: "1",
        run: async (ctx) =>
          ctx.step(
            "send",
            async (step) => {
              keys.push(step.idempotencyKey);
              if (hold) await held.wait;
              return step.idempotencyKey;
            },
            { idempotencyKey: "order-42" },
          ),
      });
    const first = await openJournal();
    const run = await createBallast({ journal: first, logger: quiet() }).start(makeWorkflow(true), null);
    while (keys.length === 0) await settle();
    await settle();
    await first.close();
    const second = await openJournal();
    const engine = createBallast({ journal: second, logger: quiet(), workflows: [makeWorkflow(false)] });
    expect(await (await engine.resume(run.runId)).result()).toBe("order-42");
    expect(keys).toEqual(["order-42", "order-42"]);
    const started = (await second.readEvents(run.runId)).filter((e) => e.type === "step.started");
    expect(started.map((e) => e.data)).toEqual([
      { stepId: "send#0", attempt: 1, idempotencyKey: "order-42" },
      { stepId: "send#0", attempt: 1, idempotencyKey: "order-42" },
    ]);
    held.open();
  });

  it("continues the attempt count of a step that failed before the crash", async () => {
    let attempts = 0;
    const held = gate();
    const makeWorkflow = (hold: boolean) =>
      defineWorkflow({
        name: "flaky",
        version: "1",
        retry: { maxAttempts: 3, baseMs: 1, maxMs: 2 },
        run: async (ctx) =>
          ctx.step("flaky", async (step) => {
            attempts++;
            if (step.attempt === 1) throw Object.assign(new Error("flake"), { isRetryable: true });
            if (hold) await held.wait;
            return step.attempt;
          }),
      });
    const first = await openJournal();
    const run = await createBallast({ journal: first, logger: quiet() }).start(makeWorkflow(true), null);
    while (attempts < 2) await settle();
    await settle();
    await first.close();
    const second = await openJournal();
    const engine = createBallast({ journal: second, logger: quiet(), workflows: [makeWorkflow(false)] });
    expect(await (await engine.resume(run.runId)).result()).toBe(2);
    expect(attempts).toBe(3);
    const types = (await second.readEvents(run.runId)).map((e) => e.type);
    expect(types.filter((t) => t === "step.attempt_failed")).toHaveLength(1);
    held.open();
  });

  it("starts a run that was created but never started, and refuses finished runs", async () => {
    const journal = await openJournal();
    const wf = defineWorkflow({ name: "later", version: "1", run: async (ctx) => ctx.step("s", () => 5) });
    const engine = createBallast({ journal, logger: quiet(), workflows: [wf] });
    await journal.createRun({ id: "queued-1", workflow: "later", workflowVersion: "1", input: null });
    const handles = await engine.recover();
    expect(handles.map((h) => h.runId)).toEqual(["queued-1"]);
    expect(await handles[0]?.result()).toBe(5);
    await expect(engine.resume("queued-1")).rejects.toMatchObject({ code: "run_not_resumable" });
    await journal.createRun({ id: "orphan", workflow: "gone", workflowVersion: "9", input: null });
    expect(await engine.recover()).toEqual([]);
    await expect(engine.resume("orphan")).rejects.toMatchObject({ code: "workflow_not_found" });
  });

  it("returns the handle of a run that is already executing here", async () => {
    const journal = await openJournal();
    const held = gate();
    const wf = defineWorkflow({
      name: "busy",
      version: "1",
      run: async (ctx) => ctx.step("wait", async () => held.wait.then(() => 1)),
    });
    const engine = createBallast({ journal, logger: quiet() });
    const run = await engine.start(wf, null);
    expect(engine.activeRuns()).toEqual([run.runId]);
    const again = await engine.resume(run.runId);
    expect(again).toBe(run);
    held.open();
    expect(await run.result()).toBe(1);
    await settle();
    expect(engine.activeRuns()).toEqual([]);
  });
});
