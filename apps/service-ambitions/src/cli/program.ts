import { randomUUID } from "node:crypto";
import { join } from "node:path";
import { BallastError, createBallast, createLogger, TERMINAL_STATUSES } from "ballast";
import { Command, CommanderError } from "commander";
import { costReport } from "../cost-report.ts";
import { codeGitSha } from "../git.ts";
import { changedFiles, type InputSources, loadInputs } from "../inputs.ts";
import { migrateFile } from "../migrate/schema-migration.ts";
import { defaultModelFactory } from "../models.ts";
import { createRuntime, installRuntime } from "../pipeline/runtime.ts";
import { type PipelineInput, serviceAmbitions, WORKFLOW_NAME } from "../pipeline/workflow.ts";
import { QuarantineStore } from "../quarantine/store.ts";
import { parseSettings, type Settings, settingsDiff } from "../settings.ts";
import { type Display, execute, type Io, journalPath, withJournal } from "./execute.ts";
import { EXIT, errorLine, exitCodeOf, recordOf } from "./exit-codes.ts";
import {
  addIoOptions,
  addSettingsOptions,
  type CliOptions,
  homeOf,
  ioFromOptions,
  newRunSettings,
  sampleSources,
  settingsFromOptions,
  sourcesFromOptions,
} from "./options.ts";
import { serviceTable, stageTable, table } from "./report.ts";

/**
 * The `service-ambitions` command. `runCli` runs it in-process and returns the exit code,
 * so tests drive every command without spawning a process.
 */

class Refusal extends BallastError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super({ code: "resume_refused", message, details });
    this.name = "ResumeRefused";
  }
}

function newRunId(): string {
  return `sa-${randomUUID().slice(0, 8)}`;
}

function buildInput(
  settings: Settings,
  sources: InputSources,
  io: { output: string; quarantineDir: string },
): PipelineInput {
  const loaded = loadInputs(sources);
  const store = new QuarantineStore(io.quarantineDir);
  const quarantined = new Set(store.list().map((r) => r.service_id));
  const released = new Set(store.released());
  return {
    settings,
    data: loaded.data,
    skip: loaded.data.services.filter((s) => quarantined.has(s.id)).map((s) => s.id),
    fresh: loaded.data.services.filter((s) => released.has(s.id) && !quarantined.has(s.id)).map((s) => s.id),
    io,
    meta: {
      gitSha: codeGitSha(),
      inputHash: loaded.inputHash,
      files: loaded.files,
      sources: loaded.sources,
    },
  };
}

interface Ctx {
  io: Io;
  code: number;
}

async function startRun(ctx: Ctx, options: CliOptions & { runId?: string }, display: Partial<Display> = {}) {
  const sources = sourcesFromOptions(options);
  if (sources === undefined) {
    throw new BallastError({
      code: "invalid_input",
      message: "Name the inputs (--services, --plateaus, --catalogues) or use --sample.",
    });
  }
  const settings = parseSettings(newRunSettings(options, ctx.io.env));
  const input = buildInput(settings, sources, ioFromOptions(options));
  const runId = options.runId ?? newRunId();
  const home = homeOf(options, ctx.io.env);
  ctx.code = await execute(ctx.io, {
    mode: "start",
    runId,
    home,
    input,
    display: {
      jsonLogs: options.jsonLogs === true,
      traceIds: options.traceIds === true,
      logPrompts: options.logPrompts === true,
      resumeHint: `service-ambitions resume ${runId} --home ${home}`,
      ...display,
    },
  });
}

