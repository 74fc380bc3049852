import {
  type Dialect,
  type FakeServer,
  type FakeServerOptions,
  type RouteContext,
  type RouteResult,
  startFakeServer,
} from "./fake-server.ts";
import { featureHashEmbedding } from "./feature-hash-embedding.ts";
import { streamPieces } from "./local-text.ts";
import { type ChatIntent, isReasoningModel, promptTokens, type ResolvedReply } from "./reply.ts";
import { hashId } from "./seeded-random.ts";
import { asArray, asNumber, asString, data, isRecord, type Json, parseArguments, textOf } from "./wire.ts";

/**
 * A fake Gemini API (v1beta): models/{model}:generateContent, :streamGenerateContent
 * (`?alt=sse`), :countTokens, :embedContent and :batchEmbedContents, in the shapes
 * `@ai-sdk/google` parses. Gemini sends no request-id header; the request id is the body's
 * `responseId`, which the AI SDK exposes as `response.id`.
 */

const STATUS: Record<number, [string, string]> = {
  400: ["INVALID_ARGUMENT", "Request contains an invalid argument."],
  401: ["UNAUTHENTICATED", "API key not valid. Please pass a valid API key."],
  403: ["PERMISSION_DENIED", "The caller does not have permission."],
  404: ["NOT_FOUND", "Requested entity was not found."],
  429: ["RESOURCE_EXHAUSTED", "Resource has been exhausted (e.g. check quota)."],
  500: [
    "INTERNAL",
    "An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting",
  ],
  502: ["UNAVAILABLE", "Bad gateway."],
  503: ["UNAVAILABLE", "The model is overloaded. Please try again later."],
  504: ["DEADLINE_EXCEEDED", "Deadline expired before operation could complete."],
};

function errorBody(status: number, message?: string): Json {
  const [code, fallback] = STATUS[status] ?? ["UNKNOWN", `HTTP ${status}`];
  return { error: { code: status, message: message ?? fallback, status: code } };
}

function partsText(parts: unknown): string {
  return asArray(parts)
    .map((part) => {
      if (!isRecord(part)) return "";
      if (typeof part["text"] === "string") return part["text"];
      if (isRecord(part["functionCall"]))
        return `${textOf(part["functionCall"]["name"])}(${textOf(part["functionCall"]["args"])})`;
      if (isRecord(part["functionResponse"])) return textOf(part["functionResponse"]["response"]);
      return "[part]";
    })
    .join("\n");
}

export function geminiIntent(model: string, body: Json): ChatIntent {
  const contents = asArray(body["contents"]).filter(isRecord);
  const texts: string[] = [];
  const system = isRecord(body["systemInstruction"]) ? partsText(body["systemInstruction"]["parts"]) : "";
  if (system) texts.push(system);
  let lastUserText = "";
  for (const content of contents) {
    const text = partsText(content["parts"]);
    texts.push(text);
    const hasText = asArray(content["parts"]).some((p) => isRecord(p) && typeof p["text"] === "string");
    if (content["role"] !== "model" && hasText) lastUserText = text;
  }
  const tools = asArray(body["tools"])
    .flatMap((tool) => (isRecord(tool) ? asArray(tool["functionDeclarations"]) : []))
    .filter(isRecord)
    .map((fn) => ({
      name: textOf(fn["name"]),
      description: asString(fn["description"]),
      schema: fn["parametersJsonSchema"] ?? fn["parameters"],
    }));
  const calling =
    isRecord(body["toolConfig"]) && isRecord(body["toolConfig"]["functionCallingConfig"])
      ? body["toolConfig"]["functionCallingConfig"]
      : {};
  const allowed = asArray(calling["allowedFunctionNames"]);
  const config = isRecord(body["generationConfig"]) ? body["generationConfig"] : {};
  const last = contents.at(-1);
  return {
    model,
    promptText: texts.join("\n"),
    lastUserText,
    messageCount: contents.length,
    tools,
    toolChoice:
      calling["mode"] === "NONE"
        ? "none"
        : calling["mode"] === "ANY"
          ? allowed.length === 1
            ? { name: textOf(allowed[0]) }
            : "required"
          : "auto",
    afterToolResult: asArray(last?.["parts"]).some((p) => isRecord(p) && isRecord(p["functionResponse"])),
    responseFormat:
      config["responseMimeType"] === "application/json"
        ? { type: "json", schema: config["responseJsonSchema"] ?? config["responseSchema"] }
        : { type: "text" },
    maxOutputTokens: asNumber(config["maxOutputTokens"]),
    reasoning: isReasoningModel(model),
  };
}

function usageMetadata(reply: ResolvedReply): Json {
  const u = reply.usage;
  const candidates = u.outputTokens - u.reasoningTokens;
  return {
    promptTokenCount: u.inputTokens,
    candidatesTokenCount: candidates,
    totalTokenCount: u.inputTokens + u.outputTokens,
    ...(u.cachedInputTokens > 0 ? { cachedContentTokenCount: u.cachedInputTokens } : {}),
    ...(u.reasoningTokens > 0 ? { thoughtsTokenCount: u.reasoningTokens } : {}),
    promptTokensDetails: [{ modality: "TEXT", tokenCount: u.inputTokens }],
  };
}

