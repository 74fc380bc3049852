import { ValidationError } from "../errors.ts";

/**
 * Requests per minute, tokens per minute and concurrency for one provider:model, over a
 * sliding window (a log of admissions, not a token bucket, so no burst can ever put more
 * than `rpm` requests in any window). Tokens are reserved at admission (the caller's worst
 * case: estimated input plus `maxOutputTokens`) and reconciled with the real usage after
 * the call, which frees what was over-reserved.
 *
 * A request stays in the window until `windowMs + guardMs` after it was *dispatched*, not
 * admitted: the provider counts it when it arrives, and under load the gap between the two
 * can be milliseconds. Until dispatched (or cancelled) it never leaves the window.
 *
 * Waiters queue fairly: one FIFO per fairness key (a run, a stage), served round-robin, so
 * a large fan-out cannot starve a small one. The head of the rotation is served strictly
 * (no smaller request overtakes it), so large requests are never starved either.
 *
 * Written here because the reservation-and-reconciliation protocol is the product; the
 * limiter libraries we know admit against a count only.
 */

export interface LimitConfig {
  /** Requests admitted in any window. */
  rpm?: number;
  /** Tokens (reserved, then actual) in any window. */
  tpm?: number;
  /** Calls in flight at once. */
  concurrency?: number;
  /** The window; default 60 000 ms (the "minute"). */
  windowMs?: number;
  /** Extra time a request stays counted, for network jitter. Default 1% of the window. */
  guardMs?: number;
}

export interface Admission {
  /** The request is being sent now: its time in the window starts. */
  dispatched(): void;
  /** Replaces the reserved tokens by what the call really used. */
  reconcile(actualTokens: number): void;
  /** Nothing was sent: the request leaves the window as if never admitted. */
  cancel(): void;
  /** The call is over: frees its concurrency slot. Idempotent. */
  release(): void;
}

export interface LimiterStats {
  admitted: number;
  waiting: number;
  inFlight: number;
  requestsInWindow: number;
  tokensInWindow: number;
}

interface Entry {
  /** When it leaves the window: dispatch time + window + guard (Infinity until dispatched). */
  expires: number;
  tokens: number;
  counted: boolean;
  inWindow: boolean;
}

interface Waiter {
  tokens: number;
  resolve(admission: Admission): void;
  reject(error: unknown): void;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

const NO_ADMISSION: Admission = { dispatched() {}, reconcile() {}, cancel() {}, release() {} };

export class ModelLimiter {
  readonly key: string;
  readonly #rpm: number;
  readonly #tpm: number;
  readonly #concurrency: number;
  readonly #windowMs: number;
  readonly #span: number;
  readonly #now: () => number;
  readonly #entries: Entry[] = [];
  #head = 0;
  #count = 0;
  #tokens = 0;
  #inFlight = 0;
  #admitted = 0;
  #waiting = 0;
  readonly #queues = new Map<string, Waiter[]>();
  readonly #rotation: string[] = [];
  #turn = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #timerAt = Number.POSITIVE_INFINITY;

  constructor(key: string, config: LimitConfig, now: () => number = performance.now.bind(performance)) {
    this.key = key;
    this.#rpm = config.rpm ?? Number.POSITIVE_INFINITY;
    this.#tpm = config.tpm ?? Number.POSITIVE_INFINITY;
    this.#concurrency = config.concurrency ?? Number.POSITIVE_INFINITY;
    this.#windowMs = config.windowMs ?? 60_000;
    this.#span = this.#windowMs + (config.guardMs ?? this.#windowMs / 100);
    this.#now = now;
  }

  /** True when this limiter limits nothing (then `admit` is free). */
  get unlimited(): boolean {
    return (
      this.#rpm === Number.POSITIVE_INFINITY &&
      this.#tpm === Number.POSITIVE_INFINITY &&
      this.#concurrency === Number.POSITIVE_INFINITY
    );
  }

  stats(): LimiterStats {
    this.#prune(this.#now());
    return {
      admitted: this.#admitted,
      waiting: this.#waiting,
      inFlight: this.#inFlight,
      requestsInWindow: this.#count,
      tokensInWindow: this.#tokens,
    };
  }

  /**
   * Waits until a request of `tokens` fits, then reserves it. `fairKey` groups waiters for
   * round-robin service. Rejects with the signal's reason if `signal` aborts first.
   */
  admit(tokens: number, fairKey = "default", signal?: AbortSignal): Promise<Admission> {
    if (this.unlimited) return Promise.resolve(NO_ADMISSION);
    if (tokens > this.#tpm) {
      return Promise.reject(
        new ValidationError(
          "request_exceeds_tpm",
          `A request to ${this.key} reserves ${tokens} tokens, more than its whole TPM limit of ${this.#tpm}; it could never be admitted. Lower maxOutputTokens, shorten the prompt or raise the limit.`,
        ),
      );
    }
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.#waiting === 0 && this.#fits(tokens, this.#now())) return Promise.resolve(this.#take(tokens));
    return new Promise<Admission>((resolve, reject) => {
      const waiter: Waiter = { tokens, resolve, reject, signal, onAbort: undefined };
      let queue = this.#queues.get(fairKey);
      if (queue === undefined) {
        queue = [];
        this.#queues.set(fairKey, queue);
        this.#rotation.push(fairKey);
      }
      queue.push(waiter);
      this.#waiting += 1;
      if (signal) {
        waiter.onAbort = () => {
          const q = this.#queues.get(fairKey);
          const i = q?.indexOf(waiter) ?? -1;
          if (q && i >= 0) {
            q.splice(i, 1);
            this.#waiting -= 1;
            if (q.length === 0) this.#dropQueue(fairKey);
            reject(signal.reason);
            this.#drain();
          }
        };
        signal.addEventListener("abort", waiter.onAbort, { once: true });
      }
      this.#drain();
    });
  }