/** Checks that a run may be resumed with what is on disk now and what the user asked. */
async function resumePlan(
  ctx: Ctx,
  runId: string,
  options: CliOptions,
): Promise<{ home: string; input: PipelineInput }> {
  const home = homeOf(options, ctx.io.env);
  const run = await withJournal(home, (journal) => journal.getRun(runId));
  if (run === undefined) {
    throw new BallastError({
      code: "run_not_found",
      message: `No run ${runId} in ${journalPath(home)}; \`npm run ballast -- runs ls --home ${home}\` lists the runs.`,
    });
  }
  if (run.workflow !== WORKFLOW_NAME)
    throw new Refusal(`Run ${runId} is a ${run.workflow} run, not ${WORKFLOW_NAME}.`);
  if (TERMINAL_STATUSES.has(run.status)) {
    throw new Refusal(
      `Run ${runId} has already ended (${run.status}); there is nothing to resume. Replay it (service-ambitions replay ${runId}) or start a new run.`,
      { status: run.status },
    );
  }
  const recorded = run.input as unknown as PipelineInput;
  const sources = sourcesFromOptions(options) ?? recorded.meta.sources;
  let current: ReturnType<typeof loadInputs> | undefined;
  try {
    current = loadInputs(sources);
  } catch (error) {
    throw new Refusal(
      `The input of run ${runId} cannot be read as it was (${(error as Error).message}). Resume continues on the recorded input and refuses when it changed: restore the files, or start a new run.`,
    );
  }
  if (current.inputHash !== recorded.meta.inputHash) {
    const files = changedFiles(recorded.meta.files, current.files);
    throw new Refusal(
      `The input changed since run ${runId} started (${files.length > 0 ? files.join(", ") : "its content"}). A resume would mix old and new input, so it is refused: restore the input, or start a new run to process the new one.`,
      { changed: files },
    );
  }
  const overrides = settingsFromOptions(options);
  const settings = parseSettings({ ...recorded.settings, ...overrides });
  const changed = settingsDiff(recorded.settings, settings);
  if (changed.length > 0) {
    throw new Refusal(
      `The settings differ from those run ${runId} started with: ${changed.join("; ")}. A resume keeps the run's settings, so it is refused: drop those options, or start a new run with them.`,
      { changed },
    );
  }
  if (options.output !== undefined || options.quarantineDir !== undefined) {
    const io = ioFromOptions({ ...options, output: options.output ?? recorded.io.output });
    if (io.output !== recorded.io.output || io.quarantineDir !== recorded.io.quarantineDir) {
      throw new Refusal(
        `Run ${runId} writes to ${recorded.io.output} (quarantine ${recorded.io.quarantineDir}); a resume cannot move it. Drop --output/--quarantine-dir.`,
      );
    }
  }
  return { home, input: recorded };
}

async function resumeRun(ctx: Ctx, runId: string, options: CliOptions, display: Partial<Display> = {}) {
  const { home, input } = await resumePlan(ctx, runId, options);
  ctx.code = await execute(ctx.io, {
    mode: "resume",
    runId,
    home,
    input,
    display: {
      jsonLogs: options.jsonLogs === true,
      traceIds: options.traceIds === true,
      logPrompts: options.logPrompts === true,
      resumeHint: `service-ambitions resume ${runId} --home ${home}`,
      ...display,
    },
  });
}

async function replayRun(ctx: Ctx, runId: string, options: { home?: string }, hint = "") {
  const home = homeOf(options, ctx.io.env);
  await withJournal(home, async (journal) => {
    const run = await journal.getRun(runId);
    if (run === undefined) {
      throw new BallastError({ code: "run_not_found", message: `No run ${runId} in ${journalPath(home)}.` });
    }
    const input = run.input as unknown as PipelineInput;
    // Replay serves every model call from the journal: these models are never called.
    const runtime = await createRuntime(input.settings, {
      factory: defaultModelFactory({ requireKeys: false }),
    });
    const uninstall = installRuntime(runId, runtime);
    try {
      const ballast = createBallast({
        journal,
        logger: createLogger({ level: "silent" }),
        workflows: [serviceAmbitions],
      });
      const report = await ballast.replay(runId);
      const verify = await journal.verify(runId);
      const calls = (await journal.readEvents(runId)).filter((e) => e.type === "model.called").length;
      ctx.io.out(
        [
          `replay of run ${runId}: ${report.status}, output identical to the journal's`,
          `  ${report.stepsReexecuted} steps re-executed, ${report.stepsServed} side-effect steps served, ${calls} model calls served from the journal (no network)`,
          `  journal: ${verify.ok ? "verified" : "TAMPERED"}, ${verify.eventsChecked} hash-chained events${hint}`,
        ].join("\n"),
      );
      if (!verify.ok) ctx.code = EXIT.internal;
    } finally {
      uninstall();
      runtime.layer.close();
    }
  });
}

