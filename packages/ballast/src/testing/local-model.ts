import type {
  LanguageModelV4,
  LanguageModelV4CallOptions,
  LanguageModelV4Content,
  LanguageModelV4FinishReason,
  LanguageModelV4GenerateResult,
  LanguageModelV4Prompt,
  LanguageModelV4StreamPart,
  LanguageModelV4StreamResult,
  LanguageModelV4Usage,
} from "@ai-sdk/provider";
import { streamPieces } from "./local-text.ts";
import {
  type ChatIntent,
  defaultReply,
  type FakeReply,
  type ResolvedReply,
  resolveReply,
  type UsageCounts,
} from "./reply.ts";
import { hashHex } from "./seeded-random.ts";
import { slices, textOf } from "./wire.ts";

/**
 * A deterministic, offline `LanguageModelV4`: the same generator as the fake servers, with
 * no network. Demos and tests use it when no provider key is set. It answers plausibly from
 * the prompt, returns schema-valid JSON for structured output, calls tools the way an agent
 * loop expects (a tool call first, text once the result is back) and reports realistic
 * usage. It is a test double, not a language model.
 */

export interface LocalModelOptions {
  /** Mixed into every answer; different seeds give different answers. Default 0. */
  seed?: string | number;
  /** Default `"local"`. */
  modelId?: string;
  /** Delay before the answer (generate) or before the first stream part (stream), in ms. */
  latencyMs?: number;
  /** Delay between stream parts, in ms. */
  chunkDelayMs?: number;
  /** Reports reasoning tokens even when the call does not ask for reasoning. */
  reasoning?: boolean;
  /** Computes answers from the request; `undefined` falls back to the built-in answer. */
  respond?: (intent: ChatIntent, options: LanguageModelV4CallOptions) => FakeReply | undefined;
  /** Token counts to report instead of the estimated ones. */
  usage?: Partial<UsageCounts>;
}

function partText(part: { type: string } & Record<string, unknown>): string {
  switch (part.type) {
    case "text":
    case "reasoning":
      return textOf(part["text"]);
    case "tool-call":
      return `${textOf(part["toolName"])}(${textOf(part["input"])})`;
    case "tool-result": {
      const output = part["output"] as { type: string; value?: unknown; reason?: string } | undefined;
      return textOf(output?.value ?? output?.reason ?? "");
    }
    default:
      return `[${part.type}]`;
  }
}

export function intentFromCall(
  modelId: string,
  options: LanguageModelV4CallOptions,
  reasoning: boolean,
): ChatIntent {
  const prompt: LanguageModelV4Prompt = options.prompt;
  const texts: string[] = [];
  let lastUserText = "";
  for (const message of prompt) {
    const text =
      typeof message.content === "string"
        ? message.content
        : message.content
            .map((part) => partText(part as unknown as { type: string } & Record<string, unknown>))
            .join("\n");
    texts.push(text);
    if (message.role === "user") lastUserText = text;
  }
  const tools = (options.tools ?? []).flatMap((tool) =>
    tool.type === "function"
      ? [{ name: tool.name, description: tool.description, schema: tool.inputSchema }]
      : [],
  );
  const choice = options.toolChoice;
  const format = options.responseFormat;
  const effort = options.reasoning;
  return {
    model: modelId,
    promptText: texts.join("\n"),
    lastUserText,
    messageCount: prompt.filter((m) => m.role !== "system").length,
    tools,
    toolChoice:
      choice === undefined || choice.type === "auto"
        ? "auto"
        : choice.type === "tool"
          ? { name: choice.toolName }
          : choice.type,
    afterToolResult: prompt.at(-1)?.role === "tool",
    responseFormat: format?.type === "json" ? { type: "json", schema: format.schema } : { type: "text" },
    maxOutputTokens: options.maxOutputTokens,
    reasoning: reasoning || (effort !== undefined && effort !== "none" && effort !== "provider-default"),
  };
}

