import { getRedactor, type Redactor } from "./redact.ts";

/**
 * Span and event attributes leave the process (exporters, dashboards), so they pass a gate:
 * only allowlisted keys survive, strings are redacted, and long values are cut with `...`.
 * Unknown attributes are dropped rather than passed on, because a new attribute is a new
 * place for a secret or a high-cardinality value to leak.
 */

export type AttributeValue =
  | string
  | number
  | boolean
  | readonly string[]
  | readonly number[]
  | readonly boolean[];
export type Attributes = Record<string, AttributeValue>;

/** Keys every span or event may carry. Extend per use with `allow`. */
export const DEFAULT_ATTRIBUTE_ALLOWLIST: readonly string[] = [
  "run.id",
  "run.status",
  "step.id",
  "step.name",
  "task.id",
  "workflow.name",
  "workflow.version",
  "trace.id",
  "status",
  "result.count",
  "error.code",
  "attempt",
  "duration_ms",
  "tenant",
  "policy.version",
  "policy.decision",
  "policy.reasons",
  "budget.kind",
  "cache.hit",
  "model.id",
  "model.provider",
  "gen_ai.system",
  "gen_ai.operation.name",
  "gen_ai.request.model",
  "gen_ai.response.model",
  "gen_ai.usage.input_tokens",
  "gen_ai.usage.output_tokens",
  "http.request.method",
  "http.route",
  "http.response.status_code",
  "command.name",
  "sandbox.status",
];

export interface AttributeFilterOptions {
  /** Extra allowed keys; an entry ending in `.*` allows a whole namespace (`app.*`). */
  allow?: readonly string[];
  /** Replace the default allowlist instead of extending it. */
  replaceDefaults?: boolean;
  /** Maximum length of a string value (and of each string in an array). Default 256. */
  maxLength?: number;
  /** Maximum number of items in an array value. Default 32. */
  maxItems?: number;
  redactor?: Redactor;
}

export interface AttributeFilter {
  (attributes: Readonly<Record<string, unknown>>): Attributes;
  /** Whether `key` would pass. */
  allows(key: string): boolean;
}

const SUFFIX = "...";

function cap(value: string, maxLength: number): string {
  if (value.length <= maxLength) return value;
  const cut = Math.max(0, maxLength - SUFFIX.length);
  // Do not leave half a surrogate pair behind.
  const end = cut > 0 && /[\ud800-\udbff]/.test(value[cut - 1] ?? "") ? cut - 1 : cut;
  return value.slice(0, end) + SUFFIX;
}

/**
 * Builds an attribute gate.
 *
 * @example
 * const filter = createAttributeFilter({ allow: ["app.*"] });
 * span.setAttributes(filter({ "run.id": id, "app.user": email, "http.body": body }));
 * // → { "run.id": id, "app.user": "<<REDACTED>>" }   ("http.body" dropped)
 */
export function createAttributeFilter(options: AttributeFilterOptions = {}): AttributeFilter {
  const maxLength = options.maxLength ?? 256;
  const maxItems = options.maxItems ?? 32;
  const entries = [...(options.replaceDefaults ? [] : DEFAULT_ATTRIBUTE_ALLOWLIST), ...(options.allow ?? [])];
  const exact = new Set(entries.filter((k) => !k.endsWith(".*")));
  const prefixes = entries.filter((k) => k.endsWith(".*")).map((k) => k.slice(0, -1));
  const allows = (key: string) =>
    exact.has(key) || prefixes.some((p) => key.startsWith(p) && key.length > p.length);

  const filter = ((attributes: Readonly<Record<string, unknown>>): Attributes => {
    const redactor = options.redactor ?? getRedactor();
    const clean = (s: string) => cap(redactor.redact(s), maxLength);
    const out: Attributes = {};
    for (const key of Object.keys(attributes).sort()) {
      if (!allows(key)) continue;
      const value = attributes[key];
      if (typeof value === "string") out[key] = clean(value);
      else if (typeof value === "number") {
        if (Number.isFinite(value)) out[key] = value;
      } else if (typeof value === "boolean") out[key] = value;
      else if (Array.isArray(value) && value.length > 0) {
        const items = value.slice(0, maxItems);
        const kind = typeof items[0];
        if (!items.every((item) => typeof item === kind)) continue;
        if (kind === "string") out[key] = (items as string[]).map(clean);
        else if (kind === "number") out[key] = (items as number[]).filter(Number.isFinite);
        else if (kind === "boolean") out[key] = items as boolean[];
      }
    }
    return out;
  }) as AttributeFilter;
  filter.allows = allows;
  return filter;
}

/** The default gate: default allowlist, 256-character values. */
export function filterAttributes(attributes: Readonly<Record<string, unknown>>): Attributes {
  defaultFilter ??= createAttributeFilter();
  return defaultFilter(attributes);
}

let defaultFilter: AttributeFilter | undefined;