function registerRun(program: Command, ctx: Ctx): void {
  const run = program
    .command("run")
    .description("generate evolutions.jsonl: descriptions, features and catalogue mappings per service");
  addSettingsOptions(addIoOptions(run)).option("--run-id <id>", "id of the new run (default: random)");
  run.action(async (options: CliOptions & { runId?: string }) => startRun(ctx, options));

  const resume = program
    .command("resume <run>")
    .description("continue an interrupted run; refuses if its input or settings changed");
  addSettingsOptions(addIoOptions(resume));
  resume.action(async (runId: string, options: CliOptions) => resumeRun(ctx, runId, options));

  program
    .command("replay <run>")
    .description("re-execute a finished run offline against its journal and prove the output identical")
    .option("--home <dir>", "ballast home")
    .action(async (runId: string, options: { home?: string }) => replayRun(ctx, runId, options));

  program
    .command("cost <run>")
    .description("cost of a run per stage and per service, from its journal")
    .option("--home <dir>", "ballast home")
    .action(async (runId: string, options: { home?: string }) => {
      const home = homeOf(options, ctx.io.env);
      const events = await withJournal(home, (journal) => journal.readEvents(runId));
      const report = costReport(events);
      ctx.io.out(
        [
          `run ${runId}: ${report.summary.calls} model calls, ${report.summary.cacheHits} cache hits, $${report.summary.costUsd.toFixed(6)}`,
          "",
          stageTable(report.summary.lines),
          "",
          serviceTable(report.byService),
        ].join("\n"),
      );
    });
}

function registerQuarantine(program: Command, ctx: Ctx): void {
  const q = program.command("quarantine").description("records that failed after their retries");
  const dirOf = (options: { dir?: string }) => new QuarantineStore(options.dir ?? "quarantine");
  q.command("ls")
    .description("list quarantined records")
    .option("--dir <dir>", "quarantine folder", "quarantine")
    .action((options: { dir?: string }) => {
      const records = dirOf(options).list();
      ctx.io.out(
        records.length === 0
          ? "quarantine is empty"
          : table(
              ["service", "stage", "code", "run", "quarantined at"],
              records.map((r) => [r.service_id, r.stage, r.code, r.run_id, r.quarantined_at]),
            ),
      );
    });
  q.command("show <service>")
    .description("show one record with its error, problems and request ids")
    .option("--dir <dir>", "quarantine folder", "quarantine")
    .action((serviceId: string, options: { dir?: string }) => {
      ctx.io.out(JSON.stringify(dirOf(options).get(serviceId), null, 2));
    });
  q.command("rm <service>")
    .description("release a record: the next run processes the service again")
    .option("--dir <dir>", "quarantine folder", "quarantine")
    .action((serviceId: string, options: { dir?: string }) => {
      dirOf(options).remove(serviceId);
      ctx.io.out(`released ${serviceId}: the next run processes it again, asking the models afresh`);
    });
}

function registerMigrate(program: Command, ctx: Ctx): void {
  program
    .command("migrate")
    .description("migrate evolutions.jsonl between schema versions (order and metadata preserved)")
    .requiredOption("--from <version>", "schema version of the input, e.g. 1.0")
    .requiredOption("--to <version>", "schema version to write, e.g. 1.1")
    .requiredOption("--input <file>", "JSONL to read")
    .requiredOption("--output <file>", "JSONL to write")
    .action((options: { from: string; to: string; input: string; output: string }) => {
      const result = migrateFile(options);
      ctx.io.out(
        `migrated ${result.records} records from ${options.from} to ${options.to}: ${options.output} (sha256 ${result.sha256.slice(0, 16)}…)`,
      );
    });
}

