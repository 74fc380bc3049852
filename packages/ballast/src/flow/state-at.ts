import type { ErrorRecord } from "../errors.ts";
import type { BlobStore, JournalEvent, RunStatus } from "../journal/types.ts";
import {
  EV,
  type StepAttemptFailedData,
  type StepCompletedData,
  type StepFailedData,
  type StepStartedData,
  TERMINAL_EVENTS,
} from "./events.ts";
import { decodeValue } from "./value-codec.ts";

/**
 * Time travel: a run's state as of one event of its journal, folded from the events up to
 * and including it.
 */

export interface StepState {
  stepId: string;
  status: "running" | "completed" | "failed";
  /** Attempts started so far. */
  attempts: number;
  result?: unknown;
  error?: ErrorRecord;
}

export interface RunState {
  runId: string;
  /** The last event folded in, and when it was journaled. */
  seq: number;
  at: string;
  status: RunStatus;
  /** Every step seen so far, in the order they were first journaled. */
  steps: StepState[];
  /** Ids of completed steps, in completion order. */
  completed: string[];
  /** Journaled effects and values (model calls, commands, ctx.now ...). */
  effects: number;
  output?: unknown;
  error?: ErrorRecord;
}

export async function foldState(
  runId: string,
  events: readonly JournalEvent[],
  blobs: BlobStore,
): Promise<RunState> {
  const steps = new Map<string, StepState>();
  const completed: string[] = [];
  let status: RunStatus = "queued";
  let effects = 0;
  let terminal: JournalEvent | undefined;
  const step = (stepId: string): StepState => {
    let state = steps.get(stepId);
    if (state === undefined) {
      state = { stepId, status: "running", attempts: 0 };
      steps.set(stepId, state);
    }
    return state;
  };
  for (const event of events) {
    const data = event.data as Record<string, unknown> | null;
    switch (event.type) {
      case EV.runStarted:
        status = "running";
        break;
      case EV.stepStarted: {
        const s = step((data as unknown as StepStartedData).stepId);
        s.attempts = Math.max(s.attempts, (data as unknown as StepStartedData).attempt);
        s.status = "running";
        break;
      }
      case EV.stepAttemptFailed: {
        const d = data as unknown as StepAttemptFailedData;
        const s = step(d.stepId);
        s.attempts = Math.max(s.attempts, d.attempt);
        s.error = d.error;
        break;
      }
      case EV.stepCompleted: {
        const d = data as unknown as StepCompletedData;
        const s = step(d.stepId);
        s.status = "completed";
        s.attempts = Math.max(s.attempts, d.attempt);
        s.result = await decodeValue(d, "result", blobs);
        delete s.error;
        completed.push(d.stepId);
        break;
      }
      case EV.stepFailed: {
        const d = data as unknown as StepFailedData;
        const s = step(d.stepId);
        s.status = "failed";
        s.attempts = Math.max(s.attempts, d.attempts);
        s.error = d.error;
        break;
      }
      default: {
        const ends = TERMINAL_EVENTS.get(event.type);
        if (ends !== undefined) {
          status = ends;
          terminal = event;
        } else if (data !== null && typeof data === "object" && typeof data["key"] === "string") {
          effects += 1;
        }
      }
    }
  }
  const last = events[events.length - 1];
  const state: RunState = {
    runId,
    seq: last?.seq ?? -1,
    at: last?.at ?? "",
    status,
    steps: [...steps.values()],
    completed,
    effects,
  };
  if (terminal !== undefined) {
    if (terminal.type === EV.runCompleted) state.output = await decodeValue(terminal.data, "output", blobs);
    const error = (terminal.data as { error?: ErrorRecord } | null)?.error;
    if (error !== undefined) state.error = error;
  }
  return state;
}
