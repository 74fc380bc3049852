import { type JsonValue, sha256Hex } from "../canonical.ts";
import { BallastError, type ErrorRecord, toErrorRecord, ValidationError } from "../errors.ts";
import type { JournalEvent } from "../journal/types.ts";
import { backoffDelay } from "../util/backoff.ts";
import { InvalidStepResultError, StepFailedError, StepTimeoutError } from "./errors.ts";
import { EV, type StepCompletedData, type StepFailedData } from "./events.ts";
import type { Execution } from "./execution.ts";
import type { StepObservation } from "./observer.ts";
import type { EngineScope } from "./run-scope.ts";
import { DivergenceError, runInScope } from "./scope.ts";
import { seededRandom } from "./seeded-random.ts";
import type { RetryPolicy, StepContext, StepFn, StepOptions } from "./types.ts";
import { decodeValue, encodeValue, fromJson, serialise } from "./value-codec.ts";
import { watch } from "./watchdog.ts";

/**
 * `ctx.step`: reserve the step id, then either serve the journaled result or run the step
 * with retries, timeouts and its idempotency key, and journal the outcome. In replay, run
 * (or serve) it and check the result against the journal.
 */

interface ResolvedRetry {
  maxAttempts: number;
  baseMs: number;
  maxMs: number;
  factor: number;
  isRetryable: (error: unknown) => boolean;
}

const DEFAULT_RETRY: ResolvedRetry = {
  maxAttempts: 3,
  baseMs: 100,
  maxMs: 30_000,
  factor: 2,
  isRetryable: (error) => (error as { isRetryable?: unknown } | null)?.isRetryable === true,
};

/** The key a step hands to the systems it affects: stable for a run and step id. */
export function deriveIdempotencyKey(runId: string, stepId: string): string {
  return sha256Hex(`${runId}\0${stepId}`).slice(0, 32);
}

export function runStep<T>(
  exec: Execution,
  parent: EngineScope,
  name: string,
  fn: StepFn<T>,
  options: StepOptions = {},
): Promise<T> {
  // Synchronous up to the id reservation: step ids follow the order of calls.
  if (typeof name !== "string" || name === "" || name.includes("/")) {
    return Promise.reject(
      new ValidationError(
        "invalid_step",
        `Step name ${JSON.stringify(name)} in run ${exec.runId} is not valid: use a non-empty name without "/".`,
      ),
    );
  }
  if (typeof fn !== "function") {
    return Promise.reject(
      new ValidationError("invalid_step", `Step "${name}" in run ${exec.runId} needs a function.`),
    );
  }
  const key = options.idempotencyKey;
  if (key !== undefined && (typeof key !== "string" || key === "")) {
    return Promise.reject(
      new ValidationError(
        "invalid_step",
        `Step "${name}" in run ${exec.runId}: idempotencyKey must be a non-empty string.`,
      ),
    );
  }
  const stepId = parent.nextStepId(name);
  try {
    exec.assertRunning();
    exec.budget.countStep(stepId);
  } catch (error) {
    return Promise.reject(error);
  }
  return exec.mode === "replay"
    ? replayStep(exec, parent, stepId, name, fn, options)
    : liveStep(exec, parent, stepId, name, fn, options);
}

