import type {
  LanguageModelV4CallOptions,
  LanguageModelV4FinishReason,
  LanguageModelV4GenerateResult,
  LanguageModelV4Message,
  LanguageModelV4Usage,
} from "@ai-sdk/provider";
import { z } from "zod";
import { ServerError } from "../errors.ts";

/**
 * The OpenAI chat-completions wire format, in and out: requests become AI SDK call options
 * (the model layer's input), results become `chat.completion` objects and
 * `chat.completion.chunk` SSE frames. Text conversations only; tools and images are refused
 * with a clear 501 rather than half-supported.
 */

const textPart = z.object({ type: z.literal("text"), text: z.string() });
const content = z.union([z.string(), z.array(z.object({ type: z.string() }).loose())]).nullable();

const message = z
  .object({
    role: z.enum(["system", "developer", "user", "assistant", "tool"]),
    content: content.optional(),
    tool_calls: z.array(z.unknown()).optional(),
  })
  .loose();

export const chatRequestSchema = z
  .object({
    model: z.string().min(1).max(256),
    messages: z.array(message).min(1).max(10_000),
    stream: z.boolean().optional(),
    stream_options: z.object({ include_usage: z.boolean().optional() }).loose().nullable().optional(),
    max_tokens: z.number().int().positive().nullable().optional(),
    max_completion_tokens: z.number().int().positive().nullable().optional(),
    temperature: z.number().min(0).max(2).nullable().optional(),
    top_p: z.number().min(0).max(1).nullable().optional(),
    stop: z
      .union([z.string(), z.array(z.string()).max(4)])
      .nullable()
      .optional(),
    seed: z.number().int().nullable().optional(),
    presence_penalty: z.number().nullable().optional(),
    frequency_penalty: z.number().nullable().optional(),
    n: z.number().int().nullable().optional(),
    response_format: z
      .object({
        type: z.enum(["text", "json_object", "json_schema"]),
        json_schema: z
          .object({ name: z.string().optional(), schema: z.unknown().optional() })
          .loose()
          .optional(),
      })
      .loose()
      .optional(),
    tools: z.array(z.unknown()).optional(),
  })
  .loose();

export type ChatRequest = z.infer<typeof chatRequestSchema>;

export function parseChatRequest(body: unknown): ChatRequest {
  const parsed = chatRequestSchema.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ServerError(
      "invalid_argument",
      `Invalid chat completion request: ${issue.path.join(".") || "(body)"}: ${issue.message}.`,
    );
  }
  const request = parsed.data;
  if (request.tools !== undefined && request.tools.length > 0) {
    throw new ServerError(
      "not_implemented",
      "This proxy forwards text conversations only; `tools` are not supported.",
    );
  }
  if (request.n !== undefined && request.n !== null && request.n !== 1) {
    throw new ServerError(
      "invalid_argument",
      "This proxy returns one choice per request; leave `n` unset or 1.",
    );
  }
  return request;
}

function textOf(value: z.infer<typeof content> | undefined, where: string): string {
  if (value === undefined || value === null) return "";
  if (typeof value === "string") return value;
  return value
    .map((part) => {
      const text = textPart.safeParse(part);
      if (!text.success) {
        throw new ServerError(
          "not_implemented",
          `${where} has a "${part.type}" part; this proxy forwards text parts only.`,
        );
      }
      return text.data.text;
    })
    .join("");
}

/** The AI SDK prompt and call settings of an OpenAI request. */
export function toCallOptions(request: ChatRequest, abortSignal: AbortSignal): LanguageModelV4CallOptions {
  const prompt: LanguageModelV4Message[] = request.messages.map((m, i) => {
    const where = `messages[${i}]`;
    if (m.role === "tool" || (m.tool_calls !== undefined && m.tool_calls.length > 0)) {
      throw new ServerError("not_implemented", `${where}: tool messages are not supported by this proxy.`);
    }
    const text = textOf(m.content, where);
    if (m.role === "system" || m.role === "developer") return { role: "system", content: text };
    if (m.role === "user") return { role: "user", content: [{ type: "text", text }] };
    return { role: "assistant", content: [{ type: "text", text }] };
  });
  const format = request.response_format;
  const stop = request.stop;
  const options: LanguageModelV4CallOptions = { prompt, abortSignal };
  const maxTokens = request.max_completion_tokens ?? request.max_tokens;
  if (maxTokens !== undefined && maxTokens !== null) options.maxOutputTokens = maxTokens;
  if (request.temperature != null) options.temperature = request.temperature;
  if (request.top_p != null) options.topP = request.top_p;
  if (stop != null) options.stopSequences = typeof stop === "string" ? [stop] : stop;
  if (request.seed != null) options.seed = request.seed;
  if (request.presence_penalty != null) options.presencePenalty = request.presence_penalty;
  if (request.frequency_penalty != null) options.frequencyPenalty = request.frequency_penalty;
  if (format?.type === "json_object") options.responseFormat = { type: "json" };
  if (format?.type === "json_schema") {
    options.responseFormat = {
      type: "json",
      ...(format.json_schema?.schema === undefined ? {} : { schema: format.json_schema.schema as never }),
      ...(format.json_schema?.name === undefined ? {} : { name: format.json_schema.name }),
    };
  }
  return options;
}

export function finishReasonOf(reason: LanguageModelV4FinishReason | undefined): string {
  switch (reason?.unified) {
    case "length":
      return "length";
    case "content-filter":
      return "content_filter";
    case "tool-calls":
      return "tool_calls";
    default:
      return "stop";
  }
}

export interface OpenAIUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

export function usageOf(usage: LanguageModelV4Usage | undefined): OpenAIUsage {
  const prompt = usage?.inputTokens.total ?? 0;
  const completion = usage?.outputTokens.total ?? 0;
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
}

export function textOfResult(result: LanguageModelV4GenerateResult): string {
  return result.content.map((part) => (part.type === "text" ? part.text : "")).join("");
}

export interface CompletionIds {
  id: string;
  created: number;
  model: string;
}

export function completionBody(ids: CompletionIds, text: string, finishReason: string, usage: OpenAIUsage) {
  return {
    id: ids.id,
    object: "chat.completion",
    created: ids.created,
    model: ids.model,
    choices: [
      {
        index: 0,
        message: { role: "assistant", content: text, refusal: null },
        finish_reason: finishReason,
        logprobs: null,
      },
    ],
    usage,
  };
}

export function chunkBody(
  ids: CompletionIds,
  delta: Record<string, unknown> | null,
  finishReason: string | null,
  usage?: OpenAIUsage | null,
) {
  return {
    id: ids.id,
    object: "chat.completion.chunk",
    created: ids.created,
    model: ids.model,
    choices: delta === null ? [] : [{ index: 0, delta, finish_reason: finishReason, logprobs: null }],
    ...(usage === undefined ? {} : { usage }),
  };
}
