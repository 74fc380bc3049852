import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { BallastError, RetryableError } from "../errors.ts";
import { openSqliteJournal, type SqliteJournal } from "../journal/sqlite-journal.ts";
import { type Ballast, createBallast } from "./engine.ts";
import { createLogger } from "./observe.ts";
import { defineWorkflow } from "./workflow.ts";

/** Retries, timeouts, the watchdog and cancellation. */

let dir: string;
let journal: SqliteJournal;
let ballast: Ballast;
let logLines: Record<string, unknown>[];

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), "ballast-control-"));
  journal = await openSqliteJournal({
    path: join(dir, "b.db"),
    blobDir: join(dir, "blobs"),
    durability: "normal",
  });
  logLines = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      logLines.push(JSON.parse(String(chunk)));
      done();
    },
  });
  ballast = createBallast({ journal, logger: createLogger({ level: "info", destination }) });
});

afterEach(async () => {
  await journal.close();
  rmSync(dir, { recursive: true, force: true });
});

const events = async (runId: string, type: string) =>
  (await journal.readEvents(runId))
    .filter((e) => e.type === type)
    .map((e) => e.data as Record<string, unknown>);

const waitFor = async (check: () => boolean | Promise<boolean>) => {
  while (!(await check())) await new Promise((r) => setTimeout(r, 5));
};

describe("retries", () => {
  it("retries retryable errors with journaled attempts and clamped jittered backoff", async () => {
    const seen: number[] = [];
    const wf = defineWorkflow({
      name: "retry",
      version: "1",
      retry: { maxAttempts: 4, baseMs: 2, maxMs: 5, factor: 3 },
      run: async (ctx) =>
        ctx.step("call", (step) => {
          seen.push(step.attempt);
          if (step.attempt < 4) throw new RetryableError({ code: "upstream_503", message: "try later" });
          return "ok";
        }),
    });
    const run = await ballast.start(wf, null);
    expect(await run.result()).toBe("ok");
    expect(seen).toEqual([1, 2, 3, 4]);
    const failed = await events(run.runId, "step.attempt_failed");
    expect(failed.map((f) => f["attempt"])).toEqual([1, 2, 3]);
    for (const f of failed) {
      expect(f["error"]).toMatchObject({ code: "upstream_503", isRetryable: true });
      expect(f["delayMs"]).toBeGreaterThanOrEqual(0);
      expect(f["delayMs"]).toBeLessThanOrEqual(5);
    }
    expect((await events(run.runId, "step.completed"))[0]).toMatchObject({ stepId: "call#0", attempt: 4 });
    expect(logLines.filter((l) => l["msg"] === "step attempt failed; retrying")).toHaveLength(3);
    expect((await ballast.getRun(run.runId)).metadata).toMatchObject({ counts: { retries: 3 } });
  });

  it("does not retry non-retryable errors, and gives up after maxAttempts", async () => {
    let plain = 0;
    let flaky = 0;
    const wf = defineWorkflow({
      name: "no-retry",
      version: "1",
      run: async (ctx) => {
        const first = await ctx
          .step("plain", () => {
            plain++;
            throw new Error("bad input");
          })
          .catch((e: unknown) => e);
        const second = await ctx
          .step(
            "flaky",
            () => {
              flaky++;
              throw new RetryableError({ code: "flaky", message: "again" });
            },
            { retry: { maxAttempts: 2, baseMs: 1, maxMs: 1 } },
          )
          .catch((e: unknown) => e);
        const custom = await ctx
          .step(
            "custom",
            () => {
              throw new Error("retry me");
            },
            {
              retry: {
                maxAttempts: 2,
                baseMs: 0,
                maxMs: 0,
                isRetryable: (e) => (e as Error).message === "retry me",
              },
            },
          )
          .catch((e: unknown) => e);
        return [first, second, custom].map((e) => (e as BallastError).details);
      },
    });
    const run = await ballast.start(wf, null);
    const details = (await run.result()) as { attempts: number; cause: { code: string } }[];
    expect(plain).toBe(1);
    expect(flaky).toBe(2);
    expect(details.map((d) => d.attempts)).toEqual([1, 2, 2]);
    expect(details[0]?.cause.code).toBe("error");
    expect(await events(run.runId, "step.failed")).toHaveLength(3);
  });

  it("rethrows a journaled step failure on resume without running the step", async () => {
    let runs = 0;
    const wf = defineWorkflow({
      name: "fail-then-crash",
      version: "1",
      run: async (ctx) => {
        const error = await ctx
          .step(
            "boom",
            () => {
              runs++;
              throw new BallastError({ code: "boom", message: "boom" });
            },
            { retry: false },
          )
          .catch((e: BallastError) => e.message);
        await ctx.step("hang", () => new Promise(() => {}));
        return error;
      },
    });
    const run = await ballast.start(wf, null);
    await waitFor(async () => (await events(run.runId, "step.started")).length === 2);
    await journal.close();
    journal = await openSqliteJournal({
      path: join(dir, "b.db"),
      blobDir: join(dir, "blobs"),
      durability: "normal",
    });
    const failed = (await journal.readEvents(run.runId)).filter((e) => e.type === "step.failed");
    expect(failed).toHaveLength(1);
    const again = createBallast({ journal, logger: createLogger({ level: "silent" }) });
    const finish = defineWorkflow({
      name: "fail-then-crash",
      version: "1",
      run: async (ctx) => {
        const error = await ctx
          .step("boom", () => {
            runs++;
            return "ran";
          })
          .catch((e: BallastError) => e.message);
        await ctx.step("hang", () => 1);
        return error;
      },
    });
    again.register(finish);
    const message = await (await again.resume(run.runId)).result();
    expect(runs).toBe(1);
    expect(message).toContain("failed after 1 attempt: boom");
  });
});