async function handleGenerate(ctx: RouteContext, model: string, stream: boolean): Promise<RouteResult> {
  const body = ctx.request.body;
  if (!isRecord(body) || asArray(body["contents"]).length === 0) {
    return {
      kind: "error",
      status: 400,
      message: "* GenerateContentRequest.contents: contents is not specified",
    };
  }
  const intent = geminiIntent(model, body);
  const reply = await ctx.answer(intent);
  const finishReason = reply.finishReason === "length" ? "MAX_TOKENS" : "STOP";
  const base = { modelVersion: model, responseId: ctx.requestId };
  const candidate = (parts: Json[], finish?: string) => ({
    content: { parts, role: "model" },
    ...(finish ? { finishReason: finish } : {}),
    index: 0,
  });
  const callParts = reply.toolCalls.map((call) => ({
    functionCall: { name: call.name, args: parseArguments(call.arguments) },
  }));

  if (!stream) {
    const parts = callParts.length > 0 ? callParts : [{ text: reply.text }];
    return {
      kind: "json",
      body: { candidates: [candidate(parts, finishReason)], usageMetadata: usageMetadata(reply), ...base },
    };
  }
  // Gemini streams a few words per chunk, each chunk a complete GenerateContentResponse.
  const pieces = streamPieces(reply.text);
  const groups: string[] = [];
  for (let i = 0; i < pieces.length; i += 4) groups.push(pieces.slice(i, i + 4).join(""));
  const partial = { promptTokenCount: reply.usage.inputTokens, totalTokenCount: reply.usage.inputTokens };
  const chunks: Json[] =
    callParts.length > 0
      ? [{ candidates: [candidate(callParts, finishReason)], usageMetadata: usageMetadata(reply), ...base }]
      : groups.map((text, i) => {
          const last = i === groups.length - 1;
          return {
            candidates: [candidate([{ text }], last ? finishReason : undefined)],
            usageMetadata: last ? usageMetadata(reply) : partial,
            ...base,
          };
        });
  if (chunks.length === 0) {
    chunks.push({
      candidates: [candidate([{ text: "" }], finishReason)],
      usageMetadata: usageMetadata(reply),
      ...base,
    });
  }
  if (ctx.request.query["alt"] !== "sse") return { kind: "json", body: chunks };
  return { kind: "sse", events: chunks.map(data), errorEvent: (message) => data(errorBody(503, message)) };
}

function contentText(content: unknown): string {
  return isRecord(content) ? partsText(content["parts"]) : "";
}

function handleModel(ctx: RouteContext): RouteResult | Promise<RouteResult> {
  const model = decodeURIComponent(ctx.params[0] ?? "");
  const method = ctx.params[1];
  const body = isRecord(ctx.request.body) ? ctx.request.body : {};
  const dims = (request: Json) =>
    asNumber(request["outputDimensionality"]) ?? (model.includes("gemini-embedding") ? 3072 : 768);
  switch (method) {
    case "generateContent":
      return handleGenerate(ctx, model, false);
    case "streamGenerateContent":
      return handleGenerate(ctx, model, true);
    case "countTokens":
      return { kind: "json", body: { totalTokens: promptTokens(geminiIntent(model, body)) } };
    case "embedContent":
      return {
        kind: "json",
        body: { embedding: { values: featureHashEmbedding(contentText(body["content"]), dims(body)) } },
      };
    case "batchEmbedContents": {
      const requests = asArray(body["requests"]).filter(isRecord);
      if (requests.length === 0)
        return {
          kind: "error",
          status: 400,
          message: "* BatchEmbedContentsRequest.requests: must not be empty",
        };
      return {
        kind: "json",
        body: {
          embeddings: requests.map((r) => ({
            values: featureHashEmbedding(contentText(r["content"]), dims(r)),
          })),
        },
      };
    }
    default:
      return { kind: "error", status: 404, message: `Method ${method} is not found for models/${model}.` };
  }
}

function geminiDialect(): Dialect {
  return {
    apiPrefix: "/v1beta",
    sseNewline: "\r\n",
    routes: [{ method: "POST", pattern: /^\/v1beta\/models\/([^:/]+):([A-Za-z]+)$/, handle: handleModel }],
    requestId: (seed, index) => hashId(22, "gemini-response", seed, index),
    responseHeaders: () => ({ vary: "Origin, X-Origin, Referer", server: "scaffolding on HTTPServer2" }),
    errorBody: (status, message) => errorBody(status, message),
  };
}

/**
 * Starts a fake Gemini server on 127.0.0.1 (ephemeral port).
 *
 * @example
 * const server = await startFakeGemini();
 * const google = createGoogleGenerativeAI({ baseURL: server.baseURL, apiKey: "test" });
 * await generateText({ model: google("gemini-2.5-flash"), prompt: "Hi", maxRetries: 0 });
 */
export function startFakeGemini(options: FakeServerOptions = {}): Promise<FakeServer> {
  return startFakeServer(geminiDialect(), options);
}
