import {
  type Dialect,
  type FakeServer,
  type FakeServerOptions,
  type RouteContext,
  type RouteResult,
  type SseEvent,
  startFakeServer,
} from "./fake-server.ts";
import { streamPieces } from "./local-text.ts";
import { type ChatIntent, promptTokens, type ResolvedReply, type UsageCounts } from "./reply.ts";
import { hashId } from "./seeded-random.ts";
import {
  asArray,
  asNumber,
  asString,
  data,
  isRecord,
  type Json,
  parseArguments,
  slices,
  textOf,
} from "./wire.ts";

/**
 * A fake Anthropic Messages API (POST /v1/messages, JSON and SSE; GET /v1/models;
 * POST /v1/messages/count_tokens) in the shapes `@ai-sdk/anthropic` parses
 * (`anthropicResponseSchema`, `anthropicChunkSchema`), with `request-id` headers.
 */

const ERROR_TYPES: Record<number, [string, string]> = {
  400: ["invalid_request_error", "Invalid request."],
  401: ["authentication_error", "invalid x-api-key"],
  403: ["permission_error", "Your API key does not have permission to use the specified resource."],
  404: ["not_found_error", "The requested resource could not be found."],
  408: ["timeout_error", "Request timed out."],
  413: ["request_too_large", "Request exceeds the maximum allowed number of bytes."],
  429: ["rate_limit_error", "Number of requests has exceeded your rate limit. Please try again later."],
  500: ["api_error", "Internal server error"],
  502: ["api_error", "Bad gateway"],
  503: ["api_error", "Service unavailable"],
  529: ["overloaded_error", "Overloaded"],
};

export const DEFAULT_ANTHROPIC_MODELS = ["claude-sonnet-4-5", "claude-haiku-4-5", "claude-opus-4-1"];

function blockText(content: unknown): string {
  if (typeof content === "string") return content;
  return asArray(content)
    .map((block) => {
      if (!isRecord(block)) return "";
      switch (block["type"]) {
        case "text":
          return textOf(block["text"]);
        case "tool_use":
          return `${textOf(block["name"])}(${textOf(block["input"])})`;
        case "tool_result":
          return blockText(block["content"]);
        case "thinking":
          return textOf(block["thinking"]);
        default:
          return `[${textOf(block["type"])}]`;
      }
    })
    .join("\n");
}

export function anthropicIntent(body: Json): ChatIntent {
  const model = asString(body["model"]) ?? "";
  const messages = asArray(body["messages"]).filter(isRecord);
  const texts: string[] = [];
  const system = blockText(body["system"]);
  if (system) texts.push(system);
  let lastUserText = "";
  for (const message of messages) {
    const text = blockText(message["content"]);
    texts.push(text);
    const onlyToolResults = asArray(message["content"]).every(
      (b) => isRecord(b) && b["type"] === "tool_result",
    );
    if (message["role"] === "user" && !(Array.isArray(message["content"]) && onlyToolResults))
      lastUserText = text;
  }
  const last = messages.at(-1);
  const tools = asArray(body["tools"])
    .filter((tool): tool is Json => isRecord(tool) && isRecord(tool["input_schema"]))
    .map((tool) => ({
      name: textOf(tool["name"]),
      description: asString(tool["description"]),
      schema: tool["input_schema"],
    }));
  const choice = isRecord(body["tool_choice"]) ? body["tool_choice"] : {};
  const outputConfig = isRecord(body["output_config"]) ? body["output_config"] : {};
  const format = isRecord(outputConfig["format"]) ? outputConfig["format"] : {};
  const thinking = isRecord(body["thinking"]) ? body["thinking"]["type"] : undefined;
  return {
    model,
    promptText: texts.join("\n"),
    lastUserText,
    messageCount: messages.length,
    tools,
    toolChoice:
      choice["type"] === "tool"
        ? { name: textOf(choice["name"]) }
        : choice["type"] === "any"
          ? "required"
          : choice["type"] === "none"
            ? "none"
            : "auto",
    afterToolResult:
      last?.["role"] === "user" &&
      asArray(last["content"]).some((b) => isRecord(b) && b["type"] === "tool_result"),
    responseFormat:
      format["type"] === "json_schema" ? { type: "json", schema: format["schema"] } : { type: "text" },
    maxOutputTokens: asNumber(body["max_tokens"]),
    reasoning: thinking === "enabled" || thinking === "adaptive",
  };
}

function usageOf(usage: UsageCounts): Json {
  return {
    // Anthropic counts cached input separately from `input_tokens`.
    input_tokens: Math.max(0, usage.inputTokens - usage.cachedInputTokens - usage.cacheWriteTokens),
    cache_creation_input_tokens: usage.cacheWriteTokens,
    cache_read_input_tokens: usage.cachedInputTokens,
    output_tokens: usage.outputTokens,
    ...(usage.reasoningTokens > 0
      ? { output_tokens_details: { thinking_tokens: usage.reasoningTokens } }
      : {}),
    service_tier: "standard",
  };
}

const STOP: Record<ResolvedReply["finishReason"], string> = {
  stop: "end_turn",
  length: "max_tokens",
  "tool-calls": "tool_use",
};

function contentBlocks(intent: ChatIntent, reply: ResolvedReply): Json[] {
  const blocks: Json[] = [];
  if (intent.reasoning) {
    blocks.push({
      type: "thinking",
      thinking: `Thinking about ${intent.lastUserText.slice(0, 60) || "the request"}.`,
      signature: hashId(64, "signature", intent.promptText),
    });
  }
  if (reply.toolCalls.length === 0) blocks.push({ type: "text", text: reply.text });
  for (const call of reply.toolCalls) {
    blocks.push({
      type: "tool_use",
      id: `toolu_01${hashId(22, call.key)}`,
      name: call.name,
      input: parseArguments(call.arguments),
    });
  }
  return blocks;
}

