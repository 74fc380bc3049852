import { setTimeout as sleep } from "node:timers/promises";
import { TERMINAL_EVENTS } from "../flow/events.ts";
import type { JournalEvent, JournalStore } from "../journal/types.ts";
import { TERMINAL_STATUSES } from "../journal/types.ts";

/**
 * A run's journal as a live stream, from `fromSeq` until the event that ends the run.
 *
 * It polls the journal rather than listening inside this process, because the writer may
 * be another process (a worker, `ballast runs resume`). It is pull-based: the next batch is
 * read only when the consumer asks for it, so a slow client (SSE or gRPC) holds the stream
 * back instead of filling a queue (seed 002 TL-17: the bound is one journal page).
 */
export async function* watchEvents(
  journal: JournalStore,
  runId: string,
  options: { fromSeq?: number; pollMs?: number; pageSize?: number; signal?: AbortSignal } = {},
): AsyncGenerator<JournalEvent> {
  const pollMs = options.pollMs ?? 200;
  const pageSize = options.pageSize ?? 500;
  let next = options.fromSeq ?? 0;
  const signal = options.signal;
  while (signal?.aborted !== true) {
    const events = await journal.readEvents(runId, { fromSeq: next, toSeq: next + pageSize - 1 });
    for (const event of events) {
      yield event;
      next = event.seq + 1;
      if (TERMINAL_EVENTS.has(event.type)) return;
    }
    if (events.length === pageSize) continue;
    if (events.length === 0) {
      // Nothing new: stop if the run ended (and its end was before fromSeq), else wait.
      const run = await journal.getRun(runId);
      if (run === undefined || (TERMINAL_STATUSES.has(run.status) && run.eventCount <= next)) return;
      try {
        await sleep(pollMs, undefined, signal ? { signal } : undefined);
      } catch {
        return;
      }
    }
  }
}
