import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";
import { canonicalJson } from "../canonical.ts";
import { ValidationError } from "../errors.ts";

/**
 * Metadata filters (seed 002 CE-4, CE-9, CE-14).
 *
 * Grammar (JSON; the same object as a JSON string is accepted and means the same):
 *
 *   Filter     := { "and": [Filter, ...] }          every child matches (1..64 children)
 *               | { "or":  [Filter, ...] }          some child matches (1..64 children)
 *               | { "not": Filter }                 the child does not match
 *               | Comparison
 *   Comparison := { "field": Path, "op": "eq" | "ne", "value": Scalar }
 *               | { "field": Path, "op": "gt" | "gte" | "lt" | "lte", "value": string | number }
 *               | { "field": Path, "op": "in" | "nin", "value": [Scalar, ...] }   (1..1024 values)
 *               | { "field": Path, "op": "exists", "value": true | false }
 *   Path       := metadata key segments joined by ".", each [A-Za-z0-9_-]{1,64}, e.g. "repo.lang"
 *   Scalar     := string | finite number | true | false | null
 *
 * Semantics: comparisons are typed; a number never equals a string and `true` never equals
 * 1. `ne` and `nin` are the negations of `eq` and `in`, so they also match documents without
 * the field; the range operators never match a missing field or a value of another type.
 * Strings order by their UTF-8 bytes. Arrays and objects in metadata only match `exists`.
 * Nesting is limited to depth 16.
 *
 * Canonical form: canonical JSON (keys sorted, no spaces), `in`/`nin` values de-duplicated and
 * sorted. A filter given as an object and as its JSON string canonicalise to the same string.
 */
export type Scalar = string | number | boolean | null;

export type Filter =
  | { and: Filter[] }
  | { or: Filter[] }
  | { not: Filter }
  | { field: string; op: "eq" | "ne"; value: Scalar }
  | { field: string; op: "gt" | "gte" | "lt" | "lte"; value: string | number }
  | { field: string; op: "in" | "nin"; value: Scalar[] }
  | { field: string; op: "exists"; value: boolean };

const MAX_DEPTH = 16;

const scalar = { type: ["string", "number", "boolean", "null"] };

/** The JSON Schema (draft 2020-12 subset understood by ajv) for one filter. */
export const FILTER_JSON_SCHEMA = {
  $id: "https://ballast.dev/schemas/context-filter.json",
  $ref: "#/$defs/filter",
  $defs: {
    path: { type: "string", pattern: "^[A-Za-z0-9_-]{1,64}(\\.[A-Za-z0-9_-]{1,64}){0,15}$" },
    filter: {
      oneOf: [
        {
          type: "object",
          properties: {
            and: { type: "array", minItems: 1, maxItems: 64, items: { $ref: "#/$defs/filter" } },
          },
          required: ["and"],
          additionalProperties: false,
        },
        {
          type: "object",
          properties: { or: { type: "array", minItems: 1, maxItems: 64, items: { $ref: "#/$defs/filter" } } },
          required: ["or"],
          additionalProperties: false,
        },
        {
          type: "object",
          properties: { not: { $ref: "#/$defs/filter" } },
          required: ["not"],
          additionalProperties: false,
        },
        {
          type: "object",
          properties: { field: { $ref: "#/$defs/path" }, op: { enum: ["eq", "ne"] }, value: scalar },
          required: ["field", "op", "value"],
          additionalProperties: false,
        },
        {
          type: "object",
          properties: {
            field: { $ref: "#/$defs/path" },
            op: { enum: ["gt", "gte", "lt", "lte"] },
            value: { type: ["string", "number"] },
          },
          required: ["field", "op", "value"],
          additionalProperties: false,
        },
        {
          type: "object",
          properties: {
            field: { $ref: "#/$defs/path" },
            op: { enum: ["in", "nin"] },
            value: { type: "array", minItems: 1, maxItems: 1024, items: scalar },
          },
          required: ["field", "op", "value"],
          additionalProperties: false,
        },
        {
          type: "object",
          properties: {
            field: { $ref: "#/$defs/path" },
            op: { const: "exists" },
            value: { type: "boolean" },
          },
          required: ["field", "op", "value"],
          additionalProperties: false,
        },
      ],
    },
  },
} as const;

