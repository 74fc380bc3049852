import { type ErrorRecord, toErrorRecord } from "../errors.ts";
import type { RunStatus } from "../journal/types.ts";
import type { RunOutcome } from "./execution.ts";

/** What `start`, `resume` and `fork` return: the run id and a way to wait for the end. */
export interface RunHandle<O = unknown> {
  readonly runId: string;
  /** Resolves with the output, or rejects with the error that ended the run (`step_failed`, `run_cancelled`, ...). */
  result(): Promise<O>;
  /** Resolves when the run ends, whatever the status; never rejects for the run's own failure. */
  wait(): Promise<RunResult<O>>;
  /** Cancels the run: running steps see their signal abort; the run ends `cancelled`. */
  cancel(reason?: string): Promise<void>;
}

export interface RunResult<O = unknown> {
  runId: string;
  status: RunStatus;
  output?: O;
  error?: ErrorRecord;
}

export function createRunHandle<O>(
  runId: string,
  outcome: Promise<RunOutcome>,
  cancel: (reason?: string) => Promise<void>,
): RunHandle<O> {
  return {
    runId,
    async result() {
      const end = await outcome;
      if (end.status === "completed") return end.output as O;
      throw end.error;
    },
    async wait() {
      const end = await outcome;
      return {
        runId,
        status: end.status,
        ...(end.status === "completed" ? { output: end.output as O } : {}),
        ...(end.error === undefined ? {} : { error: toErrorRecord(end.error) }),
      };
    },
    cancel,
  };
}
