import type { StepContext } from "ballast";
import { sanitizeModelText } from "ballast/guard";
import type { CatalogueItem, CatalogueKind, Plateau, Service } from "../inputs.ts";
import type { Settings } from "../settings.ts";
import { checkFeatures, checkMapping, featuresAnswerSchema, mappingAnswerSchema } from "./answers.ts";
import { askStructured, askText } from "./ask.ts";
import { descriptionPrompt, type FeatureRef, featuresPrompt, mappingPrompt } from "./prompts.ts";
import type { PipelineRuntime } from "./runtime.ts";

/**
 * The body of each stage's journaled step: one model conversation, its answer checked and
 * cleaned. Results are plain JSON (the journal stores them; a resume serves them back).
 * Model text is sanitised (control characters, escapes, exotic spaces) before it is kept.
 */

export interface DescriptionResult {
  text: string;
  model: string;
}

export interface GeneratedFeature {
  name: string;
  description: string;
  score: { level: number; label: string; justification: string };
}

export interface FeaturesResult {
  features: GeneratedFeature[];
  model: string;
  asks: number;
}

export interface MappingResult {
  /** Catalogue ids by feature id, deduplicated, in the model's order. */
  mappings: Record<string, string[]>;
  model: string;
  asks: number;
}

const clean = (text: string, maxLength: number) => sanitizeModelText(text, { maxLength });

/** How a step calls its model: `fresh` bypasses the response cache. */
export interface StepEnv {
  runtime: PipelineRuntime;
  settings: Settings;
  fresh: boolean;
}

function cacheOf(env: StepEnv): { cacheMode?: "off" } {
  return env.fresh ? { cacheMode: "off" } : {};
}

export async function describeStep(
  env: StepEnv,
  service: Service,
  plateau: Plateau,
  step: StepContext,
): Promise<DescriptionResult> {
  const { runtime, settings } = env;
  const { system, prompt } = descriptionPrompt(service, plateau);
  const answer = await askText({
    model: runtime.models.descriptions,
    stage: "descriptions",
    item: service.id,
    maxOutputTokens: settings.maxOutputTokens.descriptions,
    seed: runtime.seeds.descriptions,
    signal: step.signal,
    ...cacheOf(env),
    system,
    prompt,
  });
  return { text: clean(answer.text, 2_000), model: answer.modelId };
}

export async function featuresStep(
  env: StepEnv,
  service: Service,
  plateau: Plateau,
  customerType: string,
  earlier: readonly string[],
  step: StepContext,
): Promise<FeaturesResult> {
  const { runtime, settings } = env;
  const count = settings.featuresPerRole;
  const { system, prompt } = featuresPrompt(service, plateau, customerType, count, earlier);
  const answer = await askStructured({
    model: runtime.models.features,
    stage: "features",
    item: service.id,
    maxOutputTokens: settings.maxOutputTokens.features,
    seed: runtime.seeds.features,
    signal: step.signal,
    ...cacheOf(env),
    system,
    prompt,
    schema: featuresAnswerSchema,
    maxReasks: settings.maxReasks,
    check: (value) => checkFeatures(value, count, earlier),
  });
  return {
    features: answer.value.features.map((f) => ({
      name: clean(f.name, 160),
      description: clean(f.description, 800),
      score: {
        level: f.score.level,
        label: clean(f.score.label, 60),
        justification: clean(f.score.justification, 400),
      },
    })),
    model: answer.modelId,
    asks: answer.asks,
  };
}

export async function mappingStep(
  env: StepEnv,
  service: Service,
  plateau: Plateau,
  kind: CatalogueKind,
  features: readonly FeatureRef[],
  catalogue: readonly CatalogueItem[],
  step: StepContext,
): Promise<MappingResult> {
  const { runtime, settings } = env;
  const { system, prompt } = mappingPrompt(service, plateau, kind, features, catalogue);
  const ids = features.map((f) => f.feature_id);
  const answer = await askStructured({
    model: runtime.models.mapping,
    stage: "mapping",
    item: service.id,
    maxOutputTokens: settings.maxOutputTokens.mapping,
    seed: runtime.seeds.mapping,
    signal: step.signal,
    ...cacheOf(env),
    system,
    prompt,
    schema: mappingAnswerSchema,
    maxReasks: settings.maxReasks,
    check: (value) => checkMapping(value, ids, catalogue, settings.strictMapping),
  });
  const mappings: Record<string, string[]> = {};
  for (const m of answer.value.mappings) mappings[m.feature_id] = [...new Set(m.item_ids)];
  return { mappings, model: answer.modelId, asks: answer.asks };
}
