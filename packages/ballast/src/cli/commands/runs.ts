import type { Command } from "commander";
import { ValidationError } from "../../errors.ts";
import { type Ballast, createBallast } from "../../flow/engine.ts";
import { openJournal } from "../../journal/index.ts";
import type { JournalStore, RunRecord, RunStatus } from "../../journal/types.ts";
import { emit, type GlobalOptions, table } from "../output.ts";
import { loadWorkflows } from "../workflows-module.ts";

interface WorkflowOptions extends GlobalOptions {
  workflows?: string;
}

async function withJournal<T>(options: GlobalOptions, fn: (journal: JournalStore) => Promise<T>): Promise<T> {
  const journal = await openJournal({ home: options.home });
  try {
    return await fn(journal);
  } finally {
    await journal.close();
  }
}

async function withEngine<T>(options: WorkflowOptions, fn: (engine: Ballast) => Promise<T>): Promise<T> {
  const workflows = await loadWorkflows(options.workflows);
  return withJournal(options, (journal) => fn(createBallast({ journal, workflows })));
}

function durationOf(run: RunRecord): string {
  const ms = Date.parse(run.updatedAt) - Date.parse(run.createdAt);
  return ms < 1000 ? `${ms}ms` : `${(ms / 1000).toFixed(1)}s`;
}

function parseSeq(value: string): number {
  const seq = Number(value);
  if (!Number.isInteger(seq) || seq < 0) {
    throw new ValidationError(
      "invalid_seq",
      `--at takes an event number (a whole number >= 0), got "${value}".`,
    );
  }
  return seq;
}

export function registerRunsCommands(program: Command): void {
  const runs = program.command("runs").description("list, inspect, cancel and resume runs");

  runs
    .command("ls")
    .description("list runs, newest first")
    .option("--status <status>", "only runs with this status")
    .option("--workflow <name>", "only runs of this workflow")
    .option("--limit <n>", "at most n runs", "50")
    .action(async (opts: { status?: RunStatus; workflow?: string; limit: string }, command: Command) => {
      const options = command.optsWithGlobals<GlobalOptions>();
      const list = await withJournal(options, (journal) =>
        journal.listRuns({
          ...(opts.status ? { status: opts.status } : {}),
          ...(opts.workflow ? { workflow: opts.workflow } : {}),
          limit: Number(opts.limit),
        }),
      );
      emit(options, list, () =>
        list.length === 0
          ? "no runs yet"
          : table(
              ["run", "workflow", "status", "events", "started", "duration"],
              list.map((r) => [
                r.id,
                `${r.workflow}@${r.workflowVersion}`,
                r.status,
                String(r.eventCount),
                r.createdAt,
                durationOf(r),
              ]),
            ),
      );
    });

  runs
    .command("show <run>")
    .description("show a run and its journal")
    .option("--events", "list every event")
    .action(async (runId: string, opts: { events?: boolean }, command: Command) => {
      const options = command.optsWithGlobals<GlobalOptions>();
      const { run, events } = await withJournal(options, async (journal) => {
        const found = await journal.getRun(runId);
        if (found === undefined) {
          throw new ValidationError(
            "run_not_found",
            `No run ${runId} in this ballast home; list runs with \`ballast runs ls\`.`,
          );
        }
        return { run: found, events: opts.events ? await journal.readEvents(runId) : undefined };
      });
      emit(options, { run, ...(events ? { events } : {}) }, () => {
        const lines = [
          `run       ${run.id}`,
          `workflow  ${run.workflow}@${run.workflowVersion}`,
          `status    ${run.status}${run.error ? ` (${run.error.code}: ${run.error.message})` : ""}`,
          `started   ${run.createdAt}  (${durationOf(run)})`,
          `events    ${run.eventCount}, head ${run.headHash.slice(0, 16)}`,
        ];
        if (run.parentRunId) lines.push(`forked    from ${run.parentRunId} at event ${run.forkedAtSeq}`);
        if (run.output !== undefined) lines.push(`output    ${JSON.stringify(run.output).slice(0, 200)}`);
        for (const e of events ?? []) {
          const { stepId, ...rest } = e.data as { stepId?: string };
          const subject = typeof stepId === "string" ? `  ${stepId}` : "";
          lines.push(
            `  ${String(e.seq).padStart(5)}  ${e.at}  ${e.type}${subject}  ${JSON.stringify(rest).slice(0, 90)}`,
          );
        }
        return lines.join("\n");
      });
    });

  runs
    .command("cancel <run>")
    .description("cancel an unfinished run")
    .option("--reason <text>", "why, recorded in the journal")
    .action(async (runId: string, opts: { reason?: string }, command: Command) => {
      const options = command.optsWithGlobals<GlobalOptions>();
      const run = await withJournal(options, (journal) =>
        createBallast({ journal }).cancel(runId, opts.reason),
      );
      emit(options, run, () => `run ${run.id}: ${run.status}`);
    });

  runs
    .command("resume <run>")
    .description("resume an interrupted run: journaled steps are served, the rest runs")
    .option("--workflows <file>", "module exporting your workflows (or BALLAST_WORKFLOWS)")
    .action(async (runId: string, _opts: unknown, command: Command) => {
      const options = command.optsWithGlobals<WorkflowOptions>();
      const result = await withEngine(options, async (engine) => (await engine.resume(runId)).wait());
      emit(
        options,
        result,
        () => `run ${result.runId}: ${result.status}${result.error ? ` (${result.error.message})` : ""}`,
      );
      if (result.status !== "completed") process.exitCode = 1;
    });

  program
    .command("replay <run>")
    .description("re-execute a finished run offline against its journal and prove the output identical")
    .option("--workflows <file>", "module exporting your workflows (or BALLAST_WORKFLOWS)")
    .action(async (runId: string, _opts: unknown, command: Command) => {
      const options = command.optsWithGlobals<WorkflowOptions>();
      const report = await withEngine(options, (engine) => engine.replay(runId));
      emit(options, report, () =>
        [
          `replay of ${report.runId}: identical (${report.status})`,
          `  ${report.stepsReexecuted} step(s) re-executed, ${report.stepsServed} side-effect step(s) served, ${report.eventsMatched} event(s) matched`,
        ].join("\n"),
      );
    });

  program
    .command("fork <run>")
    .description("start a new run from a copy of <run>'s journal up to an event, and continue live")
    .requiredOption("--at <seq>", "last event of the parent to keep", parseSeq)
    .option("--workflows <file>", "module exporting your workflows (or BALLAST_WORKFLOWS)")
    .option("--version <version>", "run the fork with another registered version of the workflow")
    .action(async (runId: string, opts: { at: number; version?: string }, command: Command) => {
      const options = command.optsWithGlobals<WorkflowOptions>();
      const result = await withEngine(options, async (engine) =>
        (
          await engine.fork(runId, { atSeq: opts.at, ...(opts.version ? { version: opts.version } : {}) })
        ).wait(),
      );
      emit(options, result, () => `fork ${result.runId} of ${runId} at event ${opts.at}: ${result.status}`);
      if (result.status !== "completed") process.exitCode = 1;
    });
}
