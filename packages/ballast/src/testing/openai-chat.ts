import type { RouteContext, RouteResult, SseEvent } from "./fake-server.ts";
import { streamPieces } from "./local-text.ts";
import { type ChatIntent, isReasoningModel, type ResolvedReply, type UsageCounts } from "./reply.ts";
import { hashHex, hashId } from "./seeded-random.ts";
import { asArray, asNumber, asString, data, isRecord, type Json, slices, textOf } from "./wire.ts";

/**
 * POST /v1/chat/completions, JSON and SSE, in the shapes `@ai-sdk/openai`'s chat model
 * (`openaiChatResponseSchema`, `openaiChatChunkSchema`) and the official `openai` client read.
 */

function contentText(content: unknown): string {
  if (typeof content === "string") return content;
  return asArray(content)
    .map((part) =>
      isRecord(part) ? (asString(part["text"]) ?? `[${asString(part["type"]) ?? "part"}]`) : "",
    )
    .join("\n");
}

export function chatIntent(body: Json): ChatIntent {
  const model = asString(body["model"]) ?? "";
  const messages = asArray(body["messages"]).filter(isRecord);
  const texts: string[] = [];
  let lastUserText = "";
  for (const message of messages) {
    let text = contentText(message["content"]);
    for (const call of asArray(message["tool_calls"])) {
      if (isRecord(call) && isRecord(call["function"])) {
        text += `\n${textOf(call["function"]["name"])}(${textOf(call["function"]["arguments"])})`;
      }
    }
    texts.push(text);
    if (message["role"] === "user") lastUserText = text;
  }
  const tools = asArray(body["tools"])
    .filter(
      (tool): tool is Json => isRecord(tool) && tool["type"] === "function" && isRecord(tool["function"]),
    )
    .map((tool) => {
      const fn = tool["function"] as Json;
      return { name: textOf(fn["name"]), description: asString(fn["description"]), schema: fn["parameters"] };
    });
  const choice = body["tool_choice"];
  const format = isRecord(body["response_format"]) ? body["response_format"] : {};
  return {
    model,
    promptText: texts.join("\n"),
    lastUserText,
    messageCount: messages.length,
    tools,
    toolChoice:
      isRecord(choice) && isRecord(choice["function"])
        ? { name: textOf(choice["function"]["name"]) }
        : choice === "none" || choice === "required"
          ? choice
          : "auto",
    afterToolResult: messages.at(-1)?.["role"] === "tool",
    responseFormat:
      format["type"] === "json_schema"
        ? {
            type: "json",
            schema: isRecord(format["json_schema"]) ? format["json_schema"]["schema"] : undefined,
          }
        : format["type"] === "json_object"
          ? { type: "json" }
          : { type: "text" },
    maxOutputTokens: asNumber(body["max_completion_tokens"]) ?? asNumber(body["max_tokens"]),
    reasoning: isReasoningModel(model),
  };
}

export function chatUsage(usage: UsageCounts): Json {
  return {
    prompt_tokens: usage.inputTokens,
    completion_tokens: usage.outputTokens,
    total_tokens: usage.inputTokens + usage.outputTokens,
    prompt_tokens_details: {
      cached_tokens: usage.cachedInputTokens,
      audio_tokens: 0,
      ...(usage.cacheWriteTokens > 0 ? { cache_write_tokens: usage.cacheWriteTokens } : {}),
    },
    completion_tokens_details: {
      reasoning_tokens: usage.reasoningTokens,
      audio_tokens: 0,
      accepted_prediction_tokens: 0,
      rejected_prediction_tokens: 0,
    },
  };
}

const FINISH: Record<ResolvedReply["finishReason"], string> = {
  stop: "stop",
  length: "length",
  "tool-calls": "tool_calls",
};

/** The 400 the real API sends for a missing model or an empty message list, if any. */
export function chatBodyError(body: unknown, listKey: "messages" | "input"): RouteResult | undefined {
  if (!isRecord(body))
    return { kind: "error", status: 400, message: "The request body must be a JSON object." };
  if (typeof body["model"] !== "string" || body["model"] === "") {
    return { kind: "error", status: 400, message: "you must provide a model parameter" };
  }
  const list = body[listKey];
  if (list === undefined || (Array.isArray(list) && list.length === 0)) {
    return {
      kind: "error",
      status: 400,
      message: `'${listKey}' is a required property and must not be empty.`,
    };
  }
  return undefined;
}

export async function handleChatCompletions(ctx: RouteContext): Promise<RouteResult> {
  const invalid = chatBodyError(ctx.request.body, "messages");
  if (invalid) return invalid;
  const body = ctx.request.body as Json;
  const intent = chatIntent(body);
  const reply = await ctx.answer(intent);
  const base = {
    id: `chatcmpl-${hashId(29, "chatcmpl", ctx.seed, ctx.request.index)}`,
    object: "chat.completion",
    created: ctx.created,
    model: intent.model,
  };
  const fingerprint = `fp_${hashHex(10, "fingerprint", intent.model)}`;
  const toolCalls = reply.toolCalls.map((call) => ({
    id: `call_${hashId(24, call.key)}`,
    type: "function",
    function: { name: call.name, arguments: call.arguments },
  }));

  if (body["stream"] !== true) {
    return {
      kind: "json",
      body: {
        ...base,
        choices: [
          {
            index: 0,
            message: {
              role: "assistant",
              content: toolCalls.length > 0 ? null : reply.text,
              refusal: null,
              annotations: [],
              ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}),
            },
            logprobs: null,
            finish_reason: FINISH[reply.finishReason],
          },
        ],
        usage: chatUsage(reply.usage),
        service_tier: "default",
        system_fingerprint: fingerprint,
      },
    };
  }

  const includeUsage = isRecord(body["stream_options"]) && body["stream_options"]["include_usage"] === true;
  const chunk = (choices: unknown[], extra: Json = {}): SseEvent =>
    data({
      ...base,
      object: "chat.completion.chunk",
      service_tier: "default",
      system_fingerprint: fingerprint,
      choices,
      ...(includeUsage ? { usage: null } : {}),
      ...extra,
    });
  const delta = (d: Json, finish: string | null = null) => [
    { index: 0, delta: d, logprobs: null, finish_reason: finish },
  ];

  const events: SseEvent[] = [];
  if (toolCalls.length > 0) {
    events.push(chunk(delta({ role: "assistant", content: null, refusal: null })));
    toolCalls.forEach((call, index) => {
      const head = {
        index,
        id: call.id,
        type: "function",
        function: { name: call.function.name, arguments: "" },
      };
      events.push(chunk(delta({ tool_calls: [head] })));
      for (const piece of slices(call.function.arguments, 16)) {
        events.push(chunk(delta({ tool_calls: [{ index, function: { arguments: piece } }] })));
      }
    });
  } else {
    events.push(chunk(delta({ role: "assistant", content: "", refusal: null })));
    for (const piece of streamPieces(reply.text)) events.push(chunk(delta({ content: piece })));
  }
  events.push(chunk(delta({}, FINISH[reply.finishReason])));
  if (includeUsage) events.push(chunk([], { usage: chatUsage(reply.usage) }));
  events.push({ data: "[DONE]" });
  return {
    kind: "sse",
    events,
    errorEvent: (message) =>
      data({ error: { message, type: "server_error", param: null, code: "server_error" } }),
  };
}
