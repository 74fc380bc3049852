// ballast as the steps bench drives it: the public API with its defaults (observer, logger,
// metrics), over a SQLite journal in `full` or `normal` durability.
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { createBallast, type Durability, defineWorkflow, openSqliteJournal } from "ballast";
import type { WithGroupCommit } from "./_steps-child.ts";
import type { Contender, GroupCommitResult } from "./_steps-contender.ts";
import { median } from "./_steps-stats.ts";

let tick: () => void = () => {};

/** `steps` sequential steps, each returning i + 1. */
const counter = defineWorkflow({
  name: "bench-steps",
  version: "1",
  run: async (ctx, steps: number) => {
    let i = 0;
    for (let k = 0; k < steps; k++) {
      const prev = i;
      i = await ctx.step("inc", () => {
        tick();
        return prev + 1;
      });
    }
    return i;
  },
});

/** `items` steps through ctx.map, `concurrency` at a time: their commits share fsyncs. */
const fanOut = defineWorkflow({
  name: "bench-steps-map",
  version: "1",
  run: async (ctx, input: { items: number; concurrency: number }) => {
    const items = Array.from({ length: input.items }, (_, k) => k);
    const out = await ctx.map(items, (k) => ctx.step("inc", () => k + 1), { concurrency: input.concurrency });
    return out.length;
  },
});

export async function openBallast(dir: string, durability: Durability): Promise<Contender & WithGroupCommit> {
  const path = join(dir, `ballast-${durability}.db`);
  const journal = await openSqliteJournal({ path, blobDir: join(dir, "blobs"), durability });
  const ballast = createBallast({ journal, workflows: [counter, fanOut] });
  return {
    name: `ballast-${durability}`,
    async runWorkflow(steps, onTick) {
      tick = onTick;
      const run = await ballast.start(counter, steps);
      return run.result();
    },
    async storage() {
      // journal_mode is a property of the file; synchronous is per connection, and the
      // journal's own connection sets it from `durability` (openSqliteJournal).
      const probe = new DatabaseSync(path, { readOnly: true });
      try {
        const mode = (probe.prepare("PRAGMA journal_mode").get() as { journal_mode: string }).journal_mode;
        return `${mode.toUpperCase()} sync=${journal.durability === "full" ? "FULL" : "NORMAL"}`;
      } finally {
        probe.close();
      }
    },
    async groupCommit(items, concurrency, runs): Promise<GroupCommitResult> {
      const measure = async (): Promise<number> => {
        const started = performance.now();
        const run = await ballast.start(fanOut, { items, concurrency });
        const done = await run.result();
        if (done !== items) throw new Error(`ballast ctx.map returned ${done} results for ${items} items`);
        return items / ((performance.now() - started) / 1000);
      };
      await measure(); // warm-up
      const before = journal.stats();
      const rates: number[] = [];
      for (let r = 0; r < runs; r++) rates.push(await measure());
      const after = journal.stats();
      const commits = after.commits - before.commits;
      return {
        items,
        concurrency,
        runs,
        stepsPerSecond: median(rates),
        ...(commits > 0
          ? { eventsPerCommit: (after.eventsCommitted - before.eventsCommitted) / commits }
          : {}),
      };
    },
    async close() {
      await journal.close();
    },
  };
}
