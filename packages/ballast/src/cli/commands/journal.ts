import type { Command } from "commander";
import { openJournal } from "../../journal/index.ts";
import { emit, type GlobalOptions } from "../output.ts";

export function registerJournalCommand(program: Command): void {
  const journal = program.command("journal").description("inspect the journal");
  journal
    .command("verify [run]")
    .description("check every event's hash and chain link (one run, or all); exits 1 on any problem")
    .action(async (runId: string | undefined, _opts: unknown, command: Command) => {
      const options = command.optsWithGlobals<GlobalOptions>();
      const store = await openJournal({ home: options.home });
      try {
        const report = await store.verify(runId);
        emit(options, report, () => {
          const head = `${report.ok ? "ok" : "TAMPERED"}: ${report.runsChecked} run(s), ${report.eventsChecked} event(s) checked`;
          return [
            head,
            ...report.problems.map((p) => `  run ${p.runId} event ${p.seq}: ${p.kind}: ${p.message}`),
          ].join("\n");
        });
        if (!report.ok) process.exitCode = 1;
      } finally {
        await store.close();
      }
    });
}
