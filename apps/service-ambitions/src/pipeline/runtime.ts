import type { LanguageModelV4 } from "@ai-sdk/provider";
import { createLogger, fingerprint, type Logger, ValidationError } from "ballast";
import {
  type CacheConfig,
  createModelLayer,
  type ModelEvent,
  type ModelLayer,
  type ModelPrice,
  Pricing,
  parseInjectFailures,
} from "ballast/models";
import { defaultModelFactory, type ModelFactory, seedFor } from "../models.ts";
import { type Settings, STAGES, type Stage, stageModel } from "../settings.ts";
import { PlateauGauge } from "./gauge.ts";

/**
 * What the workflow needs besides its journaled input: the wrapped models (one model layer,
 * so limits, breakers, cache and cost are shared), hooks for progress and the plateau
 * gauge. The CLI installs one per run before starting it; code that runs the workflow
 * without installing one (`ballast replay --workflows ...`, tests) gets a default built
 * from the run's own settings, with no cache, whose models replay never calls.
 */

export interface StepEvent {
  serviceId: string;
  stage: Stage;
  plateau: number;
}

export interface RuntimeHooks {
  /** A stage step finished (or was served from the journal on resume). */
  onStep?(event: StepEvent): void;
  onService?(event: { serviceId: string; outcome: "completed" | "quarantined" }): void;
  onPlateau?(event: { serviceId: string; plateau: number; phase: "enter" | "exit"; inFlight: number }): void;
}

export interface ModelStats {
  retries: number;
  fallbacks: number;
  failures: number;
  budgetWarnings: string[];
}

export interface PipelineRuntime {
  layer: ModelLayer;
  models: Record<Stage, LanguageModelV4>;
  /** Provider `seed` per stage (undefined where the provider has none). */
  seeds: Record<Stage, number | undefined>;
  gauge: PlateauGauge;
  hooks: RuntimeHooks;
  stats: ModelStats;
}

export interface RuntimeOptions {
  factory?: ModelFactory;
  /** Response cache (default none). */
  cache?: CacheConfig | false;
  hooks?: RuntimeHooks;
  logger?: Logger;
  /** Journal redacted prompt transcripts with each call. */
  logPrompts?: boolean;
  /** Extra listener of model-layer events. */
  onModelEvent?: (event: ModelEvent) => void;
}

/** The price the local model is charged at: `priceAs`'s entry in the pricing map. */
export function localPrice(settings: Settings): ModelPrice {
  const price = new Pricing().priceOf("openai", settings.priceAs);
  if (price === undefined) {
    throw new ValidationError(
      "invalid_settings",
      `--price-as ${settings.priceAs}: no such model in the pricing map; use e.g. gpt-4o-mini, claude-3-5-haiku or gemini-2.5-flash.`,
    );
  }
  return price;
}

export async function createRuntime(
  settings: Settings,
  options: RuntimeOptions = {},
): Promise<PipelineRuntime> {
  const factory = options.factory ?? defaultModelFactory();
  const stats: ModelStats = { retries: 0, fallbacks: 0, failures: 0, budgetWarnings: [] };
  let injectFailures: string | undefined;
  if (settings.injectFailures !== undefined) {
    const chaos = parseInjectFailures(settings.injectFailures);
    injectFailures = `p=${chaos.p},seed=${chaos.seed ?? settings.seed}`;
  }
  const layer = createModelLayer({
    cache: options.cache ?? false,
    limits: settings.rateLimits,
    pricing: { "ballast:local": localPrice(settings) },
    retry: { maxRetries: 3 },
    timeout: { attemptMs: 120_000, callMs: 600_000 },
    ...(injectFailures === undefined ? {} : { injectFailures }),
    logger: options.logger ?? createLogger({ level: "silent" }),
    logPrompts: options.logPrompts ?? false,
    onEvent: (event) => {
      if (event.type === "retry") stats.retries += 1;
      else if (event.type === "fallback") stats.fallbacks += 1;
      else if (event.type === "failed") stats.failures += 1;
      else if (event.type === "budget_warning")
        stats.budgetWarnings.push(
          `${event.warning.scope}: ${event.warning.dimension} would reach ${event.warning.wouldReach} (limit ${event.warning.limit})`,
        );
      options.onModelEvent?.(event);
    },
  });
  const built = new Map<string, LanguageModelV4>();
  const build = async (spec: string): Promise<LanguageModelV4> => {
    let model = built.get(spec);
    if (model === undefined) {
      model = await factory(spec, settings);
      built.set(spec, model);
    }
    return model;
  };
  const fallbacks = await Promise.all(settings.fallbacks.map(build));
  const models = {} as Record<Stage, LanguageModelV4>;
  const seeds = {} as Record<Stage, number | undefined>;
  for (const stage of STAGES) {
    const spec = stageModel(settings, stage);
    models[stage] = layer.wrap(await build(spec), { stage, fallbacks });
    seeds[stage] = seedFor(spec, settings);
  }
  return { layer, models, seeds, gauge: new PlateauGauge(), hooks: options.hooks ?? {}, stats };
}

const installed = new Map<string, PipelineRuntime>();
const defaults = new Map<string, Promise<PipelineRuntime>>();

/** Makes `runtime` the one run `runId` uses in this process; returns the uninstaller. */
export function installRuntime(runId: string, runtime: PipelineRuntime): () => void {
  installed.set(runId, runtime);
  return () => {
    if (installed.get(runId) === runtime) installed.delete(runId);
  };
}

/** The runtime installed for `runId`, else a default one for these settings (shared, no cache). */
export function runtimeFor(runId: string, settings: Settings): Promise<PipelineRuntime> {
  const runtime = installed.get(runId);
  if (runtime !== undefined) return Promise.resolve(runtime);
  const key = fingerprint(settings);
  let made = defaults.get(key);
  if (made === undefined) {
    made = createRuntime(settings, { factory: defaultModelFactory({ requireKeys: false }) });
    defaults.set(key, made);
  }
  return made;
}
