import { BallastError, type ErrorRecord } from "../errors.ts";

/**
 * The flow engine's errors. Each has a stable `code`; messages name the run and step and
 * say what to do next.
 */

/** A step failed for good: a non-retryable error, or its last attempt failed. */
export class StepFailedError extends BallastError {
  constructor(options: {
    runId: string;
    stepId: string;
    attempts: number;
    cause: ErrorRecord;
    error?: unknown;
  }) {
    const { runId, stepId, attempts, cause } = options;
    super({
      code: "step_failed",
      message: `Step ${stepId} of run ${runId} failed after ${attempts} attempt${attempts === 1 ? "" : "s"}: ${cause.message.replace(/\.$/, "")}. Fix the cause, then fork the run just before this step (\`ballast fork ${runId} --at <event>\`) to continue from there.`,
      cause: options.error,
      details: { runId, stepId, attempts, cause: cause as unknown as Record<string, unknown> },
    });
    this.name = "StepFailedError";
  }

  /** The recorded error that made the step fail. */
  get causeRecord(): ErrorRecord {
    return this.details["cause"] as ErrorRecord;
  }
}

export class RunCancelledError extends BallastError {
  constructor(runId: string, reason?: string) {
    super({
      code: "run_cancelled",
      message: `Run ${runId} was cancelled${reason ? ` (${reason})` : ""}. Start a new run or fork this one to continue its work.`,
      details: { runId, ...(reason ? { reason } : {}) },
    });
    this.name = "RunCancelledError";
  }
}

/** One attempt of a step overran its timeout. Retryable: the next attempt may be faster. */
export class StepTimeoutError extends BallastError {
  constructor(runId: string, stepId: string, timeoutMs: number) {
    super({
      code: "step_timeout",
      message: `Step ${stepId} of run ${runId} overran its timeout of ${timeoutMs} ms and was aborted. Raise the step's \`timeoutMs\` or make the step honour its \`signal\`.`,
      isRetryable: true,
      details: { runId, stepId, timeoutMs },
    });
    this.name = "StepTimeoutError";
  }
}

export class RunTimeoutError extends BallastError {
  constructor(runId: string, timeoutMs: number) {
    super({
      code: "run_timeout",
      message: `Run ${runId} overran its timeout of ${timeoutMs} ms (counted from its start) and was stopped. Raise the workflow's \`timeoutMs\` or fork the run with more time.`,
      details: { runId, timeoutMs },
    });
    this.name = "RunTimeoutError";
  }
}

export type BudgetDimension = "wallMs" | "steps" | "tokens" | "costUsd" | "toolCalls";

export class BudgetExceededError extends BallastError {
  constructor(options: {
    runId: string;
    dimension: BudgetDimension;
    limit: number;
    used: number;
    label?: string;
  }) {
    const { runId, dimension, limit, used, label } = options;
    super({
      code: "budget_exceeded",
      message: `Run ${runId} exceeded its ${dimension} budget (limit ${limit}, would reach ${round(used)}${label ? ` at ${label}` : ""}) and was stopped. Raise \`budget.${dimension}\`, or use \`budget.mode: "soft"\` to only warn.`,
      details: { runId, dimension, limit, used, ...(label ? { label } : {}) },
    });
    this.name = "BudgetExceededError";
  }
}

export class WorkflowNotFoundError extends BallastError {
  constructor(name: string, version?: string, runId?: string) {
    const what = version === undefined ? `Workflow "${name}"` : `Workflow "${name}" version ${version}`;
    super({
      code: "workflow_not_found",
      message: `${what} is not registered${runId ? ` (needed by run ${runId})` : ""}. Register it with \`ballast.register(defineWorkflow(...))\` or pass it to \`createBallast({ workflows })\`.`,
      details: { name, ...(version === undefined ? {} : { version }), ...(runId ? { runId } : {}) },
    });
    this.name = "WorkflowNotFoundError";
  }
}

export class RunNotResumableError extends BallastError {
  constructor(runId: string, status: string, why: string) {
    super({
      code: "run_not_resumable",
      message: `Run ${runId} cannot be resumed: ${why} (status ${status}). Fork it (\`ballast fork ${runId} --at <event>\`) to continue its work in a new run.`,
      details: { runId, status },
    });
    this.name = "RunNotResumableError";
  }
}

/** Operation needs a run that has ended (replay) or one that has not (cancel). */
export class RunStateError extends BallastError {
  constructor(code: string, runId: string, message: string) {
    super({ code, message: `Run ${runId}: ${message}`, details: { runId } });
    this.name = "RunStateError";
  }
}

/** A step returned something the journal cannot hold. */
export class InvalidStepResultError extends BallastError {
  constructor(runId: string, stepId: string, problem: string) {
    super({
      code: "invalid_step_result",
      message: `Step ${stepId} of run ${runId} returned a value the journal cannot hold (${problem}). Return plain JSON values (objects, arrays, strings, finite numbers, booleans, null).`,
      details: { runId, stepId },
    });
    this.name = "InvalidStepResultError";
  }
}

/** Rebuilds a throwable error from its journal record (resume and replay serve recorded failures). */
export function errorFromRecord(record: ErrorRecord): BallastError {
  const error = new BallastError({
    code: record.code,
    message: record.message,
    isRetryable: record.isRetryable,
    ...(record.details ? { details: record.details } : {}),
  });
  error.name = record.name;
  return error;
}

function round(n: number): number {
  return Math.round(n * 1e6) / 1e6;
}
