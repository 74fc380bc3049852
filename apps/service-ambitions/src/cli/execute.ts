import { join } from "node:path";
import { createBallast, createLogger, type JournalStore, openJournal, type RunResult } from "ballast";
import { type FailureTrace, formatTraceIds } from "ballast/models";
import { costReport } from "../cost-report.ts";
import { CATALOGUE_KINDS } from "../inputs.ts";
import type { ModelFactory } from "../models.ts";
import { createRuntime, installRuntime } from "../pipeline/runtime.ts";
import { type PipelineInput, type PipelineSummary, serviceAmbitions } from "../pipeline/workflow.ts";
import { QuarantineStore } from "../quarantine/store.ts";
import { EXIT, errorLine, exitCodeOf } from "./exit-codes.ts";
import { homeOf } from "./options.ts";
import { createRunProgress, type ProgressStream } from "./progress.ts";
import { formatSummary } from "./report.ts";

/**
 * Runs (or resumes) the workflow in this process: the journal in the ballast home, a model
 * layer with the response cache next to it, the progress bar, and at the end the summary,
 * the cost tables, trace ids of failed items and the exit code.
 */

export interface Io {
  out(text: string): void;
  err(text: string): void;
  env: NodeJS.ProcessEnv;
  /** Replaces the provider models (tests, benchmarks). */
  factory?: ModelFactory;
  progressStream?: ProgressStream;
  /** Install a Ctrl-C handler that prints how to resume (the real CLI, not tests). */
  handleSignals?: boolean;
}

export interface Display {
  jsonLogs: boolean;
  /** Journal redacted prompt transcripts (the model layer's `logPrompts`). */
  logPrompts?: boolean;
  traceIds: boolean;
  /** Show only the N most expensive services in the cost table. */
  topServices?: number;
  /** The command that resumes this run, printed on Ctrl-C and on failure. */
  resumeHint: string;
  /** Printed before the run starts. */
  banner?: string;
}

export interface Plan {
  mode: "start" | "resume";
  runId: string;
  home: string;
  input: PipelineInput;
  display: Display;
}

export function journalPath(home: string): string {
  return join(home, "ballast.db");
}

export async function withJournal<T>(home: string, fn: (journal: JournalStore) => Promise<T>): Promise<T> {
  const journal = await openJournal({ home });
  try {
    return await fn(journal);
  } finally {
    await journal.close();
  }
}

