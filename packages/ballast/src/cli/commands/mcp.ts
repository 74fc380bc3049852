import type { Command } from "commander";
import { createLogger, type LogLevel } from "../../flow/observe.ts";
import { emit } from "../output.ts";
import { type ServeOptions, settingsFromFlags } from "./serve.ts";

/**
 * `ballast mcp`: the MCP server (context search, run listing and run inspection as tools
 * and resources). Over stdio (the default) it serves the local user who started it; with
 * `--http` it serves MCP's streamable HTTP at `/mcp` under the same rules as `ballast
 * serve` (loopback unless --host with tokens, RBAC, TLS). stdout belongs to the protocol:
 * logs go to stderr.
 */

interface McpOptions extends ServeOptions {
  http?: boolean;
}

/** Starts MCP over stdio; resolves with a function that shuts it down. */
export async function runMcpStdio(options: McpOptions) {
  const { openHomeServices } = await import("../../server/home-services.ts");
  const { createDispatcher } = await import("../../server/server.ts");
  const { startMcpStdio } = await import("../../server/mcp/mcp-server.ts");
  const services = await openHomeServices({ home: options.home, proxy: false });
  const level = (process.env["BALLAST_LOG_LEVEL"] ?? "warn") as LogLevel;
  // The process was started by the user it answers: no tokens, like `ballast runs ls`.
  const dispatcher = createDispatcher({
    journal: services.journal,
    context: services.context,
    audit: services.audit,
    logger: createLogger({ level }),
  });
  const server = await startMcpStdio({ dispatcher, version: dispatcher.deps.version });
  return {
    async close() {
      await server.close();
      await services.close();
    },
  };
}

/** Starts MCP over streamable HTTP; resolves once it listens. */
export async function runMcpHttp(options: McpOptions) {
  const { openHomeServices } = await import("../../server/home-services.ts");
  const { createServer } = await import("../../server/server.ts");
  const settings = await settingsFromFlags(options);
  const services = await openHomeServices({ home: options.home, proxy: false });
  try {
    const server = await createServer({
      ...settings,
      api: false,
      mcp: true,
      journal: services.journal,
      context: services.context,
      audit: services.audit,
      tokens: services.tokens,
      ...(services.policy === undefined ? {} : { policy: services.policy }),
      logger: createLogger({ level: (process.env["BALLAST_LOG_LEVEL"] ?? "info") as LogLevel }),
    });
    const urls = await server.listen();
    return {
      url: `${urls.url}/mcp`,
      warnings: services.warnings,
      async close() {
        await server.close();
        await services.close();
      },
    };
  } catch (error) {
    await services.close();
    throw error;
  }
}

function untilStopped(extra?: (stop: () => void) => void): Promise<void> {
  return new Promise<void>((resolve) => {
    const stop = () => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      resolve();
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
    extra?.(stop);
  });
}

export function registerMcpCommand(program: Command): void {
  program
    .command("mcp")
    .description("serve MCP (context search, runs) over stdio, or streamable HTTP with --http")
    .option("--http", "serve streamable HTTP at /mcp instead of stdio")
    .option("--host <host>", "with --http: listen address (default 127.0.0.1; any other needs tokens)")
    .option("--port <port>", "with --http: port (default 7341 or $BALLAST_SERVER_PORT; 0 picks one)")
    .option("--tls-cert <file>", "with --http: PEM certificate (with --tls-key)")
    .option("--tls-key <file>", "with --http: PEM private key")
    .option("--json", "print machine-readable JSON")
    .action(async (_opts: unknown, command: Command) => {
      const options = command.optsWithGlobals<McpOptions>();
      if (options.http === true) {
        const running = await runMcpHttp(options);
        for (const warning of running.warnings) process.stderr.write(`ballast mcp: warning: ${warning}\n`);
        emit(options, { url: running.url }, () => `ballast mcp: streamable HTTP on ${running.url}`);
        await untilStopped();
        await running.close();
        return;
      }
      const running = await runMcpStdio(options);
      await untilStopped((stop) => process.stdin.once("end", stop));
      await running.close();
    });
}
