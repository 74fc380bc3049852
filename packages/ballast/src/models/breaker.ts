/**
 * A circuit breaker for one provider:model. Closed, it counts failures; it opens after
 * `consecutiveFailures` failures in a row, or when the failure ratio over the last
 * `ratioWindow` calls reaches `failureRatio` (once at least `minCalls` were seen). Open, it
 * refuses calls for `coolDownMs`, then lets `halfOpenProbes` probe calls through
 * (half-open): a successful probe closes it, a failed one opens it again.
 *
 * Written here (a state machine of a few lines) because the pipeline needs it synchronous
 * and keyed by provider:model, and must ask "may I?" separately from "it failed".
 */

export interface BreakerConfig {
  /** Opens after this many failures in a row. Default 5. */
  consecutiveFailures?: number;
  /** Opens when failures / calls over the last `ratioWindow` calls reach this. Default off. */
  failureRatio?: number;
  /** Calls remembered for the ratio. Default 20. */
  ratioWindow?: number;
  /** The ratio is not judged on fewer calls than this. Default 10. */
  minCalls?: number;
  /** How long it stays open before a probe. Default 30 000 ms. */
  coolDownMs?: number;
  /** Probe calls let through at once when half-open. Default 1. */
  halfOpenProbes?: number;
}

export type BreakerState = "closed" | "open" | "half-open";

export interface BreakerStats {
  state: BreakerState;
  opened: number;
  rejected: number;
}

export class CircuitBreaker {
  readonly key: string;
  readonly #threshold: number;
  readonly #ratio: number | undefined;
  readonly #window: number;
  readonly #minCalls: number;
  readonly #coolDownMs: number;
  readonly #probes: number;
  readonly #now: () => number;
  #state: BreakerState = "closed";
  #consecutive = 0;
  #outcomes: boolean[] = [];
  #openedAt = 0;
  #probesInFlight = 0;
  #opened = 0;
  #rejected = 0;

  constructor(key: string, config: BreakerConfig = {}, now: () => number = Date.now) {
    this.key = key;
    this.#threshold = config.consecutiveFailures ?? 5;
    this.#ratio = config.failureRatio;
    this.#window = config.ratioWindow ?? 20;
    this.#minCalls = config.minCalls ?? 10;
    this.#coolDownMs = config.coolDownMs ?? 30_000;
    this.#probes = config.halfOpenProbes ?? 1;
    this.#now = now;
  }

  get state(): BreakerState {
    if (this.#state === "open" && this.#now() - this.#openedAt >= this.#coolDownMs) return "half-open";
    return this.#state;
  }

  stats(): BreakerStats {
    return { state: this.state, opened: this.#opened, rejected: this.#rejected };
  }

  /** Milliseconds until an open breaker lets a probe through (0 when it would now). */
  retryInMs(): number {
    if (this.#state !== "open") return 0;
    return Math.max(0, this.#openedAt + this.#coolDownMs - this.#now());
  }

  /** Asks to send a call. A `true` from a half-open breaker makes the call a probe. */
  tryAcquire(): boolean {
    if (this.#state === "closed") return true;
    if (this.#state === "open") {
      if (this.#now() - this.#openedAt < this.#coolDownMs) {
        this.#rejected += 1;
        return false;
      }
      this.#state = "half-open";
      this.#probesInFlight = 0;
    }
    if (this.#probesInFlight < this.#probes) {
      this.#probesInFlight += 1;
      return true;
    }
    this.#rejected += 1;
    return false;
  }

  /** Gives back a permission that was not used (nothing was sent). */
  releaseUnused(): void {
    if (this.#state === "half-open" && this.#probesInFlight > 0) this.#probesInFlight -= 1;
  }

  onSuccess(): void {
    this.#consecutive = 0;
    if (this.#state === "half-open") {
      this.#state = "closed";
      this.#outcomes = [];
      this.#probesInFlight = 0;
      return;
    }
    this.#remember(true);
  }

  onFailure(): void {
    if (this.#state === "half-open") {
      this.#open();
      return;
    }
    if (this.#state === "open") return;
    this.#consecutive += 1;
    this.#remember(false);
    if (this.#consecutive >= this.#threshold || this.#ratioTripped()) this.#open();
  }

  #remember(ok: boolean): void {
    if (this.#ratio === undefined) return;
    this.#outcomes.push(ok);
    if (this.#outcomes.length > this.#window) this.#outcomes.shift();
  }

  #ratioTripped(): boolean {
    if (this.#ratio === undefined || this.#outcomes.length < this.#minCalls) return false;
    const failures = this.#outcomes.reduce((n, ok) => (ok ? n : n + 1), 0);
    return failures / this.#outcomes.length >= this.#ratio;
  }

  #open(): void {
    this.#state = "open";
    this.#openedAt = this.#now();
    this.#consecutive = 0;
    this.#outcomes = [];
    this.#probesInFlight = 0;
    this.#opened += 1;
  }
}
