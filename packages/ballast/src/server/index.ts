/**
 * `ballast/server`: the HTTP API, the gRPC/Connect/gRPC-Web service, the OpenAI-compatible
 * proxy and the MCP server, on Fastify, Connect and the MCP SDK. These dependencies load
 * only from here; importing `ballast` never loads them. See README.md in this folder.
 */
export type { BudgetHistoryView, BudgetSnapshotView, BudgetUsageView, BudgetView } from "./budget-view.ts";
export type { CallMeta, Outcome } from "./dispatcher.ts";
export { Dispatcher } from "./dispatcher.ts";
export {
  type ErrorEnvelope,
  envelopeOf,
  type GrpcCodeName,
  SERVER_CODES,
  type ServerCode,
  ServerError,
} from "./errors.ts";
export { Gatekeeper, type GatekeeperOptions } from "./gatekeeper.ts";
export { BallastService, ErrorInfoSchema } from "./grpc/ballast_pb.ts";
export { connectErrorOf } from "./grpc/connect-routes.ts";
export { RATE_LIMIT_EXEMPT } from "./http/app.ts";
export { createMcpServer, type McpServerOptions, startMcpHttp, startMcpStdio } from "./mcp/mcp-server.ts";
export { serverMetrics } from "./metrics.ts";
export type { AuditReader, CallContext, ContextSearcher, OperationName, ServiceDeps } from "./operations.ts";
export { loadProxyConfig, type ProxyConfigFile } from "./proxy/config.ts";
export type { ProxyHandle, ProxyModel, ProxyOptions } from "./proxy/routes.ts";
export {
  BallastServer,
  createDispatcher,
  createServer,
  type ListenResult,
  type ServerOptions,
} from "./server.ts";
export {
  assertSafeBind,
  DEFAULT_PORT,
  isLoopback,
  parseRateLimit,
  readTlsFiles,
  resolveSettings,
  type ServerSettings,
  type ServerSettingsInput,
  settingsFromEnv,
} from "./settings.ts";
export {
  DEFAULT_TENANT,
  generateToken,
  hashToken,
  loadTokens,
  type Principal,
  type TokenEntry,
  TokenStore,
} from "./tokens.ts";
export { echoTraceparent, traceIdOf } from "./trace.ts";
export { watchEvents } from "./watch-events.ts";
