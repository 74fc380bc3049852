import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { JsonValue } from "../canonical.ts";
import { BallastError } from "../errors.ts";
import { openSqliteJournal, type SqliteJournal } from "../journal/sqlite-journal.ts";
import { type Ballast, createBallast } from "./engine.ts";
import { createLogger } from "./observe.ts";
import { currentScope, type DivergenceError } from "./scope.ts";
import type { Workflow, WorkflowContext } from "./types.ts";
import { defineWorkflow } from "./workflow.ts";

let dir: string;
let journal: SqliteJournal;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), "ballast-replay-"));
  journal = await openSqliteJournal({
    path: join(dir, "b.db"),
    blobDir: join(dir, "blobs"),
    durability: "normal",
  });
});

afterEach(async () => {
  await journal.close();
  rmSync(dir, { recursive: true, force: true });
});

const engine = (...workflows: Workflow<never, unknown>[]): Ballast =>
  createBallast({ journal, workflows, logger: createLogger({ level: "silent" }) });

/** Stands in for the model layer: journals a call through the RunScope, serves it on replay. */
async function fakeModelCall(prompt: string, calls: { n: number }): Promise<string> {
  const scope = currentScope();
  if (scope === undefined) throw new Error("no run scope");
  const key = scope.nextEffectKey("model.called");
  const recorded = scope.mode === "replay" ? scope.recordedEffect(key) : undefined;
  const requestHash = `h:${prompt}`;
  if (recorded !== undefined) {
    await scope.recordEffect(key, "model.called", { requestHash, text: "" });
    return (recorded.data as { text: string }).text;
  }
  calls.n++;
  const text = `answer to ${prompt}`;
  await scope.recordEffect(key, "model.called", {
    requestHash,
    text,
    provider: "fake",
    modelId: "m1",
    usage: { inputTokens: 3, outputTokens: 5 },
  });
  return text;
}

type Body = (ctx: WorkflowContext, input: { topic: string }) => Promise<unknown>;
const workflow = (run: Body, version = "1") => defineWorkflow({ name: "research", version, run });

const counters = () => ({ model: { n: 0 }, sent: 0, summarised: 0 });

function original(c: ReturnType<typeof counters>): Body {
  return async (ctx, input) => {
    const id = ctx.uuid();
    const draft = await ctx.step("draft", () => fakeModelCall(`draft ${input.topic}`, c.model));
    const summary = await ctx.step("summarise", () => {
      c.summarised++;
      return draft.toUpperCase();
    });
    await ctx.step(
      "send",
      () => {
        c.sent++;
        return { sent: true };
      },
      { sideEffect: true },
    );
    return { id, summary, r: ctx.random() };
  };
}

