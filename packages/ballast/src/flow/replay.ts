import { canonicalJson, fingerprint } from "../canonical.ts";
import { toErrorRecord } from "../errors.ts";
import type { JournalEvent, RunRecord, RunStatus } from "../journal/types.ts";
import { TERMINAL_EVENTS } from "./events.ts";
import { describe, type Execution, type RunOutcome } from "./execution.ts";
import type { RunHistory } from "./run-history.ts";
import { DivergenceError } from "./scope.ts";
import { decodeValue } from "./value-codec.ts";

/**
 * The checks that make a replay a proof: the same input, the same outcome, the same output,
 * and every step and effect of the journal reached. The execution itself (re-running code,
 * serving effects) is the engine's ordinary code path in `replay` mode.
 */

export interface ReplayReport {
  runId: string;
  status: RunStatus;
  output?: unknown;
  /** Steps whose code ran again and returned what the journal holds. */
  stepsReexecuted: number;
  /** Side-effect steps answered from the journal without running. */
  stepsServed: number;
  /** Journal events (steps, effects, journaled values) the replay matched. */
  eventsMatched: number;
}

export function checkReplayInput(run: RunRecord, history: RunHistory): void {
  const started = history.events[0];
  if (history.started === undefined || started === undefined) {
    throw new DivergenceError({
      runId: run.id,
      key: "run.started",
      message: "the journal has no run.started event to replay from",
    });
  }
  if (fingerprint(run.input) !== history.started.inputHash) {
    throw new DivergenceError({
      runId: run.id,
      seq: started.seq,
      key: "input",
      message: "the run's stored input does not hash to the inputHash its run.started event records",
      expected: history.started.inputHash,
      actual: fingerprint(run.input),
    });
  }
}

export async function checkReplayOutcome(exec: Execution, outcome: RunOutcome): Promise<ReplayReport> {
  if (exec.divergence) throw exec.divergence;
  const runId = exec.runId;
  const terminal = exec.history.terminal as JournalEvent;
  const recorded = TERMINAL_EVENTS.get(terminal.type) as RunStatus;
  const differ = (message: string, expected: unknown, actual: unknown): DivergenceError =>
    new DivergenceError({ runId, seq: terminal.seq, key: terminal.type, message, expected, actual });

  if (outcome.status !== recorded) {
    throw differ(
      `the run ended ${recorded} in the journal but ${outcome.status} in the replay`,
      recorded,
      outcome.error === undefined ? outcome.status : toErrorRecord(outcome.error),
    );
  }
  if (recorded === "completed") {
    const expected = await decodeValue(terminal.data, "output", exec.store.blobs);
    const want = canonicalJson(expected ?? null);
    const got = canonicalJson(outcome.output ?? null);
    if (want !== got)
      throw differ("the replay's output differs from the journaled output", clip(want), clip(got));
  }
  if (recorded === "failed") {
    const expected = (terminal.data as { error: { code: string; message: string } }).error;
    const actual = toErrorRecord(outcome.error);
    if (expected.code !== actual.code || expected.message !== actual.message) {
      throw differ("the replay failed with another error than the journal records", expected, actual);
    }
  }
  if (recorded === "completed" || recorded === "failed") {
    // A run that ran to its end must have been retraced in full. (A stopped run is not: its
    // in-flight parallel work ends wherever the stop caught it.)
    const left = exec.firstUnmatched();
    if (left !== undefined) {
      const what = describe(left);
      throw new DivergenceError({
        runId,
        seq: left.seq,
        key: what.key ?? left.type,
        message: `the journal records ${left.type} ${what.key ?? ""} which the replay never reached`,
        expected: what,
      });
    }
  }
  return {
    runId,
    status: outcome.status,
    ...(outcome.status === "completed" ? { output: outcome.output } : {}),
    stepsReexecuted: exec.counts.executed,
    stepsServed: exec.counts.served,
    eventsMatched: exec.visited.size,
  };
}

function clip(json: string): string {
  return json.length > 300 ? `${json.slice(0, 300)}…` : json;
}