async function liveStep<T>(
  exec: Execution,
  parent: EngineScope,
  stepId: string,
  name: string,
  fn: StepFn<T>,
  options: StepOptions,
): Promise<T> {
  const recorded = exec.history.steps.get(stepId);
  if (recorded?.completed) {
    exec.counts.served += 1;
    exec.observation.stepStarted(stepId, name, 0).ended("served", 0);
    return (await serve(exec, recorded.completed, name)) as T;
  }
  if (recorded?.failed) {
    exec.observation.stepStarted(stepId, name, 0).ended("served", 0);
    throw failedFromRecord(exec.runId, recorded.failed);
  }
  const retry = resolveRetry(exec.workflow.retry, options.retry);
  const timeoutMs = options.timeoutMs ?? exec.workflow.stepTimeoutMs;
  const givenKey = options.idempotencyKey;
  let attempt = (recorded?.failedAttempts ?? 0) + 1;
  const started = recorded?.started;
  if (started !== undefined && (started.data as { attempt: number }).attempt >= attempt) {
    // It was running when the process died: run it again under the same key, so the
    // system it affects can de-duplicate, and say so in the journal (seed 002 OC-15).
    const idempotencyKey = givenKey ?? deriveIdempotencyKey(exec.runId, stepId);
    exec.appendLazy(EV.stepReexecuted, { stepId, attempt, idempotencyKey, startedSeq: started.seq });
    exec.counts.reexecuted += 1;
    exec.observation.reexecuted(stepId, idempotencyKey);
  }

  for (;;) {
    exec.assertRunning();
    const startedData = { stepId, attempt, ...(givenKey === undefined ? {} : { idempotencyKey: givenKey }) };
    if (options.sideEffect === true) {
      // Before an effect on the outside world, the journal must know it may have happened:
      // a crash then leaves a durable step.started, and the re-execution is recorded.
      await exec.append(EV.stepStarted, startedData).catch((error: unknown) => {
        throw exec.stopError ?? error;
      });
    } else {
      exec.appendLazy(EV.stepStarted, startedData);
    }
    const observed = exec.observation.stepStarted(stepId, name, attempt);
    const t0 = performance.now();
    let value: unknown;
    let json: string | undefined;
    try {
      value = await attemptOnce(exec, parent, stepId, attempt, fn, givenKey, timeoutMs, observed);
      json = serialiseResult(exec.runId, stepId, value);
    } catch (error) {
      const durationMs = elapsed(t0);
      if (exec.stopped) {
        observed.ended("cancelled", durationMs);
        throw exec.stopError;
      }
      const record = toErrorRecord(error);
      observed.ended("failed", durationMs, record);
      if (attempt < retry.maxAttempts && retry.isRetryable(error)) {
        const delayMs = backoffDelay(attempt - 1, retry, () =>
          seededRandom(exec.seed, `${stepId}/backoff#${attempt}`),
        );
        await exec.append(EV.stepAttemptFailed, { stepId, attempt, error: asJson(record), delayMs });
        exec.counts.retries += 1;
        exec.observation.retrying(stepId, attempt, delayMs, record);
        await sleep(delayMs, exec.signal).catch(() => {
          throw exec.stopError;
        });
        attempt += 1;
        continue;
      }
      await exec.append(EV.stepFailed, { stepId, attempts: attempt, error: asJson(record) });
      exec.counts.failed += 1;
      throw new StepFailedError({ runId: exec.runId, stepId, attempts: attempt, cause: record, error });
    }
    const encoded = await encodeValue(value, json, "result", exec.store.blobs);
    const durationMs = elapsed(t0);
    try {
      await exec.append(EV.stepCompleted, { stepId, attempt, durationMs, ...encoded.fields });
    } catch (error) {
      if (exec.stopped) throw exec.stopError;
      throw error;
    }
    exec.counts.executed += 1;
    exec.noteLatency(name, durationMs);
    observed.ended("completed", durationMs);
    return fromJson(json) as T;
  }
}

async function replayStep<T>(
  exec: Execution,
  parent: EngineScope,
  stepId: string,
  name: string,
  fn: StepFn<T>,
  options: StepOptions,
): Promise<T> {
  const recorded = exec.history.steps.get(stepId);
  if (recorded?.failed) {
    exec.visit(recorded.failed.seq);
    exec.replayedSteps.set(stepId, "served");
    throw failedFromRecord(exec.runId, recorded.failed);
  }
  const completed = recorded?.completed;
  if (completed === undefined) {
    return exec.missing(stepId, `the replay called step ${stepId}, which the journal never completed`);
  }
  const journaled = await serve(exec, completed, name);
  const attempt = (completed.data as unknown as StepCompletedData).attempt;
  exec.replayedSteps.set(stepId, options.sideEffect === true ? "served" : attempt);
  if (options.sideEffect === true) {
    exec.counts.served += 1;
    exec.observation.stepStarted(stepId, name, 0).ended("served", 0);
    return journaled as T;
  }
  const observed = exec.observation.stepStarted(stepId, name, attempt);
  const t0 = performance.now();
  let json: string | undefined;
  try {
    const value = await attemptOnce(
      exec,
      parent,
      stepId,
      attempt,
      fn,
      options.idempotencyKey,
      undefined,
      observed,
    );
    json = serialiseResult(exec.runId, stepId, value);
  } catch (error) {
    observed.ended("failed", elapsed(t0), toErrorRecord(error));
    if (BallastError.hasCode(error, "replay_divergence")) throw exec.diverge(error as DivergenceError);
    if (exec.stopped) throw exec.stopError;
    const record = toErrorRecord(error);
    throw exec.diverge(
      new DivergenceError({
        runId: exec.runId,
        seq: completed.seq,
        key: stepId,
        message: `step ${stepId} completed in the journal but threw in the replay (${record.code}: ${record.message})`,
      }),
    );
  }
  const expected = serialise(journaled);
  if (json !== expected) {
    throw exec.diverge(
      new DivergenceError({
        runId: exec.runId,
        seq: completed.seq,
        key: stepId,
        message: `step ${stepId} returned another result than the journal records`,
        expected: preview(expected),
        actual: preview(json),
      }),
    );
  }
  observed.ended("completed", elapsed(t0));
  exec.counts.executed += 1;
  return fromJson(json) as T;
}

