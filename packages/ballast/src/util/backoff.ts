import { ValidationError } from "../errors.ts";

/**
 * Retry delays. Written here rather than taken from a retry library because the flow
 * engine journals every attempt: it needs the delay as a pure function of the attempt and
 * an injected (seeded, journaled) random source, not a library that sleeps on its own.
 */

export interface BackoffOptions {
  /** Delay cap of the first retry (attempt 0), in milliseconds. */
  baseMs: number;
  /** No delay ever exceeds this, in milliseconds. */
  maxMs: number;
  /** Growth of the cap per attempt. Default 2. */
  factor?: number;
}

/**
 * The upper bound of the delay before retry `attempt` (0 for the first retry):
 * `min(maxMs, baseMs * factor^attempt)`. Non-decreasing in `attempt`.
 */
export function backoffCap(attempt: number, opts: BackoffOptions): number {
  checkOptions(attempt, opts);
  if (opts.baseMs === 0) return 0; // 0 * Infinity would be NaN below
  const factor = opts.factor ?? 2;
  // factor^attempt overflows to Infinity for large attempts; min() then clamps it to maxMs.
  return Math.min(opts.maxMs, opts.baseMs * factor ** attempt);
}

/**
 * Exponential backoff with full jitter (the AWS "full jitter" scheme): a whole number of
 * milliseconds drawn uniformly from `[0, backoffCap(attempt, opts)]`. `random` returns a
 * number in `[0, 1)`, like `Math.random` or the run's seeded `ctx.random`; values outside
 * that range are clamped, so the delay never leaves its bounds.
 *
 * @example
 * const ms = backoffDelay(attempt, { baseMs: 100, maxMs: 30_000 }, ctx.random);
 */
export function backoffDelay(attempt: number, opts: BackoffOptions, random: () => number): number {
  const cap = backoffCap(attempt, opts);
  const r = random();
  const unit = Number.isNaN(r) ? 0 : Math.min(1, Math.max(0, r));
  // Whole milliseconds, still within the cap when the cap itself is fractional.
  return Math.min(Math.floor(cap), Math.round(unit * cap));
}

function checkOptions(attempt: number, opts: BackoffOptions): void {
  const factor = opts.factor ?? 2;
  if (!Number.isInteger(attempt) || attempt < 0) {
    throw new ValidationError(
      "invalid_backoff",
      `Backoff attempt must be a whole number >= 0, got ${attempt}. Count retries from 0.`,
    );
  }
  if (!(Number.isFinite(opts.baseMs) && opts.baseMs >= 0 && Number.isFinite(opts.maxMs) && opts.maxMs >= 0)) {
    throw new ValidationError(
      "invalid_backoff",
      `Backoff baseMs and maxMs must be finite numbers >= 0, got baseMs=${opts.baseMs} maxMs=${opts.maxMs}.`,
    );
  }
  if (!(Number.isFinite(factor) && factor >= 1)) {
    throw new ValidationError(
      "invalid_backoff",
      `Backoff factor must be a finite number >= 1, got ${factor}. Use 2 for doubling.`,
    );
  }
}

const DELTA_SECONDS = /^\s*([+-]?\d+(?:\.\d+)?)\s*$/;

/**
 * The wait a `Retry-After` header asks for, in milliseconds, clamped to >= 0. Accepts
 * delay-seconds (`"120"`, also fractional) and an HTTP-date (`"Wed, 21 Oct 2015 07:28:00 GMT"`),
 * measured from `now` (epoch milliseconds or a Date). Returns `undefined` when the header is
 * missing or cannot be read, so the caller falls back to its own backoff.
 */
export function retryAfterMs(headerValue: string | null | undefined, now: number | Date): number | undefined {
  if (headerValue === null || headerValue === undefined) return undefined;
  const seconds = DELTA_SECONDS.exec(headerValue);
  if (seconds) return Math.max(0, Math.round(Number(seconds[1]) * 1000));
  if (headerValue.trim() === "") return undefined;
  const at = Date.parse(headerValue);
  if (Number.isNaN(at)) return undefined;
  const from = typeof now === "number" ? now : now.getTime();
  return Math.max(0, at - from);
}