export async function execute(io: Io, plan: Plan): Promise<number> {
  const { input, display } = plan;
  const { settings, data } = input;
  const logger = createLogger({ level: display.jsonLogs ? "info" : "silent" });
  return withJournal(plan.home, async (journal) => {
    const ballast = createBallast({ journal, logger, workflows: [serviceAmbitions] });
    const skip = new Set(input.skip);
    const todo = data.services.filter((s) => !skip.has(s.id));
    const steps = todo.reduce(
      (n, s) => n + data.plateaus.length * (1 + s.customer_types.length + CATALOGUE_KINDS.length),
      0,
    );
    const runtime = await createRuntime(settings, {
      ...(io.factory === undefined ? {} : { factory: io.factory }),
      cache:
        settings.cache === "off" ? false : { path: join(plan.home, "model-cache.db"), mode: settings.cache },
      logger,
      logPrompts: display.logPrompts === true,
    });
    if (display.banner !== undefined) io.out(display.banner);
    const progress = createRunProgress({
      steps,
      services: todo.length,
      label: plan.runId,
      jsonLogs: display.jsonLogs,
      ...(io.progressStream === undefined ? {} : { stream: io.progressStream }),
    });
    runtime.hooks.onStep = () => progress.step();
    runtime.hooks.onService = (event) => {
      progress.service();
      logger.info(
        { runId: plan.runId, service: event.serviceId, outcome: event.outcome },
        "service finished",
      );
    };
    const uninstall = installRuntime(plan.runId, runtime);
    const onSigint = () => {
      progress.stop();
      io.err(`\ninterrupted: run ${plan.runId} is journaled; resume it with:\n  ${display.resumeHint}\n`);
      process.exit(EXIT.interrupted);
    };
    if (io.handleSignals) process.once("SIGINT", onSigint);
    const t0 = performance.now();
    let result: RunResult<PipelineSummary>;
    try {
      const handle =
        plan.mode === "start"
          ? await ballast.start(serviceAmbitions, input, {
              runId: plan.runId,
              seed: String(settings.seed),
              ...(settings.budgetUsd === undefined
                ? {}
                : { budget: { costUsd: settings.budgetUsd, mode: settings.budgetMode } }),
            })
          : await ballast.resume<PipelineSummary>(plan.runId);
      result = (await handle.wait()) as RunResult<PipelineSummary>;
    } finally {
      progress.stop();
      if (io.handleSignals) process.off("SIGINT", onSigint);
      uninstall();
      runtime.layer.close();
    }
    const seconds = (performance.now() - t0) / 1000;
    const events = await journal.readEvents(plan.runId);
    const cost = costReport(events);
    const budgetWarnings = [
      ...events.flatMap((e) => {
        if (e.type !== "budget.warning") return [];
        const d = e.data as { dimension: string; limit: number; used: number; label?: string };
        return [
          `run budget: ${d.dimension} reached ${d.used} (limit ${d.limit})${d.label ? ` at ${d.label}` : ""}`,
        ];
      }),
      ...runtime.stats.budgetWarnings,
    ];
    const code = result.status === "completed" ? EXIT.ok : exitCodeOf(result.error?.code ?? result.status);

    if (result.error !== undefined) io.err(errorLine(result.error, { run_id: plan.runId }));
    if (display.jsonLogs) {
      io.out(
        JSON.stringify({
          runId: plan.runId,
          status: result.status,
          exitCode: code,
          seconds: Math.round(seconds * 1000) / 1000,
          result: result.output ?? null,
          cost: {
            usd: cost.summary.costUsd,
            calls: cost.summary.calls,
            cacheHits: cost.summary.cacheHits,
            tokens: cost.summary.tokens,
            byStage: cost.summary.byStage.map((l) => ({
              stage: l.stage,
              calls: l.calls,
              costUsd: l.costUsd,
            })),
            byService: cost.byService,
          },
          journal: journalPath(plan.home),
          modelStats: { ...runtime.stats, budgetWarnings },
        }),
      );
    } else {
      io.out(
        formatSummary({
          runId: plan.runId,
          status: result.status,
          seconds,
          settings,
          result: result.output,
          cost,
          journalPath: journalPath(plan.home),
          dashboardPort: io.env["BALLAST_SERVER_PORT"] ?? "7341",
          homeFlag: plan.home === homeOf({}, io.env) ? "" : ` --home ${plan.home}`,
          ...(display.topServices === undefined ? {} : { topServices: display.topServices }),
        }),
      );
      for (const warning of budgetWarnings) io.err(`budget warning (soft mode, the run went on): ${warning}`);
      if (runtime.stats.fallbacks > 0 || runtime.stats.retries > 0) {
        io.out(`  provider   ${runtime.stats.retries} retries, ${runtime.stats.fallbacks} fallbacks`);
      }
    }
    if (display.traceIds) io.out(traceIdReport(runtime.layer.failures(), input, result.output));
    return code;
  });
}

/** `--trace-ids`: provider request ids of every failed item (model failures and quarantined records). */
function traceIdReport(
  failures: FailureTrace[],
  input: PipelineInput,
  output: PipelineSummary | undefined,
): string {
  const lines = ["Failed items (item, stage, model, code, request ids):"];
  const itemFailures = failures.filter((f) => f.item !== undefined);
  if (itemFailures.length > 0) lines.push(formatTraceIds(itemFailures));
  const store = new QuarantineStore(input.io.quarantineDir);
  for (const id of output?.quarantined ?? []) {
    if (!store.has(id)) continue;
    const record = store.get(id);
    lines.push(
      [
        id,
        record.stage,
        "-",
        record.code,
        record.request_ids.length > 0 ? record.request_ids.join(",") : "-",
      ].join("\t"),
    );
  }
  if (lines.length === 1) lines.push("none");
  return lines.join("\n");
}
