import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import {
  type ChatIntent,
  defaultReply,
  type FakeReply,
  type ResolvedReply,
  resolveReply,
  type UsageCounts,
} from "./reply.ts";
import { seededRandom } from "./seeded-random.ts";

/**
 * The provider-independent half of the fake servers: a node:http server on 127.0.0.1 that
 * records requests and applies scripted behaviour (latency, errors, hangs, malformed bodies,
 * dropped streams). Each provider supplies a `Dialect`: its routes, ids, headers and error
 * shapes. No framework: the fakes must stay tiny and dependency-free.
 */

/** One request the fake received, recorded before any behaviour is applied. */
export interface FakeRequest {
  /** 0-based arrival order on this server. */
  index: number;
  method: string;
  /** The URL path without the query string. */
  path: string;
  query: Record<string, string>;
  /** Lower-case header names. */
  headers: Record<string, string>;
  /** The parsed JSON body, or `undefined` when there was none or it did not parse. */
  body: unknown;
  rawBody: string;
}

/** A fixed delay or a uniform (seeded) one in `[min, max]`, in milliseconds. */
export type Latency = number | { min: number; max: number };

/** A reply, or a function computing one from the request (`undefined` = built-in answer). */
export type FakeResponder = (
  request: FakeRequest,
  intent: ChatIntent,
) => FakeReply | undefined | Promise<FakeReply | undefined>;

/**
 * How the fake answers one request. Every field is optional; unset fields fall back to the
 * server's options.
 */
export interface FakeBehaviour {
  /** Which request this step applies to: its `index`, or a predicate. Default: the next one. */
  match?: number | ((request: FakeRequest) => boolean);
  /** How many matching requests this step answers before it is used up. Default 1. */
  times?: number;
  /** Delay before the response headers. */
  latencyMs?: Latency;
  /** Answer with this HTTP error status (429, 500, 502, 503, 529, 400, ...) in the provider's error shape. */
  status?: number;
  /** `Retry-After` header, in seconds, sent with an error status. */
  retryAfter?: number;
  /** `retry-after-ms` header (honoured by the AI SDK and the openai client), sent with an error status. */
  retryAfterMs?: number;
  /** Error message (default: the provider's usual message for the status). */
  errorMessage?: string;
  /** Never answer: the request stays open until the client gives up or the server closes. */
  hang?: boolean;
  /** Destroy the connection without any response (a network error on the client). */
  disconnect?: boolean;
  /** Answer 200 with a body that is not valid JSON (for streams: one event's data is cut short). */
  malformed?: boolean;
  /** Destroy the socket after this many stream events (for JSON: after half of the body). */
  dropAfterChunks?: number;
  /** After this many stream events, send the provider's in-stream error event and end. */
  errorAfterChunks?: number;
  /** Delay between the response headers and the first stream event. */
  firstChunkDelayMs?: number;
  /** Delay between stream events. */
  chunkDelayMs?: number;
  /** The answer to give (overrides the server's `respond` hook). */
  reply?: FakeReply | FakeResponder;
  /** Token counts to report instead of the estimated ones. */
  usage?: Partial<UsageCounts>;
  /** Extra response headers. */
  headers?: Record<string, string>;
}

export interface FakeServerOptions {
  /** Seeds every generated value: answers, ids, latency jitter, injected failures. Default 0. */
  seed?: string | number;
  /** Port to listen on; default 0 (an ephemeral port). The host is always 127.0.0.1. */
  port?: number;
  /** Default latency before response headers. */
  latencyMs?: Latency;
  firstChunkDelayMs?: number;
  chunkDelayMs?: number;
  /** Probability in [0, 1] that an unscripted request fails with `failureStatus` (seeded per request index). */
  failureRate?: number;
  /** Status of injected failures. Default 503. */
  failureStatus?: number;
  /** Computes answers from requests; `undefined` falls back to the built-in deterministic answer. */
  respond?: FakeResponder;
  /** Token counts to report instead of the estimated ones. */
  usage?: Partial<UsageCounts> | ((intent: ChatIntent) => Partial<UsageCounts>);
  /** Initial script (see `FakeServer.script`). */
  script?: FakeBehaviour[];
  /** Model ids listed by the models endpoint, where the provider has one. */
  models?: string[];
}

export interface FakeServer {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  /** The base URL the AI SDK provider and the official client expect (e.g. `<url>/v1`). */
  readonly baseURL: string;
  readonly port: number;
  /** Every request received so far, in arrival order (live array). */
  readonly requests: FakeRequest[];
  /**
   * Appends steps to the script. Each request takes the first remaining step that matches
   * it (steps without `match` match anything); once the script is used up, requests get
   * the default behaviour.
   *
   * @example
   * server.script([{ status: 429, retryAfter: 1 }, { latencyMs: 50 }]);
   */
  script(steps: FakeBehaviour | FakeBehaviour[]): FakeServer;
  /** Forgets recorded requests and remaining script steps, and numbers requests from 0 again. */
  reset(): void;
  /** Stops the server, ending hung and in-flight requests. */
  close(): Promise<void>;
}

