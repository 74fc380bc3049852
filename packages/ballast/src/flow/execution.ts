import type { JsonValue } from "../canonical.ts";
import { BallastError, toErrorRecord, ValidationError } from "../errors.ts";
import {
  type JournalEvent,
  type JournalStore,
  type RunRecord,
  type RunStatus,
  TERMINAL_STATUSES,
} from "../journal/types.ts";
import { RunBudget } from "./budget.ts";
import { errorFromRecord, RunCancelledError, RunTimeoutError } from "./errors.ts";
import { EV, TERMINAL_EVENTS } from "./events.ts";
import type { RunObservation } from "./observer.ts";
import type { RunHistory } from "./run-history.ts";
import { EngineScope, type ScopeHost } from "./run-scope.ts";
import { DivergenceError, runInScope, type ScopeMode } from "./scope.ts";
import type { BudgetLimits, Workflow, WorkflowContext } from "./types.ts";
import { encodeValue, fromJson, serialise } from "./value-codec.ts";
import { createWorkflowContext } from "./workflow-context.ts";

/**
 * One execution of a run: the first, a resume after a crash, the continuation of a fork, or
 * an offline replay. The same code path serves all four; `mode` and the history of earlier
 * executions decide what is run and what is served from the journal.
 */

export interface ExecutionInit {
  store: JournalStore;
  runId: string;
  workflow: Workflow;
  input: unknown;
  mode: ScopeMode;
  history: RunHistory;
  seed: string;
  /** Epoch ms of `run.started`: run timeout and wall-time budget count from here. */
  startedAt: number;
  budget: BudgetLimits | undefined;
  timeoutMs: number | undefined;
  observation: RunObservation;
  /** Produces the metadata stored with the run when a live execution ends. */
  metadata?: (execution: Execution) => JsonValue | undefined;
}

export interface RunOutcome {
  status: RunStatus;
  output?: unknown;
  /** Why the run did not complete. */
  error?: unknown;
}

export interface ExecutionCounts {
  /** Steps whose code ran in this execution. */
  executed: number;
  /** Steps answered from the journal without running. */
  served: number;
  retries: number;
  /** Steps that had started in an earlier execution and ran again under the same key. */
  reexecuted: number;
  /** Steps that failed for good in this execution. */
  failed: number;
}

const RESOLVED: Promise<undefined> = Promise.resolve(undefined);

export class Execution implements ScopeHost {
  readonly store: JournalStore;
  readonly runId: string;
  readonly workflow: Workflow;
  readonly input: unknown;
  readonly mode: ScopeMode;
  readonly history: RunHistory;
  readonly seed: string;
  readonly startedAt: number;
  readonly observation: RunObservation;
  readonly budget: RunBudget;
  readonly root: EngineScope;
  readonly ctx: WorkflowContext;
  readonly counts: ExecutionCounts = { executed: 0, served: 0, retries: 0, reexecuted: 0, failed: 0 };
  /** Data of the effects journaled by this execution (for the run metadata). */
  readonly recordedEffects: JsonValue[] = [];
  eventsAppended = 0;
  /** Step durations by step name, journaled ones included (for the latency summary). */
  readonly latencies = new Map<string, number[]>();
  /** Replay: seqs of the journal events this execution matched. */
  readonly visited = new Set<number>();
  /** Replay: steps handled so far, with the attempt that ran (or "served" for side effects). */
  readonly replayedSteps = new Map<string, number | "served">();

  readonly #init: ExecutionInit;
  readonly #controller = new AbortController();
  #stop: { error: BallastError; status: RunStatus } | undefined;
  #ending: Promise<void> | undefined;
  #sealed = false;
  #divergence: DivergenceError | undefined;

