import { classifyFailure, type FailureInfo } from "./retry.ts";

/**
 * Ordered fallbacks: the candidates (the model, then its fallbacks) are tried in turn, each
 * with its own retry loop, until one answers. A failure moves on to the next candidate when
 * `fallbackOn` allows it and the call is not over (caller abort, call timeout).
 */

export type FallbackResult<R> =
  | { ok: true; value: R }
  | { ok: false; error: unknown; info: FailureInfo | undefined };

export interface FallbackOptions {
  /** A failure that ends the call as it is, uncaught (the caller's own abort). */
  isFinal(error: unknown): boolean;
  /** The call is out of time: no candidate may start. */
  isOver(): boolean;
  fallbackOn(error: unknown): boolean;
  onFallback(from: string, to: string, info: FailureInfo): void;
}

export async function withFallbacks<C extends { key: string }, R>(
  candidates: readonly C[],
  attempt: (candidate: C) => Promise<R>,
  options: FallbackOptions,
): Promise<FallbackResult<R>> {
  let error: unknown;
  let info: FailureInfo | undefined;
  for (let c = 0; c < candidates.length; c++) {
    const candidate = candidates[c] as C;
    try {
      return { ok: true, value: await attempt(candidate) };
    } catch (failure) {
      if (options.isFinal(failure)) throw failure;
      error = failure;
      info = classifyFailure(failure);
      const next = candidates[c + 1];
      if (next === undefined || options.isOver() || !options.fallbackOn(failure)) break;
      options.onFallback(candidate.key, next.key, info);
    }
  }
  return { ok: false, error, info };
}