export interface SseEvent {
  event?: string;
  data: string;
}

export type RouteResult =
  | { kind: "json"; body: unknown; status?: number }
  | {
      kind: "sse";
      events: SseEvent[];
      /** The provider's in-stream error event, for `errorAfterChunks`. */
      errorEvent?: (message: string, sequence: number) => SseEvent;
    }
  | { kind: "error"; status: number; message: string };

export interface RouteContext {
  request: FakeRequest;
  /** The route pattern's capture groups. */
  params: string[];
  requestId: string;
  seed: string | number;
  /** Unix seconds at which the response was created. */
  created: number;
  /** The answer to a chat request, after the script, the `respond` hook and usage overrides. */
  answer(intent: ChatIntent): Promise<ResolvedReply>;
}

export interface Route {
  method: string;
  pattern: RegExp;
  handle(ctx: RouteContext): RouteResult | Promise<RouteResult>;
}

export interface Dialect {
  /** Appended to the server URL to form `baseURL`. */
  apiPrefix: string;
  /** Blank-line flavour between SSE events (Gemini uses CRLF). */
  sseNewline?: string;
  routes: Route[];
  requestId(seed: string | number, index: number): string;
  responseHeaders(requestId: string): Record<string, string>;
  errorBody(status: number, message: string | undefined, requestId: string): unknown;
}

interface ScriptEntry {
  step: FakeBehaviour;
  remaining: number;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (ms <= 0 || signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}

function latencyOf(latency: Latency | undefined, random: () => number): number {
  if (latency === undefined) return 0;
  if (typeof latency === "number") return latency;
  return latency.min + random() * (latency.max - latency.min);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

function writeChunk(res: ServerResponse, text: string): Promise<void> {
  return new Promise((resolve) => {
    if (res.destroyed) return resolve();
    res.write(text, () => resolve());
  });
}

function formatEvent(event: SseEvent, newline: string): string {
  return `${event.event === undefined ? "" : `event: ${event.event}${newline}`}data: ${event.data}${newline}${newline}`;
}

/** Starts a fake server speaking `dialect`. */
export async function startFakeServer(
  dialect: Dialect,
  options: FakeServerOptions = {},
): Promise<FakeServer> {
  const seed = options.seed ?? 0;
  const requests: FakeRequest[] = [];
  let queue: ScriptEntry[] = [];
  let nextIndex = 0;
  const lifetime = new AbortController();

  const defaults: FakeBehaviour = {
    latencyMs: options.latencyMs,
    firstChunkDelayMs: options.firstChunkDelayMs,
    chunkDelayMs: options.chunkDelayMs,
  };

  function behaviourFor(request: FakeRequest): FakeBehaviour {
    const position = queue.findIndex(({ step }) => {
      if (step.match === undefined) return true;
      return typeof step.match === "number" ? step.match === request.index : step.match(request);
    });
    const entry = queue[position];
    if (entry !== undefined) {
      entry.remaining -= 1;
      if (entry.remaining <= 0) queue.splice(position, 1);
      return { ...defaults, ...withoutUndefined(entry.step) };
    }
    const rate = options.failureRate ?? 0;
    if (rate > 0 && seededRandom("failure", seed, request.index)() < rate) {
      return { ...defaults, status: options.failureStatus ?? 503 };
    }
    return defaults;
  }

  function sendError(
    res: ServerResponse,
    status: number,
    behaviour: FakeBehaviour,
    headers: Record<string, string>,
    requestId: string,
  ) {
    const body = JSON.stringify(dialect.errorBody(status, behaviour.errorMessage, requestId));
    res.writeHead(status, {
      ...headers,
      "content-type": "application/json",
      ...(behaviour.retryAfter === undefined ? {} : { "retry-after": String(behaviour.retryAfter) }),
      ...(behaviour.retryAfterMs === undefined ? {} : { "retry-after-ms": String(behaviour.retryAfterMs) }),
    });
    res.end(body);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const rawBody = await readBody(req);
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    let body: unknown;
    let bodyParsed = rawBody.length === 0;
    if (rawBody.length > 0) {
      try {
        body = JSON.parse(rawBody);
        bodyParsed = true;
      } catch {
        body = undefined;
      }
    }
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(", ") : value;
    }
    const request: FakeRequest = {
      index: nextIndex++,
      method: req.method ?? "GET",
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers,
      body,
      rawBody,
    };
    requests.push(request);

    const started = Date.now();
    const behaviour = behaviourFor(request);
    const requestId = dialect.requestId(seed, request.index);
    const responseHeaders = { ...dialect.responseHeaders(requestId), ...behaviour.headers };
    const closed = new AbortController();
    res.on("close", () => closed.abort());
    const signal = AbortSignal.any([lifetime.signal, closed.signal]);

    await sleep(latencyOf(behaviour.latencyMs, seededRandom("latency", seed, request.index)), signal);
    if (signal.aborted) return;
    if (behaviour.hang) {
      await new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve(), { once: true }));
      return;
    }
    if (behaviour.disconnect) {
      req.socket.destroy();
      return;
    }
    if (behaviour.status !== undefined && behaviour.status >= 400) {
      return sendError(res, behaviour.status, behaviour, responseHeaders, requestId);
    }
    if (!bodyParsed) {
      const message = "We could not parse the JSON body of your request. Send valid JSON.";
      return sendError(res, 400, { errorMessage: message }, responseHeaders, requestId);
    }