  constructor(init: ExecutionInit) {
    this.#init = init;
    this.store = init.store;
    this.runId = init.runId;
    this.workflow = init.workflow;
    this.input = init.input;
    this.mode = init.mode;
    this.history = init.history;
    this.seed = init.seed;
    this.startedAt = init.startedAt;
    this.observation = init.observation;
    const live = init.mode === "live";
    this.budget = new RunBudget({
      runId: init.runId,
      // Replay re-counts nothing against limits: its effects are served, not spent.
      limits: live ? init.budget : undefined,
      used: init.history.budgetUsed,
      warned: init.history.budgetWarnings,
      callbacks: {
        onWarning: (data) => {
          this.appendLazy(EV.budgetWarning, data as unknown as JsonValue);
          this.observation.budgetWarning(data);
        },
        onExceeded: (error, data) =>
          this.stop(error, "budget_exceeded", EV.budgetExceeded, data as unknown as JsonValue),
        onCommit: (label, actual) => this.appendLazy(EV.budgetCommitted, { label, ...actual }),
      },
    });
    this.root = new EngineScope(this, null, "", "", this.#controller.signal);
    this.ctx = createWorkflowContext(this);
  }

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  get stopped(): boolean {
    return this.#stop !== undefined;
  }

  /** Why the run was stopped (cancel, timeout, budget, divergence). */
  get stopError(): BallastError | undefined {
    return this.#stop?.error;
  }

  get divergence(): DivergenceError | undefined {
    return this.#divergence;
  }

  /** Throws the reason the run was stopped, if it was. */
  assertRunning(): void {
    if (this.#stop) throw this.#stop.error;
  }

  /** Appends an event of this run; replay writes nothing, a stopped run accepts nothing more. */
  append(type: string, data: JsonValue, options?: { lazy?: boolean }): Promise<JournalEvent | undefined> {
    if (this.mode === "replay") return RESOLVED;
    if (this.#sealed) return Promise.reject(this.#stop?.error ?? sealedError(this.runId));
    this.eventsAppended += 1;
    return this.store.append(this.runId, { type, data }, options);
  }

  /** A lazy append nobody waits for (step.started, ctx.now, budget notes): lost only with a crash. */
  appendLazy(type: string, data: JsonValue): void {
    if (this.mode === "replay" || this.#sealed) return;
    this.eventsAppended += 1;
    this.store.append(this.runId, { type, data }, { lazy: true }).catch(() => {
      // The store rejects a lazy append only when it is closed; the next durable append reports it.
    });
  }

  noteLatency(name: string, durationMs: number): void {
    let list = this.latencies.get(name);
    if (list === undefined) {
      list = [];
      this.latencies.set(name, list);
    }
    list.push(durationMs);
  }

  visit(seq: number): void {
    if (this.mode === "replay") this.visited.add(seq);
  }

  recordedEffect(key: string): JournalEvent | undefined {
    const event = this.history.effects.get(key);
    if (event !== undefined) this.visit(event.seq);
    else if (this.mode === "replay")
      this.missing(key, `an effect ${key} was asked for, but the journal has none`);
    return event;
  }

  async recordEffect(key: string, type: string, data: JsonValue): Promise<JournalEvent> {
    const payload: JsonValue =
      data !== null && typeof data === "object" && !Array.isArray(data)
        ? { ...data, key }
        : { key, value: data };
    if (this.mode === "replay") {
      const recorded = this.history.effects.get(key);
      if (recorded === undefined)
        this.missing(key, `effect ${type} was performed, but the journal has none under this key`);
      const expected = recorded.data as Record<string, JsonValue>;
      const actual = payload as Record<string, JsonValue>;
      if (recorded.type !== type || expected["requestHash"] !== actual["requestHash"]) {
        throw this.diverge(
          new DivergenceError({
            runId: this.runId,
            seq: recorded.seq,
            key,
            message: `the journal records ${recorded.type} with request ${String(expected["requestHash"])}, the replay made ${type} with request ${String(actual["requestHash"])}`,
            expected: { type: recorded.type, requestHash: expected["requestHash"] ?? null },
            actual: { type, requestHash: actual["requestHash"] ?? null },
          }),
        );
      }
      this.visit(recorded.seq);
      return recorded;
    }
    const event = await this.append(type, payload);
    this.recordedEffects.push(payload);
    return event as JournalEvent;
  }

  /**
   * Replay met a step or effect the journal does not have. For a run that was stopped
   * (cancelled, timed out, over budget) that is where the recording ends, and the replay
   * stops the same way; otherwise the code took another path: a divergence.
   */
  missing(key: string, message: string): never {
    const terminal = this.history.terminal;
    const status = terminal === undefined ? undefined : TERMINAL_EVENTS.get(terminal.type);
    if (terminal !== undefined && status !== undefined && status !== "completed" && status !== "failed") {
      const record = (terminal.data as { error?: unknown } | null)?.error;
      const error =
        record !== undefined
          ? errorFromRecord(record as Parameters<typeof errorFromRecord>[0])
          : new BallastError({ code: `run_${status}`, message: `Run ${this.runId} ended ${status}.` });
      this.stop(error, status, terminal.type, null);
      throw error;
    }
    const next = this.firstUnmatched();
    throw this.diverge(
      new DivergenceError({
        runId: this.runId,
        key,
        message,
        ...(next === undefined ? {} : { seq: next.seq, expected: describe(next) }),
      }),
    );
  }

  /**
   * Replay: the first journaled step or effect this execution has not matched, leaving out
   * what belongs to steps it served whole (side effects) and to failed attempts of steps it
   * re-ran at their final attempt.
   */
  firstUnmatched(): JournalEvent | undefined {
    return this.history.events.find((event) => {
      if (this.visited.has(event.seq)) return false;
      const key = matchKey(event);
      return key !== undefined && !coveredByReplayedStep(key, this.replayedSteps);
    });
  }

  /** Records the first divergence and stops the replay with it. */
  diverge(error: DivergenceError): DivergenceError {
    if (this.#divergence === undefined) {
      this.#divergence = error;
      this.stop(error, "failed", EV.runFailed, null);
    }
    return this.#divergence;
  }

  /**
   * Stops the run: journals its terminal event (which seals the journal against anything
   * still in flight), then aborts every running step. The first stop wins.
   */
  stop(error: BallastError, status: RunStatus, eventType: string, data: JsonValue): void {
    if (this.#stop !== undefined || this.#ending !== undefined) return;
    this.#stop = { error, status };
    const record = toErrorRecord(error);
    const eventData: JsonValue =
      data !== null && typeof data === "object" && !Array.isArray(data)
        ? { ...data, error: record as unknown as JsonValue }
        : { error: record as unknown as JsonValue };
    this.#ending = this.#end(status, eventType, eventData, { error: record });
    this.#controller.abort(error);
  }

  /**
   * Another process ended this run (`ballast runs cancel` from a terminal, say): stop here
   * without writing, since the journal already holds the terminal event.
   */
  stopExternally(run: RunRecord): void {
    if (this.#stop !== undefined || this.#ending !== undefined) return;
    const error = run.error !== undefined ? errorFromRecord(run.error) : new RunCancelledError(this.runId);
    this.#stop = { error, status: run.status };
    this.#sealed = true;
    this.#ending = Promise.resolve();
    this.#controller.abort(error);
  }

  /** Runs the workflow body to its end (or until the run is stopped). */
  async run(): Promise<RunOutcome> {
    const timers = this.#armDeadlines();
    const body = this.observation.within(() =>
      runInScope(this.root, async () => this.workflow.run(this.ctx, this.input)),
    );
    const settled = body.then(
      (value) => ({ ok: true as const, value }),
      (error: unknown) => ({ ok: false as const, error }),
    );
    const stopped = new Promise<undefined>((resolve) => {
      if (this.signal.aborted) resolve(undefined);
      else this.signal.addEventListener("abort", () => resolve(undefined), { once: true });
    });
    const first = await Promise.race([settled, stopped]);
    for (const timer of timers) clearTimeout(timer);
    if (first !== undefined && this.#stop === undefined && this.#ending === undefined) {
      if (first.ok) return this.#complete(first.value);
      return this.#fail(first.error);
    }
    if (this.#ending) await this.#ending;
    const stop = this.#stop;
    if (stop === undefined) throw sealedError(this.runId);
    this.#observeEnd(stop.status, toErrorRecord(stop.error));
    return { status: stop.status, error: stop.error };
  }

  async #complete(value: unknown): Promise<RunOutcome> {
    let json: string | undefined;
    try {
      json = serialise(value);
    } catch (error) {
      return this.#fail(
        new ValidationError(
          "invalid_output",
          `Workflow ${this.workflow.name} of run ${this.runId} returned a value the journal cannot hold (${(error as Error).message}). Return plain JSON values.`,
          { runId: this.runId },
        ),
      );
    }
    const output = fromJson(json);
    this.#ending = (async () => {
      if (this.mode === "replay") return;
      const encoded = await encodeValue(value, json, "output", this.store.blobs);
      await this.#end("completed", EV.runCompleted, encoded.fields, {
        output: (output ?? null) as JsonValue,
      });
    })();
    await this.#ending;
    this.#observeEnd("completed");
    return { status: "completed", output };
  }

  async #fail(error: unknown): Promise<RunOutcome> {
    const record = toErrorRecord(error);
    this.#ending = this.#end(
      "failed",
      EV.runFailed,
      { error: record as unknown as JsonValue },
      { error: record },
    );
    await this.#ending;
    this.#observeEnd("failed", record);
    return { status: "failed", error };
  }

  #observeEnd(status: RunStatus, error?: ReturnType<typeof toErrorRecord>): void {
    // A replay is not a run ending: it is counted apart.
    this.observation.ended(this.mode === "replay" ? "replayed" : status, error);
  }

  /** Journals the terminal event with the run row's final state, in one transaction. */
  async #end(
    status: RunStatus,
    type: string,
    data: JsonValue,
    patch: { output?: JsonValue; error?: ReturnType<typeof toErrorRecord> },
  ): Promise<void> {
    this.#sealed = true;
    if (this.mode === "replay") return;
    const metadata = this.#init.metadata?.(this);
    await this.store.append(
      this.runId,
      { type, data },
      { runPatch: { status, ...patch, ...(metadata === undefined ? {} : { metadata }) } },
    );
  }

  #armDeadlines(): NodeJS.Timeout[] {
    if (this.mode === "replay") return [];
    const timers: NodeJS.Timeout[] = [];
    const at = (deadline: number, fire: () => void): void => {
      const wait = deadline - Date.now();
      if (wait <= 0) fire();
      else timers.push(setTimeout(fire, wait));
    };
    const timeoutMs = this.#init.timeoutMs;
    if (timeoutMs !== undefined) {
      at(this.startedAt + timeoutMs, () =>
        this.stop(new RunTimeoutError(this.runId, timeoutMs), "timed_out", EV.runTimedOut, { timeoutMs }),
      );
    }
    // A run ended by another process (cancel from the CLI or the server) is noticed here.
    const poll = setInterval(() => {
      this.store.getRun(this.runId).then(
        (run) => {
          if (run !== undefined && TERMINAL_STATUSES.has(run.status)) this.stopExternally(run);
        },
        () => {}, // a busy database is asked again at the next tick
      );
    }, EXTERNAL_STOP_POLL_MS);
    poll.unref();
    timers.push(poll);
    const wallMs = this.#init.budget?.wallMs;
    if (wallMs !== undefined)
      at(this.startedAt + wallMs, () => this.budget.wallTimeUp(Date.now() - this.startedAt));
    return timers;
  }
}

