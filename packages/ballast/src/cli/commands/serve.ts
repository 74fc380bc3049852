import type { Command } from "commander";
import { ValidationError } from "../../errors.ts";
import { createLogger, type LogLevel } from "../../flow/observe.ts";
import { emit, type GlobalOptions } from "../output.ts";
import { loadWorkflows } from "../workflows-module.ts";

/**
 * `ballast serve`: the HTTP API, gRPC/Connect/gRPC-Web and the OpenAI-compatible proxy over
 * a ballast home. Fastify and friends are imported only when the command runs, so
 * `ballast --help` and every other command stay light.
 */

export interface ServeOptions extends GlobalOptions {
  host?: string;
  port?: string;
  grpcPort?: string;
  tlsCert?: string;
  tlsKey?: string;
  workflows?: string;
  bodyLimit?: string;
  deadlineMs?: string;
  corsOrigin?: string[];
  gzip?: boolean;
  rateLimit?: string;
  newToken?: string;
  hashToken?: boolean;
}

const HELP = `
Authentication: with no tokens the server answers anyone on 127.0.0.1 and refuses any
other --host. Tokens live hashed in <home>/tokens.json (or BALLAST_SERVER_TOKENS /
BALLAST_SERVER_TOKENS_FILE); \`ballast serve --new-token ci\` prints one. With tokens, every
request is authorised by the guard's RBAC: <home>/policy.json and <home>/rbac.json (or
BALLAST_POLICY / BALLAST_RBAC_GRANTS); without valid ones every request is denied.

TLS: --tls-cert/--tls-key (or BALLAST_TLS_CERT/BALLAST_TLS_KEY) serve HTTPS and HTTP/2, with
gRPC on the same port. Or keep the server on 127.0.0.1 behind a TLS reverse proxy (nginx,
Caddy, Envoy) that forwards to it; see packages/ballast/src/server/README.md.

Environment: BALLAST_SERVER_PORT, BALLAST_SERVER_GRPC_PORT, BALLAST_SERVER_BODY_LIMIT,
BALLAST_GRPC_MAX_MSG_BYTES, BALLAST_SERVER_DEADLINE_MS, BALLAST_SERVER_IDLE_TIMEOUT_MS,
BALLAST_SERVER_CORS_ORIGINS, BALLAST_SERVER_GZIP, BALLAST_SERVER_RATE_LIMIT; the proxy reads
<home>/proxy.json or BALLAST_PROXY_CONFIG.`;

function int(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0)
    throw new ValidationError("invalid_option", `${flag} takes a whole number, got "${value}".`);
  return n;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin)
    chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
  return Buffer.concat(chunks).toString("utf8").trim();
}

/** Settings from flags (over the environment's). */
export async function settingsFromFlags(options: ServeOptions) {
  const { parseRateLimit, readTlsFiles, settingsFromEnv } = await import("../../server/settings.ts");
  const settings = settingsFromEnv();
  const set = <K extends keyof typeof settings>(key: K, value: (typeof settings)[K] | undefined) => {
    if (value !== undefined) settings[key] = value;
  };
  set("host", options.host);
  set("port", int(options.port, "--port"));
  set("grpcPort", int(options.grpcPort, "--grpc-port"));
  set("bodyLimit", int(options.bodyLimit, "--body-limit"));
  set("deadlineMs", int(options.deadlineMs, "--deadline-ms"));
  if (options.corsOrigin !== undefined && options.corsOrigin.length > 0) settings.cors = options.corsOrigin;
  if (options.gzip === true) settings.gzip = true;
  if (options.rateLimit !== undefined) settings.rateLimit = parseRateLimit(options.rateLimit);
  if (options.tlsCert !== undefined || options.tlsKey !== undefined) {
    if (options.tlsCert === undefined || options.tlsKey === undefined) {
      throw new ValidationError("invalid_option", "--tls-cert and --tls-key go together.");
    }
    settings.tls = readTlsFiles(options.tlsCert, options.tlsKey);
  }
  return settings;
}