function usageOf(u: UsageCounts): LanguageModelV4Usage {
  return {
    inputTokens: {
      total: u.inputTokens,
      noCache: u.inputTokens - u.cachedInputTokens - u.cacheWriteTokens,
      cacheRead: u.cachedInputTokens,
      cacheWrite: u.cacheWriteTokens,
    },
    outputTokens: {
      total: u.outputTokens,
      text: u.outputTokens - u.reasoningTokens,
      reasoning: u.reasoningTokens,
    },
    raw: { ...u },
  };
}

function finishOf(reply: ResolvedReply): LanguageModelV4FinishReason {
  return { unified: reply.finishReason, raw: reply.finishReason };
}

function abortError(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException("This operation was aborted", "AbortError");
}

function delay(ms: number, signal: AbortSignal | undefined): Promise<void> {
  if (signal?.aborted) return Promise.reject(abortError(signal));
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortError(signal as AbortSignal));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * Creates the deterministic local model.
 *
 * @example
 * const model = process.env.OPENAI_API_KEY ? openai("gpt-4o-mini") : createLocalModel({ seed: 1 });
 * const { text } = await generateText({ model, prompt: "Summarise the run" });
 */
export function createLocalModel(options: LocalModelOptions = {}): LanguageModelV4 {
  const seed = options.seed ?? 0;
  const modelId = options.modelId ?? "local";

  function answer(call: LanguageModelV4CallOptions) {
    const intent = intentFromCall(modelId, call, options.reasoning ?? false);
    const reply = resolveReply(
      intent,
      options.respond?.(intent, call) ?? defaultReply(intent, seed),
      seed,
      options.usage,
    );
    const id = `local-${hashHex(24, "local-response", seed, intent.promptText)}`;
    return { intent, reply, id };
  }

  return {
    specificationVersion: "v4",
    provider: "ballast.local",
    modelId,
    supportedUrls: {},

    async doGenerate(call): Promise<LanguageModelV4GenerateResult> {
      await delay(options.latencyMs ?? 0, call.abortSignal);
      const { reply, id } = answer(call);
      const content: LanguageModelV4Content[] =
        reply.toolCalls.length > 0
          ? reply.toolCalls.map((c) => ({
              type: "tool-call",
              toolCallId: `call_${c.key.slice(0, 24)}`,
              toolName: c.name,
              input: c.arguments,
            }))
          : [{ type: "text", text: reply.text }];
      return {
        content,
        finishReason: finishOf(reply),
        usage: usageOf(reply.usage),
        response: { id, modelId, timestamp: new Date() },
        warnings: [],
      };
    },

    async doStream(call): Promise<LanguageModelV4StreamResult> {
      const { reply, id } = answer(call);
      const parts: LanguageModelV4StreamPart[] = [
        { type: "stream-start", warnings: [] },
        { type: "response-metadata", id, modelId, timestamp: new Date() },
      ];
      if (reply.toolCalls.length > 0) {
        for (const c of reply.toolCalls) {
          const toolCallId = `call_${c.key.slice(0, 24)}`;
          parts.push({ type: "tool-input-start", id: toolCallId, toolName: c.name });
          for (const piece of slices(c.arguments, 16))
            parts.push({ type: "tool-input-delta", id: toolCallId, delta: piece });
          parts.push({ type: "tool-input-end", id: toolCallId });
          parts.push({ type: "tool-call", toolCallId, toolName: c.name, input: c.arguments });
        }
      } else {
        parts.push({ type: "text-start", id: "0" });
        for (const piece of streamPieces(reply.text))
          parts.push({ type: "text-delta", id: "0", delta: piece });
        parts.push({ type: "text-end", id: "0" });
      }
      parts.push({ type: "finish", finishReason: finishOf(reply), usage: usageOf(reply.usage) });

      let index = 0;
      const stream = new ReadableStream<LanguageModelV4StreamPart>({
        async pull(controller) {
          try {
            await delay(
              index === 0 ? (options.latencyMs ?? 0) : (options.chunkDelayMs ?? 0),
              call.abortSignal,
            );
          } catch (error) {
            controller.error(error);
            return;
          }
          const part = parts[index++];
          if (part === undefined) controller.close();
          else controller.enqueue(part);
        },
      });
      return { stream };
    },
  };
}