/** How often a live run checks whether another process ended it. */
const EXTERNAL_STOP_POLL_MS = 500;

function sealedError(runId: string): BallastError {
  return new BallastError({
    code: "run_ended",
    message: `Run ${runId} has already ended; its journal accepts no more events.`,
    details: { runId },
  });
}

/** The id a replay matches an event by: a step id for step outcomes, the key of effects. */
function matchKey(event: JournalEvent): string | undefined {
  const data = event.data as Record<string, unknown> | null;
  if (data === null || typeof data !== "object" || Array.isArray(data)) return undefined;
  if (event.type === EV.stepCompleted || event.type === EV.stepFailed) return data["stepId"] as string;
  return typeof data["key"] === "string" ? data["key"] : undefined;
}

/**
 * Whether `key` (`a#0/b#0@2/model.called#1`) lies inside a step the replay served whole, or
 * inside an attempt of a step other than the attempt the replay ran.
 */
function coveredByReplayedStep(key: string, replayed: ReadonlyMap<string, number | "served">): boolean {
  const segments = key.split("/");
  let path = "";
  for (let i = 0; i < segments.length - 1; i++) {
    const segment = segments[i] as string;
    const at = /^(.*)@(\d+)$/.exec(segment);
    const stepId = path + (at ? (at[1] as string) : segment);
    const handled = replayed.get(stepId);
    if (handled === "served") return true;
    if (handled !== undefined && handled !== (at ? Number(at[2]) : 1)) return true;
    path = `${stepId}/`;
  }
  return false;
}

/** A short description of a journal event for divergence reports. */
export function describe(event: JournalEvent): { seq: number; type: string; key?: string } {
  const data = event.data as Record<string, unknown> | null;
  const key = typeof data?.["stepId"] === "string" ? data["stepId"] : data?.["key"];
  return { seq: event.seq, type: event.type, ...(typeof key === "string" ? { key } : {}) };
}
