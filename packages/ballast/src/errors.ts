/**
 * One error base for the whole runtime. Modelled on the AI SDK's `AISDKError`: a marker
 * symbol registered globally, so `BallastError.isInstance` works across package copies
 * where `instanceof` would not.
 */
const MARKER = Symbol.for("ballast.error");

export interface BallastErrorOptions {
  /** Stable, machine-readable code, e.g. `queue_full`, `budget_exceeded`. Never reworded. */
  code: string;
  /** What went wrong and what to do next; names the run, step or file involved. */
  message: string;
  cause?: unknown;
  /** Whether retrying the same operation may succeed. */
  isRetryable?: boolean;
  /** Small, JSON-safe context for logs and the journal. */
  details?: Record<string, unknown>;
}

export class BallastError extends Error {
  protected readonly [MARKER] = true;
  readonly code: string;
  readonly isRetryable: boolean;
  readonly details: Record<string, unknown>;

  constructor(options: BallastErrorOptions) {
    super(options.message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "BallastError";
    this.code = options.code;
    this.isRetryable = options.isRetryable ?? false;
    this.details = options.details ?? {};
  }

  static isInstance(value: unknown): value is BallastError {
    return typeof value === "object" && value !== null && MARKER in value;
  }

  /** Whether `value` is a ballast error with the given code. */
  static hasCode(value: unknown, code: string): value is BallastError {
    return BallastError.isInstance(value) && value.code === code;
  }

  toJSON(): { code: string; message: string; isRetryable: boolean; details: Record<string, unknown> } {
    return { code: this.code, message: this.message, isRetryable: this.isRetryable, details: this.details };
  }
}

/** Input or configuration that cannot be used as given. Never retryable. */
export class ValidationError extends BallastError {
  constructor(code: string, message: string, details?: Record<string, unknown>) {
    super({ code, message, details });
    this.name = "ValidationError";
  }
}

/** A failure that may go away on its own (network, 429, 5xx, timeouts). */
export class RetryableError extends BallastError {
  constructor(options: Omit<BallastErrorOptions, "isRetryable">) {
    super({ ...options, isRetryable: true });
    this.name = "RetryableError";
  }
}

/** A serialisable description of any thrown value, for the journal and for logs. */
export interface ErrorRecord {
  name: string;
  code: string;
  message: string;
  isRetryable: boolean;
  details?: Record<string, unknown>;
}

export function toErrorRecord(error: unknown): ErrorRecord {
  if (BallastError.isInstance(error)) {
    return {
      name: error.name,
      code: error.code,
      message: error.message,
      isRetryable: error.isRetryable,
      ...(Object.keys(error.details).length > 0 ? { details: error.details } : {}),
    };
  }
  if (error instanceof Error) {
    const retryable = (error as { isRetryable?: unknown }).isRetryable === true;
    return { name: error.name, code: "error", message: error.message, isRetryable: retryable };
  }
  return { name: "Error", code: "error", message: String(error), isRetryable: false };
}
