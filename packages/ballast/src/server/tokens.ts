import { hash, randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { ValidationError } from "../errors.ts";

/**
 * API tokens. The server never stores a token, only its SHA-256: tokens are 256 random
 * bits, so a fast hash is enough (nothing to brute-force), and a leaked tokens file grants
 * nothing. A request presents its token in `Authorization: Bearer <token>` or
 * `X-API-Token: <token>` (header names and the `Bearer` scheme in any case).
 *
 * Tokens file (`<home>/tokens.json`, `BALLAST_SERVER_TOKENS_FILE`, or inline JSON in
 * `BALLAST_SERVER_TOKENS`):
 * ```json
 * { "tokens": [{ "id": "ci", "sha256": "<64 hex>", "subject": "alice", "tenant": "acme", "roles": ["reader"] }] }
 * ```
 * Make one with `ballast serve --new-token <id>`.
 */

const TENANT = /^(?:\*|[A-Za-z0-9][A-Za-z0-9_.-]{0,63})$/;

export const tokenEntrySchema = z.strictObject({
  /** A name for logs and per-key proxy settings; never secret. */
  id: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, "a token id is 1-64 characters of A-Z a-z 0-9 _ . -"),
  sha256: z.string().regex(/^[0-9a-f]{64}$/, "sha256 is the token's SHA-256 in 64 lowercase hex digits"),
  /** The RBAC subject the token acts as (default: the token id). */
  subject: z.string().min(1).max(256).optional(),
  /** The subject's tenant, `*` for operators (default: `default`). */
  tenant: z.string().regex(TENANT, "a tenant is a name or *").optional(),
  roles: z.array(z.string().min(1).max(64)).max(100).optional(),
});

export const tokensDocumentSchema = z.strictObject({
  tokens: z.array(tokenEntrySchema).max(10_000),
});

export type TokenEntry = z.infer<typeof tokenEntrySchema>;

/** Who a request acts as, once its token is known. */
export interface Principal {
  /** The RBAC subject. */
  id: string;
  /** The subject's tenant; `*` for operators. */
  tenant: string;
  roles: readonly string[];
  /** The token's id (`local` when the server runs without authentication). */
  tokenId: string;
  /** True when no authentication is configured (loopback only). */
  anonymous: boolean;
}

export const DEFAULT_TENANT = "default";

export const LOCAL_PRINCIPAL: Principal = Object.freeze({
  id: "local",
  tenant: "*",
  roles: Object.freeze([]) as readonly string[],
  tokenId: "local",
  anonymous: true,
});

/** SHA-256 of a token, as the tokens file stores it. */
export function hashToken(token: string): string {
  // The one-shot `hash` is ~3x faster than createHash() here, and this runs on every request.
  return hash("sha256", token, "hex");
}

/** A new random token (`blst_` + 43 base64url characters, 256 bits). */
export function generateToken(): string {
  return `blst_${randomBytes(32).toString("base64url")}`;
}

/** The token a request presents, or `undefined`; `null` when it presents two different ones. */
export function presentedToken(header: (name: string) => string | undefined): string | undefined | null {
  const authorization = header("authorization");
  let bearer: string | undefined;
  if (authorization !== undefined) {
    const match = /^\s*bearer\s+(\S+)\s*$/i.exec(authorization);
    // A malformed Authorization header is a failed login, not an absent one.
    bearer = match?.[1] ?? "";
  }
  const apiToken = header("x-api-token")?.trim();
  if (bearer !== undefined && apiToken !== undefined && apiToken !== bearer) return null;
  return bearer ?? apiToken;
}

export class TokenStore {
  readonly #byHash = new Map<string, Principal>();

  constructor(entries: readonly TokenEntry[]) {
    for (const entry of entries) {
      const parsed = tokenEntrySchema.parse(entry);
      if (this.#byHash.has(parsed.sha256)) {
        throw new ValidationError(
          "tokens_invalid",
          `Token "${parsed.id}" has the same hash as another token; give every token its own secret.`,
        );
      }
      this.#byHash.set(
        parsed.sha256,
        Object.freeze({
          id: parsed.subject ?? parsed.id,
          tenant: parsed.tenant ?? DEFAULT_TENANT,
          roles: Object.freeze([...(parsed.roles ?? [])]),
          tokenId: parsed.id,
          anonymous: false,
        }),
      );
    }
  }

  get size(): number {
    return this.#byHash.size;
  }

  /**
   * The principal of a presented token. Looking up by hash needs no constant-time compare:
   * learning how a guess's SHA-256 compares to a stored one tells nothing about the token.
   */
  lookup(token: string): Principal | undefined {
    if (token === "" || token.length > 4096) return undefined;
    return this.#byHash.get(hashToken(token));
  }
}

function parseDocument(text: string, where: string): TokenEntry[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new ValidationError(
      "tokens_invalid",
      `${where} is not valid JSON (${(error as Error).message}); see \`ballast serve --help\` for its format.`,
    );
  }
  const parsed = tokensDocumentSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ValidationError(
      "tokens_invalid",
      `${where}: ${issue.path.join(".") || "(root)"}: ${issue.message}. Fix the file; the server does not start with a bad tokens file.`,
    );
  }
  return parsed.data.tokens;
}

/**
 * The configured tokens: `BALLAST_SERVER_TOKENS` (inline JSON), else the file named by
 * `BALLAST_SERVER_TOKENS_FILE`, else `<home>/tokens.json` if it exists; none otherwise.
 */
export function loadTokens(options: {
  home?: string;
  env?: Readonly<Record<string, string | undefined>>;
}): TokenEntry[] {
  const env = options.env ?? process.env;
  const inline = env["BALLAST_SERVER_TOKENS"];
  if (inline !== undefined && inline.trim() !== "") return parseDocument(inline, "BALLAST_SERVER_TOKENS");
  const file = env["BALLAST_SERVER_TOKENS_FILE"];
  if (file !== undefined && file !== "") {
    if (!existsSync(file)) {
      throw new ValidationError(
        "tokens_invalid",
        `BALLAST_SERVER_TOKENS_FILE names ${file}, which does not exist.`,
      );
    }
    return parseDocument(readFileSync(file, "utf8"), file);
  }
  if (options.home !== undefined) {
    const path = join(options.home, "tokens.json");
    if (existsSync(path)) return parseDocument(readFileSync(path, "utf8"), path);
  }
  return [];
}