    let params: string[] | undefined;
    const route = dialect.routes.find((r) => {
      if (r.method !== request.method) return false;
      const m = r.pattern.exec(request.path);
      params = m?.slice(1);
      return m !== null;
    });
    if (route === undefined) {
      const message = `Unknown route ${request.method} ${request.path} on this fake server.`;
      return sendError(res, 404, { errorMessage: message }, responseHeaders, requestId);
    }

    const ctx: RouteContext = {
      request,
      params: params ?? [],
      requestId,
      seed,
      created: Math.floor(started / 1000),
      async answer(intent) {
        const hook = behaviour.reply ?? options.respond;
        const chosen = typeof hook === "function" ? await hook(request, intent) : hook;
        const base = typeof options.usage === "function" ? options.usage(intent) : options.usage;
        return resolveReply(intent, chosen ?? defaultReply(intent, seed), seed, {
          ...withoutUndefined(base ?? {}),
          ...withoutUndefined(behaviour.usage ?? {}),
        });
      },
    };
    const result = await route.handle(ctx);
    if (signal.aborted) return;

    if (result.kind === "error") {
      return sendError(res, result.status, { errorMessage: result.message }, responseHeaders, requestId);
    }
    if (result.kind === "json") {
      const full = JSON.stringify(result.body);
      if (behaviour.dropAfterChunks !== undefined) {
        // Promise the whole body, send half, then cut the connection.
        res.writeHead(result.status ?? 200, {
          ...responseHeaders,
          "content-type": "application/json",
          "content-length": String(Buffer.byteLength(full)),
        });
        await writeChunk(res, full.slice(0, Math.floor(full.length / 2)));
        res.socket?.destroy();
        return;
      }
      const text = behaviour.malformed ? full.slice(0, Math.max(1, Math.floor(full.length / 2))) : full;
      res.writeHead(result.status ?? 200, {
        ...responseHeaders,
        "content-type": "application/json",
        "content-length": String(Buffer.byteLength(text)),
      });
      res.end(text);
      return;
    }

    const newline = dialect.sseNewline ?? "\n";
    res.writeHead(200, {
      ...responseHeaders,
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache",
    });
    res.flushHeaders();
    await sleep(behaviour.firstChunkDelayMs ?? 0, signal);
    const malformedAt = Math.min(1, result.events.length - 1);
    for (let i = 0; i < result.events.length; i++) {
      if (signal.aborted) return;
      if (i > 0) await sleep(behaviour.chunkDelayMs ?? 0, signal);
      if (behaviour.dropAfterChunks !== undefined && i >= behaviour.dropAfterChunks) {
        res.socket?.destroy();
        return;
      }
      if (behaviour.errorAfterChunks !== undefined && i >= behaviour.errorAfterChunks && result.errorEvent) {
        const message = behaviour.errorMessage ?? "The server had an error while processing your request.";
        await writeChunk(res, formatEvent(result.errorEvent(message, i), newline));
        res.end();
        return;
      }
      let event = result.events[i] as SseEvent;
      if (behaviour.malformed && i === malformedAt)
        event = { ...event, data: event.data.slice(0, Math.ceil(event.data.length / 2)) };
      await writeChunk(res, formatEvent(event, newline));
    }
    res.end();
  }

  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) {
        res.writeHead(500, { "content-type": "application/json" });
        res.end(JSON.stringify(dialect.errorBody(500, "The fake server failed on this request.", "")));
      } else {
        res.destroy();
      }
    });
  });
  server.keepAliveTimeout = 5_000;

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${port}`;
  let closing: Promise<void> | undefined;

  const fake: FakeServer = {
    url,
    baseURL: `${url}${dialect.apiPrefix}`,
    port,
    requests,
    script(steps) {
      for (const step of Array.isArray(steps) ? steps : [steps]) {
        queue.push({ step, remaining: step.times ?? 1 });
      }
      return fake;
    },
    reset() {
      requests.length = 0;
      queue = [];
      nextIndex = 0;
    },
    close() {
      closing ??= new Promise<void>((resolve) => {
        lifetime.abort();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
  if (options.script) fake.script(options.script);
  return fake;
}

function withoutUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
