import { ValidationError } from "../errors.ts";
import { type BudgetDimension, BudgetExceededError } from "./errors.ts";
import type { BudgetEventData } from "./events.ts";
import type { BudgetUsage } from "./run-history.ts";
import type { BudgetAmount, BudgetHooks, BudgetReservation } from "./scope.ts";
import type { BudgetLimits, BudgetMode } from "./types.ts";

/**
 * A run's budget. Effects reserve their worst case before they are dispatched and commit
 * what they really used; reservation is a synchronous check-and-add, so parallel fan-out
 * cannot overshoot an `enforce` limit (every in-flight worst case is counted).
 */

export interface BudgetCallbacks {
  /** `soft` mode crossed a limit (once per dimension and run). */
  onWarning(data: BudgetEventData): void;
  /** `enforce` mode crossed a limit: the engine ends the run. */
  onExceeded(error: BudgetExceededError, data: BudgetEventData): void;
  /** Actual usage of an effect, for the journal (so a resumed run keeps counting). */
  onCommit(label: string, actual: BudgetAmount): void;
}

const AMOUNT_DIMENSIONS = ["tokens", "costUsd", "toolCalls"] as const;

export function validateBudget(limits: BudgetLimits | undefined, where: string): void {
  if (limits === undefined) return;
  if (limits.mode !== undefined && limits.mode !== "soft" && limits.mode !== "enforce") {
    throw new ValidationError("invalid_budget", `${where}: budget.mode must be "soft" or "enforce".`);
  }
  for (const dim of ["wallMs", "steps", ...AMOUNT_DIMENSIONS] as const) {
    const value = limits[dim];
    if (value !== undefined && !(typeof value === "number" && value >= 0 && Number.isFinite(value))) {
      throw new ValidationError("invalid_budget", `${where}: budget.${dim} must be a finite number >= 0.`);
    }
  }
}

export class RunBudget implements BudgetHooks {
  readonly mode: BudgetMode;
  readonly limits: BudgetLimits;
  readonly used: BudgetUsage;
  readonly #reserved: BudgetUsage = { tokens: 0, costUsd: 0, toolCalls: 0 };
  readonly #warned: Set<string>;
  readonly #runId: string;
  readonly #callbacks: BudgetCallbacks;
  #steps = 0;
  #exceeded: BudgetExceededError | undefined;

  constructor(options: {
    runId: string;
    limits: BudgetLimits | undefined;
    used?: BudgetUsage;
    warned?: ReadonlySet<string>;
    callbacks: BudgetCallbacks;
  }) {
    this.#runId = options.runId;
    this.limits = options.limits ?? {};
    this.mode = this.limits.mode ?? "enforce";
    this.used = { ...(options.used ?? { tokens: 0, costUsd: 0, toolCalls: 0 }) };
    this.#warned = new Set(options.warned);
    this.#callbacks = options.callbacks;
  }

  get steps(): number {
    return this.#steps;
  }

  /** The error that stopped the run, once an `enforce` limit was crossed. */
  get exceeded(): BudgetExceededError | undefined {
    return this.#exceeded;
  }

  reserve(amount: BudgetAmount, label: string): BudgetReservation {
    if (this.#exceeded) throw this.#exceeded;
    for (const dim of AMOUNT_DIMENSIONS) {
      const want = amount[dim] ?? 0;
      const limit = this.limits[dim];
      if (limit === undefined || want === 0) continue;
      const projected = this.used[dim] + this.#reserved[dim] + want;
      if (projected > limit) this.#cross(dim, limit, projected, label, true);
    }
    for (const dim of AMOUNT_DIMENSIONS) this.#reserved[dim] += amount[dim] ?? 0;
    let open = true;
    return {
      commit: (actual) => {
        if (!open) return;
        open = false;
        for (const dim of AMOUNT_DIMENSIONS) {
          this.#reserved[dim] -= amount[dim] ?? 0;
          this.used[dim] += actual[dim] ?? 0;
        }
        if (AMOUNT_DIMENSIONS.some((dim) => (actual[dim] ?? 0) !== 0))
          this.#callbacks.onCommit(label, actual);
        // The worst case was a guess: actual use can still cross a limit. The effect has
        // happened, so this does not throw; in enforce mode the run stops.
        for (const dim of AMOUNT_DIMENSIONS) {
          const limit = this.limits[dim];
          if (limit !== undefined && this.used[dim] > limit)
            this.#cross(dim, limit, this.used[dim], label, false);
        }
      },
      release: () => {
        if (!open) return;
        open = false;
        for (const dim of AMOUNT_DIMENSIONS) this.#reserved[dim] -= amount[dim] ?? 0;
      },
    };
  }

  /** Counts a step call; throws in enforce mode past the limit. */
  countStep(stepId: string): void {
    if (this.#exceeded) throw this.#exceeded;
    this.#steps += 1;
    const limit = this.limits.steps;
    if (limit !== undefined && this.#steps > limit) this.#cross("steps", limit, this.#steps, stepId, true);
  }

  /** Wall time ran out (the engine's deadline timer calls this). */
  wallTimeUp(elapsedMs: number): void {
    const limit = this.limits.wallMs;
    if (limit !== undefined && !this.#exceeded) this.#cross("wallMs", limit, elapsedMs, undefined, false);
  }

  #cross(
    dimension: BudgetDimension,
    limit: number,
    used: number,
    label: string | undefined,
    raise: boolean,
  ): void {
    const data: BudgetEventData = { dimension, limit, used, ...(label === undefined ? {} : { label }) };
    if (this.mode === "soft") {
      if (this.#warned.has(dimension)) return;
      this.#warned.add(dimension);
      this.#callbacks.onWarning(data);
      return;
    }
    if (this.#exceeded) {
      if (raise) throw this.#exceeded;
      return;
    }
    const error = new BudgetExceededError({
      runId: this.#runId,
      dimension,
      limit,
      used,
      ...(label ? { label } : {}),
    });
    this.#exceeded = error;
    this.#callbacks.onExceeded(error, data);
    if (raise) throw error;
  }
}
