import { Command } from "commander";
import { registerAuditCommand } from "./commands/audit.ts";
import { registerCacheCommand } from "./commands/cache.ts";
import { registerDoctorCommand } from "./commands/doctor.ts";
import { registerJournalCommand } from "./commands/journal.ts";
import { registerMcpCommand } from "./commands/mcp.ts";
import { registerRunsCommands } from "./commands/runs.ts";
import { registerServeCommand } from "./commands/serve.ts";

/** The `ballast` command tree; `main.ts` runs it, tests drive it in-process. */
export function buildProgram(): Command {
  const program = new Command("ballast")
    .description("ballast: durable, replayable runs for AI pipelines")
    .option("--json", "print machine-readable JSON")
    .option("--home <dir>", "ballast home (default $BALLAST_HOME or ./.ballast)")
    .showHelpAfterError();
  registerRunsCommands(program);
  registerJournalCommand(program);
  registerAuditCommand(program);
  registerCacheCommand(program);
  registerServeCommand(program);
  registerMcpCommand(program);
  registerDoctorCommand(program);
  return program;
}
