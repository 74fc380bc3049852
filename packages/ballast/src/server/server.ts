import { readFileSync } from "node:fs";
import type { FastifyInstance } from "fastify";
import { ValidationError } from "../errors.ts";
import { type Ballast, createBallast } from "../flow/engine.ts";
import type { Logger } from "../flow/observe.ts";
import type { Workflow } from "../flow/types.ts";
import type { AuditSink } from "../guard/audit-types.ts";
import type { PolicyEngine } from "../guard/policy-engine.ts";
import type { JournalStore } from "../journal/types.ts";
import { registerDashboard } from "./dashboard/plugin.ts";
import { Dispatcher } from "./dispatcher.ts";
import { Gatekeeper } from "./gatekeeper.ts";
import { registerConnect } from "./grpc/connect-routes.ts";
import { createHttpApp } from "./http/app.ts";
import { registerHealthRoute, registerRestRoutes } from "./http/rest-routes.ts";
import { startMcpHttp } from "./mcp/mcp-server.ts";
import { type AuditReader, type ContextSearcher, createOperations, type ServiceDeps } from "./operations.ts";
import { type ProxyOptions, registerProxy } from "./proxy/routes.ts";
import {
  assertSafeBind,
  resolveSettings,
  type ServerSettings,
  type ServerSettingsInput,
} from "./settings.ts";
import { type TokenEntry, TokenStore } from "./tokens.ts";

/**
 * `createServer`: the HTTP API, the gRPC/Connect/gRPC-Web service and the OpenAI-compatible
 * proxy over one journal, on Fastify. One listener serves everything; without TLS, gRPC
 * (which needs HTTP/2) gets its own cleartext HTTP/2 listener on `grpcPort`, since one
 * cleartext port cannot speak both HTTP/1.1 and HTTP/2. With TLS, HTTP/2 is negotiated on
 * the main port and gRPC works there too.
 *
 * @example
 * const server = await createServer({ journal: await openJournal(), workflows: [greet] });
 * const { url } = await server.listen();   // http://127.0.0.1:7341
 * // ... later
 * await server.close();
 */

export interface ServerOptions extends ServerSettingsInput {
  journal: JournalStore;
  /** The engine that starts and cancels runs; default: one over `journal`. */
  engine?: Ballast;
  /** Workflows `POST /v1/runs` may start (registered on the engine). */
  workflows?: readonly Workflow<never, unknown>[];
  /** The context engine behind `POST /v1/search`. */
  context?: ContextSearcher;
  /** The audit log: where 401s are recorded and what `GET /v1/audit` reads. */
  audit?: AuditSink & AuditReader;
  /**
   * Tokens (hashed) that may call the server. None: no authentication, loopback only.
   * With tokens, `policy` decides every request.
   */
  tokens?: readonly TokenEntry[];
  /** The guard's policy engine (give it the same `audit` so 403s are recorded). */
  policy?: PolicyEngine;
  /** The OpenAI-compatible proxy (`/v1/chat/completions`, `/v1/models`); off when omitted. */
  proxy?: ProxyOptions;
  /** Where unexpected failures are logged (redacted). */
  logger?: Logger;
  /** Serve the HTTP API and gRPC (default true). `/v1/health` is always served. */
  api?: boolean;
  /** Serve MCP over streamable HTTP at `/mcp` (default false). */
  mcp?: boolean;
  /** The dashboard at `/` (default on; `false` serves its API routes only). */
  dashboard?: { assetsDir?: string } | false;
}

export interface ListenResult {
  url: string;
  grpcUrl?: string;
}

function packageVersion(): string {
  try {
    return (
      JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string }
    ).version;
  } catch {
    return "0.0.0";
  }
}

export class BallastServer {
  readonly settings: ServerSettings;
  readonly dispatcher: Dispatcher;
  /** The main listener's app; `app.inject()` drives it in tests. */
  readonly app: FastifyInstance;
  /** The cleartext HTTP/2 app for gRPC, when `grpcPort` is set and TLS is not. */
  readonly grpcApp: FastifyInstance | undefined;
  readonly #policy: PolicyEngine | undefined;

  private constructor(
    settings: ServerSettings,
    dispatcher: Dispatcher,
    app: FastifyInstance,
    grpcApp: FastifyInstance | undefined,
    policy: PolicyEngine | undefined,
  ) {
    this.settings = settings;
    this.dispatcher = dispatcher;
    this.app = app;
    this.grpcApp = grpcApp;
    this.#policy = policy;
  }

