import type { ScopeMode } from "./scope.ts";

/** The public types of workflows and steps. */

export interface RetryPolicy {
  /** Attempts in all, the first included (default 3). Only retryable errors are retried. */
  maxAttempts?: number;
  /** Backoff: exponential from `baseMs` by `factor`, full jitter, clamped to `maxMs`. */
  baseMs?: number;
  maxMs?: number;
  factor?: number;
  /** Decides what is retryable; default: `error.isRetryable === true` (BallastError and friends). */
  isRetryable?: (error: unknown) => boolean;
}

export type BudgetMode = "soft" | "enforce";

export interface BudgetLimits {
  /** `soft` journals a `budget.warning` and carries on; `enforce` (default) ends the run `budget_exceeded`. */
  mode?: BudgetMode;
  /** Wall-clock time since the run started, across resumes. */
  wallMs?: number;
  /** Step calls, journaled ones included. */
  steps?: number;
  tokens?: number;
  costUsd?: number;
  toolCalls?: number;
}

export interface StepOptions {
  /** Per-attempt timeout; the step's signal aborts on overrun and the attempt fails `step_timeout`. */
  timeoutMs?: number;
  /** Overrides the workflow's retry policy; `false` means a single attempt. */
  retry?: RetryPolicy | false;
  /** Key handed to the system the step affects; default derived from run id and step id. */
  idempotencyKey?: string;
  /** The step acts on the outside world: its `step.started` is durable before it runs (so a
   *  crash mid-effect is seen and its re-execution recorded), and replay never runs it. */
  sideEffect?: boolean;
}

/** What a step function receives. */
export interface StepContext {
  readonly runId: string;
  readonly stepId: string;
  /** Stable across attempts, resumes and crashes; pass it to the system the step affects. */
  readonly idempotencyKey: string;
  /** 1 for the first attempt. */
  readonly attempt: number;
  /** Aborts on step timeout, run timeout, budget stop or cancellation. */
  readonly signal: AbortSignal;
}

export type StepFn<T> = (step: StepContext) => Promise<T> | T;

export interface MapOptions {
  /** Items processed at once (default: all). */
  concurrency?: number;
}

export interface DagOptions {
  concurrency?: number;
}

/** A node of `ctx.dag`: runs once all of `deps` have finished, and receives their results. */
export interface WorkflowDagNode<T> {
  id: string;
  deps?: readonly string[];
  run: (deps: Readonly<Record<string, T>>) => Promise<T>;
}

export type Task<T> = Promise<T> | (() => Promise<T>);

export interface WorkflowContext {
  readonly runId: string;
  readonly workflow: string;
  readonly version: string;
  readonly mode: ScopeMode;
  /** Aborts when the run is cancelled, times out or is stopped by its budget. */
  readonly signal: AbortSignal;
  /** Runs `fn` once per run: its result is journaled, and served from the journal on resume.
   *  Resolves with the result as the journal holds it (a JSON round trip, live or not). */
  step<T>(name: string, fn: StepFn<T>, options?: StepOptions): Promise<T>;
  /** Like Promise.all; functions run as branches with their own deterministic step ids. */
  all<T>(tasks: readonly Task<T>[]): Promise<T[]>;
  /** Runs `fn` over `items`, at most `concurrency` at once; results in item order. */
  map<I, T>(
    items: readonly I[],
    fn: (item: I, index: number) => Promise<T>,
    options?: MapOptions,
  ): Promise<T[]>;
  /** Runs a DAG of nodes (see dag.ts); each node is a branch with deterministic step ids.
   *  Ready nodes are released smallest id first; results keyed by node id. */
  dag<T>(nodes: readonly WorkflowDagNode<T>[], options?: DagOptions): Promise<Record<string, T>>;
  /** Journaled clock (epoch ms): a resumed or replayed run sees the recorded values. */
  now(): number;
  /** Journaled, seeded random number in [0, 1). */
  random(): number;
  /** Journaled, seeded UUID. */
  uuid(): string;
}

export interface WorkflowDefinition<I = unknown, O = unknown> {
  name: string;
  version: string;
  run: (ctx: WorkflowContext, input: I) => Promise<O>;
  budget?: BudgetLimits;
  /** Run timeout in ms, counted from the run's start (resumes included). */
  timeoutMs?: number;
  /** Default retry policy of the workflow's steps. */
  retry?: RetryPolicy;
  /** Default per-attempt step timeout. */
  stepTimeoutMs?: number;
}

export interface Workflow<I = unknown, O = unknown> extends Readonly<WorkflowDefinition<I, O>> {
  readonly kind: "ballast.workflow";
}