let validator: ValidateFunction | undefined;

function validate(value: unknown): ErrorObject[] | undefined {
  validator ??= new Ajv({ allErrors: false, strict: true, allowUnionTypes: true }).compile(
    FILTER_JSON_SCHEMA,
  );
  return validator(value) ? undefined : (validator.errors ?? []);
}

function invalid(reason: string, details: Record<string, unknown> = {}): ValidationError {
  return new ValidationError(
    "filters_invalid",
    `Invalid filters: ${reason}. See the grammar in ballast/context filters.ts ({ field, op, value } comparisons combined with and/or/not).`,
    details,
  );
}

/** The most specific schema error: `oneOf` reports every branch, so name the deepest path. */
function describe(errors: ErrorObject[]): string {
  const deepest = [...errors].sort((a, b) => b.instancePath.length - a.instancePath.length)[0];
  const at = deepest && deepest.instancePath !== "" ? deepest.instancePath : "the root";
  return `${at} is not a valid filter node`;
}

function depth(filter: Filter): number {
  if ("and" in filter) return 1 + Math.max(...filter.and.map(depth));
  if ("or" in filter) return 1 + Math.max(...filter.or.map(depth));
  if ("not" in filter) return 1 + depth(filter.not);
  return 1;
}

function normalise(filter: Filter): Filter {
  if ("and" in filter) return { and: filter.and.map(normalise) };
  if ("or" in filter) return { or: filter.or.map(normalise) };
  if ("not" in filter) return { not: normalise(filter.not) };
  if (filter.op === "in" || filter.op === "nin") {
    const unique = new Map(filter.value.map((v) => [canonicalJson(v), v] as const));
    const value = [...unique.keys()].sort().map((key) => unique.get(key) as Scalar);
    return { field: filter.field, op: filter.op, value };
  }
  return filter;
}

export interface CanonicalFilter {
  filter: Filter;
  /** Canonical JSON: the one form a filter is logged, hashed and compared in. */
  canonical: string;
}

/**
 * Validates a filter given as an object or a JSON string and returns its canonical form.
 * Raises `filters_invalid` (never anything else) for any input that is not a filter.
 */
export function canonicalizeFilters(input: unknown): CanonicalFilter {
  let value = input;
  if (typeof input === "string") {
    try {
      value = JSON.parse(input);
    } catch {
      throw invalid("the string is not valid JSON");
    }
  }
  const errors = validate(value);
  if (errors !== undefined) throw invalid(describe(errors), { errors: errors.length });
  const filter = value as Filter;
  if (depth(filter) > MAX_DEPTH) throw invalid(`nesting is deeper than ${MAX_DEPTH}`);
  const normal = normalise(filter);
  return { filter: normal, canonical: canonicalJson(normal) };
}

function lookup(metadata: unknown, field: string): { found: boolean; value: unknown } {
  let node = metadata;
  for (const part of field.split(".")) {
    if (typeof node !== "object" || node === null || Array.isArray(node) || !Object.hasOwn(node, part)) {
      return { found: false, value: undefined };
    }
    node = (node as Record<string, unknown>)[part];
  }
  return { found: true, value: node };
}

function sameScalar(actual: unknown, expected: Scalar): boolean {
  if (expected === null) return actual === null;
  return typeof actual === typeof expected && actual === expected;
}

function compareScalar(actual: unknown, expected: string | number): number | undefined {
  if (typeof expected === "number") return typeof actual === "number" ? actual - expected : undefined;
  if (typeof actual !== "string") return undefined;
  return Buffer.compare(Buffer.from(actual), Buffer.from(expected));
}

