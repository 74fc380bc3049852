import { BallastError, RetryableError } from "../errors.ts";
import { metrics } from "./observe.ts";

/**
 * A FIFO with a hard capacity, for back-pressure between producers and steps. Its own ring
 * buffer rather than a library: it is a few lines, and the overflow policy, the stable
 * `queue_full` error and the depth gauge are the point.
 */

export type OverflowPolicy = "reject" | "drop_oldest";

export interface BoundedQueueOptions {
  /** Most items held at once: a whole number >= 1. */
  capacity: number;
  /** When full, `reject` throws `queue_full`; `drop_oldest` evicts the head to make room. */
  policy: OverflowPolicy;
  /** Called with this queue's depth after every change. */
  onDepth?: (depth: number) => void;
  /** Names the queue in errors. */
  name?: string;
}

/** Thrown by a full `reject` queue. Retryable: the same push may succeed once consumers catch up. */
export class QueueFullError extends RetryableError {
  constructor(name: string, capacity: number) {
    super({
      code: "queue_full",
      message: `Queue ${name} is full (capacity ${capacity}): slow down the producer and retry, or raise capacity.`,
      details: { queue: name, capacity },
    });
    this.name = "QueueFullError";
  }
}

/**
 * Every queue adds its depth changes to the `ballast_queue_depth` gauge, which so holds the
 * items waiting in all queues together.
 *
 * @example
 * const queue = new BoundedQueue<Job>({ capacity: 100, policy: "reject", name: "embeddings" });
 * queue.push(job); // throws queue_full when 100 jobs wait
 */
export class BoundedQueue<T> {
  readonly capacity: number;
  readonly policy: OverflowPolicy;
  readonly #name: string;
  readonly #onDepth: ((depth: number) => void) | undefined;
  readonly #slots: Array<T | undefined>;
  #head = 0;
  #size = 0;

  constructor(options: BoundedQueueOptions) {
    const { capacity, policy } = options;
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new BallastError({
        code: "invalid_options",
        message: `BoundedQueue capacity must be a whole number >= 1, got ${capacity}.`,
      });
    }
    if (policy !== "reject" && policy !== "drop_oldest") {
      throw new BallastError({
        code: "invalid_options",
        message: `BoundedQueue policy must be "reject" or "drop_oldest", got ${String(policy)}.`,
      });
    }
    this.capacity = capacity;
    this.policy = policy;
    this.#name = options.name ?? "(unnamed)";
    this.#onDepth = options.onDepth;
    this.#slots = new Array<T | undefined>(capacity);
  }

  /** Items waiting. */
  get size(): number {
    return this.#size;
  }

  /**
   * Adds `item` at the tail. When full: `reject` throws `queue_full` and changes nothing;
   * `drop_oldest` evicts the head and returns it. Otherwise returns `undefined`.
   */
  push(item: T): T | undefined {
    if (this.#size === this.capacity) {
      if (this.policy === "reject") throw new QueueFullError(this.#name, this.capacity);
      const dropped = this.#takeHead();
      this.#slots[(this.#head + this.#size) % this.capacity] = item;
      this.#size++;
      this.#onDepth?.(this.#size);
      return dropped;
    }
    this.#slots[(this.#head + this.#size) % this.capacity] = item;
    this.#size++;
    this.#changed(1);
    return undefined;
  }

  /** Removes and returns the head, or `undefined` when empty. */
  shift(): T | undefined {
    if (this.#size === 0) return undefined;
    const item = this.#takeHead();
    this.#changed(-1);
    return item;
  }

  /** The head without removing it. */
  peek(): T | undefined {
    return this.#size === 0 ? undefined : this.#slots[this.#head];
  }

  /** Empties the queue (and takes its items off the gauge); returns them head first. */
  clear(): T[] {
    const items: T[] = [];
    while (this.#size > 0) items.push(this.#takeHead());
    if (items.length > 0) this.#changed(-items.length);
    return items;
  }

  #takeHead(): T {
    const item = this.#slots[this.#head] as T;
    this.#slots[this.#head] = undefined; // let the item be collected
    this.#head = (this.#head + 1) % this.capacity;
    this.#size--;
    return item;
  }

  #changed(delta: number): void {
    if (delta > 0) metrics.queueDepth.inc(delta);
    else metrics.queueDepth.dec(-delta);
    this.#onDepth?.(this.#size);
  }
}
