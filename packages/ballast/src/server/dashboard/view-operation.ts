import type { FastifyReply, FastifyRequest } from "fastify";
import type { z } from "zod";
import type { CallMeta, Dispatcher } from "../dispatcher.ts";
import { classify, ServerError } from "../errors.ts";
import { httpMeta, sendError } from "../http/respond.ts";
import { streamSse } from "../http/sse.ts";
import { serverMetrics } from "../metrics.ts";
import type { CallContext, ServiceDeps } from "../operations.ts";
import { traceIdOf } from "../trace.ts";

/**
 * Operations the dashboard adds to the API (run views, actions, budgeted selection), run the
 * way the dispatcher runs its own: authenticate → validate → authorise (RBAC, with the
 * owning tenant of the run) → the handler under a deadline, one error envelope. The
 * dispatcher's table is fixed, so these go through its gatekeeper directly; a 401 or 403 is
 * audited there exactly as for every other route.
 */

export interface ViewOperation<I, O> {
  readonly action: string;
  readonly input: z.ZodType<I>;
  /** The resource path inside the tenant (`runs/<id>`). */
  path(input: NoInfer<I>): string;
  owner?(input: NoInfer<I>, deps: ServiceDeps): Promise<string | undefined>;
  run?(input: NoInfer<I>, ctx: CallContext, deps: ServiceDeps): Promise<O>;
  stream?(input: NoInfer<I>, ctx: CallContext, deps: ServiceDeps): AsyncIterable<unknown>;
}

export function viewOperation<I, O>(definition: ViewOperation<I, O>): ViewOperation<I, O> {
  return definition;
}

async function admit<I>(
  dispatcher: Dispatcher,
  name: string,
  operation: ViewOperation<I, unknown>,
  raw: unknown,
  meta: CallMeta,
  traceId: string,
  signal: AbortSignal,
): Promise<{ input: I; ctx: CallContext }> {
  const { gatekeeper, deps } = dispatcher;
  const base = { action: operation.action, transport: meta.transport, traceId };
  const principal = gatekeeper.authenticate(meta.header, { ...base, path: name });
  const parsed = operation.input.safeParse(raw ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const where = issue.path.length > 0 ? `${issue.path.join(".")}: ` : "";
    throw new ServerError("invalid_argument", `Invalid ${name} request: ${where}${issue.message}.`);
  }
  const input = parsed.data;
  const tenant = gatekeeper.requestTenant(principal, meta.header);
  const ownerTenant = operation.owner ? await operation.owner(input, deps) : undefined;
  gatekeeper.authorize(principal, tenant, { ...base, path: operation.path(input), ownerTenant });
  return { input, ctx: { principal, tenant, traceId, transport: meta.transport, signal } };
}

function count(name: string, code: string): void {
  serverMetrics.operations.inc({ operation: name, transport: "http", code });
}

/** A Fastify handler for a unary view operation: JSON out, or the error envelope. */
export function unaryView<I, O>(
  dispatcher: Dispatcher,
  name: string,
  operation: ViewOperation<I, O>,
  input: (request: FastifyRequest) => unknown,
  deadlineMs: number,
) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    const raw = input(request);
    const traceId = traceIdOf(name, raw);
    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    try {
      const { input: parsed, ctx } = await admit(
        dispatcher,
        name,
        operation,
        raw,
        httpMeta(request),
        traceId,
        controller.signal,
      );
      const deadline = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          const error = new ServerError(
            "deadline_exceeded",
            `${name} did not finish within its ${deadlineMs} ms deadline; try a narrower request.`,
          );
          controller.abort(error);
          reject(error);
        }, deadlineMs);
      });
      const value = await Promise.race([operation.run!(parsed, ctx, dispatcher.deps), deadline]);
      count(name, "ok");
      return reply.header("x-trace-id", traceId).send(value);
    } catch (error) {
      const { code } = classify(error);
      count(name, code);
      if (code === "internal") dispatcher.failed(name, "http", error, traceId);
      return sendError(reply, error, traceId);
    } finally {
      clearTimeout(timer);
    }
  };
}

/** A Fastify handler for a streaming view operation, as Server-Sent Events. */
export function streamView<I>(
  dispatcher: Dispatcher,
  name: string,
  operation: ViewOperation<I, unknown>,
  input: (request: FastifyRequest) => unknown,
  heartbeatMs: number | undefined,
) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    const raw = input(request);
    const traceId = traceIdOf(name, raw);
    const controller = new AbortController();
    try {
      const { input: parsed, ctx } = await admit(
        dispatcher,
        name,
        operation,
        raw,
        httpMeta(request, controller.signal),
        traceId,
        controller.signal,
      );
      count(name, "ok");
      await streamSse(reply, operation.stream!(parsed, ctx, dispatcher.deps), {
        traceId,
        controller,
        ...(heartbeatMs === undefined ? {} : { heartbeatMs }),
      });
      return reply;
    } catch (error) {
      count(name, classify(error).code);
      return sendError(reply, error, traceId);
    }
  };
}
