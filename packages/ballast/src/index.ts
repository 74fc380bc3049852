/**
 * `ballast`: durable workflows (flow) over the journal. Nothing heavy is loaded from here;
 * models, context, guard, sandbox and server have their own entry points.
 *
 * @example
 * import { createBallast, defineWorkflow, openJournal } from "ballast";
 * const greet = defineWorkflow({ name: "greet", version: "1", run: async (ctx, who: string) =>
 *   ctx.step("hello", () => `hello ${who}`) });
 * const ballast = createBallast({ journal: await openJournal() });
 * const run = await ballast.start(greet, "world");
 * console.log(await run.result());
 */

export type { JsonValue } from "./canonical.ts";
export { canonicalJson, fingerprint, sha256Hex } from "./canonical.ts";
export type { BallastErrorOptions, ErrorRecord } from "./errors.ts";
export { BallastError, RetryableError, toErrorRecord, ValidationError } from "./errors.ts";
export type { BoundedQueueOptions, OverflowPolicy } from "./flow/bounded-queue.ts";
export { BoundedQueue, QueueFullError } from "./flow/bounded-queue.ts";
export type { DagNode, ExecuteDagOptions } from "./flow/dag.ts";
export { executeDag, validateDag } from "./flow/dag.ts";
export type { BallastOptions, ForkOptions, StartOptions } from "./flow/engine.ts";
export { Ballast, createBallast } from "./flow/engine.ts";
export type { BudgetDimension } from "./flow/errors.ts";
export {
  BudgetExceededError,
  InvalidStepResultError,
  RunCancelledError,
  RunNotResumableError,
  RunStateError,
  RunTimeoutError,
  StepFailedError,
  StepTimeoutError,
  WorkflowNotFoundError,
} from "./flow/errors.ts";
export { EV as FLOW_EVENTS } from "./flow/events.ts";
export type { RunMetadata } from "./flow/metadata.ts";
export { validateRunMetadata } from "./flow/metadata.ts";
export type { Logger, LoggerOptions, LogLevel } from "./flow/observe.ts";
export { createLogger, metricsRegistry } from "./flow/observe.ts";
export type { ReplayReport } from "./flow/replay.ts";
export type { RunHandle, RunResult } from "./flow/run-handle.ts";
export type { BudgetAmount, BudgetHooks, BudgetReservation, RunScope, ScopeMode } from "./flow/scope.ts";
export { currentScope, DivergenceError } from "./flow/scope.ts";
export type { RunState, StepState } from "./flow/state-at.ts";
export { deriveIdempotencyKey } from "./flow/step-runner.ts";
export type {
  BudgetLimits,
  BudgetMode,
  DagOptions,
  MapOptions,
  RetryPolicy,
  StepContext,
  StepFn,
  StepOptions,
  Task,
  Workflow,
  WorkflowContext,
  WorkflowDagNode,
  WorkflowDefinition,
} from "./flow/types.ts";
export { defineWorkflow, isWorkflow, WorkflowRegistry } from "./flow/workflow.ts";
export * from "./journal/index.ts";
