import { McpServer, ResourceTemplate } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { z } from "zod";
import type { CallMeta, Dispatcher } from "../dispatcher.ts";
import { envelopeOf } from "../errors.ts";
import { httpMeta, sendError } from "../http/respond.ts";
import { resource } from "../http/rest-routes.ts";
import type { OperationName } from "../operations.ts";

/**
 * The MCP server (`ballast mcp`): context search, run listing and run inspection as MCP
 * tools, and runs as MCP resources (`ballast://runs`, `ballast://runs/{runId}`). Every tool
 * and resource goes through the same dispatcher as the HTTP API, so tokens, RBAC, tenants,
 * validation and audit apply alike. Over stdio the caller is the local user (no tokens);
 * over streamable HTTP each request carries its token like any API request.
 */

export interface McpServerOptions {
  dispatcher: Dispatcher;
  version: string;
  /** Headers of the request being served (HTTP); none over stdio. */
  header?: (name: string) => string | undefined;
  transport?: string;
}

type ToolResult = { content: { type: "text"; text: string }[]; isError?: boolean };

export function createMcpServer(options: McpServerOptions): McpServer {
  const { dispatcher } = options;
  const meta = (signal?: AbortSignal): CallMeta => ({
    transport: options.transport ?? "mcp",
    header: options.header ?? (() => undefined),
    signal,
  });
  const call = async (name: OperationName, input: unknown, signal?: AbortSignal) =>
    dispatcher.call(name, input, meta(signal));
  const tool = async (name: OperationName, input: unknown, signal: AbortSignal): Promise<ToolResult> => {
    const outcome = await call(name, input, signal);
    if (!outcome.ok) {
      return {
        isError: true,
        content: [{ type: "text", text: JSON.stringify(envelopeOf(outcome.error, outcome.traceId)) }],
      };
    }
    return { content: [{ type: "text", text: JSON.stringify(outcome.value, null, 2) }] };
  };
  const read = async (uri: URL, name: OperationName, input: unknown) => {
    const outcome = await call(name, input);
    if (!outcome.ok) {
      const envelope = envelopeOf(outcome.error, outcome.traceId).error;
      throw new Error(`${envelope.code}: ${envelope.message} (traceId ${envelope.traceId})`);
    }
    return {
      contents: [
        { uri: uri.href, mimeType: "application/json", text: JSON.stringify(outcome.value, null, 2) },
      ],
    };
  };

  const server = new McpServer({ name: "ballast", version: options.version });

  server.registerTool(
    "search_context",
    {
      title: "Search the context index",
      description:
        "Hybrid (BM25 + vector) search over the ballast context index. Returns ranked documents with scores, text and metadata.",
      inputSchema: {
        query: z.string().describe("What to look for"),
        k: z.number().int().min(1).max(100).optional().describe("How many results (default 10)"),
        strategy: z.enum(["AUTO", "DENSE", "SPARSE"]).optional(),
        filters: z.unknown().optional().describe("A metadata filter, e.g. { field, op, value }"),
      },
    },
    (args, extra) => tool("context.search", args, extra.signal),
  );

  server.registerTool(
    "list_runs",
    {
      title: "List runs",
      description:
        "Lists workflow runs, newest first, with their status; filter by status or workflow, page with cursor.",
      inputSchema: {
        status: z
          .enum(["queued", "running", "completed", "failed", "cancelled", "budget_exceeded", "timed_out"])
          .optional(),
        workflow: z.string().optional(),
        limit: z.number().int().min(1).max(500).optional(),
        cursor: z.string().optional().describe("nextCursor of the previous page"),
      },
    },
    (args, extra) => tool("runs.list", args, extra.signal),
  );

  server.registerTool(
    "get_run",
    {
      title: "Inspect a run",
      description:
        "A run's record (status, input, output, error, metadata), its budget, and its journal events.",
      inputSchema: {
        runId: z.string(),
        fromSeq: z.number().int().min(0).optional().describe("First journal event to include (default 0)"),
        limit: z
          .number()
          .int()
          .min(1)
          .max(1000)
          .optional()
          .describe("At most this many events (default 100)"),
      },
    },
    async ({ runId, fromSeq, limit }, extra) => {
      const run = await call("runs.get", { runId }, extra.signal);
      if (!run.ok) return tool("runs.get", { runId }, extra.signal);
      const [budget, events] = await Promise.all([
        call("budget.get", { runId }, extra.signal),
        call(
          "runs.events",
          { runId, ...(fromSeq === undefined ? {} : { fromSeq }), ...(limit === undefined ? {} : { limit }) },
          extra.signal,
        ),
      ]);
      for (const part of [budget, events]) {
        if (!part.ok) {
          return {
            isError: true,
            content: [{ type: "text" as const, text: JSON.stringify(envelopeOf(part.error, part.traceId)) }],
          };
        }
      }
      const body = {
        run: run.value,
        budget: budget.ok ? budget.value : null,
        ...(events.ok ? (events.value as object) : {}),
      };
      return { content: [{ type: "text" as const, text: JSON.stringify(body, null, 2) }] };
    },
  );

  server.registerResource(
    "runs",
    "ballast://runs",
    { title: "Recent runs", description: "The 50 most recent runs", mimeType: "application/json" },
    (uri) => read(uri, "runs.list", { limit: 50 }),
  );

  server.registerResource(
    "run",
    new ResourceTemplate("ballast://runs/{runId}", {
      list: async () => {
        const outcome = await call("runs.list", { limit: 50 });
        const runs = outcome.ok
          ? (outcome.value as { runs: { id: string; workflow: string; status: string }[] }).runs
          : [];
        return {
          resources: runs.map((r) => ({
            uri: `ballast://runs/${encodeURIComponent(r.id)}`,
            name: r.id,
            description: `${r.workflow}: ${r.status}`,
            mimeType: "application/json",
          })),
        };
      },
    }),
    { title: "A run", description: "A run's record", mimeType: "application/json" },
    (uri, variables) => {
      const raw = variables["runId"];
      const runId = decodeURIComponent(Array.isArray(raw) ? (raw[0] ?? "") : (raw ?? ""));
      return read(uri, "runs.get", { runId });
    },
  );

  return server;
}