function registerDemo(program: Command, ctx: Ctx): void {
  program
    .command("demo")
    .description("the sample, offline, journaled, with a progress bar (npm run demo)")
    .option("--resume <run>", "resume an interrupted demo run")
    .option("--replay <run>", "replay a finished demo run offline and verify its journal")
    .option("--home <dir>", "ballast home (default $BALLAST_HOME or ./.ballast)")
    .option("--latency <ms>", "simulated model latency per call", "300")
    .option("--json-logs", "JSON logs, no progress bar")
    .action(
      async (options: {
        resume?: string;
        replay?: string;
        home?: string;
        latency: string;
        jsonLogs?: boolean;
      }) => {
        const home = homeOf(options, ctx.io.env);
        if (options.replay !== undefined) {
          await replayRun(ctx, options.replay, { home });
          return;
        }
        const output = join(home, "service-ambitions", "evolutions.jsonl");
        const latency = Number(options.latency);
        const common: CliOptions = {
          home,
          model: "local",
          simulateLatency: Number.isInteger(latency) && latency >= 0 ? latency : 300,
          output,
          ...(options.jsonLogs ? { jsonLogs: true } : {}),
        };
        const display = (runId: string): Partial<Display> => ({
          topServices: 3,
          resumeHint: `npm run demo -- --resume ${runId}`,
          banner: [
            `Run ${runId} (pid ${process.pid}): ${sampleSummary()}, offline model with ${common.simulateLatency} ms simulated latency, journaled in ${journalPath(home)}.`,
            `Kill it any time (Ctrl-C, or kill -9 ${process.pid}) and continue with: npm run demo -- --resume ${runId}`,
          ].join("\n"),
        });
        const runId = options.resume ?? newRunId();
        if (options.resume !== undefined) await resumeRun(ctx, runId, common, display(runId));
        else await startRun(ctx, { ...common, sample: true, runId }, display(runId));
        if (ctx.code === EXIT.ok) {
          ctx.io.out(
            `\nNext: \`npm run demo -- --replay ${runId}\` replays the run offline and verifies its journal; \`npm run demo\` again is served from the response cache ($0).`,
          );
        }
      },
    );
}

function sampleSummary(): string {
  const loaded = loadInputs(sampleSources());
  const { services, plateaus, catalogues } = loaded.data;
  const sectors = new Set(services.map((s) => s.sector)).size;
  return `${services.length} services in ${sectors} sectors, ${plateaus.length} plateaus, catalogues of ${catalogues.applications.length}/${catalogues.technologies.length}/${catalogues.information.length} applications/technologies/information items`;
}

export function buildProgram(ctx: Ctx): Command {
  const program = new Command("service-ambitions")
    .description(
      "Batch LLM generation on ballast: services → plateau descriptions, features and catalogue mappings",
    )
    .showHelpAfterError()
    .exitOverride()
    .configureOutput({
      writeOut: (text) => ctx.io.out(text.replace(/\n$/, "")),
      writeErr: (text) => ctx.io.err(text.replace(/\n$/, "")),
    });
  registerRun(program, ctx);
  registerQuarantine(program, ctx);
  registerMigrate(program, ctx);
  registerDemo(program, ctx);
  return program;
}

/** Runs the command line `argv` (without node and script); resolves with the exit code. */
export async function runCli(argv: string[], io: Io): Promise<number> {
  const ctx: Ctx = { io, code: EXIT.ok };
  const program = buildProgram(ctx);
  try {
    await program.parseAsync(argv, { from: "user" });
    return ctx.code;
  } catch (error) {
    if (error instanceof CommanderError) {
      return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    const record = recordOf(error);
    io.err(errorLine(record));
    return exitCodeOf(record.code);
  }
}
