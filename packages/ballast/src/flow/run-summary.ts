import type { JsonValue } from "../canonical.ts";
import type { JournalEvent } from "../journal/types.ts";
import type { Execution } from "./execution.ts";
import { buildRunMetadata, type ModelRef, validateRunMetadata } from "./metadata.ts";

/**
 * The run metadata stored with a run when it ends, built from what the execution saw
 * (its own steps and the journaled ones of earlier executions) and checked against the
 * shipped JSON Schema.
 */

export interface RunConfig {
  budget?: JsonValue;
  timeoutMs?: number;
  retry?: JsonValue;
  stepTimeoutMs?: number;
}

export function runMetadata(exec: Execution, config: RunConfig): JsonValue {
  const stepDurations: { name: string; ms: number }[] = [];
  for (const [name, list] of exec.latencies) for (const ms of list) stepDurations.push({ name, ms });
  const models = new Map<string, ModelRef>();
  const tokens = { input: 0, output: 0 };
  for (const event of exec.history.effects.values()) noteModelEffect(event.data, models, tokens);
  for (const data of exec.recordedEffects) noteModelEffect(data, models, tokens);
  let failed = 0;
  for (const step of exec.history.steps.values()) if (step.failed) failed += 1;
  const metadata = buildRunMetadata({
    runId: exec.runId,
    workflow: exec.workflow.name,
    workflowVersion: exec.workflow.version,
    input: exec.input,
    config,
    seed: exec.seed,
    models: [...models.values()],
    stepDurations,
    counts: {
      steps: exec.counts.executed + exec.counts.served,
      retries: exec.counts.retries,
      executed: exec.counts.executed,
      cached: exec.counts.served,
      failed: failed + exec.counts.failed,
      // The terminal event being written is counted too.
      events: exec.history.events.length + exec.eventsAppended + 1,
      effects: countEffects(exec),
    },
    ...(tokens.input + tokens.output > 0 ? { tokens } : {}),
    ...(exec.budget.used.costUsd > 0 ? { costUsd: exec.budget.used.costUsd } : {}),
    startedAt: exec.startedAt,
    endedAt: Date.now(),
  });
  validateRunMetadata(metadata);
  return metadata as unknown as JsonValue;
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

/** Journaled effects of the run (model calls, commands); `ctx.now`-style values are not effects. */
function countEffects(exec: Execution): number {
  let n = exec.recordedEffects.length;
  for (const event of exec.history.effects.values()) if (!event.type.startsWith("ctx.")) n += 1;
  return n;
}
