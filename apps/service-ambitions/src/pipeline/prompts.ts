import type { CatalogueItem, CatalogueKind, Plateau, Service } from "../inputs.ts";

/**
 * The prompts of the three stages. Each ends with a fenced JSON context block: the facts
 * the model must use, in a form a model reads reliably (and the offline model parses).
 * Prompts are pure functions of their inputs, so a resumed or replayed run sends the very
 * same requests (the journal checks their hashes).
 */

export interface Prompt {
  system: string;
  prompt: string;
}

const SYSTEM =
  "You are a service designer who plans how public and commercial services mature. " +
  "You are precise, concrete and never invent facts beyond the context you are given.";

function context(value: Record<string, unknown>): string {
  return `Context:\n\`\`\`json\n${JSON.stringify(value, null, 2)}\n\`\`\``;
}

function serviceFacts(service: Service): Record<string, unknown> {
  return {
    id: service.id,
    name: service.name,
    ...(service.sector === undefined ? {} : { sector: service.sector }),
    description: service.description,
    customer_types: service.customer_types,
    jobs_to_be_done: service.jobs_to_be_done,
  };
}

function plateauFacts(plateau: Plateau): Record<string, unknown> {
  return {
    level: plateau.level,
    name: plateau.name,
    description: plateau.description,
    themes: plateau.themes,
  };
}

export function descriptionPrompt(service: Service, plateau: Plateau): Prompt {
  return {
    system: SYSTEM,
    prompt: [
      `Describe the service "${service.name}" as it would be at maturity plateau ${plateau.level} (${plateau.name}).`,
      "Write one paragraph of 60 to 120 words in the present tense: what customers experience and how the service is delivered at this plateau.",
      "No headings, no lists, no preamble.",
      "",
      context({ task: "describe", service: serviceFacts(service), plateau: plateauFacts(plateau) }),
    ].join("\n"),
  };
}

export function featuresPrompt(
  service: Service,
  plateau: Plateau,
  customerType: string,
  count: number,
  earlier: readonly string[],
): Prompt {
  return {
    system: SYSTEM,
    prompt: [
      `List exactly ${count} features that "${service.name}" offers the customer type "${customerType}" at maturity plateau ${plateau.level} (${plateau.name}).`,
      "Each feature is new at this plateau: do not repeat the earlier features listed in the context, build on them.",
      "Give each a short name, a one-sentence description of what the customer can do, and a maturity score (level 1-5 with its label and a one-line justification).",
      "Answer with JSON only, matching the schema.",
      "",
      context({
        task: "features",
        service: serviceFacts(service),
        plateau: plateauFacts(plateau),
        customer_type: customerType,
        count,
        earlier_features: earlier,
      }),
    ].join("\n"),
  };
}

export interface FeatureRef {
  feature_id: string;
  name: string;
  description: string;
}

export function mappingPrompt(
  service: Service,
  plateau: Plateau,
  kind: CatalogueKind,
  features: readonly FeatureRef[],
  catalogue: readonly CatalogueItem[],
): Prompt {
  return {
    system: SYSTEM,
    prompt: [
      `Map each feature of "${service.name}" at plateau ${plateau.level} (${plateau.name}) to the ${kind} in the catalogue that it needs.`,
      "Use only item ids that appear in the catalogue below; never invent ids. Give at most 5 items per feature, most relevant first; an empty list means nothing in the catalogue fits.",
      "Every feature id must appear exactly once. Answer with JSON only, matching the schema.",
      "",
      context({
        task: "map",
        catalogue_kind: kind,
        features,
        catalogue: catalogue.map((item) => ({ id: item.id, name: item.name, description: item.description })),
      }),
    ].join("\n"),
  };
}

/** The follow-up that re-asks with the validation error of the previous answer. */
export function reaskPrompt(problems: string): string {
  return [
    `Your previous answer was rejected: ${problems}`,
    "Answer again with the complete JSON, fixing exactly these problems and keeping everything else.",
  ].join("\n");
}
