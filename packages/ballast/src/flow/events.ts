import type { JsonValue } from "../canonical.ts";
import type { ErrorRecord } from "../errors.ts";
import type { RunStatus } from "../journal/types.ts";
import type { BudgetDimension } from "./errors.ts";

/** The events the flow engine journals, and the shape of their data. */

export const EV = {
  runStarted: "run.started",
  runResumed: "run.resumed",
  runForked: "run.forked",
  runCompleted: "run.completed",
  runFailed: "run.failed",
  runCancelled: "run.cancelled",
  runTimedOut: "run.timed_out",
  stepStarted: "step.started",
  stepReexecuted: "step.reexecuted",
  stepAttemptFailed: "step.attempt_failed",
  stepCompleted: "step.completed",
  stepFailed: "step.failed",
  budgetWarning: "budget.warning",
  budgetExceeded: "budget.exceeded",
  budgetCommitted: "budget.committed",
} as const;

/** Events that end a run, with the status each one leaves. */
export const TERMINAL_EVENTS: ReadonlyMap<string, RunStatus> = new Map<string, RunStatus>([
  [EV.runCompleted, "completed"],
  [EV.runFailed, "failed"],
  [EV.runCancelled, "cancelled"],
  [EV.runTimedOut, "timed_out"],
  [EV.budgetExceeded, "budget_exceeded"],
]);

export interface RunStartedData {
  workflow: string;
  version: string;
  seed: string;
  inputHash: string;
  budget?: JsonValue;
  timeoutMs?: number;
}

export interface StepStartedData {
  stepId: string;
  attempt: number;
  /** Only when the caller gave the key; a derived key is recomputed from run and step id. */
  idempotencyKey?: string;
}

/** A step that had started but not finished runs again with the same key (seed 002 OC-15). */
export interface StepReexecutedData {
  stepId: string;
  attempt: number;
  idempotencyKey: string;
  startedSeq: number;
}

export interface StepAttemptFailedData {
  stepId: string;
  attempt: number;
  error: ErrorRecord;
  /** Backoff before the next attempt. */
  delayMs: number;
}

export interface StepCompletedData {
  stepId: string;
  attempt: number;
  durationMs: number;
  /** The result inline, or `resultRef` (a journal blob reference) when large; absent for `undefined`. */
  result?: JsonValue;
  resultRef?: JsonValue;
}

export interface StepFailedData {
  stepId: string;
  attempts: number;
  error: ErrorRecord;
}

export interface BudgetEventData {
  dimension: BudgetDimension;
  limit: number;
  used: number;
  label?: string;
}

export interface BudgetCommittedData {
  label: string;
  tokens?: number;
  costUsd?: number;
  toolCalls?: number;
}

export interface RunCompletedData {
  output?: JsonValue;
  outputRef?: JsonValue;
}
