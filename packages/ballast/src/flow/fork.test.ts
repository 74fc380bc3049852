import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { openTempJournal, type TempJournal } from "../../test/temp-journal.ts";
import type { SqliteJournal } from "../journal/sqlite-journal.ts";
import { type Ballast, createBallast } from "./engine.ts";
import { createLogger } from "./observe.ts";
import { defineWorkflow } from "./workflow.ts";

let temp: TempJournal;
let journal: SqliteJournal;
let ballast: Ballast;

beforeEach(async () => {
  temp = await openTempJournal("fork");
  journal = temp.journal;
  ballast = createBallast({ journal, logger: createLogger({ level: "silent" }) });
});

afterEach(() => temp.close());

const calls: string[] = [];
const pipeline = (version: string, suffix: string) =>
  defineWorkflow({
    name: "pipeline",
    version,
    run: async (ctx, input: { n: number }) => {
      const a = await ctx.step("load", () => {
        calls.push(`load${suffix}`);
        return input.n;
      });
      const b = await ctx.step("double", () => {
        calls.push(`double${suffix}`);
        return a * 2;
      });
      const c = await ctx.step("label", () => {
        calls.push(`label${suffix}`);
        return `${b}${suffix}`;
      });
      return { a, b, c, seed: ctx.random() };
    },
  });

const seqOf = async (runId: string, type: string, stepId: string) =>
  (await journal.readEvents(runId)).find(
    (e) => e.type === type && (e.data as { stepId?: string }).stepId === stepId,
  )?.seq as number;

describe("fork", () => {
  it("copies the journal up to event N into a new chain and continues live", async () => {
    calls.length = 0;
    const v1 = pipeline("1", "");
    const parent = await ballast.start(v1, { n: 4 });
    const parentOut = (await parent.result()) as { seed: number };
    const cut = await seqOf(parent.runId, "step.completed", "double#0");
    calls.length = 0;

    const fork = await ballast.fork(parent.runId, { atSeq: cut });
    const forkOut = (await fork.result()) as { a: number; b: number; c: string; seed: number };
    expect(calls).toEqual(["label"]);
    expect(forkOut).toMatchObject({ a: 4, b: 8, c: "8" });
    expect(forkOut.seed).toBe(parentOut.seed); // same seed, same key: same value
    const record = await ballast.getRun(fork.runId);
    expect(record).toMatchObject({ parentRunId: parent.runId, forkedAtSeq: cut, status: "completed" });
    const parentEvents = await journal.readEvents(parent.runId, { toSeq: cut });
    const forkEvents = await journal.readEvents(fork.runId);
    expect(forkEvents.slice(0, cut + 1).map((e) => [e.type, e.data])).toEqual(
      parentEvents.map((e) => [e.type, e.data]),
    );
    expect(forkEvents[cut + 1]).toMatchObject({
      type: "run.forked",
      data: { parentRunId: parent.runId, atSeq: cut },
    });
    expect(forkEvents[0]?.hash).not.toBe(parentEvents[0]?.hash);
    expect((await journal.verify(fork.runId)).ok).toBe(true);
    // The fork is a run of its own: it replays.
    expect((await ballast.replay(fork.runId)).output).toEqual(forkOut);
  });

  it("continues with another version of the workflow", async () => {
    calls.length = 0;
    const parent = await ballast.start(pipeline("1", ""), { n: 1 });
    await parent.result();
    ballast.register(pipeline("2", "-v2"));
    const fork = await ballast.fork(parent.runId, {
      atSeq: await seqOf(parent.runId, "step.completed", "load#0"),
      version: "2",
      runId: "fork-v2",
    });
    expect(await fork.result()).toMatchObject({ a: 1, b: 2, c: "2-v2" });
    expect(fork.runId).toBe("fork-v2");
    expect((await ballast.getRun("fork-v2")).workflowVersion).toBe("2");
  });

  it("refuses fork points outside the journal or at its end", async () => {
    const parent = await ballast.start(pipeline("1", ""), { n: 1 });
    await parent.result();
    const { eventCount } = await ballast.getRun(parent.runId);
    await expect(ballast.fork(parent.runId, { atSeq: -1 })).rejects.toMatchObject({
      code: "invalid_fork_point",
    });
    await expect(ballast.fork(parent.runId, { atSeq: eventCount })).rejects.toMatchObject({
      code: "invalid_fork_point",
    });
    await expect(ballast.fork(parent.runId, { atSeq: eventCount - 1 })).rejects.toThrow(/ends the run/);
    await expect(ballast.fork(parent.runId, { atSeq: 0, version: "7" })).rejects.toMatchObject({
      code: "workflow_not_found",
    });
  });
});

describe("stateAt (time travel)", () => {
  it("folds the journal up to event N", async () => {
    const run = await ballast.start(pipeline("1", ""), { n: 3 });
    const output = await run.result();
    const loadDone = await seqOf(run.runId, "step.completed", "load#0");
    const early = await ballast.stateAt(run.runId, loadDone);
    expect(early).toMatchObject({
      runId: run.runId,
      seq: loadDone,
      status: "running",
      completed: ["load#0"],
    });
    expect(early.steps).toEqual([{ stepId: "load#0", status: "completed", attempts: 1, result: 3 }]);
    const doubleStarted = await seqOf(run.runId, "step.started", "double#0");
    const mid = await ballast.stateAt(run.runId, doubleStarted);
    expect(mid.steps[1]).toEqual({ stepId: "double#0", status: "running", attempts: 1 });
    const end = await ballast.stateAt(run.runId, 10_000);
    expect(end).toMatchObject({
      status: "completed",
      output,
      completed: ["load#0", "double#0", "label#0"],
      effects: 1,
    });
    expect(await ballast.stateAt(run.runId, new Date(Date.now() + 1000))).toEqual(end);
    expect(await ballast.stateAt(run.runId, new Date(0))).toMatchObject({
      seq: -1,
      status: "queued",
      steps: [],
    });
    await expect(ballast.stateAt(run.runId, 1.5)).rejects.toMatchObject({ code: "invalid_seq" });
  });

  it("shows failed attempts and failures", async () => {
    const wf = defineWorkflow({
      name: "fails",
      version: "1",
      run: async (ctx) =>
        ctx.step(
          "flaky",
          () => {
            throw Object.assign(new Error("nope"), { isRetryable: true });
          },
          { retry: { maxAttempts: 2, baseMs: 1, maxMs: 1 } },
        ),
    });
    const run = await ballast.start(wf, null);
    await run.wait();
    const firstFailure = (await journal.readEvents(run.runId)).find((e) => e.type === "step.attempt_failed");
    const mid = await ballast.stateAt(run.runId, firstFailure?.seq as number);
    expect(mid.steps[0]).toMatchObject({ status: "running", attempts: 1, error: { message: "nope" } });
    const end = await ballast.stateAt(run.runId, 100);
    expect(end).toMatchObject({ status: "failed", error: { code: "step_failed" } });
    expect(end.steps[0]).toMatchObject({ status: "failed", attempts: 2 });
  });
});
