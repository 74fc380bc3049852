import { createHash } from "node:crypto";

/** Any value that survives a JSON round trip unchanged. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/**
 * Canonical JSON: object keys sorted by code unit, no whitespace, `undefined` members
 * dropped (as JSON.stringify does). Two equal values always give the same bytes, which is
 * what the hash chain, request hashes and config fingerprints rely on.
 * Non-finite numbers, bigints, functions and symbols are rejected rather than silently
 * turned into `null`.
 */
export function canonicalJson(value: unknown): string {
  return serialize(value, "$");
}

function serialize(value: unknown, path: string): string {
  if (value === null) return "null";
  switch (typeof value) {
    case "string":
      return JSON.stringify(value);
    case "boolean":
      return value ? "true" : "false";
    case "number":
      if (!Number.isFinite(value))
        throw new TypeError(`canonicalJson: ${path} is ${value}, not a finite number`);
      return JSON.stringify(value);
    case "object": {
      if (Array.isArray(value)) {
        return `[${value.map((item, i) => (item === undefined ? "null" : serialize(item, `${path}[${i}]`))).join(",")}]`;
      }
      const toJSON = (value as { toJSON?: () => unknown }).toJSON;
      if (typeof toJSON === "function") return serialize(toJSON.call(value), path);
      if (value instanceof Uint8Array) return JSON.stringify(Buffer.from(value).toString("base64"));
      const keys = Object.keys(value).sort();
      const parts: string[] = [];
      for (const key of keys) {
        const member = (value as Record<string, unknown>)[key];
        if (member === undefined || typeof member === "function" || typeof member === "symbol") continue;
        parts.push(`${JSON.stringify(key)}:${serialize(member, `${path}.${key}`)}`);
      }
      return `{${parts.join(",")}}`;
    }
    default:
      throw new TypeError(`canonicalJson: ${path} is a ${typeof value}, which JSON cannot hold`);
  }
}

export function sha256Hex(data: string | Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

/** SHA-256 of a value's canonical JSON: the fingerprint of configs, inputs and requests. */
export function fingerprint(value: unknown): string {
  return sha256Hex(canonicalJson(value));
}
