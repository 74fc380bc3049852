import { canonicalJson, type JsonValue } from "../canonical.ts";
import { blobRef, isBlobRef } from "../journal/blob-store.ts";
import type { BlobStore } from "../journal/types.ts";

/**
 * How step results and run outputs sit in events: inline when small, as a content-addressed
 * blob reference when large, so events (and the hash chain over them) stay small.
 */

export const INLINE_LIMIT_BYTES = 16 * 1024;

export interface Encoded {
  /** Canonical JSON of the value, or undefined for `undefined`. */
  json: string | undefined;
  /** Members to put in the event: `{ [field]: value }`, or `{ [field + "Ref"]: BlobRef }`
   *  (the journal's blob reference, which `journal verify` checks). */
  fields: Record<string, JsonValue>;
}

/** Serialises `value`; throws the TypeError of canonicalJson for values JSON cannot hold. */
export function serialise(value: unknown): string | undefined {
  return value === undefined ? undefined : canonicalJson(value);
}

export async function encodeValue(
  value: unknown,
  json: string | undefined,
  field: string,
  blobs: BlobStore,
): Promise<Encoded> {
  if (json === undefined) return { json, fields: {} };
  if (json.length > INLINE_LIMIT_BYTES / 4) {
    const size = Buffer.byteLength(json);
    if (size > INLINE_LIMIT_BYTES) {
      const ref = blobRef(await blobs.put(json), size);
      return { json, fields: { [`${field}Ref`]: ref as unknown as JsonValue } };
    }
  }
  return { json, fields: { [field]: value as JsonValue } };
}

/** Reads a value back from event data written by `encodeValue`. */
export async function decodeValue(data: unknown, field: string, blobs: BlobStore): Promise<unknown> {
  const record = data as Record<string, unknown> | null;
  if (record === null || typeof record !== "object") return undefined;
  const ref = record[`${field}Ref`];
  if (isBlobRef(ref)) return JSON.parse((await blobs.get(ref.$blob)).toString("utf8"));
  return record[field];
}

/** The value as the journal holds it, so live, resumed and replayed runs see the same thing. */
export function fromJson(json: string | undefined): unknown {
  return json === undefined ? undefined : JSON.parse(json);
}