/** Answers a step from its journaled completion. */
async function serve(exec: Execution, completed: JournalEvent, name: string): Promise<unknown> {
  exec.visit(completed.seq);
  const data = completed.data as unknown as StepCompletedData;
  exec.noteLatency(name, data.durationMs);
  return decodeValue(data, "result", exec.store.blobs);
}

/** Runs one attempt inside its own scope, racing it against the step's signal. */
async function attemptOnce<T>(
  exec: Execution,
  parent: EngineScope,
  stepId: string,
  attempt: number,
  fn: StepFn<T>,
  givenKey: string | undefined,
  timeoutMs: number | undefined,
  observed: StepObservation,
): Promise<T> {
  let signal = exec.signal;
  let cleanup: (() => void) | undefined;
  if (timeoutMs !== undefined) {
    const controller = new AbortController();
    const onRunAbort = (): void => controller.abort(exec.signal.reason);
    exec.signal.addEventListener("abort", onRunAbort, { once: true });
    const watched = watch(
      timeoutMs,
      (elapsedMs) => exec.observation.slow(stepId, elapsedMs, timeoutMs),
      () => controller.abort(new StepTimeoutError(exec.runId, stepId, timeoutMs)),
    );
    signal = controller.signal;
    cleanup = () => {
      watched.stop();
      exec.signal.removeEventListener("abort", onRunAbort);
    };
  }
  const scope = parent.step(stepId, attempt, signal);
  const context = new LiveStepContext(exec.runId, stepId, attempt, signal, givenKey);
  try {
    const running = observed.within(() => runInScope(scope, async () => fn(context)));
    return await untilAborted(running, signal);
  } finally {
    cleanup?.();
  }
}

class LiveStepContext implements StepContext {
  readonly runId: string;
  readonly stepId: string;
  readonly attempt: number;
  readonly signal: AbortSignal;
  #key: string | undefined;

  constructor(runId: string, stepId: string, attempt: number, signal: AbortSignal, key: string | undefined) {
    this.runId = runId;
    this.stepId = stepId;
    this.attempt = attempt;
    this.signal = signal;
    this.#key = key;
  }

  /** Derived on first use: most steps never ask for it. */
  get idempotencyKey(): string {
    this.#key ??= deriveIdempotencyKey(this.runId, this.stepId);
    return this.#key;
  }
}

/** Settles with `promise`, or rejects with the abort reason as soon as `signal` aborts. */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    promise.catch(() => {});
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => {
      // The step ignored its signal; whatever it does later is not waited for.
      promise.catch(() => {});
      reject(signal.reason);
    };
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

function resolveRetry(
  workflow: RetryPolicy | undefined,
  step: RetryPolicy | false | undefined,
): ResolvedRetry {
  if (step === false) return { ...DEFAULT_RETRY, maxAttempts: 1 };
  const merged = { ...DEFAULT_RETRY, ...stripUndefined(workflow), ...stripUndefined(step) };
  if (!(Number.isInteger(merged.maxAttempts) && merged.maxAttempts >= 1)) {
    throw new ValidationError(
      "invalid_retry",
      `retry.maxAttempts must be a whole number >= 1, got ${merged.maxAttempts}.`,
    );
  }
  return merged;
}

function stripUndefined<T extends object>(value: T | undefined): Partial<T> {
  if (value === undefined) return {};
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function serialiseResult(runId: string, stepId: string, value: unknown): string | undefined {
  try {
    return serialise(value);
  } catch (error) {
    throw new InvalidStepResultError(runId, stepId, (error as Error).message);
  }
}

/** Rebuilds the failure a step recorded, exactly as it was thrown the first time. */
export function failedFromRecord(runId: string, failed: JournalEvent): StepFailedError {
  const data = failed.data as unknown as StepFailedData;
  return new StepFailedError({ runId, stepId: data.stepId, attempts: data.attempts, cause: data.error });
}

function asJson(record: ErrorRecord): JsonValue {
  return record as unknown as JsonValue;
}

function elapsed(t0: number): number {
  return Math.round((performance.now() - t0) * 1000) / 1000;
}

function preview(json: string | undefined): string {
  if (json === undefined) return "undefined";
  return json.length > 300 ? `${json.slice(0, 300)}…` : json;
}