describe("timeouts", () => {
  it("aborts a step that overruns its timeout (after a warning at 95%) and retries it", async () => {
    const signals: AbortSignal[] = [];
    const wf = defineWorkflow({
      name: "slow-step",
      version: "1",
      run: async (ctx) =>
        ctx.step(
          "slow",
          async (step) => {
            signals.push(step.signal);
            if (step.attempt === 1) await new Promise(() => {}); // ignores its signal
            return step.attempt;
          },
          { timeoutMs: 40, retry: { maxAttempts: 2, baseMs: 1, maxMs: 1 } },
        ),
    });
    const run = await ballast.start(wf, null);
    expect(await run.result()).toBe(2);
    expect(signals[0]?.aborted).toBe(true);
    expect(signals[0]?.reason).toMatchObject({ code: "step_timeout" });
    expect((await events(run.runId, "step.attempt_failed"))[0]).toMatchObject({
      error: { code: "step_timeout", isRetryable: true },
    });
    const warning = logLines.find((l) => l["msg"] === "step has used 95% of its timeout");
    expect(warning).toMatchObject({ step: "slow#0", timeoutMs: 40 });
  });

  it("fails the step with step_timeout when no attempt is left", async () => {
    const wf = defineWorkflow({
      name: "always-slow",
      version: "1",
      stepTimeoutMs: 20,
      run: async (ctx) => ctx.step("slow", () => new Promise(() => {}), { retry: false }),
    });
    const end = await (await ballast.start(wf, null)).wait();
    expect(end.error).toMatchObject({ code: "step_failed", details: { cause: { code: "step_timeout" } } });
  });

  it("stops a run that overruns its own timeout: status timed_out, running steps aborted", async () => {
    let stepSignal: AbortSignal | undefined;
    const wf = defineWorkflow({
      name: "slow-run",
      version: "1",
      timeoutMs: 50,
      run: async (ctx) => {
        await ctx.step("quick", () => 1);
        return ctx.step("forever", (step) => {
          stepSignal = step.signal;
          return new Promise(() => {});
        });
      },
    });
    const run = await ballast.start(wf, null);
    await expect(run.result()).rejects.toMatchObject({ code: "run_timeout" });
    expect(stepSignal?.aborted).toBe(true);
    const record = await ballast.getRun(run.runId);
    expect(record).toMatchObject({ status: "timed_out", error: { code: "run_timeout" } });
    expect((await journal.readEvents(run.runId)).at(-1)).toMatchObject({
      type: "run.timed_out",
      data: { timeoutMs: 50 },
    });
    expect((await journal.verify(run.runId)).ok).toBe(true);
  });
});

