import { type Attributes, type AttributeValue, type Span, SpanStatusCode, trace } from "@opentelemetry/api";
import { pino } from "pino";
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import { BallastError } from "../errors.ts";
import { redact } from "../guard/redact.ts";

/**
 * Logs, metrics and traces for the runtime, in one place so every layer reports the same
 * names. Logs are pino JSON lines; metrics live in ballast's own prom-client registry (never
 * the global one, so an application's metrics cannot clash with ours); traces go through
 * `@opentelemetry/api`, a no-op until the application registers an OpenTelemetry SDK.
 */

// ---------------------------------------------------------------- logs

export type Logger = pino.Logger;
export type LogLevel = "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";
/** Rewrites one string value of a log line, e.g. to mask secrets. Must not throw. */
export type Redactor = (s: string) => string;

export interface LoggerOptions {
  /** Default `info`. */
  level?: LogLevel;
  /** A stream, a file descriptor or a file path. Default: stderr (stdout stays free for `--json` output). */
  destination?: pino.DestinationStream | number | string;
  /** Applied to every string value of every line. Default: the guard's `redact`, or what `setLogRedactor` set. */
  redact?: Redactor;
}

// Redaction is on by default, so a secret that reaches a log line is scrubbed by construction.
let defaultRedactor: Redactor | undefined = redact;

/**
 * The slot where the guard layer plugs in its redaction for every logger that was not given
 * its own `redact`, including loggers created before it was set. `undefined` removes it.
 */
export function setLogRedactor(redactor: Redactor | undefined): void {
  defaultRedactor = redactor;
}

/**
 * A pino logger writing one JSON object per line: `level` (label), `ts` (ISO 8601, UTC), `msg`,
 * plus the fields passed in. No pid or hostname. Keep fields low-cardinality and small
 * (`runId`, `workflow`, `step`, `attempt`, `code`), never payloads: results and inputs belong in
 * the journal.
 *
 * @example
 * const log = createLogger({ level: "debug" });
 * log.info({ runId, workflow: "ingest", step: "fetch#0" }, "step completed");
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const { level = "info", destination, redact } = options;
  const stream =
    destination === undefined
      ? pino.destination({ dest: 2, sync: true })
      : typeof destination === "number" || typeof destination === "string"
        ? pino.destination({ dest: destination, sync: true })
        : destination;
  return pino(
    {
      level,
      base: null,
      timestamp: () => `,"ts":"${new Date().toISOString()}"`,
      formatters: { level: (label) => ({ level: label }) },
      hooks: {
        // On the finished line, so the message, bindings and serialized errors are all covered.
        streamWrite: (line) => {
          const redactor = redact ?? defaultRedactor;
          return redactor ? redactJsonLine(line, redactor) : line;
        },
      },
    },
    stream,
  );
}

function redactJsonLine(line: string, redactor: Redactor): string {
  return `${JSON.stringify(redactValue(JSON.parse(line), redactor))}\n`;
}

function redactValue(value: unknown, redactor: Redactor): unknown {
  if (typeof value === "string") return redactor(value);
  if (Array.isArray(value)) return value.map((item) => redactValue(item, redactor));
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [key, member] of Object.entries(value)) out[key] = redactValue(member, redactor);
    return out;
  }
  return value;
}

// ---------------------------------------------------------------- metrics

/** ballast's prom-client registry; the server layer exposes it (`await metricsRegistry.metrics()`). */
export const metricsRegistry = new Registry();

/**
 * The runtime's metrics. Labels stay low-cardinality: `workflow` is a registered workflow
 * name and `status` one of a few terminal states (`completed`, `failed`, `cancelled`,
 * `budget_exceeded`, ...); never a run id or step id.
 */
