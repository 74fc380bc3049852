import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { trace } from "@opentelemetry/api";
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openSqliteJournal, type SqliteJournal } from "../journal/sqlite-journal.ts";
import { createBallast } from "./engine.ts";
import { defaultFlowLogger } from "./flow-telemetry.ts";
import { createLogger, metricsRegistry } from "./observe.ts";
import { defineWorkflow } from "./workflow.ts";

describe("flow telemetry", () => {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  let dir: string;
  let journal: SqliteJournal;

  beforeAll(async () => {
    trace.setGlobalTracerProvider(provider);
    dir = mkdtempSync(join(tmpdir(), "ballast-telemetry-"));
    journal = await openSqliteJournal({
      path: join(dir, "b.db"),
      blobDir: join(dir, "blobs"),
      durability: "normal",
    });
  });
  afterAll(async () => {
    trace.disable();
    await provider.shutdown();
    await journal.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("traces workflow.run and workflow.step with allowlisted attributes, and counts in ballast_* metrics", async () => {
    const wf = defineWorkflow({
      name: "tele",
      version: "1",
      run: async (ctx, input: { secret: string }) => {
        await ctx.step("fetch", () => input.secret.length);
        return ctx.step("fail", () => Promise.reject(new Error("nope")), { retry: false });
      },
    });
    const ballast = createBallast({ journal, logger: createLogger({ level: "silent" }) });
    const run = await ballast.start(wf, { secret: "do-not-trace" });
    await run.wait();
    const spans = exporter.getFinishedSpans();
    const runSpan = spans.find((s) => s.name === "workflow.run");
    const steps = spans.filter((s) => s.name === "workflow.step");
    expect(runSpan?.attributes).toEqual({
      "ballast.run_id": run.runId,
      "ballast.workflow": "tele",
      "ballast.status": "failed",
    });
    expect(steps.map((s) => s.attributes["ballast.step"])).toEqual(["fetch#0", "fail#0"]);
    expect(steps[1]?.attributes).toMatchObject({ "ballast.attempt": 1, "ballast.status": "failed" });
    for (const step of steps) expect(step.parentSpanContext?.spanId).toBe(runSpan?.spanContext().spanId);
    expect(JSON.stringify(spans.map((s) => s.attributes))).not.toContain("do-not-trace");
    const metrics = await metricsRegistry.metrics();
    expect(metrics).toContain('ballast_steps_total{workflow="tele",status="completed"} 1');
    expect(metrics).toContain('ballast_runs_total{workflow="tele",status="failed"} 1');
  });

  it("logs at BALLAST_LOG_LEVEL, else warn", () => {
    const saved = process.env["BALLAST_LOG_LEVEL"];
    try {
      process.env["BALLAST_LOG_LEVEL"] = "debug";
      expect(defaultFlowLogger().level).toBe("debug");
      process.env["BALLAST_LOG_LEVEL"] = "loud";
      expect(defaultFlowLogger().level).toBe("warn");
    } finally {
      if (saved === undefined) delete process.env["BALLAST_LOG_LEVEL"];
      else process.env["BALLAST_LOG_LEVEL"] = saved;
    }
  });
});
