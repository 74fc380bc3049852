import { canonicalJson, sha256Hex } from "../canonical.ts";

/**
 * Trace ids. A request's `traceId` is a pure function of what was asked (the operation and
 * its input), never of the caller's `traceparent`: the same request gets the same id on
 * every transport and in every run of a test, which is what lets the audit log, the error
 * envelope and a replayed request line up (seed 002 TL-6). A valid `traceparent` is echoed
 * back unchanged so the caller's own tracing keeps working.
 */

const TRACEPARENT = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;

/** The 32-hex-digit trace id of `operation` called with `input`. */
export function traceIdOf(operation: string, input: unknown): string {
  let body: string;
  try {
    body = canonicalJson({ operation, input: input ?? null });
  } catch {
    body = canonicalJson({ operation, input: String(input) });
  }
  return sha256Hex(body).slice(0, 32);
}

/** The header value to echo, or undefined when there is none or it is not a W3C traceparent. */
export function echoTraceparent(value: string | readonly string[] | undefined): string | undefined {
  const single = Array.isArray(value) ? value[0] : value;
  if (typeof single !== "string") return undefined;
  const trimmed = single.trim();
  if (!TRACEPARENT.test(trimmed) || trimmed.startsWith("ff")) return undefined;
  return trimmed;
}
