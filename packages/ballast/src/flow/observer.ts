import type { ErrorRecord } from "../errors.ts";
import type { RunStatus } from "../journal/types.ts";
import type { BudgetEventData } from "./events.ts";
import type { ScopeMode } from "./scope.ts";

/**
 * What the engine tells the outside world while a run executes (logs, metrics, traces).
 * The engine calls only this narrow interface; `flow-telemetry.ts` implements it over the
 * shared pino / prom-client / OpenTelemetry plumbing, and tests can pass their own.
 */

export interface RunInfo {
  runId: string;
  workflow: string;
  version: string;
  mode: ScopeMode;
  execution: number;
}

export type StepOutcome = "completed" | "failed" | "served" | "cancelled";

export interface StepObservation {
  /** Runs `fn` with the step as the current trace context. */
  within<T>(fn: () => T): T;
  ended(outcome: StepOutcome, durationMs: number, error?: ErrorRecord): void;
}

export interface RunObservation {
  within<T>(fn: () => T): T;
  stepStarted(stepId: string, name: string, attempt: number): StepObservation;
  retrying(stepId: string, attempt: number, delayMs: number, error: ErrorRecord): void;
  /** A step attempt used 95% of its timeout. */
  slow(stepId: string, elapsedMs: number, timeoutMs: number): void;
  reexecuted(stepId: string, idempotencyKey: string): void;
  budgetWarning(data: BudgetEventData): void;
  ended(status: RunStatus | "replayed", error?: ErrorRecord): void;
}

export interface FlowObserver {
  runStarted(info: RunInfo): RunObservation;
}
