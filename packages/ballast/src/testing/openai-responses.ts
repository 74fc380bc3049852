import type { RouteContext, RouteResult, SseEvent } from "./fake-server.ts";
import { streamPieces } from "./local-text.ts";
import { chatBodyError } from "./openai-chat.ts";
import { type ChatIntent, isReasoningModel, type ResolvedReply, type UsageCounts } from "./reply.ts";
import { hashHex, hashId } from "./seeded-random.ts";
import { asArray, asNumber, asString, isRecord, type Json, slices, textOf } from "./wire.ts";

/**
 * POST /v1/responses, JSON and SSE, with the event types `@ai-sdk/openai`'s responses model
 * parses (`openaiResponsesChunkSchema`): response.created, response.in_progress,
 * output_item.added/done, content_part.added/done, output_text.delta/done,
 * function_call_arguments.delta/done, then response.completed (or response.incomplete).
 */

function itemText(item: Json): string {
  const content = item["content"];
  if (typeof content === "string") return content;
  return asArray(content)
    .map((part) => (isRecord(part) ? (asString(part["text"]) ?? asString(part["refusal"]) ?? "") : ""))
    .join("\n");
}

export function responsesIntent(body: Json): ChatIntent {
  const model = asString(body["model"]) ?? "";
  const input =
    typeof body["input"] === "string" ? [{ role: "user", content: body["input"] }] : asArray(body["input"]);
  const items = input.filter(isRecord);
  const texts: string[] = [];
  const instructions = asString(body["instructions"]);
  if (instructions) texts.push(instructions);
  let lastUserText = "";
  for (const item of items) {
    const type = item["type"] ?? "message";
    let text = "";
    if (type === "message") text = itemText(item);
    else if (type === "function_call") text = `${textOf(item["name"])}(${textOf(item["arguments"])})`;
    else if (type === "function_call_output") text = textOf(item["output"]);
    texts.push(text);
    if (type === "message" && item["role"] === "user") lastUserText = text;
  }
  const tools = asArray(body["tools"])
    .filter((tool): tool is Json => isRecord(tool) && tool["type"] === "function")
    .map((tool) => ({
      name: textOf(tool["name"]),
      description: asString(tool["description"]),
      schema: tool["parameters"],
    }));
  const choice = body["tool_choice"];
  const format = isRecord(body["text"]) && isRecord(body["text"]["format"]) ? body["text"]["format"] : {};
  return {
    model,
    promptText: texts.join("\n"),
    lastUserText,
    messageCount: items.length + (instructions ? 1 : 0),
    tools,
    toolChoice:
      isRecord(choice) && typeof choice["name"] === "string"
        ? { name: choice["name"] }
        : choice === "none" || choice === "required"
          ? choice
          : "auto",
    afterToolResult: items.at(-1)?.["type"] === "function_call_output",
    responseFormat:
      format["type"] === "json_schema"
        ? { type: "json", schema: format["schema"] }
        : format["type"] === "json_object"
          ? { type: "json" }
          : { type: "text" },
    maxOutputTokens: asNumber(body["max_output_tokens"]),
    reasoning: isReasoningModel(model),
  };
}

export function responsesUsage(usage: UsageCounts): Json {
  return {
    input_tokens: usage.inputTokens,
    input_tokens_details: {
      cached_tokens: usage.cachedInputTokens,
      ...(usage.cacheWriteTokens > 0 ? { cache_write_tokens: usage.cacheWriteTokens } : {}),
    },
    output_tokens: usage.outputTokens,
    output_tokens_details: { reasoning_tokens: usage.reasoningTokens },
    total_tokens: usage.inputTokens + usage.outputTokens,
  };
}

