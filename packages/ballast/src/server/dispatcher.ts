import type { Logger } from "../flow/observe.ts";
import { redactError } from "../guard/redact.ts";
import { classify, ServerError } from "./errors.ts";
import type { Gatekeeper } from "./gatekeeper.ts";
import { recordOperation } from "./metrics.ts";
import type { CallContext, Operation, OperationName, Operations, ServiceDeps } from "./operations.ts";
import { traceIdOf } from "./trace.ts";

/**
 * Runs an operation for one transport: trace id → authentication → input validation →
 * authorisation → the handler under a deadline. Every transport goes through here, which is
 * what makes results, error envelopes and auth decisions identical across them (seed 002
 * TL-2, PE-9). It never throws: the outcome carries the error and the trace id.
 */

/** What a transport knows about a request. */
export interface CallMeta {
  transport: string;
  /** Header lookup; names are lowercase and matched case-insensitively by every transport. */
  header(name: string): string | undefined;
  /** Aborts when the caller goes away. */
  signal?: AbortSignal | undefined;
  /** The caller's own deadline (ms from now), when its protocol carries one. */
  deadlineMs?: number | undefined;
}

interface Admitted {
  input: unknown;
  ctx: CallContext;
}

/** The signal of calls whose caller cannot go away (no transport signal). */
const NEVER: AbortSignal = new AbortController().signal;

export type Outcome<T> =
  | { ok: true; value: T; traceId: string; ctx: CallContext }
  | { ok: false; error: unknown; traceId: string };

export interface DispatcherOptions {
  gatekeeper: Gatekeeper;
  operations: Operations;
  deps: ServiceDeps;
  /** Server-side deadline of unary operations (ms). */
  deadlineMs: number;
  logger?: Logger | undefined;
}

export class Dispatcher {
  readonly gatekeeper: Gatekeeper;
  readonly operations: Operations;
  readonly deps: ServiceDeps;
  readonly #deadlineMs: number;
  readonly #logger: Logger | undefined;

  constructor(options: DispatcherOptions) {
    this.gatekeeper = options.gatekeeper;
    this.operations = options.operations;
    this.deps = options.deps;
    this.#deadlineMs = options.deadlineMs;
    this.#logger = options.logger;
  }

  /** Runs a unary operation. */
  async call<N extends OperationName>(name: N, raw: unknown, meta: CallMeta): Promise<Outcome<unknown>> {
    const operation = this.operations[name] as Operation<unknown, unknown>;
    const traceId = traceIdOf(name, raw);
    try {
      // Unary operations do not stop when the caller leaves or the deadline passes (a started
      // run keeps running), so they get the caller's signal as is, not one of their own.
      const admitted = this.#admit(name, operation, raw, meta, traceId, meta.signal ?? NEVER);
      const { input, ctx } = admitted instanceof Promise ? await admitted : admitted;
      const work = operation.run!(input, ctx, this.deps);
      const value = operation.instant
        ? work instanceof Promise
          ? await work
          : work
        : await this.#withDeadline(name, Promise.resolve(work), meta.deadlineMs);
      this.#count(name, meta.transport, "ok");
      return { ok: true, value, traceId, ctx };
    } catch (error) {
      return this.#failed(name, meta.transport, error, traceId);
    }
  }

