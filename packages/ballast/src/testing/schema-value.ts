import type { JsonValue } from "../canonical.ts";
import { pick, randomInt } from "./seeded-random.ts";

/**
 * Builds a deterministic value that satisfies a JSON Schema, so the fakes can answer
 * structured-output and tool-call requests with valid JSON. Covers the subset that
 * structured outputs use (types, properties, items, enum, const, anyOf/oneOf/allOf, $ref,
 * formats, numeric and length bounds). `pattern` is not honoured.
 */

type Schema = { [key: string]: unknown };

const WORDS = [
  "amber",
  "basin",
  "cedar",
  "delta",
  "ember",
  "fjord",
  "grove",
  "harbor",
  "iris",
  "juniper",
  "kestrel",
  "lumen",
  "meadow",
  "nectar",
  "orchid",
  "prairie",
  "quartz",
  "ridge",
  "summit",
  "tundra",
];

const MAX_DEPTH = 12;

export function sampleJsonSchema(schema: unknown, random: () => number): JsonValue {
  const root = isSchema(schema) ? schema : {};
  return sample(root, root, random, "", 0);
}

function isSchema(value: unknown): value is Schema {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function resolveRef(root: Schema, ref: string): Schema {
  if (!ref.startsWith("#")) return {};
  let node: unknown = root;
  for (const raw of ref.slice(1).split("/").filter(Boolean)) {
    const key = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    node = isSchema(node) ? node[key] : undefined;
  }
  return isSchema(node) ? node : {};
}

/**
 * A numeric keyword, or the same constraint written into the description (as providers do
 * when their structured-output dialect drops the keyword, e.g. "minimum: 1; maximum: 3."),
 * which a real model would read and follow.
 */
function constraint(schema: Schema, key: string): number | undefined {
  const value = schema[key];
  if (typeof value === "number") return value;
  const description = schema["description"];
  if (typeof description !== "string") return undefined;
  const name = key.replace(/[A-Z]/g, (c) => ` ${c.toLowerCase()}`);
  const match = new RegExp(`(?:^|[;.(\\s])(?<!exclusive )${name}: (-?\\d+(?:\\.\\d+)?)`).exec(description);
  return match ? Number(match[1]) : undefined;
}

function typeOf(schema: Schema): string | undefined {
  const type = schema["type"];
  if (typeof type === "string") return type.toLowerCase();
  if (Array.isArray(type)) {
    const first = type.find((t) => typeof t === "string" && t.toLowerCase() !== "null") ?? type[0];
    return typeof first === "string" ? first.toLowerCase() : undefined;
  }
  if (isSchema(schema["properties"])) return "object";
  if (schema["items"] !== undefined || schema["prefixItems"] !== undefined) return "array";
  return undefined;
}

function sample(schema: Schema, root: Schema, random: () => number, key: string, depth: number): JsonValue {
  if (typeof schema["$ref"] === "string") {
    return depth > MAX_DEPTH ? null : sample(resolveRef(root, schema["$ref"]), root, random, key, depth + 1);
  }
  if ("const" in schema) return schema["const"] as JsonValue;
  if (Array.isArray(schema["enum"]) && schema["enum"].length > 0)
    return pick(random, schema["enum"]) as JsonValue;
  for (const combinator of ["anyOf", "oneOf"] as const) {
    const options = schema[combinator];
    if (Array.isArray(options) && options.length > 0) {
      // Prefer a non-null branch: a plausible answer fills the field in.
      const branch = options.find((o) => isSchema(o) && typeOf(o) !== "null") ?? options[0];
      return sample(isSchema(branch) ? branch : {}, root, random, key, depth + 1);
    }
  }
  if (Array.isArray(schema["allOf"])) return sample(mergeAllOf(schema), root, random, key, depth + 1);

  switch (typeOf(schema)) {
    case "object":
      return sampleObject(schema, root, random, depth);
    case "array":
      return sampleArray(schema, root, random, key, depth);
    case "string":
      return sampleString(schema, random, key);
    case "integer":
      return sampleNumber(schema, random, true);
    case "number":
      return sampleNumber(schema, random, false);
    case "boolean":
      return random() < 0.5;
    case "null":
      return null;
    default:
      return sampleString({}, random, key);
  }
}

function mergeAllOf(schema: Schema): Schema {
  const merged: Schema = { ...schema, allOf: undefined };
  const properties: Schema = {};
  for (const part of [schema, ...(schema["allOf"] as unknown[])]) {
    if (!isSchema(part)) continue;
    if (isSchema(part["properties"])) Object.assign(properties, part["properties"]);
    for (const [k, v] of Object.entries(part)) {
      if (k !== "properties" && k !== "allOf" && !(k in merged && merged[k] !== undefined)) merged[k] = v;
    }
  }
  if (Object.keys(properties).length > 0) merged["properties"] = properties;
  delete merged["allOf"];
  return merged;
}

function sampleObject(schema: Schema, root: Schema, random: () => number, depth: number): JsonValue {
  const out: { [key: string]: JsonValue } = {};
  if (depth > MAX_DEPTH) return out;
  const properties = isSchema(schema["properties"]) ? schema["properties"] : {};
  const required = new Set(Array.isArray(schema["required"]) ? schema["required"] : []);
  for (const [name, child] of Object.entries(properties)) {
    // Deep optional members are left out so recursive schemas terminate.
    if (depth > 4 && !required.has(name)) continue;
    out[name] = sample(isSchema(child) ? child : {}, root, random, name, depth + 1);
  }
  return out;
}

function sampleArray(
  schema: Schema,
  root: Schema,
  random: () => number,
  key: string,
  depth: number,
): JsonValue {
  if (Array.isArray(schema["prefixItems"])) {
    return schema["prefixItems"].map((item) =>
      sample(isSchema(item) ? item : {}, root, random, key, depth + 1),
    );
  }
  const min = constraint(schema, "minItems") ?? 0;
  const max = constraint(schema, "maxItems") ?? Math.max(min, 3);
  const low = Math.min(Math.max(min, depth > 4 ? min : 1), max);
  const count = randomInt(random, low, Math.max(low, Math.min(max, low + 2)));
  const items = isSchema(schema["items"]) ? schema["items"] : {};
  return Array.from({ length: count }, () => sample(items, root, random, key, depth + 1));
}

function sampleNumber(schema: Schema, random: () => number, integer: boolean): number {
  const num = (k: string) => constraint(schema, k);
  const exclusiveMin = num("exclusiveMinimum");
  const exclusiveMax = num("exclusiveMaximum");
  let min = num("minimum") ?? (exclusiveMin !== undefined ? exclusiveMin + (integer ? 1 : 0.01) : undefined);
  let max = num("maximum") ?? (exclusiveMax !== undefined ? exclusiveMax - (integer ? 1 : 0.01) : undefined);
  min ??= max !== undefined ? Math.min(0, max) : 0;
  max ??= min + 100;
  if (integer) {
    const step = num("multipleOf") ?? 1;
    const lowest = Math.ceil(min / step);
    const highest = Math.max(lowest, Math.floor(max / step));
    return randomInt(random, lowest, highest) * step;
  }
  return Math.round((min + random() * (max - min)) * 100) / 100;
}

function words(random: () => number, count: number): string {
  return Array.from({ length: count }, () => pick(random, WORDS)).join(" ");
}

function sampleString(schema: Schema, random: () => number, key: string): string {
  const day = randomInt(random, 0, 364);
  const date = new Date(Date.UTC(2024, 0, 1) + day * 86_400_000);
  let value: string;
  switch (schema["format"]) {
    case "date-time":
      return date.toISOString().replace(".000Z", "Z");
    case "date":
      return date.toISOString().slice(0, 10);
    case "time":
      return `${String(randomInt(random, 0, 23)).padStart(2, "0")}:${String(randomInt(random, 0, 59)).padStart(2, "0")}:00`;
    case "email":
      return `${pick(random, WORDS)}@example.com`;
    case "uri":
    case "url":
      return `https://example.com/${pick(random, WORDS)}`;
    case "uuid": {
      const hex = Array.from({ length: 32 }, () => Math.floor(random() * 16).toString(16)).join("");
      return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20)}`;
    }
    default:
      value = /(^|_)id$|Id$/.test(key)
        ? `${key || "id"}-${randomInt(random, 1000, 9999)}`
        : words(random, randomInt(random, 1, 3));
  }
  const minLength = constraint(schema, "minLength") ?? 0;
  const maxLength = constraint(schema, "maxLength") ?? Number.POSITIVE_INFINITY;
  while (value.length < minLength) value += ` ${pick(random, WORDS)}`;
  return value.slice(0, maxLength);
}
