import { DatabaseSync } from "node:sqlite";
import type { Command } from "commander";
import { homeDatabasePath, resolveHome } from "../../home.ts";
import { openJournal } from "../../journal/index.ts";
import { emit, type GlobalOptions, table } from "../output.ts";

interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

/** Checks the environment ballast needs and says what to fix. */
export async function runDoctor(home: string | undefined): Promise<Check[]> {
  const checks: Check[] = [];
  const major = Number(process.versions.node.split(".")[0]);
  checks.push({
    name: "node",
    ok: major >= 22,
    detail:
      major >= 22
        ? `v${process.versions.node}`
        : `v${process.versions.node}: ballast needs Node >= 22.13 (run through npm, which uses the pinned Node 24)`,
  });
  try {
    const db = new DatabaseSync(":memory:");
    db.exec("CREATE VIRTUAL TABLE probe USING fts5(text)");
    const version = db.prepare("SELECT sqlite_version() AS v").get() as { v: string };
    db.close();
    checks.push({ name: "sqlite", ok: true, detail: `node:sqlite ${version.v} with FTS5` });
  } catch (error) {
    checks.push({
      name: "sqlite",
      ok: false,
      detail: `node:sqlite with FTS5 unavailable: ${(error as Error).message}`,
    });
  }
  const resolved = resolveHome(home);
  try {
    const store = await openJournal({ home: resolved });
    const report = await store.verify();
    await store.close();
    checks.push({
      name: "journal",
      ok: report.ok,
      detail: report.ok
        ? `${homeDatabasePath(resolved)}: ${report.runsChecked} run(s) verified`
        : `${report.problems.length} problem(s); run \`ballast journal verify\` for details`,
    });
  } catch (error) {
    checks.push({ name: "journal", ok: false, detail: (error as Error).message });
  }
  return checks;
}

export function registerDoctorCommand(program: Command): void {
  program
    .command("doctor")
    .description("check Node, SQLite and the ballast home; say what to fix")
    .action(async (_opts: unknown, command: Command) => {
      const options = command.optsWithGlobals<GlobalOptions>();
      const checks = await runDoctor(options.home);
      emit(options, { ok: checks.every((c) => c.ok), checks }, () =>
        table(
          ["check", "status", "detail"],
          checks.map((c) => [c.name, c.ok ? "ok" : "FAIL", c.detail]),
        ),
      );
      if (!checks.every((c) => c.ok)) process.exitCode = 1;
    });
}
