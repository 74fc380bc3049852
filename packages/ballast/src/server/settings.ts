import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import { z } from "zod";
import { ValidationError } from "../errors.ts";

/**
 * Server settings: defaults, the `BALLAST_SERVER_*` environment, then explicit options
 * (CLI flags), validated with zod at start-up. Nothing here is read per request.
 *
 * | setting | env | default |
 * |---|---|---|
 * | port | BALLAST_SERVER_PORT | 7341 |
 * | grpcPort (h2c listener for gRPC without TLS) | BALLAST_SERVER_GRPC_PORT | none |
 * | bodyLimit (bytes) | BALLAST_SERVER_BODY_LIMIT | 1 MiB |
 * | grpcMaxMessageBytes | BALLAST_GRPC_MAX_MSG_BYTES | bodyLimit |
 * | deadlineMs (unary requests) | BALLAST_SERVER_DEADLINE_MS | 30 000 |
 * | idleTimeoutMs (keep-alive) | BALLAST_SERVER_IDLE_TIMEOUT_MS | 72 000 |
 * | cors origins (comma-separated) | BALLAST_SERVER_CORS_ORIGINS | none: CORS denied |
 * | gzip | BALLAST_SERVER_GZIP=1 | off |
 * | rate limit per token | BALLAST_SERVER_RATE_LIMIT=`<max>/<window ms>` or `off` | 600/60000 |
 * | TLS certificate and key (PEM files) | BALLAST_TLS_CERT, BALLAST_TLS_KEY | none |
 *
 * The host is never taken from the environment: listening beyond loopback takes an
 * explicit `--host` (and tokens).
 */

export interface ServerSettings {
  host: string;
  port: number;
  grpcPort: number | undefined;
  bodyLimit: number;
  grpcMaxMessageBytes: number;
  deadlineMs: number;
  idleTimeoutMs: number;
  cors: { origins: string[] } | false;
  gzip: { threshold: number } | false;
  rateLimit: { max: number; windowMs: number } | false;
  tls: { cert: string | Buffer; key: string | Buffer } | undefined;
  /** How often live streams poll the journal. */
  pollMs: number;
  /** How long an RBAC `allow` is reused for identical requests (0: never). */
  decisionCacheMs: number;
  sseHeartbeatMs: number;
}

export type ServerSettingsInput = Partial<Omit<ServerSettings, "cors" | "gzip" | "rateLimit">> & {
  cors?: { origins: string[] } | string[] | false;
  gzip?: boolean | { threshold?: number };
  rateLimit?: { max: number; windowMs: number } | false;
};

export const DEFAULT_PORT = 7341;

const port = z.number().int().min(0).max(65_535);
const positive = z.number().int().positive();
const origin = z
  .string()
  .regex(
    /^https?:\/\/[^\s/]+$/,
    "a CORS origin is scheme://host[:port] with no path, e.g. https://app.example.com",
  );

const settingsSchema = z.strictObject({
  host: z.string().min(1).max(255),
  port,
  grpcPort: port.optional(),
  bodyLimit: positive,
  grpcMaxMessageBytes: positive,
  deadlineMs: positive,
  idleTimeoutMs: positive,
  cors: z.union([z.literal(false), z.strictObject({ origins: z.array(origin).min(1) })]),
  gzip: z.union([z.literal(false), z.strictObject({ threshold: z.number().int().min(0) })]),
  rateLimit: z.union([z.literal(false), z.strictObject({ max: positive, windowMs: positive })]),
  tls: z
    .strictObject({
      cert: z.union([z.string().min(1), z.instanceof(Buffer)]),
      key: z.union([z.string().min(1), z.instanceof(Buffer)]),
    })
    .optional(),
  pollMs: positive,
  decisionCacheMs: z.number().int().min(0),
  sseHeartbeatMs: positive,
});

function intFrom(env: Readonly<Record<string, string | undefined>>, name: string): number | undefined {
  const text = env[name];
  if (text === undefined || text.trim() === "") return undefined;
  const value = Number(text);
  if (!Number.isInteger(value)) {
    throw new ValidationError("server_config_invalid", `${name} is "${text}"; give a whole number.`);
  }
  return value;
}

/** Parses `600/60000` (requests per window in ms) or `off`. */
export function parseRateLimit(text: string): { max: number; windowMs: number } | false {
  if (text.trim().toLowerCase() === "off") return false;
  const match = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(text);
  if (match === null) {
    throw new ValidationError(
      "server_config_invalid",
      `Rate limit "${text}" is not <max>/<window ms> (e.g. 600/60000) or off.`,
    );
  }
  return { max: Number(match[1]), windowMs: Number(match[2]) };
}

