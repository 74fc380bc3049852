import type { FastifyReply, FastifyRequest } from "fastify";
import type { CallMeta, Outcome } from "../dispatcher.ts";
import { classify, envelopeOf, ServerError, statusOf } from "../errors.ts";

/** Glue between Fastify requests and the dispatcher. */

/** The dispatcher's view of a Fastify request. Node lowercases header names already. */
export function httpMeta(request: FastifyRequest, signal?: AbortSignal): CallMeta {
  return {
    transport: "http",
    header: (name) => {
      const value = request.headers[name];
      return Array.isArray(value) ? value.join(", ") : value;
    },
    signal,
  };
}

/** Sends an error envelope (and its status) for `error`. */
export function sendError(reply: FastifyReply, error: unknown, traceId: string): FastifyReply {
  const envelope = envelopeOf(error, traceId);
  if (error instanceof ServerError) {
    const retryAfter = error.details["retryAfterSeconds"];
    if (typeof retryAfter === "number") reply.header("retry-after", String(retryAfter));
  }
  return reply
    .code(statusOf(classify(error).code))
    .header("x-trace-id", traceId)
    .send(envelope);
}

/** Sends a dispatcher outcome: the value as JSON, or the envelope. */
export function sendOutcome(reply: FastifyReply, outcome: Outcome<unknown>): FastifyReply {
  if (!outcome.ok) return sendError(reply, outcome.error, outcome.traceId);
  return reply.header("x-trace-id", outcome.traceId).send(outcome.value);
}

/**
 * Query strings are text: the fields named in `numeric` become numbers when they are
 * numerals (anything else is left for validation to reject), and snake_case keys (`run_id`,
 * as seed 002 writes them) are accepted as their camelCase names.
 */
export function queryInput(query: unknown, numeric: readonly string[] = []): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, raw] of Object.entries((query ?? {}) as Record<string, unknown>)) {
    const name = key.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
    const value = Array.isArray(raw) ? raw[raw.length - 1] : raw;
    if (typeof value !== "string") continue;
    out[name] = numeric.includes(name) && /^-?\d+(?:\.\d+)?$/.test(value) ? Number(value) : value;
  }
  return out;
}
