import type { EmbeddingModelV4CallOptions, LanguageModelV4CallOptions } from "@ai-sdk/provider";
import { canonicalJson, sha256Hex } from "../canonical.ts";

/**
 * The canonical form of a model request: what the provider is asked, and nothing about how
 * ballast asks it. Abort signals and headers (transport, often secrets) are left out, and
 * so are ballast's own per-call options (`providerOptions.ballast`: stage, cache TTL...),
 * which never reach the provider. Every other field is included, so a field added to the AI
 * SDK later changes the hash rather than being silently ignored.
 */

export type CallKind = "generate" | "stream" | "embed";

/** The namespace in `providerOptions` that holds ballast's per-call options. */
export const BALLAST_OPTIONS_KEY = "ballast";

export interface CanonicalRequest {
  /** SHA-256 of `json`. */
  hash: string;
  /** Canonical JSON of `{ v, kind, model, request }`. */
  json: string;
}

const HASH_VERSION = 1;

/** `params` without abort signal, headers and ballast's options: what is sent to the provider. */
export function providerParams<T extends LanguageModelV4CallOptions | EmbeddingModelV4CallOptions>(
  params: T,
): T {
  const po = params.providerOptions;
  if (po === undefined || !(BALLAST_OPTIONS_KEY in po)) return params;
  const { [BALLAST_OPTIONS_KEY]: _ballast, ...rest } = po;
  return { ...params, providerOptions: rest };
}

/** Ballast's per-call options from `providerOptions.ballast`, if any. */
export function ballastCallOptions(
  params: LanguageModelV4CallOptions | EmbeddingModelV4CallOptions,
): Record<string, unknown> | undefined {
  const value = params.providerOptions?.[BALLAST_OPTIONS_KEY];
  return value === undefined ? undefined : (value as Record<string, unknown>);
}

export function canonicalRequest(kind: CallKind, model: string, params: object): CanonicalRequest {
  const request: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(params)) {
    if (key === "abortSignal" || key === "headers") continue;
    if (key === "providerOptions" && value !== undefined) {
      const { [BALLAST_OPTIONS_KEY]: _ballast, ...rest } = value as Record<string, unknown>;
      request[key] = rest;
      continue;
    }
    request[key] = value;
  }
  const json = canonicalJson({ v: HASH_VERSION, kind, model, request });
  return { hash: sha256Hex(json), json };
}

/** Tokens a file part is assumed to cost (images are billed by size, not by bytes). */
const FILE_PART_TOKENS = 1000;

/**
 * A conservative input-token estimate for reservations (limits and budgets): one token per
 * three bytes of the canonical request, which over-counts English (about four characters a
 * token) and JSON syntax, so reservations rarely fall short of real usage. File parts count
 * as a flat FILE_PART_TOKENS instead of their (base64) bytes. Reconciliation with the
 * provider's real usage corrects the estimate after the call.
 */
export function estimateInputTokens(request: CanonicalRequest, params: LanguageModelV4CallOptions): number {
  let bytes = Buffer.byteLength(request.json);
  let files = 0;
  for (const message of params.prompt) {
    if (typeof message.content === "string") continue;
    for (const part of message.content) {
      if (part.type === "file") {
        files += 1;
        const data = part.data;
        if (data.type === "data")
          bytes -= typeof data.data === "string" ? data.data.length : (data.data.length * 4) / 3;
      }
    }
  }
  return Math.max(1, Math.ceil(Math.max(0, bytes) / 3) + files * FILE_PART_TOKENS);
}

/** Content hash of one embedding input, for the per-value embedding cache. */
export function embeddingValueKey(
  model: string,
  value: string,
  params: Omit<EmbeddingModelV4CallOptions, "values">,
): string {
  return canonicalRequest("embed", model, { ...params, value }).hash;
}
