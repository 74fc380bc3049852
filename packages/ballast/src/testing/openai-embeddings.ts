import type { RouteContext, RouteResult } from "./fake-server.ts";
import { featureHashEmbedding } from "./feature-hash-embedding.ts";
import { estimateTokens } from "./local-text.ts";
import { asNumber, asString, isRecord } from "./wire.ts";

/** POST /v1/embeddings with feature-hashing vectors (float arrays or base64, as requested). */

const DIMENSIONS: Record<string, number> = {
  "text-embedding-3-large": 3072,
  "text-embedding-3-small": 1536,
  "text-embedding-ada-002": 1536,
};

export function handleEmbeddings(ctx: RouteContext): RouteResult {
  const body = ctx.request.body;
  if (!isRecord(body) || typeof body["model"] !== "string") {
    return { kind: "error", status: 400, message: "you must provide a model parameter" };
  }
  const raw = body["input"];
  const inputs =
    typeof raw === "string"
      ? [raw]
      : Array.isArray(raw)
        ? raw.map((v) => (typeof v === "string" ? v : JSON.stringify(v)))
        : [];
  if (inputs.length === 0) return { kind: "error", status: 400, message: "'input' is a required property." };
  const dimensions = asNumber(body["dimensions"]) ?? DIMENSIONS[body["model"]] ?? 1536;
  const base64 = asString(body["encoding_format"]) === "base64";
  const tokens = inputs.reduce((n, text) => n + estimateTokens(text), 0);
  return {
    kind: "json",
    body: {
      object: "list",
      data: inputs.map((text, index) => {
        const vector = featureHashEmbedding(text, dimensions);
        return {
          object: "embedding",
          index,
          embedding: base64 ? Buffer.from(new Float32Array(vector).buffer).toString("base64") : vector,
        };
      }),
      model: body["model"],
      usage: { prompt_tokens: tokens, total_tokens: tokens },
    },
  };
}