/** Serves MCP over stdin/stdout until stdin closes. */
export async function startMcpStdio(options: Omit<McpServerOptions, "header">): Promise<McpServer> {
  const server = createMcpServer({ ...options, transport: "mcp-stdio" });
  await server.connect(new StdioServerTransport());
  return server;
}

/**
 * Mounts MCP's streamable HTTP transport at `/mcp` (stateless: a server per request, JSON
 * responses). The token is checked before the MCP exchange starts.
 */
export function startMcpHttp(app: FastifyInstance, options: Omit<McpServerOptions, "header">): void {
  const handle = async (request: FastifyRequest, reply: FastifyReply) => {
    const meta = httpMeta(request);
    const admitted = await options.dispatcher.admit(
      "mcp.connect",
      { action: "mcp.connect", path: "mcp" },
      {},
      meta,
    );
    if (!admitted.ok) return sendError(reply, admitted.error, admitted.traceId);
    const server = createMcpServer({ ...options, header: meta.header, transport: "mcp-http" });
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: undefined,
      enableJsonResponse: true,
    });
    reply.hijack();
    for (const [name, value] of Object.entries(reply.getHeaders())) {
      if (value !== undefined) reply.raw.setHeader(name, value as string);
    }
    reply.raw.on("close", () => {
      void transport.close();
      void server.close();
    });
    await server.connect(transport);
    await transport.handleRequest(request.raw, reply.raw, request.body);
    return reply;
  };
  resource(app, "/mcp", { POST: handle });
}
