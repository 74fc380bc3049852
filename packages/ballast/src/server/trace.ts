import { canonicalJson, sha256Hex } from "../canonical.ts";

/**
 * Trace ids. A request's `traceId` is a pure function of what was asked (the operation and
 * its input), never of the caller's `traceparent`: the same request gets the same id on
 * every transport and in every run of a test, which is what lets the audit log, the error
 * envelope and a replayed request line up (seed 002 TL-6). A valid `traceparent` is echoed
 * back unchanged so the caller's own tracing keeps working.
 */

const TRACEPARENT = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;

// Repeated requests (probes, polling) hash the same bytes over and over: remember the last few.
const MEMO_LIMIT = 1024;
const memo = new Map<string, string>();

const empty = new Map<string, string>();

function isEmptyObject(value: unknown): boolean {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return false;
  for (const _ in value) return false;
  return true;
}

/** The 32-hex-digit trace id of `operation` called with `input`. */
export function traceIdOf(operation: string, input: unknown): string {
  // Requests without input (health, metrics, list pages) are the hot path: no JSON at all.
  if (isEmptyObject(input)) {
    let id = empty.get(operation);
    if (id === undefined) {
      id = sha256Hex(canonicalJson({ operation, input: {} })).slice(0, 32);
      if (empty.size < MEMO_LIMIT) empty.set(operation, id);
    }
    return id;
  }
  let body: string;
  try {
    body = canonicalJson({ operation, input: input ?? null });
  } catch {
    body = canonicalJson({ operation, input: String(input) });
  }
  const known = memo.get(body);
  if (known !== undefined) return known;
  const id = sha256Hex(body).slice(0, 32);
  if (body.length <= 512) {
    if (memo.size >= MEMO_LIMIT) memo.delete(memo.keys().next().value as string);
    memo.set(body, id);
  }
  return id;
}

/** The header value to echo, or undefined when there is none or it is not a W3C traceparent. */
export function echoTraceparent(value: string | readonly string[] | undefined): string | undefined {
  const single = Array.isArray(value) ? value[0] : value;
  if (typeof single !== "string") return undefined;
  const trimmed = single.trim();
  if (!TRACEPARENT.test(trimmed) || trimmed.startsWith("ff")) return undefined;
  return trimmed;
}