async function handleMessages(ctx: RouteContext): Promise<RouteResult> {
  const body = ctx.request.body;
  if (!isRecord(body) || typeof body["model"] !== "string") {
    return { kind: "error", status: 400, message: "model: Field required" };
  }
  if (asArray(body["messages"]).length === 0)
    return { kind: "error", status: 400, message: "messages: Field required" };
  if (typeof body["max_tokens"] !== "number")
    return { kind: "error", status: 400, message: "max_tokens: Field required" };
  const intent = anthropicIntent(body);
  const reply = await ctx.answer(intent);
  const id = `msg_01${hashId(22, "msg", ctx.seed, ctx.request.index)}`;
  const blocks = contentBlocks(intent, reply);
  const message = {
    id,
    type: "message",
    role: "assistant",
    model: intent.model,
    content: blocks,
    stop_reason: STOP[reply.finishReason],
    stop_sequence: null,
    usage: usageOf(reply.usage),
  };
  if (body["stream"] !== true) return { kind: "json", body: message };

  const events: SseEvent[] = [];
  const emit = (type: string, payload: Json = {}) =>
    events.push({ event: type, ...data({ type, ...payload }) });
  emit("message_start", {
    message: {
      ...message,
      content: [],
      stop_reason: null,
      usage: { ...usageOf(reply.usage), output_tokens: 1 },
    },
  });
  blocks.forEach((block, index) => {
    if (block["type"] === "thinking") {
      emit("content_block_start", { index, content_block: { type: "thinking", thinking: "" } });
      emit("content_block_delta", { index, delta: { type: "thinking_delta", thinking: block["thinking"] } });
      emit("content_block_delta", {
        index,
        delta: { type: "signature_delta", signature: block["signature"] },
      });
    } else if (block["type"] === "text") {
      emit("content_block_start", { index, content_block: { type: "text", text: "" } });
      if (index === 0) emit("ping");
      for (const piece of streamPieces(reply.text)) {
        emit("content_block_delta", { index, delta: { type: "text_delta", text: piece } });
      }
    } else {
      emit("content_block_start", { index, content_block: { ...block, input: {} } });
      emit("content_block_delta", { index, delta: { type: "input_json_delta", partial_json: "" } });
      for (const piece of slices(JSON.stringify(block["input"]), 16)) {
        emit("content_block_delta", { index, delta: { type: "input_json_delta", partial_json: piece } });
      }
    }
    emit("content_block_stop", { index });
  });
  emit("message_delta", {
    delta: { stop_reason: STOP[reply.finishReason], stop_sequence: null },
    usage: usageOf(reply.usage),
  });
  emit("message_stop");
  return {
    kind: "sse",
    events,
    errorEvent: (errorMessage) => ({
      event: "error",
      ...data({ type: "error", error: { type: "overloaded_error", message: errorMessage } }),
    }),
  };
}

function anthropicDialect(options: FakeServerOptions): Dialect {
  const models = options.models ?? DEFAULT_ANTHROPIC_MODELS;
  return {
    apiPrefix: "/v1",
    routes: [
      { method: "POST", pattern: /^\/v1\/messages$/, handle: handleMessages },
      {
        method: "POST",
        pattern: /^\/v1\/messages\/count_tokens$/,
        handle: ({ request }) =>
          isRecord(request.body)
            ? { kind: "json", body: { input_tokens: promptTokens(anthropicIntent(request.body)) } }
            : { kind: "error", status: 400, message: "messages: Field required" },
      },
      {
        method: "GET",
        pattern: /^\/v1\/models$/,
        handle: () => ({
          kind: "json",
          body: {
            data: models.map((id) => ({
              type: "model",
              id,
              display_name: id,
              created_at: "2025-01-01T00:00:00Z",
            })),
            has_more: false,
            first_id: models[0] ?? null,
            last_id: models.at(-1) ?? null,
          },
        }),
      },
    ],
    requestId: (seed, index) => `req_011C${hashId(20, "anthropic-request", seed, index)}`,
    responseHeaders: (requestId) => ({
      "request-id": requestId,
      "anthropic-organization-id": "00000000-0000-4000-8000-000000000000",
      "anthropic-ratelimit-requests-limit": "4000",
      "anthropic-ratelimit-requests-remaining": "3999",
      "anthropic-ratelimit-tokens-limit": "2000000",
      "anthropic-ratelimit-tokens-remaining": "1999000",
    }),
    errorBody: (status, message, requestId) => {
      const [type, fallback] = ERROR_TYPES[status] ?? ["api_error", `HTTP ${status}`];
      return { type: "error", error: { type, message: message ?? fallback }, request_id: requestId };
    },
  };
}

/**
 * Starts a fake Anthropic server on 127.0.0.1 (ephemeral port).
 *
 * @example
 * const server = await startFakeAnthropic();
 * const anthropic = createAnthropic({ baseURL: server.baseURL, apiKey: "test" });
 * await generateText({ model: anthropic("claude-sonnet-4-5"), prompt: "Hi", maxRetries: 0 });
 */
export function startFakeAnthropic(options: FakeServerOptions = {}): Promise<FakeServer> {
  return startFakeServer(anthropicDialect(options), options);
}
