import { z } from "zod";
import { ValidationError } from "../errors.ts";

/**
 * Search configuration (seed 002 CE-8): validated up front, and every violation raises
 * `search_config_invalid` with a message fixed per rule, so callers and tests can rely on it.
 *
 * Defaults were tuned on SciFact's dev claims only (see bench/src/search.ts): convex fusion
 * re-ranking BM25's top 200 by 0.8 × BM25/max + 0.2 × cosine beat BM25 alone, RRF lost
 * ~8 points of nDCG@10 there.
 */
const weight = (name: string) =>
  z
    .number({ error: `weights.${name} must be a number between 0 and 1` })
    .min(0, { error: `weights.${name} must be a number between 0 and 1` })
    .max(1, { error: `weights.${name} must be a number between 0 and 1` });

export const searchConfigSchema = z
  .object({
    k: z
      .number({ error: "k must be an integer greater than 0" })
      .int({ error: "k must be an integer greater than 0" })
      .gt(0, { error: "k must be an integer greater than 0" })
      .max(10_000, { error: "k must be at most 10000" })
      .default(10),
    strategy: z
      .enum(["AUTO", "DENSE", "SPARSE"], { error: "strategy must be one of AUTO, DENSE, SPARSE" })
      .default("AUTO"),
    fusion: z.enum(["convex", "rrf"], { error: "fusion must be one of convex, rrf" }).default("convex"),
    rrf_k: z
      .number({ error: "rrf_k must be a number greater than 0" })
      .gt(0, { error: "rrf_k must be a number greater than 0" })
      .refine(Number.isFinite, { error: "rrf_k must be a number greater than 0" })
      .default(60),
    weights: z
      .object(
        { sparse: weight("sparse").default(0.8), dense: weight("dense").default(0.2) },
        { error: "weights must be an object { sparse, dense }" },
      )
      .strict()
      .refine((w) => w.sparse + w.dense > 0, { error: "weights.sparse and weights.dense must not both be 0" })
      .default({ sparse: 0.8, dense: 0.2 }),
    /** How many candidates each ranker contributes to fusion. */
    candidates: z
      .number({ error: "candidates must be an integer greater than 0" })
      .int({ error: "candidates must be an integer greater than 0" })
      .gt(0, { error: "candidates must be an integer greater than 0" })
      .max(100_000, { error: "candidates must be at most 100000" })
      .default(200),
  })
  .strict();

export type SearchConfigInput = z.input<typeof searchConfigSchema>;
export type SearchConfig = z.output<typeof searchConfigSchema>;

/** Validates and fills defaults; raises `search_config_invalid` with the first rule broken. */
export function parseSearchConfig(input: unknown): SearchConfig {
  const parsed = searchConfigSchema.safeParse(input ?? {});
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const message =
    issue.code === "unrecognized_keys"
      ? `unknown search option ${issue.keys.map((k) => JSON.stringify(k)).join(", ")}`
      : issue.message;
  throw new ValidationError("search_config_invalid", `Invalid search config: ${message}.`, {
    path: issue.path.map(String).join("."),
  });
}

export interface Bm25Params {
  k1: number;
  b: number;
}

export const bm25ParamsSchema = z
  .object({
    k1: z
      .number({ error: "bm25.k1 must be a number >= 0" })
      .min(0, { error: "bm25.k1 must be a number >= 0" }),
    b: z
      .number({ error: "bm25.b must be a number between 0 and 1" })
      .min(0, { error: "bm25.b must be a number between 0 and 1" })
      .max(1, { error: "bm25.b must be a number between 0 and 1" }),
  })
  .strict();

/** Lucene's defaults; on SciFact dev k1 in [0.9, 1.5] and b in [0.4, 0.75] all land within 0.005. */
export const DEFAULT_BM25: Bm25Params = { k1: 1.2, b: 0.75 };