/** Starts the server for `ballast serve`; resolves once it listens. */
export async function runServe(options: ServeOptions) {
  const { openHomeServices } = await import("../../server/home-services.ts");
  const { createServer } = await import("../../server/server.ts");
  const { isLoopback } = await import("../../server/settings.ts");
  const settings = await settingsFromFlags(options);
  const workflows = options.workflows === undefined ? [] : await loadWorkflows(options.workflows);
  const services = await openHomeServices({ home: options.home });
  try {
    const level = process.env["BALLAST_LOG_LEVEL"] ?? "info";
    const server = await createServer({
      ...settings,
      journal: services.journal,
      workflows,
      context: services.context,
      audit: services.audit,
      tokens: services.tokens,
      ...(services.policy === undefined ? {} : { policy: services.policy }),
      ...(services.proxy === undefined ? {} : { proxy: services.proxy }),
      logger: createLogger({ level: level as LogLevel }),
    });
    const urls = await server.listen();
    const warnings = [...services.warnings];
    if (!isLoopback(server.settings.host) && server.settings.tls === undefined) {
      warnings.push(
        `Listening on ${server.settings.host} without TLS: tokens cross the network in clear text. Use --tls-cert/--tls-key or a TLS reverse proxy.`,
      );
    }
    return {
      server,
      urls,
      warnings,
      services,
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

export function registerServeCommand(program: Command): void {
  program
    .command("serve")
    .description("serve the HTTP API, gRPC and the OpenAI-compatible proxy over this ballast home")
    .option("--host <host>", "listen address (default 127.0.0.1; any other needs tokens)")
    .option("--port <port>", "HTTP port (default 7341 or $BALLAST_SERVER_PORT; 0 picks one)")
    .option("--grpc-port <port>", "cleartext HTTP/2 port for gRPC (with TLS, gRPC uses --port)")
    .option("--tls-cert <file>", "PEM certificate: serve HTTPS (with --tls-key)")
    .option("--tls-key <file>", "PEM private key")
    .option("--workflows <file>", "module exporting the workflows POST /v1/runs may start")
    .option("--body-limit <bytes>", "largest request body (default 1048576)")
    .option("--deadline-ms <ms>", "deadline of each request (default 30000)")
    .option("--cors-origin <origin...>", "allow browser calls from these origins (default: none)")
    .option("--gzip", "compress responses with gzip when the client accepts it")
    .option("--rate-limit <max/windowMs>", "requests per token per window, or off (default 600/60000)")
    .option("--new-token <id>", "print a new token and its tokens.json entry, then exit")
    .option("--hash-token", "read a token on stdin and print its SHA-256, then exit")
    .option("--json", "print machine-readable JSON")
    .addHelpText("after", HELP)
    .action(async (_opts: unknown, command: Command) => {
      const options = command.optsWithGlobals<ServeOptions>();
      const { generateToken, hashToken } = await import("../../server/tokens.ts");
      if (options.newToken !== undefined) {
        const token = generateToken();
        const entry = {
          id: options.newToken,
          sha256: hashToken(token),
          tenant: "default",
          roles: [] as string[],
        };
        emit(options, { token, entry }, () =>
          [
            `token  ${token}`,
            'Shown once. Add this entry to <home>/tokens.json ("tokens": [...]) and give it roles:',
            JSON.stringify(entry),
          ].join("\n"),
        );
        return;
      }
      if (options.hashToken === true) {
        const token = await readStdin();
        if (token === "")
          throw new ValidationError(
            "invalid_option",
            "--hash-token reads the token on stdin; none was given.",
          );
        const sha256 = hashToken(token);
        emit(options, { sha256 }, () => sha256);
        return;
      }
      const running = await runServe(options);
      for (const warning of running.warnings) process.stderr.write(`ballast serve: warning: ${warning}\n`);
      emit(
        options,
        running.urls,
        () =>
          `ballast serve: listening on ${running.urls.url}${running.urls.grpcUrl && running.urls.grpcUrl !== running.urls.url ? ` (gRPC on ${running.urls.grpcUrl})` : ""}`,
      );
      await new Promise<void>((resolve) => {
        const stop = () => {
          process.off("SIGINT", stop);
          process.off("SIGTERM", stop);
          resolve();
        };
        process.on("SIGINT", stop);
        process.on("SIGTERM", stop);
      });
      await running.close();
    });
}
