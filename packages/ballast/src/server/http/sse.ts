import { once } from "node:events";
import type { ServerResponse } from "node:http";
import type { FastifyReply } from "fastify";
import { envelopeOf } from "../errors.ts";
import { serverMetrics } from "../metrics.ts";

/**
 * Server-Sent Events for live run streams: one `id`/`event`/`data` frame per journal event,
 * `event: error` with the error envelope if the stream fails, and `event: end` when the run
 * has ended. Frames are written only when the socket has room (backpressure reaches the
 * journal reader), and a comment line every `heartbeatMs` keeps proxies from timing out.
 */

export interface SseOptions {
  traceId: string;
  heartbeatMs?: number;
  /** Aborted here when the client goes away; the producer should stop then. */
  controller: AbortController;
}

export async function streamSse(
  reply: FastifyReply,
  events: AsyncIterable<unknown>,
  options: SseOptions,
): Promise<void> {
  reply.hijack();
  const raw = reply.raw as ServerResponse;
  // Headers set by hooks (CORS, traceparent) live on the reply until send(); copy them over.
  for (const [name, value] of Object.entries(reply.getHeaders())) {
    if (value !== undefined) raw.setHeader(name, value as string);
  }
  raw.writeHead(200, {
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-cache, no-transform",
    "x-accel-buffering": "no",
    "x-trace-id": options.traceId,
  });
  const { controller } = options;
  const close = () => controller.abort();
  raw.on("close", close);
  const heartbeat = setInterval(() => {
    if (!raw.writableEnded) raw.write(": keep-alive\n\n");
  }, options.heartbeatMs ?? 15_000);
  heartbeat.unref();
  const write = async (frame: string) => {
    if (!raw.write(frame) && !controller.signal.aborted) {
      await Promise.race([once(raw, "drain"), once(controller.signal, "abort")]);
    }
  };
  try {
    for await (const item of events) {
      if (controller.signal.aborted) break;
      const event = item as { seq?: number; type?: string };
      await write(
        `id: ${event.seq ?? ""}\nevent: ${event.type ?? "message"}\ndata: ${JSON.stringify(item)}\n\n`,
      );
      serverMetrics.streamEvents.inc({ transport: "sse" });
    }
    if (!controller.signal.aborted) await write("event: end\ndata: {}\n\n");
  } catch (error) {
    if (!controller.signal.aborted) {
      await write(`event: error\ndata: ${JSON.stringify(envelopeOf(error, options.traceId))}\n\n`);
    }
  } finally {
    clearInterval(heartbeat);
    raw.off("close", close);
    if (!raw.writableEnded) raw.end();
  }
}
