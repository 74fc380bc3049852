import { context, type Span, SpanStatusCode, trace } from "@opentelemetry/api";
import type { ErrorRecord } from "../errors.ts";
import type { BudgetEventData } from "./events.ts";
import { createLogger, type Logger, type LogLevel, metrics, SPAN_NAMES, spanAttributes } from "./observe.ts";
import type { FlowObserver, RunInfo, RunObservation, StepObservation, StepOutcome } from "./observer.ts";

/**
 * The engine's observer over the shared plumbing of observe.ts: pino logs (run ends,
 * retries, slow steps, re-executions; never payloads), `ballast_*` metrics, and the spans
 * `workflow.run` / `workflow.step` with allowlisted attributes.
 */

const LEVELS: ReadonlySet<string> = new Set(["fatal", "error", "warn", "info", "debug", "trace", "silent"]);

/** The engine's default logger: `BALLAST_LOG_LEVEL`, else `warn` (a library stays quiet). */
export function defaultFlowLogger(): Logger {
  const level = process.env["BALLAST_LOG_LEVEL"];
  return createLogger({ level: level !== undefined && LEVELS.has(level) ? (level as LogLevel) : "warn" });
}

export function createFlowTelemetry(logger: Logger): FlowObserver {
  const tracer = trace.getTracer("ballast");
  return {
    runStarted(info: RunInfo): RunObservation {
      const base = { runId: info.runId, workflow: info.workflow };
      const runSpan = tracer.startSpan(SPAN_NAMES.run, {
        attributes: spanAttributes({ "ballast.run_id": info.runId, "ballast.workflow": info.workflow }),
      });
      const runContext = trace.setSpan(context.active(), runSpan);
      logger.debug(
        { ...base, version: info.version, mode: info.mode, execution: info.execution },
        "run executing",
      );
      return {
        within: (fn) => context.with(runContext, fn),
        stepStarted(stepId: string, _name: string, attempt: number): StepObservation {
          const live = attempt > 0;
          // The active context carries the parent when the app installed a context manager;
          // without one, steps still hang under their run.
          const active = context.active();
          const span = tracer.startSpan(
            SPAN_NAMES.step,
            undefined,
            trace.getSpan(active) ? active : runContext,
          );
          // Attribute work only when an SDK records spans (the API alone hands out no-ops).
          if (span.isRecording()) {
            span.setAttributes(
              spanAttributes({
                "ballast.run_id": info.runId,
                "ballast.workflow": info.workflow,
                "ballast.step": stepId,
                "ballast.attempt": attempt,
              }),
            );
          }
          if (live) metrics.stepsInFlight.inc();
          return {
            within: (fn) => context.with(trace.setSpan(context.active(), span), fn),
            ended(outcome: StepOutcome, durationMs: number, error?: ErrorRecord) {
              if (live) {
                metrics.stepsInFlight.dec();
                metrics.stepDurationSeconds.observe({ workflow: info.workflow }, durationMs / 1000);
              }
              metrics.stepsTotal.inc({ workflow: info.workflow, status: outcome });
              endSpan(span, outcome, error);
            },
          };
        },
        retrying(stepId: string, attempt: number, delayMs: number, error: ErrorRecord) {
          metrics.stepRetriesTotal.inc({ workflow: info.workflow });
          logger.warn(
            { ...base, step: stepId, attempt, delayMs, code: error.code },
            "step attempt failed; retrying",
          );
        },
        slow(stepId: string, elapsedMs: number, timeoutMs: number) {
          logger.warn(
            { ...base, step: stepId, elapsedMs: Math.round(elapsedMs), timeoutMs },
            "step has used 95% of its timeout",
          );
        },
        reexecuted(stepId: string, idempotencyKey: string) {
          logger.info(
            { ...base, step: stepId, idempotencyKey },
            "step was running when the run stopped; running it again under the same idempotency key",
          );
        },
        budgetWarning(data: BudgetEventData) {
          logger.warn(
            { ...base, dimension: data.dimension, limit: data.limit, used: data.used },
            "budget exceeded (soft)",
          );
        },
        ended(status, error) {
          metrics.runsTotal.inc({ workflow: info.workflow, status });
          const line = { ...base, status, ...(error ? { code: error.code } : {}) };
          if (status === "completed" || status === "replayed") logger.info(line, "run ended");
          else logger.warn(line, error ? `run ended: ${error.message}` : "run ended");
          endSpan(runSpan, status, error);
        },
      };
    },
  };
}

function endSpan(span: Span, status: string, error: ErrorRecord | undefined): void {
  if (!span.isRecording()) return;
  span.setAttributes(spanAttributes({ "ballast.status": status }));
  if (error) {
    const message = error.message.slice(0, 256);
    span.recordException({ name: error.code, message });
    span.setStatus({ code: SpanStatusCode.ERROR, message });
  } else {
    span.setStatus({ code: SpanStatusCode.OK });
  }
  span.end();
}
