import type { BudgetAmount, BudgetReservation, RunScope } from "../flow/scope.ts";
import { ModelBudgetExceededError } from "./errors.ts";

/**
 * Budgets the model layer keeps itself: one per stage (per run when inside a run) and one
 * for the whole layer (the run budget of programs that do not use the flow engine). A run's
 * own budget lives in the flow engine and is reached through `scope.budget`.
 *
 * Every call reserves its worst case before dispatch, synchronously, so parallel fan-out
 * cannot overshoot an `enforce` limit: all in-flight worst cases are counted. The real
 * usage replaces the reservation when the call ends.
 */

export interface BudgetLimit {
  tokens?: number;
  costUsd?: number;
  /** `enforce` (default) refuses calls that could cross the limit; `soft` warns once. */
  mode?: "enforce" | "soft";
}

export interface BudgetWarning {
  scope: string;
  dimension: "tokens" | "costUsd";
  limit: number;
  wouldReach: number;
}

const DIMENSIONS = ["tokens", "costUsd"] as const;

export class BudgetLedger {
  readonly name: string;
  readonly limit: BudgetLimit;
  readonly used = { tokens: 0, costUsd: 0 };
  readonly #reserved = { tokens: 0, costUsd: 0 };
  readonly #warned = new Set<string>();
  readonly #onWarning: (warning: BudgetWarning) => void;

  constructor(name: string, limit: BudgetLimit, onWarning: (warning: BudgetWarning) => void) {
    this.name = name;
    this.limit = limit;
    this.#onWarning = onWarning;
  }

  reserve(amount: BudgetAmount): BudgetReservation {
    for (const dim of DIMENSIONS) {
      const cap = this.limit[dim];
      const want = amount[dim] ?? 0;
      if (cap === undefined || want === 0) continue;
      const wouldReach = this.used[dim] + this.#reserved[dim] + want;
      if (wouldReach > cap) this.#cross(dim, cap, wouldReach, true);
    }
    for (const dim of DIMENSIONS) this.#reserved[dim] += amount[dim] ?? 0;
    let open = true;
    return {
      commit: (actual) => {
        if (!open) return;
        open = false;
        for (const dim of DIMENSIONS) {
          this.#reserved[dim] -= amount[dim] ?? 0;
          this.used[dim] += actual[dim] ?? 0;
          const cap = this.limit[dim];
          // The call happened: crossing here cannot be undone, only reported.
          if (cap !== undefined && this.used[dim] > cap) this.#cross(dim, cap, this.used[dim], false);
        }
      },
      release: () => {
        if (!open) return;
        open = false;
        for (const dim of DIMENSIONS) this.#reserved[dim] -= amount[dim] ?? 0;
      },
    };
  }

  #cross(dimension: "tokens" | "costUsd", limit: number, wouldReach: number, raise: boolean): void {
    if ((this.limit.mode ?? "enforce") === "enforce") {
      if (raise) throw new ModelBudgetExceededError({ scope: this.name, dimension, limit, wouldReach });
      return;
    }
    if (this.#warned.has(dimension)) return;
    this.#warned.add(dimension);
    this.#onWarning({ scope: this.name, dimension, limit, wouldReach });
  }
}

/** Several reservations taken together: all or none. */
export function reserveAll(
  targets: readonly { reserve(amount: BudgetAmount): BudgetReservation }[],
  amount: BudgetAmount,
): BudgetReservation {
  const taken: BudgetReservation[] = [];
  try {
    for (const target of targets) taken.push(target.reserve(amount));
  } catch (error) {
    for (const reservation of taken) reservation.release();
    throw error;
  }
  if (taken.length === 1) return taken[0] as BudgetReservation;
  return {
    commit: (actual) => {
      for (const reservation of taken) reservation.commit(actual);
    },
    release: () => {
      for (const reservation of taken) reservation.release();
    },
  };
}

/** The run's own budget (flow engine) as a reservation target labelled for its events. */
export function scopeBudgetTarget(
  scope: RunScope,
  label: string,
): { reserve(amount: BudgetAmount): BudgetReservation } {
  return { reserve: (amount) => scope.budget.reserve(amount, label) };
}

export const NO_RESERVATION: BudgetReservation = { commit() {}, release() {} };
