import { canonicalJson, type JsonValue, sha256Hex } from "../canonical.ts";
import { GENESIS_HASH, type JournalEvent, type VerifyProblem } from "./types.ts";

/**
 * The hash chain, apart from any backend: how an event's hash is computed and how a run's
 * journal is checked. The SQLite and Postgres stores both use it.
 */

/** The hash of an event: SHA-256 of the canonical JSON of { runId, seq, type, at, data, prev }. */
export function eventHash(event: Omit<JournalEvent, "hash">): string {
  return sha256Hex(
    canonicalJson({
      runId: event.runId,
      seq: event.seq,
      type: event.type,
      at: event.at,
      data: event.data,
      prev: event.prev,
    }),
  );
}

/**
 * The same hash as `eventHash`, for the append hot path: `dataJson` must already be the
 * canonical JSON of the data, so the data is serialised once (for the row and the hash).
 * The members are written in canonical (sorted) key order: at, data, prev, runId, seq, type.
 */
export function eventHashFromCanonical(
  runId: string,
  seq: number,
  type: string,
  at: string,
  dataJson: string,
  prev: string,
): string {
  return sha256Hex(
    `{"at":${JSON.stringify(at)},"data":${dataJson},"prev":"${prev}","runId":${JSON.stringify(runId)},"seq":${seq},"type":${JSON.stringify(type)}}`,
  );
}

/** An event as read back from storage; `data` is undefined when the stored data could not be parsed. */
export interface StoredEvent {
  seq: number;
  type: string;
  at: string;
  data: JsonValue | undefined;
  prev: string;
  hash: string;
}

/** What the run's row says about its journal. */
export interface RunHead {
  eventCount: number;
  headHash: string;
}

/**
 * Checks one run's events, fed in seq order, one at a time (so a long journal is never held
 * in memory): every hash is recomputed, every `prev` must be the hash before it, seqs must run
 * from 0 without gaps, and the run row's head must match the last event.
 */
export class ChainChecker {
  readonly runId: string;
  readonly problems: VerifyProblem[] = [];
  eventsChecked = 0;
  #expectedSeq = 0;
  #prevHash = GENESIS_HASH;

  constructor(runId: string) {
    this.runId = runId;
  }

  add(event: StoredEvent): void {
    const { runId } = this;
    this.eventsChecked++;
    if (event.seq !== this.#expectedSeq) {
      const missing =
        event.seq > this.#expectedSeq
          ? `events ${this.#expectedSeq}..${event.seq - 1} are missing`
          : `seq ${event.seq} repeats or goes backwards after ${this.#expectedSeq - 1}`;
      this.#problem(
        this.#expectedSeq,
        "sequence_gap",
        `expected event ${this.#expectedSeq} but found ${event.seq}: ${missing}`,
      );
    }
    if (event.prev !== this.#prevHash) {
      this.#problem(
        event.seq,
        "chain_broken",
        `event ${event.seq} links to ${event.prev}, but the event before it hashes to ${this.#prevHash}`,
      );
    }
    if (event.data === undefined) {
      this.#problem(
        event.seq,
        "hash_mismatch",
        `event ${event.seq} (${event.type}) has data that is not valid JSON`,
      );
    } else {
      const actual = eventHash({
        runId,
        seq: event.seq,
        type: event.type,
        at: event.at,
        data: event.data,
        prev: event.prev,
      });
      if (actual !== event.hash) {
        this.#problem(
          event.seq,
          "hash_mismatch",
          `event ${event.seq} (${event.type}) was modified: its content hashes to ${actual}, but it records ${event.hash}`,
        );
      }
    }
    this.#expectedSeq = event.seq + 1;
    this.#prevHash = event.hash;
  }

  /** Compares the last event with the run row's head (omit `head` when the run has no row). */
  finish(head: RunHead | undefined): VerifyProblem[] {
    const lastSeq = this.#expectedSeq - 1;
    if (head === undefined) {
      this.#problem(
        lastSeq,
        "head_mismatch",
        `events exist for run ${this.runId}, but the run itself is missing`,
      );
    } else if (head.eventCount !== this.#expectedSeq || head.headHash !== this.#prevHash) {
      this.#problem(
        Math.max(lastSeq, head.eventCount - 1),
        "head_mismatch",
        `the run records ${head.eventCount} events ending in ${head.headHash}, but its journal has ${this.#expectedSeq} ending in ${this.#prevHash}; events were added or removed outside ballast`,
      );
    }
    return this.problems;
  }

  #problem(seq: number, kind: VerifyProblem["kind"], detail: string): void {
    this.problems.push({
      runId: this.runId,
      seq,
      kind,
      message: `run ${this.runId}, event ${seq}: ${detail}`,
    });
  }
}
