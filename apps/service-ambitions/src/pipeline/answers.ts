import { z } from "zod";
import type { CatalogueItem } from "../inputs.ts";
import type { Problem } from "./ask.ts";

/**
 * The structured answers of the features and mapping stages, and the checks that go beyond
 * what a JSON schema can say (how many features, which ids exist). Schemas stay plain
 * (required fields, no bounds) so every provider's structured-output mode accepts them;
 * bounds are checked here and re-asked with a precise message.
 */

export const featuresAnswerSchema = z.object({
  features: z.array(
    z.object({
      name: z.string().min(3).describe("Short name of the feature"),
      description: z.string().min(10).describe("One sentence: what the customer can do"),
      score: z.object({
        level: z.number().int().min(1).max(5).describe("Maturity level, 1 to 5"),
        label: z.string().min(1),
        justification: z.string().min(5),
      }),
    }),
  ),
});
export type FeaturesAnswer = z.infer<typeof featuresAnswerSchema>;

export function checkFeatures(answer: FeaturesAnswer, count: number, earlier: readonly string[]): Problem[] {
  const problems: Problem[] = [];
  if (answer.features.length !== count) {
    problems.push({
      kind: "invalid",
      message: `expected exactly ${count} features, got ${answer.features.length}`,
    });
  }
  const seen = new Set(earlier.map((name) => name.trim().toLowerCase()));
  for (const feature of answer.features) {
    const key = feature.name.trim().toLowerCase();
    if (seen.has(key)) problems.push({ kind: "invalid", message: `feature "${feature.name}" is repeated` });
    seen.add(key);
  }
  return problems;
}

export const mappingAnswerSchema = z.object({
  mappings: z.array(
    z.object({
      feature_id: z.string().min(1),
      item_ids: z.array(z.string()).describe("Catalogue ids, most relevant first"),
    }),
  ),
});
export type MappingAnswer = z.infer<typeof mappingAnswerSchema>;

export const MAX_ITEMS_PER_FEATURE = 5;

/**
 * Every feature mapped exactly once, every id in the catalogue. An empty list is a feature
 * the catalogue cannot serve: accepted, unless `strictMapping` makes it a missing mapping.
 */
export function checkMapping(
  answer: MappingAnswer,
  featureIds: readonly string[],
  catalogue: readonly CatalogueItem[],
  strictMapping: boolean,
): Problem[] {
  const problems: Problem[] = [];
  const known = new Set(catalogue.map((item) => item.id));
  const wanted = new Set(featureIds);
  const seen = new Set<string>();
  const unknown: string[] = [];
  for (const mapping of answer.mappings) {
    if (!wanted.has(mapping.feature_id)) {
      problems.push({
        kind: "invalid",
        message: `feature id ${mapping.feature_id} is not one of the features`,
      });
      continue;
    }
    if (seen.has(mapping.feature_id)) {
      problems.push({ kind: "invalid", message: `feature ${mapping.feature_id} is mapped twice` });
    }
    seen.add(mapping.feature_id);
    if (mapping.item_ids.length > MAX_ITEMS_PER_FEATURE) {
      problems.push({
        kind: "invalid",
        message: `feature ${mapping.feature_id} has ${mapping.item_ids.length} items; give at most ${MAX_ITEMS_PER_FEATURE}`,
      });
    }
    for (const id of mapping.item_ids) if (!known.has(id)) unknown.push(id);
    if (strictMapping && mapping.item_ids.length === 0) {
      problems.push({
        kind: "missing",
        message: `feature ${mapping.feature_id} is mapped to no catalogue item`,
      });
    }
  }
  if (unknown.length > 0) {
    problems.push({
      kind: "unknown_ids",
      message: `ids not in the catalogue: ${[...new Set(unknown)].join(", ")}`,
    });
  }
  const absent = featureIds.filter((id) => !seen.has(id));
  if (absent.length > 0) {
    problems.push({ kind: "missing", message: `features without a mapping: ${absent.join(", ")}` });
  }
  return problems;
}
