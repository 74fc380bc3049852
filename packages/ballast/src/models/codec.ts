import type {
  LanguageModelV4GenerateResult,
  LanguageModelV4StreamPart,
  LanguageModelV4Usage,
} from "@ai-sdk/provider";
import type { JsonValue } from "../canonical.ts";

/**
 * Model results as JSON, for the cache and the journal, and back. Results carry a few
 * values JSON cannot hold (a `Date` in response metadata, bytes in file parts, URLs); they
 * are tagged `{ "$type": ..., "value": ... }` and restored on the way back, so a replayed
 * result is equal, member for member, to the recorded one.
 */

type Tagged = { $type: "date" | "bytes" | "url" | "error"; value: JsonValue };

export function toJsonValue(value: unknown): JsonValue {
  if (value === null) return null;
  switch (typeof value) {
    case "string":
    case "boolean":
      return value;
    case "number":
      return Number.isFinite(value) ? value : null;
    case "object": {
      if (Array.isArray(value)) return value.map((item) => (item === undefined ? null : toJsonValue(item)));
      if (value instanceof Date) return tag("date", value.toISOString());
      if (value instanceof Uint8Array) return tag("bytes", Buffer.from(value).toString("base64"));
      if (value instanceof URL) return tag("url", value.href);
      if (value instanceof Error) return tag("error", { name: value.name, message: value.message });
      const out: { [key: string]: JsonValue } = {};
      for (const [key, member] of Object.entries(value)) {
        if (member === undefined || typeof member === "function" || typeof member === "symbol") continue;
        out[key] = toJsonValue(member);
      }
      return out;
    }
    default:
      return null;
  }
}

function tag(type: Tagged["$type"], value: JsonValue): JsonValue {
  return { $type: type, value };
}

export function fromJsonValue(value: JsonValue): unknown {
  if (value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) return value.map(fromJsonValue);
  const keys = Object.keys(value);
  if (keys.length === 2 && typeof value["$type"] === "string" && "value" in value) {
    const inner = value["value"] as JsonValue;
    switch (value["$type"]) {
      case "date":
        return new Date(inner as string);
      case "bytes":
        return new Uint8Array(Buffer.from(inner as string, "base64"));
      case "url":
        return new URL(inner as string);
      case "error": {
        const record = inner as { name: string; message: string };
        const error = new Error(record.message);
        error.name = record.name;
        return error;
      }
    }
  }
  const out: Record<string, unknown> = {};
  for (const [key, member] of Object.entries(value)) out[key] = fromJsonValue(member);
  return out;
}

/**
 * What the cache and the journal keep of a generate result: everything the caller reads,
 * without the raw request and response bodies and headers (large, and they may hold
 * secrets or cookies). The request id is kept separately.
 */
export function encodeGenerateResult(result: LanguageModelV4GenerateResult): JsonValue {
  return toJsonValue({
    content: result.content,
    finishReason: result.finishReason,
    usage: result.usage,
    providerMetadata: result.providerMetadata,
    structuredOutputText: result.structuredOutputText,
    response:
      result.response === undefined
        ? undefined
        : { id: result.response.id, timestamp: result.response.timestamp, modelId: result.response.modelId },
    warnings: result.warnings,
  });
}

export function decodeGenerateResult(value: JsonValue): LanguageModelV4GenerateResult {
  return fromJsonValue(value) as LanguageModelV4GenerateResult;
}

export function encodeStreamParts(parts: readonly LanguageModelV4StreamPart[]): JsonValue {
  return parts.map(toJsonValue);
}

export function decodeStreamParts(value: JsonValue): LanguageModelV4StreamPart[] {
  return (value as JsonValue[]).map((part) => fromJsonValue(part) as LanguageModelV4StreamPart);
}

/** A stream that yields `parts` in order, then closes. */
export function streamOf<T>(parts: readonly T[]): ReadableStream<T> {
  let i = 0;
  return new ReadableStream<T>({
    pull(controller) {
      if (i < parts.length) controller.enqueue(parts[i++] as T);
      else controller.close();
    },
  });
}

/** The usage figures the journal, costs and budgets use. */
export interface TokenUsage {
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
  reasoningTokens: number;
}

export const ZERO_USAGE: TokenUsage = {
  inputTokens: 0,
  outputTokens: 0,
  cacheReadTokens: 0,
  cacheWriteTokens: 0,
  reasoningTokens: 0,
};

export function tokenUsage(usage: LanguageModelV4Usage | undefined): TokenUsage {
  if (usage === undefined) return { ...ZERO_USAGE };
  return {
    inputTokens: usage.inputTokens?.total ?? 0,
    outputTokens: usage.outputTokens?.total ?? 0,
    cacheReadTokens: usage.inputTokens?.cacheRead ?? 0,
    cacheWriteTokens: usage.inputTokens?.cacheWrite ?? 0,
    reasoningTokens: usage.outputTokens?.reasoning ?? 0,
  };
}
