import fastifyCompress from "@fastify/compress";
import fastifyCors, { type FastifyCorsOptions } from "@fastify/cors";
import fastifyRateLimit from "@fastify/rate-limit";
import Fastify, {
  type FastifyError,
  type FastifyInstance,
  type FastifyRequest,
  type FastifyServerOptions,
} from "fastify";
import type { Dispatcher } from "../dispatcher.ts";
import { codeForStatus, ServerError } from "../errors.ts";
import { recordHttp } from "../metrics.ts";
import { hashToken, presentedToken } from "../tokens.ts";
import { echoTraceparent, traceIdOf } from "../trace.ts";
import { sendError } from "./respond.ts";

/**
 * The Fastify instance every HTTP surface shares: body limit, timeouts, CORS (off unless
 * origins are configured), gzip (off unless asked), per-token rate limits, traceparent echo,
 * request metrics, and one error handler and one not-found handler that answer with the
 * error envelope. Routes are added by the caller.
 */

export interface HttpAppOptions {
  dispatcher: Dispatcher;
  bodyLimit: number;
  /** Keep-alive idle timeout of connections (ms). */
  idleTimeoutMs: number;
  cors: { origins: readonly string[] } | false;
  gzip: { threshold: number } | false;
  rateLimit: { max: number; windowMs: number } | false;
  /** HTTP/2: cleartext (h2c, for gRPC) or, with `tls`, TLS with HTTP/1.1 fallback. */
  http2?: boolean;
  tls?: { cert: string | Buffer; key: string | Buffer } | undefined;
}

type CorsCallback = (error: Error | null, options: FastifyCorsOptions) => void;

/** Paths never rate-limited (their routes opt out): probes and scrapes must keep working. */
export const RATE_LIMIT_EXEMPT: ReadonlySet<string> = new Set(["/metrics", "/v1/health"]);

const CORS_ALLOWED_HEADERS = [
  "authorization",
  "x-api-token",
  "x-tenant",
  "content-type",
  "traceparent",
  "last-event-id",
  "connect-protocol-version",
  "connect-timeout-ms",
  "grpc-timeout",
  "x-grpc-web",
  "x-user-agent",
];
const CORS_EXPOSED_HEADERS = [
  "traceparent",
  "x-trace-id",
  "retry-after",
  "grpc-status",
  "grpc-message",
  "grpc-status-details-bin",
];

function pathOf(url: string): string {
  const q = url.indexOf("?");
  return q === -1 ? url : url.slice(0, q);
}

export async function createHttpApp(options: HttpAppOptions): Promise<FastifyInstance> {
  const base: FastifyServerOptions = {
    logger: false,
    bodyLimit: options.bodyLimit,
    keepAliveTimeout: options.idleTimeoutMs,
    forceCloseConnections: true,
    return503OnClosing: true,
    // Our own ids are the deterministic trace ids; no request-id header is trusted.
    requestIdHeader: false,
  };
  const serverOptions: Record<string, unknown> = { ...base };
  if (options.tls !== undefined) {
    serverOptions["https"] = options.http2
      ? { allowHTTP1: true, cert: options.tls.cert, key: options.tls.key }
      : { cert: options.tls.cert, key: options.tls.key };
  }
  if (options.http2) serverOptions["http2"] = true;
  const app = Fastify(serverOptions as FastifyServerOptions) as unknown as FastifyInstance;

  // Callback hooks, not async ones: they run on every request, and a promise each adds up.
  app.addHook("onRequest", (request, reply, done) => {
    const traceparent = echoTraceparent(request.headers.traceparent);
    if (traceparent !== undefined) reply.header("traceparent", traceparent);
    done();
  });
  app.addHook("onResponse", (request, reply, done) => {
    recordHttp(
      request.routeOptions.url ?? "unmatched",
      request.method,
      reply.statusCode,
      reply.elapsedTime / 1000,
    );
    done();
  });

  if (options.cors !== false) {
    const allowed = new Set(options.cors.origins);
    // Per request: no Origin means no CORS at all (so OPTIONS answers with Allow); an
    // unknown Origin gets no Access-Control-Allow-Origin, which is the browser's deny.
    await app.register(fastifyCors, () => (request: FastifyRequest, callback: CorsCallback) => {
      const origin = request.headers.origin;
      if (origin === undefined) {
        callback(null, { origin: false });
        return;
      }
      callback(null, {
        origin: allowed.has(origin) ? origin : false,
        methods: ["GET", "HEAD", "POST", "OPTIONS"],
        allowedHeaders: CORS_ALLOWED_HEADERS,
        exposedHeaders: CORS_EXPOSED_HEADERS,
        maxAge: 600,
        strictPreflight: false,
      });
    });
    app.addHook("onRequest", (_request, reply, done) => {
      reply.header("vary", "Origin");
      done();
    });
  }

  if (options.gzip !== false) {
    await app.register(fastifyCompress, {
      global: true,
      encodings: ["gzip"],
      threshold: options.gzip.threshold,
    });
  }

  if (options.rateLimit !== false) {
    const { max, windowMs } = options.rateLimit;
    await app.register(fastifyRateLimit, {
      global: true,
      max,
      timeWindow: windowMs,
      // Per token (its hash: the store must not hold secrets); per address without one.
      keyGenerator: (request) => {
        const token = presentedToken((name) => {
          const value = request.headers[name];
          return Array.isArray(value) ? value[0] : value;
        });
        return typeof token === "string" && token !== "" ? `t:${hashToken(token)}` : `ip:${request.ip}`;
      },
      errorResponseBuilder: (_request, context) => {
        const seconds = Math.max(1, Math.ceil(context.ttl / 1000));
        const error = new ServerError(
          "rate_limited",
          `Rate limit of ${context.max} requests per ${context.after} reached for this token; retry in ${seconds} s.`,
          { retryAfterSeconds: seconds },
        );
        return Object.assign(error, { statusCode: 429 });
      },
    });
  }

  app.setNotFoundHandler(async (request, reply) =>
    sendError(
      reply,
      new ServerError(
        "not_found",
        `No route ${request.method} ${pathOf(request.url)}; the API is under /v1.`,
      ),
      traceIdOf("http.not_found", { method: request.method, path: pathOf(request.url) }),
    ),
  );

  app.setErrorHandler(async (error: FastifyError | ServerError, request, reply) => {
    const traceId = traceIdOf("http.error", { method: request.method, path: pathOf(request.url) });
    if (error instanceof ServerError) return sendError(reply, error, traceId);
    const status = (error as FastifyError).statusCode;
    if (error.code === "FST_ERR_CTP_BODY_TOO_LARGE" || status === 413) {
      return sendError(
        reply,
        new ServerError(
          "payload_too_large",
          `The request body is larger than this server's limit of ${options.bodyLimit} bytes; nothing was processed. Send less, or raise the limit (--body-limit, BALLAST_SERVER_BODY_LIMIT).`,
        ),
        traceId,
      );
    }
    if (typeof status === "number" && status >= 400 && status < 500) {
      // Fastify's own client errors: bad JSON, wrong content type, empty body ...
      return sendError(reply, new ServerError(codeForStatus(status), error.message), traceId);
    }
    options.dispatcher.failed("http.error", "http", error, traceId);
    return sendError(reply, error, traceId);
  });

  return app;
}
