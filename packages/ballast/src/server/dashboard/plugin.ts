import type { FastifyInstance, FastifyRequest } from "fastify";
import type { AuditSink } from "../../guard/audit-types.ts";
import type { Dispatcher } from "../dispatcher.ts";
import { queryInput } from "../http/respond.ts";
import { resource } from "../http/rest-routes.ts";
import { runActions } from "./run-actions.ts";
import { defaultAssetsDir, registerStaticAssets } from "./static-assets.ts";
import { streamView, unaryView } from "./view-operation.ts";
import { dashboardViews } from "./views.ts";

/**
 * The dashboard on a server's app: the single-page app at `/` and the API routes its pages
 * read (run views, spend, budgeted selection, audit verification) and act through (resume,
 * replay, fork). Everything under `/v1` goes through the same authentication, RBAC and
 * error envelope as the rest of the API; the static files need no token (they hold no data).
 *
 * @example
 * await registerDashboard(app, dispatcher, { audit });
 */

export interface DashboardOptions {
  /** Serve the app's files (default true). The API routes are always added. */
  assets?: boolean;
  /** Where the built app is (default: the package's `dist-dashboard/`). */
  assetsDir?: string;
  /** Where run actions are recorded. */
  audit?: AuditSink | undefined;
  /** Deadline of unary requests (ms), as the rest of the API. */
  deadlineMs?: number;
  sseHeartbeatMs?: number;
  /** How often the live runs feed looks for changes (ms). */
  feedPollMs?: number;
}

function params(request: FastifyRequest): Record<string, string> {
  return request.params as Record<string, string>;
}

function body(request: FastifyRequest): Record<string, unknown> {
  const value = request.body;
  return value !== null && typeof value === "object" && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
}

export async function registerDashboard(
  app: FastifyInstance,
  dispatcher: Dispatcher,
  options: DashboardOptions = {},
): Promise<void> {
  const deadlineMs = options.deadlineMs ?? 30_000;
  const views = dashboardViews(options.feedPollMs === undefined ? {} : { feedPollMs: options.feedPollMs });
  const actions = runActions(options.audit);
  const unary = <I, O>(
    name: keyof typeof views | keyof typeof actions,
    operation: Parameters<typeof unaryView<I, O>>[2],
    input: (request: FastifyRequest) => unknown,
  ) => unaryView(dispatcher, name, operation, input, deadlineMs);

  resource(app, "/v1/views/runs", {
    GET: unary("views.runs", views["views.runs"], (r) => queryInput(r.query, ["limit"])),
  });
  resource(app, "/v1/views/runs/live", {
    GET: streamView(
      dispatcher,
      "views.runs.live",
      views["views.runs.live"],
      (r) => queryInput(r.query),
      options.sseHeartbeatMs,
    ),
  });
  resource(app, "/v1/views/costs", {
    GET: unary("views.costs", views["views.costs"], (r) => queryInput(r.query, ["target"])),
  });
  resource(app, "/v1/runs/:id/timeline", {
    GET: unary("runs.timeline", views["runs.timeline"], (r) => ({ runId: params(r)["id"] })),
  });
  resource(app, "/v1/runs/:id/events/:seq", {
    GET: unary("runs.event", views["runs.event"], (r) => ({
      runId: params(r)["id"],
      seq: /^\d+$/.test(params(r)["seq"] ?? "") ? Number(params(r)["seq"]) : params(r)["seq"],
    })),
  });
  resource(app, "/v1/runs/:id/resume", {
    POST: unary("runs.resume", actions["runs.resume"], (r) => ({ ...body(r), runId: params(r)["id"] })),
  });
  resource(app, "/v1/runs/:id/replay", {
    POST: unary("runs.replay", actions["runs.replay"], (r) => ({ ...body(r), runId: params(r)["id"] })),
  });
  resource(app, "/v1/runs/:id/fork", {
    POST: unary("runs.fork", actions["runs.fork"], (r) => ({ ...body(r), runId: params(r)["id"] })),
  });
  resource(app, "/v1/select", {
    POST: unary("context.select", views["context.select"], (r) => body(r)),
  });
  resource(app, "/v1/audit/verify", {
    GET: unary("audit.verify", views["audit.verify"], (r) => queryInput(r.query)),
  });

  if (options.assets !== false) await registerStaticAssets(app, options.assetsDir ?? defaultAssetsDir());
}
