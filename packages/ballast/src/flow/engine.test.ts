import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { openTempJournal, type TempJournal } from "../../test/temp-journal.ts";
import { BallastError } from "../errors.ts";
import type { SqliteJournal } from "../journal/sqlite-journal.ts";
import { type Ballast, createBallast } from "./engine.ts";
import { createLogger } from "./observe.ts";
import { INLINE_LIMIT_BYTES } from "./value-codec.ts";
import { defineWorkflow } from "./workflow.ts";

let temp: TempJournal;
let journal: SqliteJournal;
let ballast: Ballast;

beforeEach(async () => {
  temp = await openTempJournal("flow");
  journal = temp.journal;
  ballast = createBallast({ journal, logger: createLogger({ level: "silent" }) });
});

afterEach(() => temp.close());

const types = async (runId: string) => (await journal.readEvents(runId)).map((e) => e.type);
const stepIds = async (runId: string, type = "step.completed") =>
  (await journal.readEvents(runId))
    .filter((e) => e.type === type)
    .map((e) => (e.data as { stepId: string }).stepId);

describe("a run", () => {
  it("journals run.started, each step and run.completed, and stores output and metadata", async () => {
    const wf = defineWorkflow({
      name: "basic",
      version: "1",
      run: async (ctx, input: { n: number }) => {
        const a = await ctx.step("add", () => input.n + 1);
        const b = await ctx.step("add", async () => a + 1);
        await ctx.step("nothing", () => undefined);
        return { a, b };
      },
    });
    const run = await ballast.start(wf, { n: 1 });
    expect(await run.result()).toEqual({ a: 2, b: 3 });
    expect(await types(run.runId)).toEqual([
      "run.started",
      "step.started",
      "step.completed",
      "step.started",
      "step.completed",
      "step.started",
      "step.completed",
      "run.completed",
    ]);
    expect(await stepIds(run.runId)).toEqual(["add#0", "add#1", "nothing#0"]);
    const record = await ballast.getRun(run.runId);
    expect(record.status).toBe("completed");
    expect(record.output).toEqual({ a: 2, b: 3 });
    expect(record.metadata).toMatchObject({
      runId: run.runId,
      workflow: "basic",
      counts: { steps: 3, executed: 3, cached: 0, retries: 0, events: 8 },
      codeVersion: { workflowVersion: "1" },
    });
    expect(
      (record.metadata as { latency: { perStep: Record<string, unknown> } }).latency.perStep,
    ).toHaveProperty("add");
    expect(await run.wait()).toEqual({ runId: run.runId, status: "completed", output: { a: 2, b: 3 } });
    expect((await journal.verify(run.runId)).ok).toBe(true);
  });

  it("numbers steps in the order they are called, not the order they finish", async () => {
    const wf = defineWorkflow({
      name: "order",
      version: "1",
      run: async (ctx) => {
        const slow = ctx.step("s", () => new Promise((r) => setTimeout(() => r("slow"), 30)));
        const fast = ctx.step("s", () => "fast");
        return Promise.all([slow, fast]);
      },
    });
    const run = await ballast.start(wf, null);
    expect(await run.result()).toEqual(["slow", "fast"]);
    const completed = (await journal.readEvents(run.runId)).filter((e) => e.type === "step.completed");
    expect(completed.map((e) => e.data)).toMatchObject([
      { stepId: "s#1", result: "fast" },
      { stepId: "s#0", result: "slow" },
    ]);
  });

  it("ctx.map keeps item order and deterministic ids whatever the completion order", async () => {
    let inFlight = 0;
    let maxInFlight = 0;
    const wf = defineWorkflow({
      name: "map",
      version: "1",
      run: async (ctx, items: number[]) =>
        ctx.map(
          items,
          async (x) => {
            const first = await ctx.step("wait", async () => {
              inFlight++;
              maxInFlight = Math.max(maxInFlight, inFlight);
              await new Promise((r) => setTimeout(r, (items.length - x) * 3));
              inFlight--;
              return x;
            });
            return ctx.step("square", () => first * first);
          },
          { concurrency: 3 },
        ),
    });
    const run = await ballast.start(wf, [0, 1, 2, 3, 4, 5, 6]);
    expect(await run.result()).toEqual([0, 1, 4, 9, 16, 25, 36]);
    expect(maxInFlight).toBe(3);
    const ids = await stepIds(run.runId);
    expect(ids.filter((id) => id.endsWith("square#0")).sort()).toEqual(
      [0, 1, 2, 3, 4, 5, 6].map((i) => `map#0[${i}]/square#0`).sort(),
    );
    // Each item's step ids name its index, so the result served on resume is the item's own.
    const events = await journal.readEvents(run.runId);
    for (const e of events.filter((x) => x.type === "step.completed")) {
      const d = e.data as { stepId: string; result: number };
      const index = Number(/\[(\d+)\]/.exec(d.stepId)?.[1]);
      expect(d.result).toBe(d.stepId.endsWith("wait#0") ? index : index * index);
    }
  });

  it("ctx.map rejects with the failure of the lowest index and starts no new items", async () => {
    const started: number[] = [];
    const wf = defineWorkflow({
      name: "map-fail",
      version: "1",
      run: async (ctx) =>
        ctx.map(
          [0, 1, 2, 3, 4, 5],
          (x) =>
            ctx.step(
              "item",
              async () => {
                started.push(x);
                if (x === 1) throw new Error("one");
                return x;
              },
              { retry: false },
            ),
          { concurrency: 2 },
        ),
    });
    const end = await (await ballast.start(wf, null)).wait();
    expect(end.status).toBe("failed");
    expect(end.error).toMatchObject({ code: "step_failed", details: { stepId: "map#0[1]/item#0" } });
    expect(started.length).toBeLessThan(6);
  });

  it("ctx.all runs functions as branches and returns results in order", async () => {
    const wf = defineWorkflow({
      name: "all",
      version: "1",
      run: async (ctx) => {
        const [a, b, c] = await ctx.all<string>([
          async () => {
            const x = await ctx.step("x", () => new Promise<string>((r) => setTimeout(() => r("a"), 10)));
            return ctx.step("y", () => `${x}!`);
          },
          async () => ctx.step("x", () => "b"),
          ctx.step("plain", () => "c"),
        ]);
        return [a, b, c];
      },
    });
    const run = await ballast.start(wf, null);
    expect(await run.result()).toEqual(["a!", "b", "c"]);
    expect((await stepIds(run.runId)).sort()).toEqual([
      "all#0[0]/x#0",
      "all#0[0]/y#0",
      "all#0[1]/x#0",
      "plain#0",
    ]);
  });

  it("ctx.all waits for every branch and throws the first failure by position", async () => {
    const wf = defineWorkflow({
      name: "all-fail",
      version: "1",
      run: async (ctx) =>
        ctx.all([
          () =>
            ctx.step(
              "slow",
              () => new Promise((_, reject) => setTimeout(() => reject(new Error("first")), 20)),
            ),
          () => ctx.step("fast", () => Promise.reject(new Error("second"))),
        ]),
    });
    const end = await (await ballast.start(wf, null)).wait();
    expect(end.error?.message).toContain("first");
  });

  it("ctx.dag releases nodes after their deps, passing their results", async () => {
    const order: string[] = [];
    const push = (id: string, value: number): number => {
      order.push(id);
      return value;
    };
    const wf = defineWorkflow({
      name: "dag",
      version: "1",
      run: async (ctx) =>
        ctx.dag<number>(
          [
            {
              id: "sum",
              deps: ["a", "b"],
              run: async (d) => ctx.step("add", () => (d["a"] ?? 0) + (d["b"] ?? 0)),
            },
            { id: "b", run: async () => ctx.step("val", () => push("b", 2)) },
            { id: "a", run: async () => ctx.step("val", () => push("a", 1)) },
          ],
          { concurrency: 1 },
        ),
    });
    const run = await ballast.start(wf, null);
    expect(await run.result()).toEqual({ sum: 3, b: 2, a: 1 });
    expect(order).toEqual(["a", "b"]);
    expect(await stepIds(run.runId)).toEqual(["dag#0[a]/val#0", "dag#0[b]/val#0", "dag#0[sum]/add#0"]);
  });

  it("ctx.dag rejects an invalid graph with dag_invalid", async () => {
    const wf = defineWorkflow({
      name: "dag-bad",
      version: "1",
      run: async (ctx) => ctx.dag([{ id: "a", deps: ["b"], run: async () => 1 }]),
    });
    const end = await (await ballast.start(wf, null)).wait();
    expect(end.error?.code).toBe("dag_invalid");
  });

  it("journals ctx.now, ctx.random and ctx.uuid with their keys, seeded", async () => {
    const wf = defineWorkflow({
      name: "values",
      version: "1",
      run: async (ctx) => {
        const inStep = await ctx.step("s", () => ctx.random());
        return { now: ctx.now(), r: ctx.random(), u: ctx.uuid(), inStep };
      },
    });
    const a = await ballast.start(wf, null, { seed: "seed-1" });
    const b = await ballast.start(wf, null, { seed: "seed-1" });
    const outA = (await a.result()) as { now: number; r: number; u: string; inStep: number };
    const outB = (await b.result()) as typeof outA;
    expect(outA.r).toBe(outB.r);
    expect(outA.u).toBe(outB.u);
    expect(outA.u).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(outA.r).toBeGreaterThanOrEqual(0);
    expect(outA.r).toBeLessThan(1);
    const values = (await journal.readEvents(a.runId)).filter((e) => e.type.startsWith("ctx."));
    expect(values.map((e) => [e.type, (e.data as { key: string }).key])).toEqual([
      ["ctx.random", "s#0/ctx.random#0"],
      ["ctx.now", "ctx.now#0"],
      ["ctx.random", "ctx.random#0"],
      ["ctx.uuid", "ctx.uuid#0"],
    ]);
  });

  it("keeps large results in the blob store and serves them back", async () => {
    const big = "x".repeat(INLINE_LIMIT_BYTES + 10);
    const wf = defineWorkflow({
      name: "big",
      version: "1",
      run: async (ctx) => ({ len: (await ctx.step("big", () => ({ big }))).big.length, big }),
    });
    const run = await ballast.start(wf, null);
    expect((await run.result()) as { len: number }).toMatchObject({ len: big.length });
    const events = await journal.readEvents(run.runId);
    const completed = events.find((e) => e.type === "step.completed")?.data as Record<string, unknown>;
    expect(completed["result"]).toBeUndefined();
    expect(completed["resultRef"]).toMatchObject({ $blob: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect((events.at(-1) as { data: Record<string, unknown> }).data["outputRef"]).toBeDefined();
    const state = await ballast.stateAt(run.runId, events.length - 1);
    expect(state.steps[0]?.result).toEqual({ big });
    expect(state.output).toMatchObject({ len: big.length });
    expect((await journal.verify(run.runId)).ok).toBe(true);
  });

  it("returns what the journal holds (JSON round trip), the same live and on resume", async () => {
    const wf = defineWorkflow({
      name: "json",
      version: "1",
      run: async (ctx) => ctx.step("date", () => ({ at: new Date(0), gone: undefined })),
    });
    expect(await (await ballast.start(wf, null)).result()).toEqual({ at: "1970-01-01T00:00:00.000Z" });
  });

  it("fails a step whose result JSON cannot hold, with invalid_step_result", async () => {
    const wf = defineWorkflow({
      name: "bad-result",
      version: "1",
      run: async (ctx) => ctx.step("nan", () => Number.NaN),
    });
    const end = await (await ballast.start(wf, null)).wait();
    expect(end.error).toMatchObject({
      code: "step_failed",
      details: { cause: { code: "invalid_step_result" } },
    });
  });

  it("fails a run whose output JSON cannot hold, with invalid_output", async () => {
    const wf = defineWorkflow({
      name: "bad-output",
      version: "1",
      run: async () => ({ n: Number.POSITIVE_INFINITY }),
    });
    const end = await (await ballast.start(wf, null)).wait();
    expect(end).toMatchObject({ status: "failed", error: { code: "invalid_output" } });
  });

  it("records a workflow error with toErrorRecord and rejects result() with it", async () => {
    const wf = defineWorkflow({
      name: "throws",
      version: "1",
      run: async () => {
        throw new BallastError({ code: "my_code", message: "nope" });
      },
    });
    const run = await ballast.start(wf, null);
    await expect(run.result()).rejects.toMatchObject({ code: "my_code" });
    const record = await ballast.getRun(run.runId);
    expect(record).toMatchObject({ status: "failed", error: { code: "my_code", message: "nope" } });
    expect(await types(run.runId)).toEqual(["run.started", "run.failed"]);
  });

  it("validates workflows, steps and inputs with clear errors", async () => {
    expect(() => defineWorkflow({ name: "bad name!", version: "1", run: async () => 1 })).toThrow(
      /not valid/,
    );
    expect(() => defineWorkflow({ name: "a", version: "", run: async () => 1 })).toThrow(/version/);
    expect(() => defineWorkflow({ name: "a", version: "1", run: 1 as never })).toThrow(/run/);
    expect(() => defineWorkflow({ name: "a", version: "1", timeoutMs: -1, run: async () => 1 })).toThrow(
      /timeoutMs/,
    );
    const wf = defineWorkflow({
      name: "bad-steps",
      version: "1",
      run: async (ctx) => ctx.step("a/b", () => 1),
    });
    expect((await (await ballast.start(wf, null)).wait()).error?.code).toBe("invalid_step");
    const noFn = defineWorkflow({
      name: "no-fn",
      version: "1",
      run: async (ctx) => ctx.step("a", 1 as never),
    });
    expect((await (await ballast.start(noFn, null)).wait()).error?.code).toBe("invalid_step");
    const badKey = defineWorkflow({
      name: "bad-key",
      version: "1",
      run: async (ctx) => ctx.step("a", () => 1, { idempotencyKey: "" }),
    });
    expect((await (await ballast.start(badKey, null)).wait()).error?.code).toBe("invalid_step");
    const badMap = defineWorkflow({
      name: "bad-map",
      version: "1",
      run: async (ctx) => ctx.map([1], async (x) => x, { concurrency: 0 }),
    });
    expect((await (await ballast.start(badMap, null)).wait()).error?.code).toBe("invalid_options");
    const badRetry = defineWorkflow({
      name: "bad-retry",
      version: "1",
      run: async (ctx) => ctx.step("a", () => 1, { retry: { maxAttempts: 0 } }),
    });
    expect((await (await ballast.start(badRetry, null)).wait()).error?.code).toBe("invalid_retry");
    const ok = defineWorkflow({ name: "ok", version: "1", run: async () => 1 });
    await expect(ballast.start(ok, { n: Number.NaN })).rejects.toMatchObject({ code: "invalid_input" });
    await expect(ballast.start(ok, null, { timeoutMs: 0 })).rejects.toMatchObject({
      code: "invalid_options",
    });
    await expect(ballast.start(ok, null, { budget: { steps: -1 } })).rejects.toMatchObject({
      code: "invalid_budget",
    });
    await expect(ballast.start(ok, null, { budget: { mode: "loud" as never } })).rejects.toMatchObject({
      code: "invalid_budget",
    });
    expect(() => createBallast({} as never)).toThrow(/needs a journal/);
    expect(() => ballast.register({ name: "x" } as never)).toThrow(/defineWorkflow/);
  });

  it("keeps one workflow per name and version", async () => {
    const a = defineWorkflow({ name: "dup", version: "1", run: async () => 1 });
    const b = defineWorkflow({ name: "dup", version: "1", run: async () => 2 });
    ballast.register(a).register(a);
    expect(() => ballast.register(b)).toThrow(expect.objectContaining({ code: "workflow_conflict" }));
    expect(ballast.workflows.list()).toEqual([a]);
    expect(() => ballast.workflows.require("dup", "2")).toThrow(
      expect.objectContaining({ code: "workflow_not_found" }),
    );
  });

  it("reports unknown runs with run_not_found", async () => {
    await expect(ballast.resume("nope")).rejects.toMatchObject({ code: "run_not_found" });
    await expect(ballast.replay("nope")).rejects.toMatchObject({ code: "run_not_found" });
    await expect(ballast.stateAt("nope", 0)).rejects.toMatchObject({ code: "run_not_found" });
    await expect(ballast.cancel("nope")).rejects.toMatchObject({ code: "run_not_found" });
  });

  it("supports nested steps, numbered inside their parent", async () => {
    const wf = defineWorkflow({
      name: "nested",
      version: "1",
      run: async (ctx) => ctx.step("outer", async () => (await ctx.step("inner", () => 1)) + 1),
    });
    const run = await ballast.start(wf, null);
    expect(await run.result()).toBe(2);
    expect(await stepIds(run.runId)).toEqual(["outer#0/inner#0", "outer#0"]);
  });
});