/**
 * Evaluates a canonical filter against metadata in memory, with exactly the semantics of the
 * compiled SQL (used for caller-supplied items in budgeted selection, and to test the SQL).
 */
export function matchesFilter(filter: Filter, metadata: unknown): boolean {
  if ("and" in filter) return filter.and.every((child) => matchesFilter(child, metadata));
  if ("or" in filter) return filter.or.some((child) => matchesFilter(child, metadata));
  if ("not" in filter) return !matchesFilter(filter.not, metadata);
  const { found, value } = lookup(metadata, filter.field);
  switch (filter.op) {
    case "exists":
      return found === filter.value;
    case "eq":
      return found && sameScalar(value, filter.value);
    case "ne":
      return !(found && sameScalar(value, filter.value));
    case "in":
      return found && filter.value.some((v) => sameScalar(value, v));
    case "nin":
      return !(found && filter.value.some((v) => sameScalar(value, v)));
    default: {
      const order = found ? compareScalar(value, filter.value) : undefined;
      if (order === undefined) return false;
      if (filter.op === "gt") return order > 0;
      if (filter.op === "gte") return order >= 0;
      if (filter.op === "lt") return order < 0;
      return order <= 0;
    }
  }
}

/** A compiled SQL predicate over a JSON metadata column, with its bound parameters. */
export interface SqlPredicate {
  sql: string;
  params: (string | number)[];
}

function jsonPath(field: string): string {
  return `$.${field
    .split(".")
    .map((part) => `"${part}"`)
    .join(".")}`;
}

/** `json_type` names a scalar of the given JS value has. */
function typeTest(value: Scalar): string {
  if (value === null) return "= 'null'";
  if (typeof value === "boolean") return value ? "= 'true'" : "= 'false'";
  if (typeof value === "number") return "IN ('integer','real')";
  return "= 'text'";
}

function equals(column: string, field: string, value: Scalar, params: (string | number)[]): string {
  const path = jsonPath(field);
  params.push(path);
  const type = `json_type(${column}, ?) ${typeTest(value)}`;
  if (value === null || typeof value === "boolean") return `COALESCE(${type}, 0)`;
  params.push(path, value);
  return `COALESCE(${type} AND json_extract(${column}, ?) = ?, 0)`;
}

const RANGE_SQL = { gt: ">", gte: ">=", lt: "<", lte: "<=" } as const;

/**
 * Compiles a canonical filter to an SQLite predicate over `column` (JSON text). Paths are
 * bound parameters; the only interpolated text is fixed SQL, so no filter can inject SQL.
 */
export function compileFilterSqlite(filter: Filter, column: string): SqlPredicate {
  const params: (string | number)[] = [];
  const walk = (node: Filter): string => {
    if ("and" in node) return `(${node.and.map(walk).join(" AND ")})`;
    if ("or" in node) return `(${node.or.map(walk).join(" OR ")})`;
    if ("not" in node) return `(NOT ${walk(node.not)})`;
    switch (node.op) {
      case "eq":
        return equals(column, node.field, node.value, params);
      case "ne":
        return `(NOT ${equals(column, node.field, node.value, params)})`;
      case "in":
        return `(${node.value.map((v) => equals(column, node.field, v, params)).join(" OR ")})`;
      case "nin":
        return `(NOT (${node.value.map((v) => equals(column, node.field, v, params)).join(" OR ")}))`;
      case "exists": {
        params.push(jsonPath(node.field));
        return `(json_type(${column}, ?) IS ${node.value ? "NOT NULL" : "NULL"})`;
      }
      default: {
        const path = jsonPath(node.field);
        params.push(path, path, node.value);
        return `COALESCE(json_type(${column}, ?) ${typeTest(node.value)} AND json_extract(${column}, ?) ${RANGE_SQL[node.op]} ?, 0)`;
      }
    }
  };
  return { sql: walk(filter), params };
}
