import { pick, randomInt, seededRandom } from "./seeded-random.ts";

/**
 * Deterministic, plausible-looking prose for the fake servers and the local model. It is
 * not a language model: it echoes the prompt's key words inside template sentences, so the
 * same prompt and seed always give the same answer and different prompts give different
 * answers (which is all caching, replay and divergence tests need).
 */

const STOP_WORDS = new Set(
  (
    "a about above after again all also an and any are as at be because been before being below between both " +
    "but by can could did do does doing down during each few for from further had has have having he her here " +
    "hers him his how i if in into is it its itself just me more most my no nor not now of off on once only or " +
    "other our ours out over own please same she should so some such than that the their them then there these " +
    "they this those through to too under until up very was we were what when where which while who whom why " +
    "will with would you your yours give tell write explain describe list make using use one two three"
  ).split(" "),
);

const NOUNS = [
  "the workload",
  "the pipeline",
  "the constraints",
  "the main trade-off",
  "the inputs",
  "each stage",
  "the expected outcome",
  "the current design",
  "the edge cases",
  "the overall goal",
];

const TEMPLATES = [
  "In short, {k} comes down to {n}.",
  "The key point about {k} is how it interacts with {n}.",
  "A practical approach to {k} starts with {n}.",
  "{K} matters most when {n} changes.",
  "It helps to separate {k} from {n}.",
  "For {k}, the safest choice is to keep {n} simple.",
  "Looking at {k} step by step makes {n} easier to reason about.",
  "The evidence on {k} points toward {n}.",
  "Measure {k} before changing {n}.",
  "Overall, {k} is consistent with {n}.",
];

/** Up to `max` distinct content words of `text`, in order of first appearance. */
export function keywords(text: string, max = 6): string[] {
  const seen = new Set<string>();
  for (const raw of text.toLowerCase().match(/[\p{L}\p{N}][\p{L}\p{N}'-]*/gu) ?? []) {
    if (raw.length < 3 || STOP_WORDS.has(raw) || /^\d+$/.test(raw)) continue;
    seen.add(raw);
    if (seen.size >= max) break;
  }
  return [...seen];
}

/**
 * A rough token count (about four characters per token, as OpenAI documents for English).
 * Good enough for realistic usage numbers; the models layer does its own estimation.
 */
export function estimateTokens(text: string): number {
  return text.length === 0 ? 0 : Math.max(1, Math.ceil(text.length / 4));
}

export interface LocalTextOptions {
  /** The text to answer (usually the last user message). */
  prompt: string;
  /** Mixed into the hash so different seeds give different answers. */
  seed: string | number;
  /** Cuts the answer to about this many tokens. */
  maxTokens?: number | undefined;
}

export interface LocalText {
  text: string;
  /** True when `maxTokens` cut the answer short. */
  truncated: boolean;
}

/** Two to five sentences about the prompt's key words; a pure function of its options. */
export function localText(options: LocalTextOptions): LocalText {
  const random = seededRandom("local-text", options.seed, options.prompt);
  const words = keywords(options.prompt);
  const topics = words.length > 0 ? words : ["this question"];
  const sentences: string[] = [];
  const count = randomInt(random, 2, 5);
  // A few extra draws so a repeated sentence can be skipped.
  for (let attempt = 0; sentences.length < count && attempt < count * 3; attempt++) {
    const k = topics[(attempt + Math.floor(random() * topics.length)) % topics.length] as string;
    const sentence = pick(random, TEMPLATES)
      .replace("{K}", k.charAt(0).toUpperCase() + k.slice(1))
      .replace("{k}", k)
      .replace("{n}", pick(random, NOUNS));
    if (!sentences.includes(sentence)) sentences.push(sentence);
  }
  const text = sentences.join(" ");
  if (options.maxTokens === undefined || estimateTokens(text) <= options.maxTokens) {
    return { text, truncated: false };
  }
  return { text: text.slice(0, Math.max(1, options.maxTokens * 4)).trimEnd(), truncated: true };
}

/**
 * Splits text into stream deltas of about one word each (word plus its trailing space), the
 * way providers stream tokens. Joining the pieces gives back `text` exactly.
 */
export function streamPieces(text: string): string[] {
  const pieces = text.match(/\S+\s*|\s+/g);
  return pieces ?? [];
}
