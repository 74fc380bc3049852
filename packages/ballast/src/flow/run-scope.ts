import type { JsonValue } from "../canonical.ts";
import type { JournalEvent } from "../journal/types.ts";
import type { BudgetHooks, RunScope, ScopeMode } from "./scope.ts";

/**
 * The engine's `RunScope`. One scope exists for the workflow body, one per branch of
 * `ctx.all`/`ctx.map`/`ctx.dag`, and one per step attempt. Each keeps its own counters, so
 * the ids it hands out (`fetch#2`, `map#0[3]/parse#0`, `fetch#2/model.called#0`) depend only
 * on the order of calls within that scope, never on how concurrent branches interleave.
 */

/** What a scope needs from the execution that owns it. */
export interface ScopeHost {
  readonly runId: string;
  readonly mode: ScopeMode;
  readonly budget: BudgetHooks;
  recordedEffect(key: string): JournalEvent | undefined;
  recordEffect(key: string, type: string, data: JsonValue): Promise<JournalEvent>;
}

export class EngineScope implements RunScope {
  readonly host: ScopeHost;
  readonly stepId: string | null;
  readonly signal: AbortSignal;
  /** Prefix of ids of steps and branches started in this scope. */
  readonly idPrefix: string;
  /** Prefix of effect keys; a retry attempt gets its own (`step#0@2/`). */
  readonly effectPrefix: string;
  #steps: Map<string, number> | undefined;
  #branches: Map<string, number> | undefined;
  #effects: Map<string, number> | undefined;

  constructor(
    host: ScopeHost,
    stepId: string | null,
    idPrefix: string,
    effectPrefix: string,
    signal: AbortSignal,
  ) {
    this.host = host;
    this.stepId = stepId;
    this.idPrefix = idPrefix;
    this.effectPrefix = effectPrefix;
    this.signal = signal;
  }

  get runId(): string {
    return this.host.runId;
  }

  get mode(): ScopeMode {
    return this.host.mode;
  }

  get budget(): BudgetHooks {
    return this.host.budget;
  }

  nextStepId(name: string): string {
    this.#steps ??= new Map();
    return `${this.idPrefix}${name}#${bump(this.#steps, name)}`;
  }

  nextBranchId(kind: string): string {
    this.#branches ??= new Map();
    return `${kind}#${bump(this.#branches, kind)}`;
  }

  nextEffectKey(type: string): string {
    this.#effects ??= new Map();
    return `${this.effectPrefix}${type}#${bump(this.#effects, type)}`;
  }

  recordedEffect(key: string): JournalEvent | undefined {
    return this.host.recordedEffect(key);
  }

  recordEffect(key: string, type: string, data: JsonValue): Promise<JournalEvent> {
    return this.host.recordEffect(key, type, data);
  }

  /** A scope for one branch (`map#0[3]`) of a fan-out started in this scope. */
  branch(path: string): EngineScope {
    return new EngineScope(
      this.host,
      this.stepId,
      `${this.idPrefix}${path}/`,
      `${this.effectPrefix}${path}/`,
      this.signal,
    );
  }

  /** A scope for one attempt of a step. */
  step(stepId: string, attempt: number, signal: AbortSignal): EngineScope {
    const effectPrefix = attempt === 1 ? `${stepId}/` : `${stepId}@${attempt}/`;
    return new EngineScope(this.host, stepId, `${stepId}/`, effectPrefix, signal);
  }
}

function bump(counters: Map<string, number>, key: string): number {
  const n = counters.get(key) ?? 0;
  counters.set(key, n + 1);
  return n;
}
