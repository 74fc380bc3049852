import { ValidationError } from "../errors.ts";
import { queryTerms, termFrequencies } from "./analyzer.ts";
import type { ContextEngine, SearchOptions } from "./engine.ts";
import { orderByScore } from "./ranking.ts";
import { countTokens, type TokenEncoding } from "./tokens.ts";
import type { AtInput, Metadata, ScopeSelector } from "./types.ts";

/**
 * Token-budgeted selection (seed 004 Phase A): choose what goes into a model's context
 * under a token budget. Deliverables (the files the task will change) come first and in
 * full; the rest follow by relevance to the query, semantic (cosine on the embedder's
 * vectors, through the persistent cache) or lexical (BM25) when there is no embedder or it
 * fails, e.g. its call cap is reached. An artifact substitution hook may replace a
 * document's text by a compact summary; the tokens this saves are counted.
 */
export interface SelectItem {
  id: string;
  text: string;
  /** A compact stand-in (an artifact's summary), used instead of `text` when shorter. */
  summary?: string;
  metadata?: Metadata;
}

export interface SelectOptions {
  query: string;
  budgetTokens: number;
  /** Ids (paths) that must be included first, in full. */
  deliverables?: readonly string[];
  /** The files to choose from; by default the index's documents matching the query. */
  items?: readonly SelectItem[];
  /** For index documents: the usual search restrictions, and how many to consider (default 200). */
  filters?: unknown;
  scope?: ScopeSelector;
  at?: AtInput;
  limit?: number;
  /** `auto` (default): semantic when an embedder is available, else lexical. */
  mode?: "auto" | "semantic" | "lexical";
  /** Artifact substitution hook: a compact stand-in for an item, or undefined for none. */
  substitute?: (item: SelectItem) => string | undefined;
  encoding?: TokenEncoding;
}

export interface KeptItem {
  id: string;
  /** Tokens of what is included (the summary when substituted). */
  tokens: number;
  fullTokens: number;
  substituted: boolean;
  /** The text to put in the context. */
  text: string;
  reason: "deliverable" | "relevant";
  score: number;
}

export interface OmittedItem {
  id: string;
  tokens: number;
  reason: "over_budget" | "deliverable_over_budget";
  /** Tokens that were left when the item was considered. */
  remaining: number;
  score: number;
}

export interface SelectResult {
  kept: KeptItem[];
  omitted: OmittedItem[];
  mode: "semantic" | "lexical";
  /** Why the selection is lexical when semantic was possible or asked for. */
  fallbackReason?: string;
  budgetTokens: number;
  usedTokens: number;
  substitutions: number;
  tokensSaved: number;
  /** The token-efficiency record of seed 004 (names as there). */
  metrics: {
    context_budget_cap_tokens: number;
    context_budget_selected_tokens_est: number;
    artifact_tokens_used_est: number;
    fullfile_tokens_avoided_est: number;
    artifact_substitutions: number;
    substituted_paths: string[];
    files_kept: number;
    files_omitted: number;
    embedding_cache_hits: number;
    embedding_cache_misses: number;
  };
}

interface Candidate extends SelectItem {
  score: number;
}

const SUBSTITUTED_PATHS_CAP = 10;

function validate(options: SelectOptions): void {
  if (typeof options.query !== "string") {
    throw new ValidationError("select_invalid", "select() needs a query string.");
  }
  if (!Number.isSafeInteger(options.budgetTokens) || options.budgetTokens < 0) {
    throw new ValidationError("select_invalid", "budgetTokens must be an integer >= 0.");
  }
  if (options.items !== undefined) {
    const ids = new Set<string>();
    for (const item of options.items) {
      if (typeof item?.id !== "string" || typeof item.text !== "string") {
        throw new ValidationError("select_invalid", "Each item needs a string id and a string text.");
      }
      if (ids.has(item.id)) {
        throw new ValidationError(
          "select_invalid",
          `Item id ${JSON.stringify(item.id)} appears twice; ids must be unique.`,
        );
      }
      ids.add(item.id);
    }
  }
}

/** BM25 among the given items only (their own N, df and average length). */
function lexicalScores(query: string, items: readonly SelectItem[]): number[] {
  const bags = items.map((item) => termFrequencies(item.text));
  const n = items.length;
  const avg = bags.reduce((sum, b) => sum + b.length, 0) / Math.max(n, 1) || 1;
  const scores = new Array<number>(n).fill(0);
  for (const term of queryTerms(query)) {
    const df = bags.filter((b) => b.tf.has(term)).length;
    if (df === 0) continue;
    const idf = Math.log(1 + (n - df + 0.5) / (df + 0.5));
    bags.forEach((b, i) => {
      const tf = b.tf.get(term);
      if (tf !== undefined) scores[i]! += (idf * tf * 2.2) / (tf + 1.2 * (0.25 + (0.75 * b.length) / avg));
    });
  }
  return scores;
}

