import { z } from "zod";
import { canonicalJson, fingerprint, sha256Hex } from "../canonical.ts";
import { ValidationError } from "../errors.ts";
import { termFrequencies } from "./analyzer.ts";
import type { PreparedDocument } from "./store.ts";
import type { AtInput, DocumentInput } from "./types.ts";

const jsonValue: z.ZodType<unknown> = z.lazy(() =>
  z.union([
    z.string(),
    z.number().refine(Number.isFinite, { error: "numbers in metadata must be finite" }),
    z.boolean(),
    z.null(),
    z.array(jsonValue),
    z.record(z.string(), jsonValue),
  ]),
);

export const documentSchema = z
  .object({
    id: z
      .string({ error: "id must be a non-empty string" })
      .min(1, { error: "id must be a non-empty string" }),
    text: z.string({ error: "text must be a string" }),
    metadata: z.record(z.string(), jsonValue, { error: "metadata must be a JSON object" }).optional(),
    scope: z
      .enum(["global", "session", "task"], { error: "scope must be one of global, session, task" })
      .optional(),
    scopeId: z
      .string({ error: "scopeId must be a string" })
      .min(1, { error: "scopeId must not be empty" })
      .optional(),
    summary: z.string({ error: "summary must be a string" }).optional(),
  })
  .strict()
  .refine((d) => (d.scope ?? "global") === "global" || d.scopeId !== undefined, {
    error: "session and task documents need a scopeId",
  })
  .refine((d) => (d.scope ?? "global") !== "global" || d.scopeId === undefined, {
    error: "global documents take no scopeId",
  });

/** Validates a batch; raises `documents_invalid` naming the first bad item. */
export function validateDocuments(input: unknown): DocumentInput[] {
  if (!Array.isArray(input)) {
    throw new ValidationError("documents_invalid", "upsert() takes an array of documents.");
  }
  return input.map((doc, i) => {
    const parsed = documentSchema.safeParse(doc);
    if (parsed.success) return parsed.data as DocumentInput;
    const issue = parsed.error.issues[0]!;
    const message =
      issue.code === "unrecognized_keys" ? `unknown field ${issue.keys.join(", ")}` : issue.message;
    throw new ValidationError(
      "documents_invalid",
      `Document ${i} is invalid: ${message}. Nothing was written.`,
      {
        index: i,
      },
    );
  });
}

/** The hash that decides whether an upsert changes anything. */
export function contentHash(doc: DocumentInput): string {
  return fingerprint({
    text: doc.text,
    metadata: doc.metadata ?? {},
    scope: doc.scope ?? "global",
    scopeId: doc.scopeId,
    summary: doc.summary,
  });
}

export function prepareDocument(doc: DocumentInput, hash: string): PreparedDocument {
  const { tf, length } = termFrequencies(doc.text);
  return {
    id: doc.id,
    text: doc.text,
    metadata: canonicalJson(doc.metadata ?? {}),
    scope: doc.scope ?? "global",
    ...(doc.scopeId === undefined ? {} : { scopeId: doc.scopeId }),
    ...(doc.summary === undefined ? {} : { summary: doc.summary }),
    contentHash: hash,
    textHash: sha256Hex(doc.text),
    length,
    terms: [...tf].sort((a, b) => (a[0] < b[0] ? -1 : 1)),
  };
}

/**
 * Collapses repeats within one batch: an exact repeat of an earlier item is skipped; the
 * same id with different content is a contradiction and rejects the whole batch.
 */
export function dedupeBatch(docs: DocumentInput[]): {
  unique: { doc: DocumentInput; hash: string }[];
  repeats: number;
} {
  const seen = new Map<string, string>();
  const unique: { doc: DocumentInput; hash: string }[] = [];
  let repeats = 0;
  docs.forEach((doc, i) => {
    const hash = contentHash(doc);
    const earlier = seen.get(doc.id);
    if (earlier === undefined) {
      seen.set(doc.id, hash);
      unique.push({ doc, hash });
    } else if (earlier === hash) {
      repeats++;
    } else {
      throw new ValidationError(
        "batch_conflict",
        `Document ${i} repeats id ${JSON.stringify(doc.id)} with different content in the same batch. Send one version per id per batch. Nothing was written.`,
        { index: i, id: doc.id },
      );
    }
  });
  return { unique, repeats };
}

/** Parses an `at` point: a version number, `{ version }` or `{ time }`. */
export function parseAt(at: AtInput): { version: number } | { timeMs: number } {
  if (typeof at === "number") return { version: at };
  if (typeof at === "object" && at !== null && "version" in at && typeof at.version === "number") {
    return { version: at.version };
  }
  if (typeof at === "object" && at !== null && "time" in at) {
    const t = at.time;
    const ms = t instanceof Date ? t.getTime() : typeof t === "number" ? t : Date.parse(t);
    if (Number.isFinite(ms)) return { timeMs: ms };
  }
  throw new ValidationError(
    "at_invalid",
    "`at` must be an index version (a number or { version }) or { time } with an ISO date, a Date or epoch milliseconds.",
  );
}