  #withDeadline<T>(name: string, work: Promise<T>, callerMs: number | undefined): Promise<T> {
    const deadlineMs = callerMs === undefined ? this.#deadlineMs : Math.min(this.#deadlineMs, callerMs);
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(
          new ServerError(
            "deadline_exceeded",
            `${name} did not finish within its ${deadlineMs} ms deadline; anything it started goes on (a started run keeps running).`,
          ),
        );
      }, deadlineMs);
      work.then(
        (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        (error: unknown) => {
          clearTimeout(timer);
          reject(error);
        },
      );
    });
  }

  /**
   * Opens a streaming operation: admission errors come back at once; errors while
   * streaming are thrown by the iterator (transports turn them into an envelope).
   */
  async open<N extends OperationName>(
    name: N,
    raw: unknown,
    meta: CallMeta,
  ): Promise<Outcome<AsyncIterable<unknown>>> {
    const operation = this.operations[name] as Operation<unknown, unknown>;
    const traceId = traceIdOf(name, raw);
    const signal = meta.signal ?? NEVER;
    try {
      const { input, ctx } = await this.#admit(name, operation, raw, meta, traceId, signal);
      this.#count(name, meta.transport, "ok");
      return { ok: true, value: operation.stream!(input, ctx, this.deps), traceId, ctx };
    } catch (error) {
      return this.#failed(name, meta.transport, error, traceId);
    }
  }

  /** Authentication and authorisation only, for transports that answer themselves (the proxy). */
  async admit(
    name: string,
    access: { action: string; path: string },
    raw: unknown,
    meta: CallMeta,
  ): Promise<Outcome<null>> {
    const traceId = traceIdOf(name, raw);
    try {
      const request = { ...access, transport: meta.transport, traceId };
      const principal = this.gatekeeper.authenticate(meta.header, request);
      const tenant = this.gatekeeper.requestTenant(principal, meta.header);
      this.gatekeeper.authorize(principal, tenant, request);
      const ctx: CallContext = {
        principal,
        tenant,
        traceId,
        transport: meta.transport,
        signal: meta.signal ?? NEVER,
      };
      return { ok: true, value: null, traceId, ctx };
    } catch (error) {
      return this.#failed(name, meta.transport, error, traceId);
    }
  }

  /** Logs and counts a failure of an operation that was not one of the table's (the proxy's). */
  failed(
    name: string,
    transport: string,
    error: unknown,
    traceId: string,
  ): { ok: false; error: unknown; traceId: string } {
    return this.#failed(name, transport, error, traceId);
  }

  /** Synchronous unless the operation looks up its target's owner or checks it exists. */
  #admit(
    name: string,
    operation: Operation<unknown, unknown>,
    raw: unknown,
    meta: CallMeta,
    traceId: string,
    signal: AbortSignal,
  ): Admitted | Promise<Admitted> {
    const base = { action: operation.action, transport: meta.transport, traceId };
    const principal = this.gatekeeper.authenticate(meta.header, { ...base, path: name });
    const parsed = operation.input.safeParse(raw ?? {});
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      const where = issue.path.length > 0 ? `${issue.path.join(".")}: ` : "";
      throw new ServerError("invalid_argument", `Invalid ${name} request: ${where}${issue.message}.`);
    }
    const input = parsed.data;
    const tenant = this.gatekeeper.requestTenant(principal, meta.header);
    const admitted: Admitted = {
      input,
      ctx: { principal, tenant, traceId, transport: meta.transport, signal },
    };
    if (operation.owner === undefined && operation.check === undefined) {
      this.gatekeeper.authorize(principal, tenant, { ...base, path: operation.path(input) });
      return admitted;
    }
    return (async () => {
      const ownerTenant = operation.owner ? await operation.owner(input, this.deps) : undefined;
      this.gatekeeper.authorize(principal, tenant, { ...base, path: operation.path(input), ownerTenant });
      if (operation.check) await operation.check(input, this.deps);
      return admitted;
    })();
  }

  #failed(
    name: string,
    transport: string,
    error: unknown,
    traceId: string,
  ): { ok: false; error: unknown; traceId: string } {
    const { code } = classify(error);
    this.#count(name, transport, code);
    if (code === "internal") {
      this.#logger?.error(
        { operation: name, transport, traceId, error: redactError(error) },
        "operation failed",
      );
    }
    return { ok: false, error, traceId };
  }

  #count(operation: string, transport: string, code: string): void {
    recordOperation(operation, transport, code);
  }
}