  #fits(tokens: number, now: number): boolean {
    if (this.#inFlight >= this.#concurrency) return false;
    this.#prune(now);
    return this.#count < this.#rpm && this.#tokens + tokens <= this.#tpm;
  }

  #take(tokens: number): Admission {
    const entry: Entry = { expires: Number.POSITIVE_INFINITY, tokens, counted: true, inWindow: true };
    this.#entries.push(entry);
    this.#count += 1;
    this.#tokens += tokens;
    this.#inFlight += 1;
    this.#admitted += 1;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      this.#inFlight -= 1;
      this.#drain();
    };
    return {
      dispatched: () => {
        if (entry.expires === Number.POSITIVE_INFINITY) entry.expires = this.#now() + this.#span;
      },
      reconcile: (actual) => {
        const delta = Math.max(0, actual) - entry.tokens;
        entry.tokens += delta;
        if (entry.inWindow) this.#tokens += delta;
        if (delta < 0) this.#drain();
      },
      cancel: () => {
        if (entry.counted && entry.inWindow) {
          this.#count -= 1;
          this.#tokens -= entry.tokens;
        }
        entry.counted = false;
        entry.tokens = 0;
        entry.expires = Number.NEGATIVE_INFINITY;
        release();
      },
      release,
    };
  }

  #prune(now: number): void {
    const entries = this.#entries;
    // In order: an entry leaves once every entry admitted before it has left too.
    while (this.#head < entries.length && (entries[this.#head] as Entry).expires <= now) {
      const entry = entries[this.#head] as Entry;
      entry.inWindow = false;
      if (entry.counted) {
        this.#count -= 1;
        this.#tokens -= entry.tokens;
      }
      this.#head += 1;
    }
    if (this.#head > 1024 && this.#head * 2 > entries.length) {
      entries.splice(0, this.#head);
      this.#head = 0;
    }
  }

  #dropQueue(fairKey: string): void {
    this.#queues.delete(fairKey);
    const i = this.#rotation.indexOf(fairKey);
    if (i >= 0) {
      this.#rotation.splice(i, 1);
      if (i < this.#turn) this.#turn -= 1;
    }
  }

  #drain(): void {
    while (this.#waiting > 0) {
      if (this.#turn >= this.#rotation.length) this.#turn = 0;
      const fairKey = this.#rotation[this.#turn] as string;
      const queue = this.#queues.get(fairKey) as Waiter[];
      const waiter = queue[0] as Waiter;
      const now = this.#now();
      if (!this.#fits(waiter.tokens, now)) {
        if (this.#inFlight < this.#concurrency) this.#wakeAt(now + this.#waitMs(waiter.tokens, now));
        return;
      }
      queue.shift();
      this.#waiting -= 1;
      if (queue.length === 0) this.#dropQueue(fairKey);
      else this.#turn += 1;
      if (waiter.signal && waiter.onAbort) waiter.signal.removeEventListener("abort", waiter.onAbort);
      waiter.resolve(this.#take(waiter.tokens));
    }
  }

  /** How long until enough of the window expires for a request of `tokens`. */
  #waitMs(tokens: number, now: number): number {
    const entries = this.#entries;
    // Entries leave in order, so entry i leaves at the latest expiry up to i; one not yet
    // dispatched is assumed to be dispatched now (it will be, within microseconds).
    let until = now;
    let latest = now;
    let requestsToFree = this.#count >= this.#rpm ? this.#count - this.#rpm + 1 : 0;
    let tokensToFree = this.#tokens + tokens - this.#tpm;
    for (let i = this.#head; i < entries.length && (requestsToFree > 0 || tokensToFree > 0); i++) {
      const entry = entries[i] as Entry;
      latest = Math.max(
        latest,
        entry.expires === Number.POSITIVE_INFINITY ? now + this.#span : entry.expires,
      );
      if (!entry.counted) continue;
      requestsToFree -= 1;
      tokensToFree -= entry.tokens;
      until = latest;
    }
    // +1 ms: an entry leaves once its expiry has passed.
    return Math.max(1, until - now + 1);
  }

  #wakeAt(at: number): void {
    if (this.#timer !== undefined && this.#timerAt <= at) return;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timerAt = at;
    this.#timer = setTimeout(
      () => {
        this.#timer = undefined;
        this.#timerAt = Number.POSITIVE_INFINITY;
        this.#drain();
      },
      Math.max(0, at - this.#now()),
    );
  }
}