describe("cancellation", () => {
  it("reaches a running step through its signal and ends the run cancelled", async () => {
    let aborted = false;
    let started = false;
    const wf = defineWorkflow({
      name: "cancel-me",
      version: "1",
      run: async (ctx) => {
        await ctx.step("first", () => 1);
        await ctx.step("long", (step) => {
          started = true;
          return new Promise((_, reject) => {
            step.signal.addEventListener("abort", () => {
              aborted = true;
              reject(step.signal.reason);
            });
          });
        });
        return ctx.step("never", () => 2);
      },
    });
    const run = await ballast.start(wf, null);
    await waitFor(() => started);
    const record = await ballast.cancel(run.runId, "user asked");
    expect(aborted).toBe(true);
    expect(record).toMatchObject({ status: "cancelled", error: { code: "run_cancelled" } });
    await expect(run.result()).rejects.toMatchObject({ code: "run_cancelled" });
    const types = (await journal.readEvents(run.runId)).map((e) => e.type);
    expect(types.at(-1)).toBe("run.cancelled");
    expect(types).not.toContain("step.failed");
    expect(types.filter((t) => t === "step.completed")).toHaveLength(1);
    await expect(ballast.cancel(run.runId)).rejects.toMatchObject({ code: "run_finished" });
    await run.cancel(); // a handle's cancel on a finished run is a no-op
    await expect(ballast.resume(run.runId)).rejects.toMatchObject({ code: "run_not_resumable" });
  });

  it("cancels during a retry backoff and in ctx.map fan-out", async () => {
    const wf = defineWorkflow({
      name: "cancel-backoff",
      version: "1",
      run: async (ctx) =>
        ctx.all([
          () =>
            ctx.step(
              "retrying",
              () => {
                throw new RetryableError({ code: "later", message: "later" });
              },
              { retry: { maxAttempts: 5, baseMs: 60_000, maxMs: 60_000 } },
            ),
          () =>
            ctx.map([1, 2, 3], (x) =>
              ctx.step("wait", (s) =>
                new Promise((r) => s.signal.addEventListener("abort", r)).then(() => x),
              ),
            ),
        ]),
    });
    const run = await ballast.start(wf, null);
    await waitFor(async () => (await events(run.runId, "step.attempt_failed")).length === 1);
    await run.cancel("stop");
    expect(await run.wait()).toMatchObject({ status: "cancelled", error: { code: "run_cancelled" } });
  });

  it("marks a run that is not executing anywhere as cancelled, with its metadata", async () => {
    await journal.createRun({
      id: "idle",
      workflow: "x",
      workflowVersion: "1",
      input: null,
      status: "running",
    });
    const record = await ballast.cancel("idle");
    expect(record.status).toBe("cancelled");
    expect((await journal.readEvents("idle")).map((e) => e.type)).toEqual(["run.cancelled"]);
    expect(record.metadata).toMatchObject({ runId: "idle", counts: { steps: 0, events: 1 } });
  });

  it("cancels a crashed run from its journal, counting what it did", async () => {
    const wf = defineWorkflow({
      name: "crashes",
      version: "1",
      run: async (ctx) => {
        await ctx.step("done", () => 1);
        await ctx
          .step("bad", () => Promise.reject(new Error("no")), {
            retry: { maxAttempts: 2, baseMs: 0, maxMs: 0, isRetryable: () => true },
          })
          .catch(() => 0);
        return ctx.step("hang", () => new Promise(() => {}));
      },
    });
    const run = await ballast.start(wf, null);
    await waitFor(async () => (await events(run.runId, "step.started")).length === 4);
    await journal.close();
    journal = await openSqliteJournal({
      path: join(dir, "b.db"),
      blobDir: join(dir, "blobs"),
      durability: "normal",
    });
    const record = await createBallast({ journal, logger: createLogger({ level: "silent" }) }).cancel(
      run.runId,
    );
    expect(record).toMatchObject({
      status: "cancelled",
      metadata: { counts: { steps: 2, failed: 1, retries: 1 }, latency: { perStep: { done: { count: 1 } } } },
    });
  });

  it("lets a workflow that swallows the cancellation still end cancelled", async () => {
    let started = false;
    const wf = defineWorkflow({
      name: "swallow",
      version: "1",
      run: async (ctx) => {
        try {
          await ctx.step("long", (step) => {
            started = true;
            return new Promise((r) => step.signal.addEventListener("abort", r));
          });
        } catch {
          return "swallowed";
        }
        return "done";
      },
    });
    const run = await ballast.start(wf, null);
    await waitFor(() => started);
    await ballast.cancel(run.runId);
    expect((await run.wait()).status).toBe("cancelled");
  });
});

describe("cancellation from another process", () => {
  it("stops a run executing elsewhere: its running step is aborted and nothing more is journaled", async () => {
    let aborted = false;
    const slow = defineWorkflow({
      name: "slow",
      version: "1",
      run: async (ctx) => {
        await ctx.step("first", () => 1);
        await ctx.step(
          "wait",
          ({ signal }) =>
            new Promise((_resolve, reject) =>
              signal.addEventListener("abort", () => {
                aborted = true;
                reject(signal.reason);
              }),
            ),
        );
        return ctx.step("never", () => 2);
      },
    });
    const handle = await ballast.start(slow, null);
    while ((await events(handle.runId, "step.completed")).length === 0)
      await new Promise((r) => setTimeout(r, 10));

    // A second store on the same file stands for another process (the CLI).
    const other = await openSqliteJournal({ path: join(dir, "b.db"), blobDir: join(dir, "blobs") });
    await createBallast({ journal: other }).cancel(handle.runId, "operator");
    await other.close();

    const result = await handle.wait();
    expect(result.status).toBe("cancelled");
    expect(result.error?.code).toBe("run_cancelled");
    expect(aborted).toBe(true);
    const types = (await journal.readEvents(handle.runId)).map((e) => e.type);
    expect(types.filter((t) => t === "run.cancelled")).toHaveLength(1);
    expect(types.at(-1)).toBe("run.cancelled");
    expect((await journal.verify(handle.runId)).ok).toBe(true);
  });
});