describe("replay", () => {
  it("re-executes a finished run offline and proves the same output, writing nothing", async () => {
    const c = counters();
    const run = await engine().start(workflow(original(c)), { topic: "tides" });
    const output = await run.result();
    const before = await journal.getRun(run.runId);

    const c2 = counters();
    const report = await engine(workflow(original(c2))).replay(run.runId);
    expect(report).toMatchObject({
      runId: run.runId,
      status: "completed",
      output,
      stepsServed: 1,
      stepsReexecuted: 2,
    });
    expect(report.eventsMatched).toBe(6); // 3 steps, the model call, uuid, random
    expect(c2).toEqual({ model: { n: 0 }, sent: 0, summarised: 1 });
    expect(await journal.getRun(run.runId)).toEqual(before);
    expect(before?.metadata).toMatchObject({
      models: [{ provider: "fake", modelId: "m1" }],
      counts: { effects: 1 },
      tokens: { input: 3, output: 5, total: 8 },
    });
  });

  it("detects a step whose result changed, naming the event", async () => {
    const c = counters();
    const run = await engine().start(workflow(original(c)), { topic: "tides" });
    await run.result();
    const changed: Body = async (ctx, input) => {
      const id = ctx.uuid();
      const draft = await ctx.step("draft", () => fakeModelCall(`draft ${input.topic}`, c.model));
      const summary = await ctx.step("summarise", () => draft.toLowerCase());
      return { id, summary };
    };
    const error = (await engine(workflow(changed))
      .replay(run.runId)
      .catch((e) => e)) as DivergenceError;
    expect(BallastError.hasCode(error, "replay_divergence")).toBe(true);
    const summarised = (await journal.readEvents(run.runId)).find(
      (e) => e.type === "step.completed" && (e.data as { stepId: string }).stepId === "summarise#0",
    );
    expect(error.details).toMatchObject({ runId: run.runId, key: "summarise#0", seq: summarised?.seq });
    expect(error.message).toContain(`event #${summarised?.seq} (summarise#0)`);
  });

  it("detects a path the journal does not have, naming the first event it expected", async () => {
    const c = counters();
    const run = await engine().start(workflow(original(c)), { topic: "tides" });
    await run.result();
    const changed: Body = async (ctx) => {
      ctx.uuid();
      return ctx.step("brand-new", () => 1);
    };
    const error = (await engine(workflow(changed))
      .replay(run.runId)
      .catch((e) => e)) as DivergenceError;
    const draftStarted = (await journal.readEvents(run.runId)).find((e) => e.type === "model.called");
    expect(error.details).toMatchObject({ key: "brand-new#0", seq: draftStarted?.seq });
  });

  it("detects steps and values of the journal that the replay never reached", async () => {
    const c = counters();
    const run = await engine().start(workflow(original(c)), { topic: "tides" });
    await run.result();
    const shorter: Body = async (ctx, input) => {
      const id = ctx.uuid();
      const draft = await ctx.step("draft", () => fakeModelCall(`draft ${input.topic}`, c.model));
      const summary = await ctx.step("summarise", () => draft.toUpperCase());
      await ctx.step("send", () => ({ sent: true }), { sideEffect: true });
      return { id, summary, r: 0 };
    };
    const error = (await engine(workflow(shorter))
      .replay(run.runId)
      .catch((e) => e)) as DivergenceError;
    expect(error.details).toMatchObject({ key: "run.completed" });
    const noRandom: Body = async (ctx, input) => {
      const out = (await original(counters())(ctx, input)) as Record<string, unknown>;
      return out;
    };
    // Same code: passes. A journal with an extra step the code no longer calls: fails.
    await expect(engine(workflow(noRandom)).replay(run.runId)).resolves.toMatchObject({
      status: "completed",
    });
    const lessSteps: Body = async (ctx) => ({ id: ctx.uuid(), summary: "", r: ctx.random() });
    const skipped = (await engine(workflow(lessSteps))
      .replay(run.runId)
      .catch((e) => e)) as DivergenceError;
    expect(skipped.details).toMatchObject({ key: "run.completed" });
  });

  it("detects a model call with another request", async () => {
    const c = counters();
    const run = await engine().start(workflow(original(c)), { topic: "tides" });
    await run.result();
    const otherPrompt: Body = async (ctx, input) => {
      ctx.uuid();
      return ctx.step("draft", () => fakeModelCall(`DRAFT ${input.topic}`, c.model));
    };
    const error = (await engine(workflow(otherPrompt))
      .replay(run.runId)
      .catch((e) => e)) as DivergenceError;
    expect(error.details).toMatchObject({ key: "draft#0/model.called#0" });
    expect(error.message).toMatch(/another result|request/);
  });

  it("detects a step that throws in the replay but completed in the journal", async () => {
    const run = await engine().start(
      workflow(async (ctx) => ctx.step("s", () => 1)),
      { topic: "x" },
    );
    await run.result();
    const throwing: Body = async (ctx) =>
      ctx.step("s", () => {
        throw new Error("now broken");
      });
    const error = (await engine(workflow(throwing))
      .replay(run.runId)
      .catch((e) => e)) as DivergenceError;
    expect(error.code).toBe("replay_divergence");
    expect(error.message).toContain("now broken");
  });

  it("detects a changed input and refuses unfinished runs", async () => {
    const wf = workflow(async (ctx) => ctx.step("s", () => 1));
    const run = await engine().start(wf, { topic: "x" });
    await run.result();
    await journal.close();
    const db = new DatabaseSync(join(dir, "b.db"));
    db.prepare("UPDATE runs SET input = ? WHERE id = ?").run('{"topic":"y"}', run.runId);
    db.close();
    journal = await openSqliteJournal({
      path: join(dir, "b.db"),
      blobDir: join(dir, "blobs"),
      durability: "normal",
    });
    await expect(engine(wf).replay(run.runId)).rejects.toMatchObject({
      code: "replay_divergence",
      details: { key: "input", seq: 0 },
    });
    await journal.createRun({ id: "unfinished", workflow: "research", workflowVersion: "1", input: null });
    await expect(engine(wf).replay("unfinished")).rejects.toMatchObject({ code: "run_not_finished" });
  });

  it("replays a failed run: the recorded failure is served, and must match", async () => {
    let calls = 0;
    const failing = workflow(async (ctx) => {
      await ctx.step("ok", () => 1);
      return ctx.step(
        "boom",
        () => {
          calls++;
          throw new BallastError({ code: "bad_thing", message: "it broke" });
        },
        { retry: false },
      );
    });
    const run = await engine().start(failing, { topic: "x" });
    expect((await run.wait()).status).toBe("failed");
    expect(await engine(failing).replay(run.runId)).toMatchObject({ status: "failed", stepsReexecuted: 1 });
    expect(calls).toBe(1);
    const recovering = workflow(async (ctx) => {
      await ctx.step("ok", () => 1);
      return ctx.step("boom", () => 2).catch(() => "caught");
    });
    await expect(engine(recovering).replay(run.runId)).rejects.toMatchObject({
      code: "replay_divergence",
      details: { key: "run.failed" },
    });
    const otherError = workflow(async (ctx) => {
      await ctx.step("ok", () => 1);
      throw new Error("different");
    });
    await expect(engine(otherError).replay(run.runId)).rejects.toMatchObject({
      details: { key: "run.failed" },
    });
  });

  it("replays a cancelled run up to where it was stopped", async () => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const wf = workflow(async (ctx) => {
      await ctx.step("first", () => 1);
      ctx.now();
      await ctx.step("second", async (step) => {
        await Promise.race([held, new Promise((resolve) => step.signal.addEventListener("abort", resolve))]);
        return 2;
      });
      return "never";
    });
    const live = engine();
    const run = await live.start(wf, { topic: "x" });
    while ((await journal.readEvents(run.runId)).filter((e) => e.type === "step.started").length < 2) {
      await new Promise((r) => setTimeout(r, 5));
    }
    await live.cancel(run.runId, "testing");
    release();
    const report = await engine(wf).replay(run.runId);
    expect(report).toMatchObject({ status: "cancelled", stepsReexecuted: 1 });
  });

  it("serves ctx values from the journal and rejects extra ones", async () => {
    const values = workflow(async (ctx) => ({ t: ctx.now(), r: ctx.random(), u: ctx.uuid() }));
    const run = await engine().start(values, { topic: "x" });
    const output = await run.result();
    expect((await engine(values).replay(run.runId)).output).toEqual(output);
    const more = workflow(async (ctx) => ({ t: ctx.now(), r: ctx.random(), u: ctx.uuid(), t2: ctx.now() }));
    await expect(engine(more).replay(run.runId)).rejects.toMatchObject({ details: { key: "ctx.now#1" } });
  });

  it("treats an effect missing from the journal as a divergence", async () => {
    const plain = workflow(async (ctx) => ctx.step("s", () => 1));
    const run = await engine().start(plain, { topic: "x" });
    await run.result();
    const withEffect = workflow(async (ctx) =>
      ctx.step("s", async () => {
        const scope = currentScope();
        const key = scope?.nextEffectKey("tool.called") ?? "";
        scope?.recordedEffect(key);
        return 1;
      }),
    );
    await expect(engine(withEffect).replay(run.runId)).rejects.toMatchObject({
      details: { key: "s#0/tool.called#0" },
    });
    const recording = workflow(async (ctx) =>
      ctx.step("s", async () => {
        const scope = currentScope();
        await scope?.recordEffect(scope.nextEffectKey("tool.called"), "tool.called", "raw" as JsonValue);
        return 1;
      }),
    );
    await expect(engine(recording).replay(run.runId)).rejects.toMatchObject({
      details: { key: "s#0/tool.called#0" },
    });
  });

  it("does not expect what a served side-effect step or a failed attempt did inside", async () => {
    const calls = { n: 0 };
    const wf = workflow(async (ctx) => {
      const sent = await ctx.step(
        "notify",
        async () => {
          const text = await fakeModelCall("write the mail", calls);
          return ctx.step("deliver", () => `sent: ${text}`);
        },
        { sideEffect: true },
      );
      const checked = await ctx.step(
        "check",
        async (step) => {
          const verdict = await fakeModelCall(`check ${step.attempt}`, calls);
          if (step.attempt === 1) throw Object.assign(new Error("flaky"), { isRetryable: true });
          return verdict;
        },
        { retry: { maxAttempts: 2, baseMs: 0, maxMs: 0 } },
      );
      return { sent, checked };
    });
    const run = await engine().start(wf, { topic: "x" });
    const output = await run.result();
    expect(calls.n).toBe(3);
    const keys = (await journal.readEvents(run.runId))
      .filter((e) => e.type === "model.called")
      .map((e) => (e.data as { key: string }).key);
    expect(keys).toEqual(["notify#0/model.called#0", "check#0/model.called#0", "check#0@2/model.called#0"]);
    const report = await engine(wf).replay(run.runId);
    expect(report.output).toEqual(output);
    expect(calls.n).toBe(3);
  });
});

describe("input as journaled", () => {
  it("a live run sees its input in the journal's canonical form, so replay takes the same path", async () => {
    const calls = { n: 0 };
    const echo = defineWorkflow({
      name: "echo-input",
      version: "1",
      run: async (_ctx, input: Record<string, unknown>) => fakeModelCall(JSON.stringify(input), calls),
    });
    const ballast = engine(echo);
    const run = await ballast.start(echo, { zeta: 1, alpha: { b: 2, a: undefined } });
    expect(await run.result()).toBe('answer to {"alpha":{"b":2},"zeta":1}');
    await expect(ballast.replay(run.runId)).resolves.toMatchObject({ status: "completed" });
  });
});
