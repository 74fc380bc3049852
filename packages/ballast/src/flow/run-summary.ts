import type { JsonValue } from "../canonical.ts";
import type { JournalEvent, RunRecord } from "../journal/types.ts";
import type { StepCompletedData } from "./events.ts";
import type { Execution } from "./execution.ts";
import { buildRunMetadata, type ModelRef, type RunCounts, validateRunMetadata } from "./metadata.ts";
import type { RunHistory } from "./run-history.ts";

/**
 * The run metadata stored with a run when it ends, built from what the execution saw (its
 * own steps and the journaled ones of earlier executions), or from the journal alone for a
 * run cancelled while no process executed it, and checked against the shipped JSON Schema.
 */

export interface RunConfig {
  budget?: JsonValue;
  timeoutMs?: number;
  retry?: JsonValue;
  stepTimeoutMs?: number;
}

interface RunFacts {
  runId: string;
  workflow: string;
  version: string;
  input: unknown;
  seed: string;
  config: RunConfig;
  startedAt: number;
  stepDurations: { name: string; ms: number }[];
  counts: RunCounts;
  /** Data of the run's effects (model calls, commands); `ctx.*` values left out. */
  effects: JsonValue[];
  costUsd: number;
}

export function runMetadata(exec: Execution, config: RunConfig): JsonValue {
  const stepDurations: { name: string; ms: number }[] = [];
  for (const [name, list] of exec.latencies) for (const ms of list) stepDurations.push({ name, ms });
  const effects = [...effectsOf(exec.history), ...exec.recordedEffects];
  let failed = exec.counts.failed;
  for (const step of exec.history.steps.values()) if (step.failed) failed += 1;
  return metadataOf({
    runId: exec.runId,
    workflow: exec.workflow.name,
    version: exec.workflow.version,
    input: exec.input,
    seed: exec.seed,
    config,
    startedAt: exec.startedAt,
    stepDurations,
    counts: {
      steps: exec.counts.executed + exec.counts.served,
      retries: exec.history.retries + exec.counts.retries,
      executed: exec.counts.executed,
      cached: exec.counts.served,
      failed,
      // The terminal event being written is counted too.
      events: exec.history.events.length + exec.eventsAppended + 1,
      effects: effects.length,
    },
    effects,
    costUsd: exec.budget.used.costUsd,
  });
}

/** For a run ended from outside (cancelled while no process executed it): the journal's facts. */
export function metadataFromJournal(run: RunRecord, history: RunHistory): JsonValue {
  const stepDurations: { name: string; ms: number }[] = [];
  let failed = 0;
  for (const step of history.steps.values()) {
    const done = step.completed?.data as unknown as StepCompletedData | undefined;
    if (done) stepDurations.push({ name: nameOf(step.stepId), ms: done.durationMs });
    if (step.failed) failed += 1;
  }
  const effects = [...effectsOf(history)];
  return metadataOf({
    runId: run.id,
    workflow: run.workflow,
    version: run.workflowVersion,
    input: run.input,
    seed: history.started?.seed ?? "none",
    config: {
      ...(history.started?.budget === undefined ? {} : { budget: history.started.budget }),
      ...(history.started?.timeoutMs === undefined ? {} : { timeoutMs: history.started.timeoutMs }),
    },
    startedAt: history.startedAt ?? Date.parse(run.createdAt),
    stepDurations,
    counts: {
      steps: stepDurations.length + failed,
      retries: history.retries,
      executed: 0,
      cached: 0,
      failed,
      events: history.events.length + 1,
      effects: effects.length,
    },
    effects,
    costUsd: history.budgetUsed.costUsd,
  });
}

function metadataOf(facts: RunFacts): JsonValue {
  const models = new Map<string, ModelRef>();
  const tokens = { input: 0, output: 0 };
  for (const data of facts.effects) noteModelEffect(data, models, tokens);
  const metadata = buildRunMetadata({
    runId: facts.runId,
    workflow: facts.workflow,
    workflowVersion: facts.version,
    input: facts.input,
    config: facts.config,
    seed: facts.seed,
    models: [...models.values()],
    stepDurations: facts.stepDurations,
    counts: facts.counts,
    ...(tokens.input + tokens.output > 0 ? { tokens } : {}),
    ...(facts.costUsd > 0 ? { costUsd: facts.costUsd } : {}),
    startedAt: facts.startedAt,
    endedAt: Date.now(),
  });
  validateRunMetadata(metadata);
  return metadata as unknown as JsonValue;
}

function* effectsOf(history: RunHistory): Iterable<JsonValue> {
  for (const event of history.effects.values()) if (!event.type.startsWith("ctx.")) yield event.data;
}

/** `map#0[3]/fetch#2` → `fetch`. */
function nameOf(stepId: string): string {
  const last = stepId.slice(stepId.lastIndexOf("/") + 1);
  return last.slice(0, last.lastIndexOf("#"));
}

/** Model effects name their model and usage (see scope.ts); other effects are skipped. */
function noteModelEffect(
  data: JournalEvent["data"],
  models: Map<string, ModelRef>,
  tokens: { input: number; output: number },
): void {
  if (data === null || typeof data !== "object" || Array.isArray(data)) return;
  const { provider, modelId, usage } = data as Record<string, unknown>;
  if (typeof provider === "string" && typeof modelId === "string" && provider !== "" && modelId !== "") {
    models.set(`${provider}\0${modelId}`, { provider, modelId });
  }
  if (usage !== null && typeof usage === "object") {
    const { inputTokens, outputTokens } = usage as Record<string, unknown>;
    if (typeof inputTokens === "number" && Number.isFinite(inputTokens)) tokens.input += inputTokens;
    if (typeof outputTokens === "number" && Number.isFinite(outputTokens)) tokens.output += outputTokens;
  }
}
