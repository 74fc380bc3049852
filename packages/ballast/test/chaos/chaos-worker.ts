// The process the chaos test kills: starts the chaos run, or resumes it, and prints
// `ready` once it executes and a JSON line with the outcome when the run ends.
// Usage: node --conditions=ballast-source chaos-worker.ts <journal-dir> <data-dir> <worker-index>
import { appendFileSync } from "node:fs";
import { join } from "node:path";
import { createBallast, createLogger, openSqliteJournal } from "ballast";
import { CHAOS_INPUT, CHAOS_RUN_ID, CHAOS_SEED, chaosWorkflow, PaymentTarget } from "./chaos-workflow.ts";

const [journalDir, dataDir, workerIndex] = process.argv.slice(2) as [string, string, string];
const journal = await openSqliteJournal({
  path: join(journalDir, "ballast.db"),
  blobDir: join(journalDir, "blobs"),
});
const executions = join(dataDir, "executions.log");
const workflow = chaosWorkflow({
  target: new PaymentTarget(dataDir),
  onExecute: (stepId) => appendFileSync(executions, `${workerIndex}\t${stepId}\n`),
});
const ballast = createBallast({ journal, workflows: [workflow], logger: createLogger({ level: "silent" }) });

const existing = await journal.getRun(CHAOS_RUN_ID);
if (existing !== undefined && existing.status !== "running") {
  // Killed after the run ended but before this line was printed.
  process.stdout.write(
    `ready\n${JSON.stringify({ status: existing.status, output: existing.output, ms: 0 })}\n`,
  );
} else {
  const handle =
    existing === undefined
      ? await ballast.start(workflow, CHAOS_INPUT, { runId: CHAOS_RUN_ID, seed: CHAOS_SEED })
      : await ballast.resume(CHAOS_RUN_ID);
  process.stdout.write("ready\n");
  const t0 = performance.now();
  const end = await handle.wait();
  process.stdout.write(`${JSON.stringify({ ...end, ms: performance.now() - t0 })}\n`);
}
await journal.close();