export const metrics = {
  /** Steps that finished, by outcome. */
  stepsTotal: new Counter({
    name: "ballast_steps_total",
    help: "Workflow steps finished, by workflow and status.",
    labelNames: ["workflow", "status"] as const,
    registers: [metricsRegistry],
  }),
  /** Wall time of each step execution (a journaled result served on resume is not an execution). */
  stepDurationSeconds: new Histogram({
    name: "ballast_step_duration_seconds",
    help: "Duration of workflow step executions in seconds.",
    labelNames: ["workflow"] as const,
    buckets: [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300],
    registers: [metricsRegistry],
  }),
  stepRetriesTotal: new Counter({
    name: "ballast_step_retries_total",
    help: "Step attempts that were retried after a retryable error.",
    labelNames: ["workflow"] as const,
    registers: [metricsRegistry],
  }),
  /** Items waiting in all bounded queues together. */
  queueDepth: new Gauge({
    name: "ballast_queue_depth",
    help: "Items waiting in ballast's bounded queues.",
    registers: [metricsRegistry],
  }),
  stepsInFlight: new Gauge({
    name: "ballast_steps_in_flight",
    help: "Workflow steps executing right now.",
    registers: [metricsRegistry],
  }),
  runsTotal: new Counter({
    name: "ballast_runs_total",
    help: "Workflow runs finished, by workflow and status.",
    labelNames: ["workflow", "status"] as const,
    registers: [metricsRegistry],
  }),
};

// ---------------------------------------------------------------- traces

export const SPAN_NAMES = { run: "workflow.run", step: "workflow.step" } as const;

/** The only attributes ballast puts on spans: ids and states, never payloads or user text. */
export const SPAN_ATTRIBUTE_ALLOWLIST: ReadonlySet<string> = new Set([
  "ballast.run_id",
  "ballast.workflow",
  "ballast.step",
  "ballast.attempt",
  "ballast.status",
]);

const MAX_ATTRIBUTE_CHARS = 256;

/**
 * Keeps allowlisted attributes with string, number or boolean values, cutting strings to 256
 * characters; everything else is dropped.
 */
export function spanAttributes(attributes: Readonly<Record<string, unknown>>): Attributes {
  const out: Attributes = {};
  for (const [key, value] of Object.entries(attributes)) {
    if (!SPAN_ATTRIBUTE_ALLOWLIST.has(key)) continue;
    const kept = attributeValue(value);
    if (kept !== undefined) out[key] = kept;
  }
  return out;
}

function attributeValue(value: unknown): AttributeValue | undefined {
  if (typeof value === "string")
    return value.length > MAX_ATTRIBUTE_CHARS ? value.slice(0, MAX_ATTRIBUTE_CHARS) : value;
  if (typeof value === "boolean" || (typeof value === "number" && Number.isFinite(value))) return value;
  return undefined;
}

/** Sets attributes on a span through the allowlist (e.g. `ballast.status` once it is known). */
export function setSpanAttributes(span: Span, attributes: Readonly<Record<string, unknown>>): void {
  span.setAttributes(spanAttributes(attributes));
}

/**
 * Runs `fn` inside an active span named `name` (see `SPAN_NAMES`), with the allowlisted
 * `attributes`. The span ends with status OK when `fn` resolves; when it throws, the span
 * records the exception (its code or name and a capped message, no stack) and ends with
 * status ERROR, and the error is rethrown unchanged.
 *
 * @example
 * await withSpan(SPAN_NAMES.step, { "ballast.run_id": runId, "ballast.step": stepId }, () => fn());
 */
export function withSpan<T>(
  name: string,
  attributes: Readonly<Record<string, unknown>>,
  fn: (span: Span) => Promise<T> | T,
): Promise<T> {
  return trace
    .getTracer("ballast")
    .startActiveSpan(name, { attributes: spanAttributes(attributes) }, async (span) => {
      try {
        const result = await fn(span);
        span.setStatus({ code: SpanStatusCode.OK });
        return result;
      } catch (error) {
        const message = String(error instanceof Error ? error.message : error).slice(0, MAX_ATTRIBUTE_CHARS);
        const kind = BallastError.isInstance(error)
          ? error.code
          : error instanceof Error
            ? error.name
            : "Error";
        span.recordException({ name: kind, message });
        span.setStatus({ code: SpanStatusCode.ERROR, message });
        throw error;
      } finally {
        span.end();
      }
    });
}
