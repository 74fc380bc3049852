import type {
  LanguageModelV4,
  LanguageModelV4CallOptions,
  LanguageModelV4StreamPart,
  LanguageModelV4StreamResult,
} from "@ai-sdk/provider";
import type { JsonValue } from "../canonical.ts";
import { RetryableError } from "../errors.ts";
import { fromJsonValue, toJsonValue } from "./codec.ts";
import { StreamInterruptedError } from "./errors.ts";
import { disposeOutcome, type Outcome, type PipelineHost } from "./pipeline.ts";
import { classifyFailure } from "./retry.ts";

/**
 * Streams. An attempt opens the provider's stream and reads up to the first content part
 * (past `stream-start` and `response-metadata`) before anything reaches the caller: until
 * then a failure (an error part, a dropped connection, the first-chunk timeout) is an
 * ordinary attempt failure, retried or handed to a fallback. From the first chunk on, the
 * call is committed to that model: a failure surfaces as a `StreamInterruptedError`, never
 * retried and never a silently truncated success. The `finish` part is held back until the
 * provider's stream has closed and the call is journaled, so a caller that saw `finish`
 * knows the call is durable.
 */

type Part = LanguageModelV4StreamPart;

export interface OpenedStream {
  reader: ReadableStreamDefaultReader<Part>;
  /** Parts read while waiting for the first chunk, the first chunk last. */
  head: Part[];
  request?: LanguageModelV4StreamResult["request"];
  response?: LanguageModelV4StreamResult["response"];
}

const PRELUDE: ReadonlySet<string> = new Set(["stream-start", "response-metadata"]);

function asError(value: unknown): unknown {
  if (value instanceof Error || (typeof value === "object" && value !== null && "message" in value))
    return value;
  return new Error(typeof value === "string" ? value : JSON.stringify(value));
}

export async function openStream(
  model: LanguageModelV4,
  params: LanguageModelV4CallOptions,
): Promise<OpenedStream> {
  const result = await model.doStream(params);
  const reader = result.stream.getReader();
  const head: Part[] = [];
  try {
    for (;;) {
      const next = await reader.read();
      if (next.done) {
        throw new RetryableError({
          code: "stream_empty",
          message: `The stream from ${model.provider}:${model.modelId} ended before any content.`,
        });
      }
      const part = next.value;
      if (part.type === "error") {
        // The provider accepted the request, then failed before content: worth another attempt.
        const info = classifyFailure(asError(part.error));
        throw new RetryableError({
          code: "stream_error",
          message: `The stream from ${model.provider}:${model.modelId} failed before any content: ${info.message}`,
          cause: part.error,
        });
      }
      head.push(part);
      if (!PRELUDE.has(part.type)) break;
    }
  } catch (error) {
    reader.cancel(error).catch(() => {});
    throw error;
  }
  return {
    reader,
    head,
    ...(result.request === undefined ? {} : { request: result.request }),
    ...(result.response === undefined ? {} : { response: result.response }),
  };
}

export interface RelayOptions {
  opened: OpenedStream;
  outcome: Pick<Outcome<unknown, unknown>, "callSignal" | "attemptSignals">;
  model: string;
  /** Collect (and encode) every part, for the cache or the journal. */
  keepParts: boolean;
  /** Give the caller the journaled form of each part (inside a run: live = replay). */
  normalise: boolean;
  callerSignal: AbortSignal | undefined;
  onComplete(parts: Part[], encoded: JsonValue[] | undefined): Promise<void>;
  /** The call failed mid-stream, or (`cancelled`) the caller stopped reading. */
  onFailure(error: unknown, cancelled: boolean): void;
  host: PipelineHost;
  candidateKey: string;
}

export function relayStream(options: RelayOptions): ReadableStream<Part> {
  const { reader, head } = options.opened;
  const parts: Part[] = [];
  const encoded: JsonValue[] | undefined = options.keepParts ? [] : undefined;
  const held: Part[] = [];
  let finishPart: Part | undefined;
  let headIndex = 0;
  let settled = false;

  const keep = (part: Part): Part => {
    if (encoded === undefined) return part;
    parts.push(part);
    const json = toJsonValue(part);
    encoded.push(json);
    return options.normalise ? (fromJsonValue(json) as Part) : part;
  };

  const settle = () => {
    settled = true;
    disposeOutcome(options.outcome);
  };

  const fail = (controller: ReadableStreamDefaultController<Part>, raw: unknown) => {
    if (settled) return;
    settle();
    reader.cancel(raw).catch(() => {});
    const timeout = options.outcome.callSignal.timedOut();
    let error: unknown;
    if (timeout === undefined && options.callerSignal?.aborted) error = raw;
    else {
      const cause = timeout ?? asError(raw);
      const info = classifyFailure(cause);
      if (info.countsAgainstProvider) options.host.breaker(options.candidateKey).onFailure();
      error =
        cause instanceof StreamInterruptedError
          ? cause
          : new StreamInterruptedError({
              model: options.model,
              reason: info.message,
              ...(info.requestId ? { requestId: info.requestId } : {}),
              cause,
            });
    }
    options.onFailure(error, false);
    controller.error(error);
  };

  return new ReadableStream<Part>({
    async pull(controller) {
      try {
        for (;;) {
          let part: Part;
          if (headIndex < head.length) part = head[headIndex++] as Part;
          else {
            const next = await reader.read();
            if (next.done) {
              if (finishPart === undefined) throw new Error("the stream ended without a finish event");
              await options.onComplete(parts, encoded);
              settle();
              controller.enqueue(finishPart);
              for (const p of held) controller.enqueue(p);
              controller.close();
              return;
            }
            part = next.value;
          }
          if (part.type === "error") throw asError(part.error);
          if (finishPart === undefined && part.type === "finish") {
            const reason = part.finishReason.unified;
            if (reason === "interrupted" || reason === "error") {
              throw new Error(`the provider ended the stream with finish reason "${reason}"`);
            }
            finishPart = keep(part);
            continue;
          }
          const out = keep(part);
          if (finishPart !== undefined) {
            held.push(out);
            continue;
          }
          controller.enqueue(out);
          return;
        }
      } catch (error) {
        fail(controller, error);
      }
    },
    cancel(reason) {
      if (settled) return;
      settle();
      reader.cancel(reason).catch(() => {});
      options.onFailure(reason ?? new Error("the caller cancelled the stream"), true);
    },
  });
}
