import type {
  FastifyContextConfig,
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
  HTTPMethods,
} from "fastify";
import type { Dispatcher } from "../dispatcher.ts";
import { ServerError } from "../errors.ts";
import type { OperationName } from "../operations.ts";
import { traceIdOf } from "../trace.ts";
import { RATE_LIMIT_EXEMPT } from "./app.ts";
import { httpMeta, queryInput, sendError, sendOutcome } from "./respond.ts";
import { streamSse } from "./sse.ts";

/**
 * The REST routes. Each turns the request into the operation's JSON input and hands it to
 * the dispatcher; nothing here decides anything. Every path answers OPTIONS with `Allow`
 * and any other method with 405 (there is no DELETE anywhere: runs are archived, never
 * erased).
 */

type Handler = (request: FastifyRequest, reply: FastifyReply) => Promise<unknown>;

const ALL_METHODS: readonly HTTPMethods[] = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"];

/** Registers `handlers` on `url`, OPTIONS with `Allow`, and 405 for every other method. */
export function resource(
  app: FastifyInstance,
  url: string,
  handlers: Partial<Record<"GET" | "POST", Handler>>,
): void {
  const allowed: string[] = [];
  // Exempt routes get no rate-limit hook at all (probes and scrapes must keep working).
  const config: FastifyContextConfig = RATE_LIMIT_EXEMPT.has(url) ? { rateLimit: false } : {};
  for (const [method, handler] of Object.entries(handlers) as ["GET" | "POST", Handler][]) {
    app.route({ method, url, handler, config });
    allowed.push(method);
    if (method === "GET") allowed.push("HEAD");
  }
  allowed.push("OPTIONS");
  const allow = ALL_METHODS.filter((m) => allowed.includes(m)).join(", ");
  app.route({
    method: "OPTIONS",
    url,
    handler: async (_request, reply) => reply.code(204).header("allow", allow).send(),
  });
  const others = ALL_METHODS.filter((m) => !allowed.includes(m));
  app.route({
    method: others,
    url,
    handler: async (request, reply) => {
      reply.header("allow", allow);
      return sendError(
        reply,
        new ServerError("method_not_allowed", `${request.method} is not allowed on ${url}; use ${allow}.`),
        traceIdOf("http.method_not_allowed", { method: request.method, url }),
      );
    },
  });
}

function unary(
  dispatcher: Dispatcher,
  name: OperationName,
  input: (request: FastifyRequest) => unknown,
): Handler {
  return async (request, reply) =>
    sendOutcome(reply, await dispatcher.call(name, input(request), httpMeta(request)));
}

function params(request: FastifyRequest): Record<string, string> {
  return request.params as Record<string, string>;
}

function body(request: FastifyRequest): Record<string, unknown> {
  const value = request.body;
  if (value === undefined || value === null) return {};
  if (typeof value !== "object" || Array.isArray(value)) {
    // Checked again by the operation's schema; this keeps spreads below well-defined.
    return { body: value as unknown };
  }
  return value as Record<string, unknown>;
}

export function registerHealthRoute(app: FastifyInstance, dispatcher: Dispatcher): void {
  resource(app, "/v1/health", { GET: unary(dispatcher, "health", () => ({})) });
}

export function registerRestRoutes(
  app: FastifyInstance,
  dispatcher: Dispatcher,
  options: { sseHeartbeatMs?: number },
): void {
  registerHealthRoute(app, dispatcher);

  resource(app, "/v1/runs", {
    GET: unary(dispatcher, "runs.list", (r) => queryInput(r.query, ["limit"])),
    POST: unary(dispatcher, "runs.start", (r) => body(r)),
  });
  resource(app, "/v1/runs/:id", { GET: unary(dispatcher, "runs.get", (r) => ({ runId: params(r)["id"] })) });
  resource(app, "/v1/runs/:id/cancel", {
    POST: unary(dispatcher, "runs.cancel", (r) => ({ ...body(r), runId: params(r)["id"] })),
  });
  resource(app, "/v1/runs/:id/budget", {
    GET: unary(dispatcher, "budget.get", (r) => ({ runId: params(r)["id"] })),
  });
  resource(app, "/v1/runs/:id/budget/history", {
    GET: unary(dispatcher, "budget.history", (r) => ({
      ...queryInput(r.query, ["limit"]),
      runId: params(r)["id"],
    })),
  });
  resource(app, "/v1/runs/:id/events", {
    GET: async (request, reply) => {
      const query = queryInput(request.query, ["fromSeq"]);
      // EventSource reconnects with Last-Event-ID: carry on after the last event it saw.
      const lastId = request.headers["last-event-id"];
      if (query["fromSeq"] === undefined && typeof lastId === "string" && /^\d+$/.test(lastId)) {
        query["fromSeq"] = Number(lastId) + 1;
      }
      const controller = new AbortController();
      const input = { ...query, runId: params(request)["id"] };
      const outcome = await dispatcher.open("runs.watch", input, httpMeta(request, controller.signal));
      if (!outcome.ok) return sendError(reply, outcome.error, outcome.traceId);
      await streamSse(reply, outcome.value, {
        traceId: outcome.traceId,
        controller,
        ...(options.sseHeartbeatMs === undefined ? {} : { heartbeatMs: options.sseHeartbeatMs }),
      });
      return reply;
    },
  });

  resource(app, "/v1/search", { POST: unary(dispatcher, "context.search", (r) => body(r)) });
  resource(app, "/v1/audit", {
    GET: unary(dispatcher, "audit.list", (r) => queryInput(r.query, ["limit"])),
  });
  resource(app, "/metrics", {
    GET: async (request, reply) => {
      const outcome = await dispatcher.call("metrics.read", {}, httpMeta(request));
      if (!outcome.ok) return sendError(reply, outcome.error, outcome.traceId);
      return reply
        .header("content-type", "text/plain; version=0.0.4; charset=utf-8")
        .header("x-trace-id", outcome.traceId)
        .send(outcome.value);
    },
  });
}
