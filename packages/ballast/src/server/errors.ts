import { BallastError } from "../errors.ts";
import { redact } from "../guard/redact.ts";

/**
 * The server's one error envelope, `{ error: { code, message, traceId } }`, and the fixed
 * table that maps its stable codes onto HTTP statuses and gRPC codes. Every transport
 * (REST, Connect, gRPC, gRPC-Web, the OpenAI proxy, MCP) answers failures through it.
 */

/** Stable envelope codes. Never reworded; new ones are only ever added. */
export const SERVER_CODES = {
  invalid_argument: { status: 400, grpc: "invalid_argument" },
  unauthorized: { status: 401, grpc: "unauthenticated" },
  forbidden: { status: 403, grpc: "permission_denied" },
  not_found: { status: 404, grpc: "not_found" },
  method_not_allowed: { status: 405, grpc: "unimplemented" },
  conflict: { status: 409, grpc: "already_exists" },
  failed_precondition: { status: 409, grpc: "failed_precondition" },
  payload_too_large: { status: 413, grpc: "resource_exhausted" },
  unsupported_media_type: { status: 415, grpc: "invalid_argument" },
  budget_exceeded: { status: 429, grpc: "resource_exhausted" },
  rate_limited: { status: 429, grpc: "resource_exhausted" },
  internal: { status: 500, grpc: "internal" },
  not_implemented: { status: 501, grpc: "unimplemented" },
  upstream_failed: { status: 502, grpc: "unavailable" },
  unavailable: { status: 503, grpc: "unavailable" },
  deadline_exceeded: { status: 504, grpc: "deadline_exceeded" },
} as const;

export type ServerCode = keyof typeof SERVER_CODES;
export type GrpcCodeName = (typeof SERVER_CODES)[ServerCode]["grpc"];

export interface ErrorEnvelope {
  error: { code: ServerCode; message: string; traceId: string };
}

/** An error that reaches a client with a known envelope code. */
export class ServerError extends BallastError {
  readonly serverCode: ServerCode;

  constructor(
    code: ServerCode,
    message: string,
    options: { cause?: unknown; retryAfterSeconds?: number } = {},
  ) {
    super({
      code,
      message,
      cause: options.cause,
      isRetryable: code === "unavailable" || code === "rate_limited" || code === "deadline_exceeded",
      ...(options.retryAfterSeconds === undefined
        ? {}
        : { details: { retryAfterSeconds: options.retryAfterSeconds } }),
    });
    this.name = "ServerError";
    this.serverCode = code;
  }
}

const NOT_FOUND = /(?:^|_)not_found$/;
const PRECONDITION = new Set(["run_finished", "run_not_finished", "run_not_resumable", "replay_divergence"]);
const CONFLICT = new Set(["run_exists"]);

/**
 * The envelope code of any thrown value. Ballast errors keep their message (they are
 * written for users, and redacted on the way out); anything else becomes `internal` with a
 * generic message, so no stack, path or secret leaks.
 */
export function classify(error: unknown): { code: ServerCode; message: string } {
  if (error instanceof ServerError) return { code: error.serverCode, message: error.message };
  if (BallastError.isInstance(error)) {
    const code = error.code;
    if (NOT_FOUND.test(code)) return { code: "not_found", message: error.message };
    if (CONFLICT.has(code)) return { code: "conflict", message: error.message };
    if (PRECONDITION.has(code)) return { code: "failed_precondition", message: error.message };
    if (code === "budget_exceeded") return { code: "budget_exceeded", message: error.message };
    if (code === "deadline_exceeded") return { code: "deadline_exceeded", message: error.message };
    if (code === "model_call_failed" && !error.isRetryable)
      return { code: "upstream_failed", message: error.message };
    if (error.name === "ValidationError" || code.startsWith("invalid_") || code.endsWith("_invalid")) {
      return { code: "invalid_argument", message: error.message };
    }
    if (error.isRetryable) return { code: "unavailable", message: error.message };
    return { code: "internal", message: error.message };
  }
  return {
    code: "internal",
    message: "The server failed to handle this request; the server log has the details.",
  };
}

export function statusOf(code: ServerCode): number {
  return SERVER_CODES[code].status;
}

/** The envelope of `error`, redacted, for `traceId`. */
export function envelopeOf(error: unknown, traceId: string): ErrorEnvelope {
  const { code, message } = classify(error);
  return { error: { code, message: redact(message), traceId } };
}

/** The envelope code an HTTP status means when the failure came from outside our handlers. */
export function codeForStatus(status: number): ServerCode {
  for (const [code, entry] of Object.entries(SERVER_CODES) as [
    ServerCode,
    (typeof SERVER_CODES)[ServerCode],
  ][]) {
    if (entry.status === status) return code;
  }
  return status >= 500 ? "internal" : "invalid_argument";
}