async function rankItems(
  engine: ContextEngine,
  options: SelectOptions,
  items: readonly SelectItem[],
): Promise<{ ranked: Candidate[]; mode: "semantic" | "lexical"; fallbackReason?: string }> {
  const wantSemantic = options.mode !== "lexical";
  let fallbackReason: string | undefined;
  if (wantSemantic) {
    const embedder = await engine.embedder();
    if (embedder === undefined) fallbackReason = "no_embedder";
    else {
      try {
        const vectors = await engine.embedCached(embedder, [options.query, ...items.map((i) => i.text)]);
        const q = vectors[0]!;
        const ranked = items.map((item, i) => {
          const v = vectors[i + 1]!;
          let dot = 0;
          for (let c = 0; c < Math.min(v.length, q.length); c++) dot += v[c]! * q[c]!;
          return { ...item, score: dot };
        });
        return { ranked, mode: "semantic" };
      } catch (error) {
        fallbackReason =
          typeof error === "object" && error !== null && "code" in error && typeof error.code === "string"
            ? error.code
            : "embedding_failed";
      }
    }
    engine.recordFallback(fallbackReason);
  }
  const scores = lexicalScores(options.query, items);
  return {
    ranked: items.map((item, i) => ({ ...item, score: scores[i]! })),
    mode: "lexical",
    ...(fallbackReason === undefined ? {} : { fallbackReason }),
  };
}

async function rankIndex(
  engine: ContextEngine,
  options: SelectOptions,
): Promise<{ ranked: Candidate[]; mode: "semantic" | "lexical"; fallbackReason?: string }> {
  const search: SearchOptions = {
    k: options.limit ?? 200,
    strategy: options.mode === "lexical" ? "SPARSE" : "AUTO",
    ...(options.filters === undefined ? {} : { filters: options.filters }),
    ...(options.scope === undefined ? {} : { scope: options.scope }),
    ...(options.at === undefined ? {} : { at: options.at }),
  };
  const response = await engine.search(options.query, search);
  const ranked = response.results.map((hit) => ({
    id: hit.id,
    text: hit.text,
    metadata: hit.metadata,
    score: hit.score,
  })) as Candidate[];
  // Summaries are not part of search hits: read them for the few candidates.
  for (const candidate of ranked) {
    const doc = await engine.get(candidate.id, options.at === undefined ? {} : { at: options.at });
    if (doc?.summary !== undefined) candidate.summary = doc.summary;
  }
  const semantic = response.strategy !== "SPARSE";
  return {
    ranked,
    mode: semantic ? "semantic" : "lexical",
    ...(response.fallback === undefined ? {} : { fallbackReason: response.fallback.reason }),
  };
}

export async function selectWithinBudget(
  engine: ContextEngine,
  options: SelectOptions,
): Promise<SelectResult> {
  validate(options);
  const encoding = options.encoding ?? "o200k_base";
  const before = engine.metrics().embeddingCache;
  const { ranked, mode, fallbackReason } =
    options.items !== undefined
      ? await rankItems(engine, options, options.items)
      : await rankIndex(engine, options);
  const deliverables = options.deliverables ?? [];
  const deliverableRank = new Map(deliverables.map((id, i) => [id, i]));
  const first = ranked
    .filter((c) => deliverableRank.has(c.id))
    .sort((a, b) => deliverableRank.get(a.id)! - deliverableRank.get(b.id)!);
  const rest = orderByScore(ranked.filter((c) => !deliverableRank.has(c.id)));

  const kept: KeptItem[] = [];
  const omitted: OmittedItem[] = [];
  const substituted: string[] = [];
  let used = 0;
  let tokensSaved = 0;
  let artifactTokens = 0;
  const substitute = options.substitute ?? ((item: SelectItem) => item.summary);
  for (const candidate of [...first, ...rest]) {
    const deliverable = deliverableRank.has(candidate.id);
    const fullTokens = await countTokens(candidate.text, encoding);
    let text = candidate.text;
    let tokens = fullTokens;
    // Deliverables are about to be edited: they always go in whole.
    const stand = deliverable ? undefined : substitute(candidate);
    if (stand !== undefined) {
      const standTokens = await countTokens(stand, encoding);
      if (standTokens < fullTokens) {
        text = stand;
        tokens = standTokens;
      }
    }
    const remaining = options.budgetTokens - used;
    if (tokens > remaining) {
      omitted.push({
        id: candidate.id,
        tokens,
        reason: deliverable ? "deliverable_over_budget" : "over_budget",
        remaining,
        score: candidate.score,
      });
      continue;
    }
    used += tokens;
    const isSubstitute = text !== candidate.text;
    if (isSubstitute) {
      tokensSaved += fullTokens - tokens;
      artifactTokens += tokens;
      substituted.push(candidate.id);
    }
    kept.push({
      id: candidate.id,
      tokens,
      fullTokens,
      substituted: isSubstitute,
      text,
      reason: deliverable ? "deliverable" : "relevant",
      score: candidate.score,
    });
  }
  const after = engine.metrics().embeddingCache;
  return {
    kept,
    omitted,
    mode,
    ...(fallbackReason === undefined ? {} : { fallbackReason }),
    budgetTokens: options.budgetTokens,
    usedTokens: used,
    substitutions: substituted.length,
    tokensSaved,
    metrics: {
      context_budget_cap_tokens: options.budgetTokens,
      context_budget_selected_tokens_est: used,
      artifact_tokens_used_est: artifactTokens,
      fullfile_tokens_avoided_est: tokensSaved,
      artifact_substitutions: substituted.length,
      substituted_paths: substituted.slice(0, SUBSTITUTED_PATHS_CAP),
      files_kept: kept.length,
      files_omitted: omitted.length,
      embedding_cache_hits: after.hits - before.hits,
      embedding_cache_misses: after.misses - before.misses,
    },
  };
}