  static async create(options: ServerOptions): Promise<BallastServer> {
    const settings = resolveSettings(options);
    const dispatcher = createDispatcher(options, settings);
    const api = options.api ?? true;
    const build = async (mode: "http1" | "h2c" | "tls") => {
      const app = await createHttpApp({
        dispatcher,
        bodyLimit: settings.bodyLimit,
        idleTimeoutMs: settings.idleTimeoutMs,
        cors: settings.cors,
        gzip: settings.gzip,
        rateLimit: settings.rateLimit,
        http2: mode !== "http1",
        tls: mode === "tls" ? settings.tls : undefined,
      });
      if (api) {
        registerRestRoutes(app, dispatcher, { sseHeartbeatMs: settings.sseHeartbeatMs });
        if (options.proxy !== undefined) await registerProxy(app, dispatcher, options.proxy);
        await registerConnect(app, dispatcher, { maxMessageBytes: settings.grpcMaxMessageBytes });
        if (mode !== "h2c") {
          await registerDashboard(app, dispatcher, {
            ...(options.dashboard === false ? { assets: false } : options.dashboard),
            audit: options.audit,
            deadlineMs: settings.deadlineMs,
            sseHeartbeatMs: settings.sseHeartbeatMs,
          });
        }
      } else {
        registerHealthRoute(app, dispatcher);
      }
      if (options.mcp === true) startMcpHttp(app, { dispatcher, version: dispatcher.deps.version });
      await app.ready();
      return app;
    };
    // With TLS the main listener negotiates HTTP/2 (ALPN) next to HTTP/1.1.
    const app = await build(settings.tls === undefined ? "http1" : "tls");
    const grpcApp =
      api && settings.grpcPort !== undefined && settings.tls === undefined ? await build("h2c") : undefined;
    return new BallastServer(settings, dispatcher, app, grpcApp, options.policy);
  }

  /** Starts listening; resolves with the URLs (ports resolved when 0 was asked). */
  async listen(): Promise<ListenResult> {
    const { host, port, grpcPort, tls } = this.settings;
    await this.app.listen({ host, port });
    const scheme = tls === undefined ? "http" : "https";
    const result: ListenResult = { url: `${scheme}://${hostForUrl(host)}:${addressPort(this.app)}` };
    if (this.grpcApp !== undefined && grpcPort !== undefined) {
      await this.grpcApp.listen({ host, port: grpcPort });
      result.grpcUrl = `http://${hostForUrl(host)}:${addressPort(this.grpcApp)}`;
    } else if (tls !== undefined) {
      result.grpcUrl = result.url;
    }
    return result;
  }

  /** Loads new policy documents and forgets cached decisions (hot reload). */
  reloadPolicy(documents: { rules?: unknown; grants?: unknown }) {
    if (this.#policy === undefined) {
      throw new ValidationError("server_config_invalid", "This server has no policy engine to reload.");
    }
    const result = this.#policy.load(documents);
    this.dispatcher.gatekeeper.clearCache();
    return result;
  }

  async close(): Promise<void> {
    await Promise.all([this.app.close(), this.grpcApp?.close()]);
  }
}

function addressPort(app: FastifyInstance): number {
  const address = app.server.address();
  return typeof address === "object" && address !== null ? address.port : 0;
}

function hostForUrl(host: string): string {
  return host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
}

/**
 * The dispatcher a server (or the stdio MCP server) runs operations with: tokens, policy,
 * audit, engine and deadline, checked for a safe bind address.
 */
export function createDispatcher(
  options: ServerOptions,
  settings: ServerSettings = resolveSettings(options),
): Dispatcher {
  const tokens = new TokenStore(options.tokens ?? []);
  assertSafeBind(settings.host, tokens.size > 0);
  if (tokens.size > 0 && options.policy === undefined) {
    throw new ValidationError(
      "server_config_invalid",
      "Tokens are configured but no policy engine was given: pass `policy` (PolicyEngine.fromEnv({ home, audit })) so every request is authorised.",
    );
  }
  const engine = options.engine ?? createBallast({ journal: options.journal });
  for (const workflow of options.workflows ?? []) engine.register(workflow);
  const deps: ServiceDeps = {
    journal: options.journal,
    engine,
    context: options.context,
    audit: options.audit,
    auditSink: options.audit,
    version: packageVersion(),
    pollMs: settings.pollMs,
  };
  const gatekeeper = new Gatekeeper({
    tokens,
    ...(options.policy === undefined ? {} : { policy: options.policy }),
    ...(options.audit === undefined ? {} : { audit: options.audit }),
    decisionCacheMs: settings.decisionCacheMs,
  });
  return new Dispatcher({
    gatekeeper,
    operations: createOperations(),
    deps,
    deadlineMs: settings.deadlineMs,
    logger: options.logger,
  });
}

/** Creates the server (validated, not yet listening). */
export function createServer(options: ServerOptions): Promise<BallastServer> {
  return BallastServer.create(options);
}
