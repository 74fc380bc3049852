import { type DescMessage, fromJson, type JsonValue, type MessageShape, toJson } from "@bufbuild/protobuf";
import { Code, ConnectError, type ConnectRouter, type HandlerContext } from "@connectrpc/connect";
import { fastifyConnectPlugin } from "@connectrpc/connect-fastify";
import type { FastifyInstance } from "fastify";
import type { CallMeta, Dispatcher } from "../dispatcher.ts";
import { envelopeOf, type GrpcCodeName, SERVER_CODES } from "../errors.ts";
import { serverMetrics } from "../metrics.ts";
import type { OperationName } from "../operations.ts";
import { BallastService, ErrorInfoSchema } from "./ballast_pb.ts";

/**
 * The gRPC, Connect and gRPC-Web transports, through Connect's Fastify plugin. Each method
 * converts its request message to the operation's JSON input (proto3 JSON is the HTTP
 * API's JSON), calls the same dispatcher as the REST routes, and converts the JSON result
 * back. Errors carry the REST envelope as an `ErrorInfo` detail and the matching gRPC code.
 */

const GRPC_CODES: Record<GrpcCodeName, Code> = {
  invalid_argument: Code.InvalidArgument,
  unauthenticated: Code.Unauthenticated,
  permission_denied: Code.PermissionDenied,
  not_found: Code.NotFound,
  unimplemented: Code.Unimplemented,
  already_exists: Code.AlreadyExists,
  failed_precondition: Code.FailedPrecondition,
  resource_exhausted: Code.ResourceExhausted,
  internal: Code.Internal,
  unavailable: Code.Unavailable,
  deadline_exceeded: Code.DeadlineExceeded,
};

/** The ConnectError for a failure: the envelope's code and message, the envelope as a detail. */
export function connectErrorOf(error: unknown, traceId: string): ConnectError {
  const envelope = envelopeOf(error, traceId).error;
  return new ConnectError(
    envelope.message,
    GRPC_CODES[SERVER_CODES[envelope.code].grpc],
    { "x-trace-id": traceId },
    [{ desc: ErrorInfoSchema, value: envelope }],
  );
}

/** A request message as the operation's JSON input; a message that has no JSON form is the caller's error. */
function inputOf<D extends DescMessage>(desc: D, request: MessageShape<D>): JsonValue {
  try {
    return toJson(desc, request);
  } catch (error) {
    throw new ConnectError(`The request cannot be read: ${(error as Error).message}`, Code.InvalidArgument);
  }
}

function connectMeta(ctx: HandlerContext): CallMeta {
  return {
    transport: ctx.protocolName,
    header: (name) => ctx.requestHeader.get(name) ?? undefined,
    signal: ctx.signal,
    deadlineMs: ctx.timeoutMs(),
  };
}

/** JSON from our handlers into a message; a value the schema does not describe is a bug (internal). */
function toMessage<D extends DescMessage>(desc: D, value: unknown): MessageShape<D> {
  return fromJson(desc, JSON.parse(JSON.stringify(value)) as JsonValue);
}

type UnaryMethod = keyof typeof BallastService.method;

const UNARY: Partial<Record<UnaryMethod, OperationName>> = {
  health: "health",
  listRuns: "runs.list",
  getRun: "runs.get",
  startRun: "runs.start",
  cancelRun: "runs.cancel",
  getBudget: "budget.get",
  getBudgetHistory: "budget.history",
  search: "context.search",
  listAudit: "audit.list",
};

export function connectRoutes(dispatcher: Dispatcher): (router: ConnectRouter) => void {
  const unary = (method: UnaryMethod, name: OperationName) => {
    const desc = BallastService.method[method];
    return async (request: MessageShape<typeof desc.input>, ctx: HandlerContext) => {
      const outcome = await dispatcher.call(name, inputOf(desc.input, request), connectMeta(ctx));
      ctx.responseHeader.set("x-trace-id", outcome.traceId);
      if (!outcome.ok) throw connectErrorOf(outcome.error, outcome.traceId);
      try {
        return toMessage(desc.output, outcome.value);
      } catch (error) {
        throw connectErrorOf(
          dispatcher.failed(name, ctx.protocolName, error, outcome.traceId).error,
          outcome.traceId,
        );
      }
    };
  };
  const implementation: Record<string, unknown> = {};
  for (const [method, name] of Object.entries(UNARY) as [UnaryMethod, OperationName][]) {
    implementation[method] = unary(method, name);
  }
  const watch = BallastService.method.watchRun;
  implementation["watchRun"] = async function* (
    request: MessageShape<typeof watch.input>,
    ctx: HandlerContext,
  ): AsyncGenerator<MessageShape<typeof watch.output>> {
    const outcome = await dispatcher.open("runs.watch", inputOf(watch.input, request), connectMeta(ctx));
    ctx.responseHeader.set("x-trace-id", outcome.traceId);
    if (!outcome.ok) throw connectErrorOf(outcome.error, outcome.traceId);
    try {
      for await (const event of outcome.value) {
        yield toMessage(watch.output, event);
        serverMetrics.streamEvents.inc({ transport: ctx.protocolName });
      }
    } catch (error) {
      throw connectErrorOf(error, outcome.traceId);
    }
  };
  return (router) => {
    router.service(BallastService, implementation as never);
  };
}

export async function registerConnect(
  app: FastifyInstance,
  dispatcher: Dispatcher,
  options: { maxMessageBytes: number },
): Promise<void> {
  await app.register(fastifyConnectPlugin, {
    routes: connectRoutes(dispatcher),
    readMaxBytes: options.maxMessageBytes,
    writeMaxBytes: 64 * 1024 * 1024,
  });
}
