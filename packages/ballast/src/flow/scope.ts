import { AsyncLocalStorage } from "node:async_hooks";
import type { JsonValue } from "../canonical.ts";
import { BallastError } from "../errors.ts";
import type { JournalEvent } from "../journal/types.ts";

/**
 * The seam between the flow engine and the effects that happen inside a run (model calls,
 * commands, tool calls). The flow engine installs a `RunScope` around workflow code with
 * `runInScope`; the model layer and the sandbox read it with `currentScope()` and, when it
 * is there, journal what they do and serve it back on replay. Outside a run there is no
 * scope and effects simply happen.
 */

export type ScopeMode = "live" | "replay";

export interface BudgetAmount {
  tokens?: number;
  costUsd?: number;
  toolCalls?: number;
}

export interface BudgetReservation {
  /** Replaces the reserved worst case by what was really used. */
  commit(actual: BudgetAmount): void;
  /** Gives the reservation back (the effect did not happen). */
  release(): void;
}

export interface BudgetHooks {
  /**
   * Reserves the worst case of an effect before it is dispatched. In `enforce` mode a
   * reservation that does not fit throws a `budget_exceeded` error and reserves nothing;
   * in `soft` mode it warns and proceeds.
   */
  reserve(amount: BudgetAmount, label: string): BudgetReservation;
}

export interface RunScope {
  readonly runId: string;
  /** Deterministic id of the step being executed, or null in workflow code between steps. */
  readonly stepId: string | null;
  readonly mode: ScopeMode;
  /** Aborted when the run or step is cancelled or times out. */
  readonly signal: AbortSignal;
  readonly budget: BudgetHooks;
  /**
   * Reserves the next deterministic key for an effect of `type` in this step, e.g.
   * `summarise#0/model.called#2`. Synchronous, so concurrent effects cannot race for keys.
   */
  nextEffectKey(type: string): string;
  /**
   * The effect journaled under `key` by an earlier execution of this run, if any (a resumed
   * run gets it back too, so a call made before a crash is not paid for twice). In `replay`
   * mode a missing effect is a divergence: this throws a `DivergenceError` rather than let
   * the caller perform the effect.
   */
  recordedEffect(key: string): JournalEvent | undefined;
  /**
   * Journals an effect; resolves once it is durable. The event's data is `data` with `key`
   * added (a non-object `data` becomes `{ key, value }`). `data` should hold `requestHash`;
   * model calls also `provider`, `modelId` and `usage: { inputTokens, outputTokens }`, which
   * the run metadata sums. In `replay` mode nothing is written: the journaled event is
   * returned, and a different type or `requestHash` is a `DivergenceError`.
   */
  recordEffect(key: string, type: string, data: JsonValue): Promise<JournalEvent>;
}

const storage = new AsyncLocalStorage<RunScope>();

export function currentScope(): RunScope | undefined {
  return storage.getStore();
}

export function runInScope<T>(scope: RunScope, fn: () => T): T {
  return storage.run(scope, fn);
}

/** A re-execution took another path than the journal records. */
export class DivergenceError extends BallastError {
  constructor(options: {
    runId: string;
    key: string;
    message: string;
    expected?: unknown;
    actual?: unknown;
    /** Sequence number of the first journal event that differs, when there is one. */
    seq?: number;
  }) {
    const where = options.seq === undefined ? options.key : `event #${options.seq} (${options.key})`;
    super({
      code: "replay_divergence",
      message: `Run ${options.runId} diverged from its journal at ${where}: ${options.message}. The code or its inputs changed since the run was recorded; fork the run to continue with the new code.`,
      details: {
        runId: options.runId,
        key: options.key,
        expected: options.expected,
        actual: options.actual,
        ...(options.seq === undefined ? {} : { seq: options.seq }),
      },
    });
    this.name = "DivergenceError";
  }
}