/** Settings from `BALLAST_SERVER_*`, `BALLAST_GRPC_*` and `BALLAST_TLS_*` (only what is set). */
export function settingsFromEnv(
  env: Readonly<Record<string, string | undefined>> = process.env,
): ServerSettingsInput {
  const out: ServerSettingsInput = {};
  const set = <K extends keyof ServerSettingsInput>(key: K, value: ServerSettingsInput[K] | undefined) => {
    if (value !== undefined) out[key] = value;
  };
  set("port", intFrom(env, "BALLAST_SERVER_PORT"));
  set("grpcPort", intFrom(env, "BALLAST_SERVER_GRPC_PORT"));
  set("bodyLimit", intFrom(env, "BALLAST_SERVER_BODY_LIMIT"));
  set("grpcMaxMessageBytes", intFrom(env, "BALLAST_GRPC_MAX_MSG_BYTES"));
  set("deadlineMs", intFrom(env, "BALLAST_SERVER_DEADLINE_MS"));
  set("idleTimeoutMs", intFrom(env, "BALLAST_SERVER_IDLE_TIMEOUT_MS"));
  const origins = env["BALLAST_SERVER_CORS_ORIGINS"];
  if (origins !== undefined && origins.trim() !== "") {
    set(
      "cors",
      origins
        .split(",")
        .map((o) => o.trim())
        .filter((o) => o !== ""),
    );
  }
  const gzip = env["BALLAST_SERVER_GZIP"];
  if (gzip !== undefined && gzip !== "") set("gzip", gzip === "1" || gzip.toLowerCase() === "true");
  const rate = env["BALLAST_SERVER_RATE_LIMIT"];
  if (rate !== undefined && rate !== "") set("rateLimit", parseRateLimit(rate));
  const cert = env["BALLAST_TLS_CERT"];
  const key = env["BALLAST_TLS_KEY"];
  if ((cert ?? "") !== "" || (key ?? "") !== "") {
    if (!cert || !key) {
      throw new ValidationError(
        "server_config_invalid",
        "Set both BALLAST_TLS_CERT and BALLAST_TLS_KEY (PEM files) for HTTPS, or neither.",
      );
    }
    set("tls", readTlsFiles(cert, key));
  }
  return out;
}

/** Reads a PEM certificate and key from files, with an error that names the missing one. */
export function readTlsFiles(certPath: string, keyPath: string): { cert: Buffer; key: Buffer } {
  const read = (path: string, what: string) => {
    try {
      return readFileSync(path);
    } catch (error) {
      throw new ValidationError(
        "server_config_invalid",
        `Cannot read the TLS ${what} ${path} (${(error as NodeJS.ErrnoException).code ?? "error"}); check the path.`,
      );
    }
  };
  return { cert: read(certPath, "certificate"), key: read(keyPath, "key") };
}

/** Fills defaults and validates; throws `server_config_invalid` naming the bad setting. */
export function resolveSettings(input: ServerSettingsInput = {}): ServerSettings {
  const bodyLimit = input.bodyLimit ?? 1024 * 1024;
  const cors =
    input.cors === undefined || input.cors === false
      ? false
      : Array.isArray(input.cors)
        ? { origins: input.cors }
        : input.cors;
  const gzip =
    input.gzip === undefined || input.gzip === false
      ? false
      : { threshold: input.gzip === true ? 1024 : (input.gzip.threshold ?? 1024) };
  const candidate = {
    host: input.host ?? "127.0.0.1",
    port: input.port ?? DEFAULT_PORT,
    ...(input.grpcPort === undefined ? {} : { grpcPort: input.grpcPort }),
    bodyLimit,
    grpcMaxMessageBytes: input.grpcMaxMessageBytes ?? bodyLimit,
    deadlineMs: input.deadlineMs ?? 30_000,
    idleTimeoutMs: input.idleTimeoutMs ?? 72_000,
    cors,
    gzip,
    rateLimit: input.rateLimit === undefined ? { max: 600, windowMs: 60_000 } : input.rateLimit,
    ...(input.tls === undefined ? {} : { tls: input.tls }),
    pollMs: input.pollMs ?? 200,
    decisionCacheMs: input.decisionCacheMs ?? 1000,
    sseHeartbeatMs: input.sseHeartbeatMs ?? 15_000,
  };
  const parsed = settingsSchema.safeParse(candidate);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ValidationError(
      "server_config_invalid",
      `Server setting ${issue.path.join(".") || "(root)"}: ${issue.message}.`,
    );
  }
  return { ...parsed.data, grpcPort: parsed.data.grpcPort, tls: parsed.data.tls };
}

/** Loopback addresses: 127.0.0.0/8, ::1 and `localhost`. */
export function isLoopback(host: string): boolean {
  const bare = host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
  if (bare === "localhost") return true;
  if (isIP(bare) === 4) return bare.startsWith("127.");
  if (isIP(bare) === 6) return bare === "::1" || bare === "0:0:0:0:0:0:0:1";
  return false;
}

/**
 * Refuses to serve beyond loopback without authentication (seed 002 SP-5): a server any
 * host can reach must know who is calling.
 */
export function assertSafeBind(host: string, authConfigured: boolean): void {
  if (isLoopback(host) || authConfigured) return;
  throw new ValidationError(
    "insecure_bind",
    `Refusing to listen on ${host} without authentication: anyone who can reach it could read and start runs. Configure tokens (<home>/tokens.json or BALLAST_SERVER_TOKENS; \`ballast serve --new-token <id>\` makes one) or listen on 127.0.0.1.`,
  );
}
