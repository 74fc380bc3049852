import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SpanStatusCode, trace } from "@opentelemetry/api";
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { BallastError } from "../errors.ts";
import { redact } from "../guard/redact.ts";
import {
  createLogger,
  metrics,
  metricsRegistry,
  SPAN_NAMES,
  setLogRedactor,
  setSpanAttributes,
  spanAttributes,
  withSpan,
} from "./observe.ts";

function collector() {
  const lines: string[] = [];
  return {
    lines,
    records: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>),
    stream: { write: (line: string) => void lines.push(line) },
  };
}

describe("createLogger", () => {
  afterEach(() => setLogRedactor(redact));

  it("writes JSON lines with an ISO ts, a level label and no pid or hostname", () => {
    const out = collector();
    const log = createLogger({ level: "debug", destination: out.stream });
    log.debug({ runId: "r1", step: "fetch#0" }, "step completed");
    const [record] = out.records();
    expect(record).toMatchObject({ level: "debug", runId: "r1", step: "fetch#0", msg: "step completed" });
    expect(new Date(record!["ts"] as string).toISOString()).toBe(record!["ts"]);
    expect(record).not.toHaveProperty("pid");
    expect(record).not.toHaveProperty("hostname");
    expect(record).not.toHaveProperty("time");
  });

  it("drops lines below the level, and is silent at level silent", () => {
    const out = collector();
    createLogger({ destination: out.stream }).debug("hidden");
    createLogger({ level: "silent" }).error("nothing written");
    expect(out.lines).toEqual([]);
  });

  it("passes every string value through the redactor, including child bindings and errors", () => {
    const out = collector();
    const log = createLogger({
      destination: out.stream,
      redact: (s) => s.replaceAll("sk-secret", "[redacted]"),
    });
    log
      .child({ apiKey: "sk-secret" })
      .error({ err: new Error("bad key sk-secret"), nested: ["sk-secret", 3, null] }, "used sk-secret");
    const text = out.lines.join("");
    expect(text).not.toContain("sk-secret");
    const [record] = out.records();
    expect(record).toMatchObject({
      apiKey: "[redacted]",
      msg: "used [redacted]",
      nested: ["[redacted]", 3, null],
      err: { message: "bad key [redacted]" },
    });
    expect(out.lines[0]!.endsWith("\n")).toBe(true);
  });

  it("uses the redactor slot for loggers without their own, even ones created earlier", () => {
    const out = collector();
    const log = createLogger({ destination: out.stream });
    log.info("token=abc");
    setLogRedactor((s) => s.replace(/token=\w+/, "token=***"));
    log.info("token=abc");
    expect(out.records().map((r) => r["msg"])).toEqual(["token=<<REDACTED>>", "token=***"]);
  });

  it("writes to a file path", () => {
    const dir = mkdtempSync(join(tmpdir(), "ballast-log-"));
    try {
      const file = join(dir, "run.log");
      createLogger({ destination: file }).warn({ code: "queue_full" }, "slow down");
      expect(JSON.parse(readFileSync(file, "utf8"))).toMatchObject({ level: "warn", code: "queue_full" });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("metrics", () => {
  it("exposes every ballast series in the registry text", async () => {
    metrics.stepsTotal.inc({ workflow: "ingest", status: "completed" });
    metrics.stepDurationSeconds.observe({ workflow: "ingest" }, 0.02);
    metrics.stepRetriesTotal.inc({ workflow: "ingest" });
    metrics.queueDepth.set(3);
    metrics.stepsInFlight.inc();
    metrics.runsTotal.inc({ workflow: "ingest", status: "failed" });
    const text = await metricsRegistry.metrics();
    expect(text).toContain('ballast_steps_total{workflow="ingest",status="completed"} 1');
    expect(text).toContain('ballast_step_duration_seconds_bucket{le="0.05",workflow="ingest"} 1');
    expect(text).toContain('ballast_step_duration_seconds_count{workflow="ingest"} 1');
    expect(text).toContain('ballast_step_retries_total{workflow="ingest"} 1');
    expect(text).toContain("ballast_queue_depth 3");
    expect(text).toContain("ballast_steps_in_flight 1");
    expect(text).toContain('ballast_runs_total{workflow="ingest",status="failed"} 1');
    for (const name of text.matchAll(/^# TYPE (\S+)/gm)) expect(name[1]).toMatch(/^ballast_/);
  });
});

describe("tracing", () => {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });

  beforeAll(() => {
    trace.setGlobalTracerProvider(provider);
  });
  afterEach(() => exporter.reset());
  afterAll(async () => {
    trace.disable();
    await provider.shutdown();
  });

  it("filters attributes through the allowlist and caps strings at 256 characters", () => {
    expect(
      spanAttributes({
        "ballast.run_id": "r".repeat(300),
        "ballast.workflow": "ingest",
        "ballast.attempt": 2,
        "ballast.status": true,
        "ballast.step": { not: "scalar" },
        "user.email": "a@example.com",
        "ballast.input": "payload",
      }),
    ).toEqual({
      "ballast.run_id": "r".repeat(256),
      "ballast.workflow": "ingest",
      "ballast.attempt": 2,
      "ballast.status": true,
    });
    expect(spanAttributes({ "ballast.attempt": Number.NaN })).toEqual({});
  });

  it("records a span with the allowlisted attributes and status OK", async () => {
    const result = await withSpan(
      SPAN_NAMES.run,
      { "ballast.run_id": "run-1", "ballast.workflow": "ingest", prompt: "secret text" },
      (span) => {
        setSpanAttributes(span, { "ballast.status": "completed", "other.thing": "x" });
        return 42;
      },
    );
    expect(result).toBe(42);
    const [span] = exporter.getFinishedSpans();
    expect(span!.name).toBe("workflow.run");
    expect(span!.attributes).toEqual({
      "ballast.run_id": "run-1",
      "ballast.workflow": "ingest",
      "ballast.status": "completed",
    });
    expect(span!.status.code).toBe(SpanStatusCode.OK);
  });

  it("records the exception and status ERROR, and rethrows the error unchanged", async () => {
    const error = new BallastError({ code: "queue_full", message: "Queue is full; slow down." });
    await expect(
      withSpan(SPAN_NAMES.step, { "ballast.step": "fetch#0", "ballast.attempt": 1 }, async () => {
        throw error;
      }),
    ).rejects.toBe(error);
    await expect(
      withSpan(SPAN_NAMES.step, {}, () => {
        throw "plain string";
      }),
    ).rejects.toBe("plain string");
    const [failed, plain] = exporter.getFinishedSpans();
    expect(failed!.name).toBe("workflow.step");
    expect(failed!.attributes).toEqual({ "ballast.step": "fetch#0", "ballast.attempt": 1 });
    expect(failed!.status).toEqual({ code: SpanStatusCode.ERROR, message: "Queue is full; slow down." });
    expect(failed!.events[0]!.name).toBe("exception");
    expect(failed!.events[0]!.attributes).toMatchObject({
      "exception.type": "queue_full",
      "exception.message": "Queue is full; slow down.",
    });
    expect(failed!.events[0]!.attributes).not.toHaveProperty("exception.stacktrace");
    expect(plain!.status).toEqual({ code: SpanStatusCode.ERROR, message: "plain string" });
    expect(plain!.events[0]!.attributes).toMatchObject({ "exception.type": "Error" });
  });

  it("is a no-op without a registered SDK", async () => {
    trace.disable();
    try {
      await expect(withSpan(SPAN_NAMES.run, { "ballast.run_id": "r" }, () => "done")).resolves.toBe("done");
      expect(exporter.getFinishedSpans()).toEqual([]);
    } finally {
      trace.setGlobalTracerProvider(provider);
    }
  });
});

describe("default log redaction", () => {
  it("scrubs secrets from log lines without any setup", () => {
    const lines: string[] = [];
    const log = createLogger({ destination: { write: (line: string) => lines.push(line) } as never });
    log.warn({ step: "call" }, "provider said: invalid key sk-proj-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789");
    expect(lines.join("")).not.toContain("AbCdEfGhIjKlMnOpQrStUvWxYz0123456789");
    expect(lines.join("")).toContain("provider said");
  });
});
