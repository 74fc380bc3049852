import type { JournalEvent } from "../journal/types.ts";
import {
  type BudgetCommittedData,
  type BudgetEventData,
  EV,
  type RunStartedData,
  type StepAttemptFailedData,
  type StepStartedData,
  TERMINAL_EVENTS,
} from "./events.ts";

/**
 * What an earlier execution of a run left in its journal, indexed for the engine: which
 * steps completed or failed, which attempts failed, which effects were recorded under which
 * key. Built once per resume or replay, in one pass.
 */

export interface StepHistory {
  stepId: string;
  /** The last `step.started` seen, if any. */
  started?: JournalEvent;
  completed?: JournalEvent;
  failed?: JournalEvent;
  /** Highest attempt that failed and was journaled (0 when none). */
  failedAttempts: number;
}

export interface BudgetUsage {
  tokens: number;
  costUsd: number;
  toolCalls: number;
}

export class RunHistory {
  readonly events: readonly JournalEvent[];
  readonly steps = new Map<string, StepHistory>();
  readonly effects = new Map<string, JournalEvent>();
  readonly budgetWarnings = new Set<string>();
  readonly budgetUsed: BudgetUsage = { tokens: 0, costUsd: 0, toolCalls: 0 };
  /** Failed attempts that were retried (`step.attempt_failed` events). */
  retries = 0;
  readonly started: RunStartedData | undefined;
  readonly startedAt: number | undefined;
  readonly terminal: JournalEvent | undefined;
  /** Executions so far (run.started plus each run.resumed). */
  readonly executions: number;

  constructor(events: readonly JournalEvent[]) {
    this.events = events;
    let started: RunStartedData | undefined;
    let startedAt: number | undefined;
    let terminal: JournalEvent | undefined;
    let executions = 0;
    for (const event of events) {
      const data = event.data as Record<string, unknown> | null;
      switch (event.type) {
        case EV.runStarted:
          started = data as unknown as RunStartedData;
          startedAt = Date.parse(event.at);
          executions += 1;
          break;
        case EV.runResumed:
          executions += 1;
          break;
        case EV.stepStarted:
          this.#step((data as unknown as StepStartedData).stepId).started = event;
          break;
        case EV.stepCompleted:
          this.#step(data?.["stepId"] as string).completed = event;
          break;
        case EV.stepFailed:
          this.#step(data?.["stepId"] as string).failed = event;
          break;
        case EV.stepAttemptFailed: {
          const d = data as unknown as StepAttemptFailedData;
          const step = this.#step(d.stepId);
          step.failedAttempts = Math.max(step.failedAttempts, d.attempt);
          this.retries += 1;
          break;
        }
        case EV.budgetWarning:
          this.budgetWarnings.add((data as unknown as BudgetEventData).dimension);
          break;
        case EV.budgetCommitted: {
          const d = data as unknown as BudgetCommittedData;
          this.budgetUsed.tokens += d.tokens ?? 0;
          this.budgetUsed.costUsd += d.costUsd ?? 0;
          this.budgetUsed.toolCalls += d.toolCalls ?? 0;
          break;
        }
        default:
          if (TERMINAL_EVENTS.has(event.type)) terminal = event;
          else if (data !== null && typeof data === "object" && typeof data["key"] === "string") {
            // Effects (model calls, commands, ctx.now ...) carry their deterministic key.
            this.effects.set(data["key"], event);
          }
      }
    }
    this.started = started;
    this.startedAt = startedAt;
    this.terminal = terminal;
    this.executions = executions;
  }

  #step(stepId: string): StepHistory {
    let step = this.steps.get(stepId);
    if (step === undefined) {
      step = { stepId, failedAttempts: 0 };
      this.steps.set(stepId, step);
    }
    return step;
  }
}

export const EMPTY_HISTORY = new RunHistory([]);