function outputItems(ctx: RouteContext, reply: ResolvedReply): Json[] {
  if (reply.toolCalls.length > 0) {
    return reply.toolCalls.map((call) => ({
      id: `fc_${hashHex(48, "fc", call.key)}`,
      type: "function_call",
      status: "completed",
      arguments: call.arguments,
      call_id: `call_${hashId(24, call.key)}`,
      name: call.name,
    }));
  }
  return [
    {
      id: `msg_${hashHex(48, "msg", ctx.seed, ctx.request.index)}`,
      type: "message",
      status: "completed",
      role: "assistant",
      content: [{ type: "output_text", text: reply.text, annotations: [], logprobs: [] }],
    },
  ];
}

export async function handleResponses(ctx: RouteContext): Promise<RouteResult> {
  const invalid = chatBodyError(ctx.request.body, "input");
  if (invalid) return invalid;
  const body = ctx.request.body as Json;
  const intent = responsesIntent(body);
  const reply = await ctx.answer(intent);
  const incomplete = reply.finishReason === "length";
  const output = outputItems(ctx, reply);
  const response = (status: string, withOutput: boolean): Json => ({
    id: `resp_${hashHex(48, "resp", ctx.seed, ctx.request.index)}`,
    object: "response",
    created_at: ctx.created,
    status,
    background: false,
    error: null,
    incomplete_details: incomplete && status !== "in_progress" ? { reason: "max_output_tokens" } : null,
    instructions: body["instructions"] ?? null,
    max_output_tokens: body["max_output_tokens"] ?? null,
    model: intent.model,
    output: withOutput ? output : [],
    parallel_tool_calls: true,
    previous_response_id: null,
    reasoning: { effort: null, summary: null },
    service_tier: "default",
    store: body["store"] ?? true,
    temperature: body["temperature"] ?? 1,
    text: body["text"] ?? { format: { type: "text" } },
    tool_choice: body["tool_choice"] ?? "auto",
    tools: body["tools"] ?? [],
    top_p: body["top_p"] ?? 1,
    truncation: "disabled",
    usage: withOutput ? responsesUsage(reply.usage) : null,
    user: null,
    metadata: {},
  });
  const final = incomplete ? "incomplete" : "completed";

  if (body["stream"] !== true) return { kind: "json", body: response(final, true) };

  const events: SseEvent[] = [];
  const emit = (type: string, payload: Json) =>
    events.push({ event: type, data: JSON.stringify({ type, sequence_number: events.length, ...payload }) });
  emit("response.created", { response: response("in_progress", false) });
  emit("response.in_progress", { response: response("in_progress", false) });
  output.forEach((item, outputIndex) => {
    const id = item["id"] as string;
    if (item["type"] === "function_call") {
      const args = item["arguments"] as string;
      emit("response.output_item.added", {
        output_index: outputIndex,
        item: { ...item, status: "in_progress", arguments: "" },
      });
      for (const piece of slices(args, 16)) {
        emit("response.function_call_arguments.delta", {
          item_id: id,
          output_index: outputIndex,
          delta: piece,
        });
      }
      emit("response.function_call_arguments.done", {
        item_id: id,
        output_index: outputIndex,
        arguments: args,
      });
      emit("response.output_item.done", { output_index: outputIndex, item });
      return;
    }
    const part = { type: "output_text", annotations: [], logprobs: [], text: "" };
    const at = { item_id: id, output_index: outputIndex, content_index: 0 };
    emit("response.output_item.added", {
      output_index: outputIndex,
      item: { ...item, status: "in_progress", content: [] },
    });
    emit("response.content_part.added", { ...at, part });
    for (const piece of streamPieces(reply.text))
      emit("response.output_text.delta", { ...at, delta: piece, logprobs: [] });
    emit("response.output_text.done", { ...at, text: reply.text, logprobs: [] });
    emit("response.content_part.done", { ...at, part: { ...part, text: reply.text } });
    emit("response.output_item.done", { output_index: outputIndex, item });
  });
  emit(`response.${final}`, { response: response(final, true) });
  return {
    kind: "sse",
    events,
    errorEvent: (message, sequence) => ({
      event: "error",
      data: JSON.stringify({
        type: "error",
        sequence_number: sequence,
        code: "server_error",
        message,
        param: null,
      }),
    }),
  };
}
