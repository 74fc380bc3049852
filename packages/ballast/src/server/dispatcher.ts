import type { Logger } from "../flow/observe.ts";
import { redactError } from "../guard/redact.ts";
import { classify, ServerError } from "./errors.ts";
import type { Gatekeeper } from "./gatekeeper.ts";
import { serverMetrics } from "./metrics.ts";
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
    const controller = new AbortController();
    const onAbort = () => controller.abort(meta.signal?.reason);
    meta.signal?.addEventListener("abort", onAbort, { once: true });
    const deadlineMs = Math.min(this.#deadlineMs, meta.deadlineMs ?? Number.POSITIVE_INFINITY);
    let timer: NodeJS.Timeout | undefined;
    try {
      const { input, ctx } = await this.#admit(name, operation, raw, meta, traceId, controller.signal);
      const work = operation.run!(input, ctx, this.deps);
      const deadline = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          const error = new ServerError(
            "deadline_exceeded",
            `${name} did not finish within its ${deadlineMs} ms deadline; anything it started goes on (a started run keeps running).`,
          );
          controller.abort(error);
          reject(error);
        }, deadlineMs);
      });
      const value = await Promise.race([work, deadline]);
      this.#count(name, meta.transport, "ok");
      return { ok: true, value, traceId, ctx };
    } catch (error) {
      return this.#failed(name, meta.transport, error, traceId);
    } finally {
      clearTimeout(timer);
      meta.signal?.removeEventListener("abort", onAbort);
    }
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
    const signal = meta.signal ?? new AbortController().signal;
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
        signal: meta.signal ?? new AbortController().signal,
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

  async #admit(
    name: string,
    operation: Operation<unknown, unknown>,
    raw: unknown,
    meta: CallMeta,
    traceId: string,
    signal: AbortSignal,
  ): Promise<{ input: unknown; ctx: CallContext }> {
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
    const ownerTenant = operation.owner ? await operation.owner(input, this.deps) : undefined;
    this.gatekeeper.authorize(principal, tenant, { ...base, path: operation.path(input), ownerTenant });
    await operation.check?.(input, this.deps);
    return { input, ctx: { principal, tenant, traceId, transport: meta.transport, signal } };
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
    serverMetrics.operations.inc({ operation, transport, code });
  }
}
