import type { JsonValue } from "../canonical.ts";
import { estimateTokens, keywords, localText } from "./local-text.ts";
import { sampleJsonSchema } from "./schema-value.ts";
import { hashHex, seededRandom } from "./seeded-random.ts";

/**
 * What a chat request asks for, independent of the wire protocol: every fake server (and
 * the local model) turns its request into a `ChatIntent` and answers it with the same
 * deterministic generator, so the three providers behave alike.
 */
export interface ChatIntent {
  model: string;
  /** All prompt text in order (system, messages, tool results), for hashing and token counts. */
  promptText: string;
  /** The last user message's text: what the answer talks about. */
  lastUserText: string;
  messageCount: number;
  tools: ReadonlyArray<{ name: string; description?: string | undefined; schema: unknown }>;
  toolChoice: "auto" | "none" | "required" | { name: string };
  /** The conversation ends with a tool result, so the model should answer in text. */
  afterToolResult: boolean;
  responseFormat: { type: "text" } | { type: "json"; schema?: unknown };
  maxOutputTokens?: number | undefined;
  /** The model reports reasoning tokens (o-series, GPT-5, Gemini 2.5+, Claude with thinking). */
  reasoning: boolean;
}

/** Token counts of one answer. `outputTokens` includes `reasoningTokens`, as the APIs count them. */
export interface UsageCounts {
  inputTokens: number;
  outputTokens: number;
  cachedInputTokens: number;
  cacheWriteTokens: number;
  reasoningTokens: number;
}

export interface FakeToolCall {
  name: string;
  /** An object (serialised for the wire) or an already-serialised JSON string. */
  input: unknown;
}

/**
 * What a `respond` hook may return: a string is the answer text; `{ text }`, `{ json }`
 * and `{ toolCalls }` say what they are; any other object or array is a JSON answer.
 * `undefined` falls back to the built-in generator.
 */
export type FakeReply =
  | string
  | { text: string; finishReason?: "stop" | "length" }
  | { json: unknown }
  | { toolCalls: FakeToolCall[] }
  | JsonValue;

export interface ResolvedToolCall {
  /** A stable hex key the dialects turn into `call_…` / `toolu_…` ids. */
  key: string;
  name: string;
  arguments: string;
}

export interface ResolvedReply {
  text: string;
  toolCalls: ResolvedToolCall[];
  finishReason: "stop" | "length" | "tool-calls";
  usage: UsageCounts;
}

const REASONING_MODEL = /^(o\d|gpt-5|gemini-(2\.5|[3-9]))/;

/** Whether a model id names a model that reports reasoning tokens by default. */
export function isReasoningModel(model: string): boolean {
  return REASONING_MODEL.test(model.replace(/^models\//, ""));
}

function chooseTool(intent: ChatIntent): ChatIntent["tools"][number] | undefined {
  if (intent.tools.length === 0 || intent.toolChoice === "none") return undefined;
  const choice = intent.toolChoice;
  if (typeof choice === "object") return intent.tools.find((t) => t.name === choice.name);
  if (choice === "required") return intent.tools[0];
  // "auto": call a tool first, answer in text once its result is back (an agent loop's shape).
  return intent.afterToolResult ? undefined : intent.tools[0];
}

/** The built-in answer: a tool call, JSON for a schema, or prose about the prompt. */
export function defaultReply(intent: ChatIntent, seed: string | number): FakeReply {
  const random = seededRandom("reply", seed, intent.model, intent.promptText);
  const tool = chooseTool(intent);
  if (tool !== undefined)
    return { toolCalls: [{ name: tool.name, input: sampleJsonSchema(tool.schema, random) }] };
  if (intent.responseFormat.type === "json") {
    const schema = intent.responseFormat.schema;
    if (schema !== undefined && schema !== null) return { json: sampleJsonSchema(schema, random) };
    const { text } = localText({ prompt: intent.lastUserText, seed });
    return { json: { answer: text, topics: keywords(intent.lastUserText, 3) } };
  }
  const { text, truncated } = localText({
    prompt: intent.lastUserText,
    seed,
    maxTokens: intent.maxOutputTokens,
  });
  return { text, finishReason: truncated ? "length" : "stop" };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Prompt tokens: the text plus a small per-message overhead, like the chat formats add. */
export function promptTokens(intent: ChatIntent): number {
  return estimateTokens(intent.promptText) + 3 + 4 * intent.messageCount;
}

/** Turns a `FakeReply` into text or tool calls with usage; `usage` overrides the counts. */
export function resolveReply(
  intent: ChatIntent,
  reply: FakeReply,
  seed: string | number,
  usage: Partial<UsageCounts> = {},
): ResolvedReply {
  let text = "";
  let toolCalls: ResolvedToolCall[] = [];
  let finishReason: ResolvedReply["finishReason"] = "stop";
  const r: Record<string, unknown> = isRecord(reply) ? reply : {};
  if (typeof reply === "string") {
    text = reply;
  } else if (typeof r["text"] === "string") {
    text = r["text"];
    if (r["finishReason"] === "length") finishReason = "length";
  } else if ("json" in r) {
    text = JSON.stringify(r["json"]);
  } else if (Array.isArray(r["toolCalls"])) {
    toolCalls = (r["toolCalls"] as FakeToolCall[]).map((call, i) => ({
      key: hashHex(32, "tool-call", seed, intent.promptText, i),
      name: call.name,
      arguments: typeof call.input === "string" ? call.input : JSON.stringify(call.input ?? {}),
    }));
    finishReason = "tool-calls";
  } else {
    text = JSON.stringify(reply);
  }
  const visible =
    estimateTokens(text) + toolCalls.reduce((n, c) => n + estimateTokens(c.name + c.arguments), 0);
  // Reasoning models think before answering: a deterministic multiple of 64 tokens.
  const reasoningTokens =
    usage.reasoningTokens ??
    (intent.reasoning
      ? 64 * (1 + (Number.parseInt(hashHex(2, "reasoning", seed, intent.promptText), 16) % 8))
      : 0);
  return {
    text,
    toolCalls,
    finishReason,
    usage: {
      inputTokens: usage.inputTokens ?? promptTokens(intent),
      outputTokens: usage.outputTokens ?? Math.max(1, visible) + reasoningTokens,
      cachedInputTokens: usage.cachedInputTokens ?? 0,
      cacheWriteTokens: usage.cacheWriteTokens ?? 0,
      reasoningTokens,
    },
  };
}
