import { ValidationError } from "../errors.ts";
import {
  REDACTED,
  type RedactionPattern,
  type RedactionProfile,
  SECRET_FIELD_PATTERN,
  SECRET_HEADER_NAMES,
  STANDARD_PATTERNS,
  STRICT_EXTRA_PATTERNS,
} from "./redact-patterns.ts";

/**
 * One redactor for everything that leaves the process in readable form: logs, span and
 * event attributes, metric labels, error messages, crash output and transcripts.
 *
 * Configuration (read once, at first use, or by `configureRedaction`):
 * - `BALLAST_REDACT_PROFILE`: `standard` (default) or `strict`.
 * - `BALLAST_REDACT_PATTERNS`: extra patterns, without code changes. A JSON array whose
 *   items are either a regular-expression source string or an object
 *   `{ "name": "ticket", "pattern": "TCK-[0-9]+", "flags": "i" }` (flags from `imsu`; `g`
 *   is implied). A value that is not a JSON array is a comma-separated list of literal
 *   prefixes: `acme_,corp-` redacts `acme_` or `corp-` followed by 8+ token characters.
 *   Invalid values throw `redact_patterns_invalid` (configuration is validated at start-up).
 * - Values of environment variables whose names look secret (`*_KEY`, `*TOKEN*`,
 *   `*SECRET*`, `*PASSWORD*`, ...) and are at least 8 characters long are redacted
 *   wherever they appear, whatever their format.
 */

export { REDACTED, type RedactionPattern, type RedactionProfile } from "./redact-patterns.ts";

export interface RedactPatternSpec {
  name?: string;
  pattern: string;
  flags?: string;
}

export interface RedactorOptions {
  profile?: RedactionProfile;
  /** Extra patterns, in addition to the profile's. */
  patterns?: readonly (RegExp | string | RedactPatternSpec)[];
  /** Literal secret values to redact wherever they appear (e.g. API keys in use). */
  secrets?: readonly string[];
  /**
   * Environment to read `BALLAST_REDACT_*` and secret-looking variables from. Default
   * `process.env`; pass `{}` to ignore the environment.
   */
  env?: Readonly<Record<string, string | undefined>>;
}

export interface Redactor {
  readonly profile: RedactionProfile;
  /** The text with every secret and PII match replaced by `<<REDACTED>>`. */
  redact(text: string): string;
  /**
   * For identifiers (trace ids, hashes, run ids): kept when they are a plain token of id
   * characters that matches no secret pattern other than the hex, long-number and opaque
   * token rules, which would otherwise erase every SHA-256 and trace id. Anything else is
   * redacted like text.
   */
  redactId(value: string): string;
  /**
   * A deep copy of `value` with every string redacted, keys included, and values of
   * secret-named fields (`password`, `apiKey`, `authorization`, ...) replaced whole.
   * Values of identifier fields (`traceId`, `runId`, `requestHash`, `sha256`, `chain`, ...)
   * go through `redactId`. Errors become `{ name, message, code? }`; cycles become `"[Circular]"`.
   */
  redactValue<T>(value: T): T;
  /** Headers with secret headers replaced whole and other values redacted. */
  redactHeaders<H extends HeadersLike>(headers: H): H extends Headers ? Record<string, string> : H;
}

export type HeadersLike =
  | Headers
  | Record<string, string | string[] | number | undefined>
  | readonly (readonly [string, string])[];

const SECRET_ENV_NAME =
  /(?:^|_)(?:KEY|APIKEY|TOKEN|SECRET|PASSWORD|PASSWD|PASS|CREDENTIALS?|AUTH|PRIVATE|DSN|COOKIE)(?:_|$)|TOKEN|SECRET|PASSWORD|API_?KEY/i;
// Variables that match the name test but never hold secrets.
const NOT_SECRET_ENV = new Set([
  "BALLAST_REDACT_PATTERNS",
  "BALLAST_REDACT_PROFILE",
  "PWD",
  "OLDPWD",
  "GPG_TTY",
  "SSH_AUTH_SOCK",
]);
const MIN_SECRET_LENGTH = 8;
const ALLOWED_FLAGS = /^[imsu]*$/;

function invalid(message: string): ValidationError {
  return new ValidationError(
    "redact_patterns_invalid",
    `BALLAST_REDACT_PATTERNS is invalid: ${message}. Use a JSON array of regex sources or {"name","pattern","flags"} objects, or a comma-separated list of literal prefixes.`,
  );
}

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
}

function toPattern(item: RegExp | string | RedactPatternSpec, index: number): RedactionPattern {
  let source: string;
  let flags = "";
  let name = `custom_${index}`;
  if (item instanceof RegExp) {
    source = item.source;
    flags = item.flags.replace(/[gy]/g, "");
  } else if (typeof item === "string") {
    source = item;
  } else if (typeof item === "object" && item !== null && typeof item.pattern === "string") {
    source = item.pattern;
    flags = item.flags ?? "";
    if (item.name !== undefined) name = item.name;
  } else {
    throw invalid(`item ${index} is neither a string nor {"pattern": "..."}`);
  }
  if (!ALLOWED_FLAGS.test(flags))
    throw invalid(`item ${index} has flags "${flags}"; only i, m, s and u are allowed`);
  if (source.length === 0) throw invalid(`item ${index} is empty`);
  let regex: RegExp;
  try {
    regex = new RegExp(source, `${flags}g`);
  } catch (error) {
    throw invalid(`item ${index} does not compile (${(error as Error).message})`);
  }
  if (regex.test("")) throw invalid(`item ${index} matches the empty string`);
  regex.lastIndex = 0;
  return { name, regex };
}

/** Parses `BALLAST_REDACT_PATTERNS`; throws `redact_patterns_invalid` on a bad value. */
export function parseRedactPatterns(value: string | undefined): RedactionPattern[] {
  if (value === undefined || value.trim() === "") return [];
  const trimmed = value.trim();
  if (trimmed.startsWith("[") || trimmed.startsWith("{")) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(trimmed);
    } catch (error) {
      throw invalid(`not valid JSON (${(error as Error).message})`);
    }
    if (!Array.isArray(parsed)) throw invalid("not a JSON array");
    return parsed.map((item, i) => toPattern(item as string | RedactPatternSpec, i));
  }
  return trimmed
    .split(",")
    .map((p) => p.trim())
    .filter((p) => p.length > 0)
    .map((prefix, i) => {
      if (/\s/.test(prefix)) throw invalid(`prefix ${i} contains whitespace`);
      return { name: `prefix_${i}`, regex: new RegExp(`${escapeRegex(prefix)}[A-Za-z0-9._~+/=-]{8,}`, "g") };
    });
}

function parseProfile(value: string | undefined): RedactionProfile {
  if (value === undefined || value === "" || value === "standard") return "standard";
  if (value === "strict") return "strict";
  throw new ValidationError(
    "redact_profile_invalid",
    `BALLAST_REDACT_PROFILE is "${value}"; set it to "standard" or "strict".`,
  );
}

/** Values of secret-looking environment variables, longest first. */
function envSecrets(env: Readonly<Record<string, string | undefined>>): string[] {
  const out: string[] = [];
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined || value.length < MIN_SECRET_LENGTH) continue;
    if (NOT_SECRET_ENV.has(name) || !SECRET_ENV_NAME.test(name)) continue;
    out.push(value);
  }
  return out;
}

function secretsPattern(secrets: readonly string[]): RedactionPattern | undefined {
  const unique = [...new Set(secrets.filter((s) => s.length >= MIN_SECRET_LENGTH))].sort(
    (a, b) => b.length - a.length || (a < b ? -1 : 1),
  );
  if (unique.length === 0) return undefined;
  return { name: "known_secret", regex: new RegExp(unique.map(escapeRegex).join("|"), "g") };
}

function applyPattern(text: string, pattern: RedactionPattern): string {
  pattern.regex.lastIndex = 0;
  const replace = pattern.replace;
  if (replace === undefined) return text.replace(pattern.regex, REDACTED);
  return text.replace(pattern.regex, (match: string, ...rest: unknown[]) => {
    // rest = groups..., offset, whole string[, named groups]
    const groups = rest.filter((_, i) => i < rest.length - 2) as (string | undefined)[];
    return replace(match, ...groups);
  });
}

/** Normalises a field name for the secret-field test: `X-Api-Token` → `x_api_token`, `apiKey` → `api_key`. */
function normaliseKey(key: string): string {
  return key
    .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
    .toLowerCase()
    .replace(/[-. ]/g, "_");
}

// Patterns that identifiers legitimately match (digests, trace ids, numeric ids).
const ID_SAFE_PATTERNS = new Set(["hex", "long_number", "opaque_token", "card_like", "phone"]);
const IDENTIFIER_VALUE = /^[A-Za-z0-9_.:/=+-]{1,256}$/;
const IDENTIFIER_FIELD =
  /^(?:[a-z0-9]+_)*(?:trace_id|span_id|run_id|step_id|request_id|request_hash|hash|prev_hash|head_hash|chain|chain_prev|sha256|digest|fingerprint|etag|seq|id)$/;

export function isIdentifierFieldName(key: string): boolean {
  return IDENTIFIER_FIELD.test(normaliseKey(key));
}

export function isSecretFieldName(key: string): boolean {
  return SECRET_FIELD_PATTERN.test(normaliseKey(key));
}

export function isSecretHeaderName(name: string): boolean {
  return SECRET_HEADER_NAMES.has(name.toLowerCase());
}

export function createRedactor(options: RedactorOptions = {}): Redactor {
  const env = options.env ?? process.env;
  const profile = options.profile ?? parseProfile(env["BALLAST_REDACT_PROFILE"]);
  const custom = [
    ...parseRedactPatterns(env["BALLAST_REDACT_PATTERNS"]),
    ...(options.patterns ?? []).map((p, i) => toPattern(p, 1000 + i)),
  ];
  const known = secretsPattern([...(options.secrets ?? []), ...envSecrets(env)]);
  // Known literal secrets first (they may have any shape), then custom patterns (they name
  // the organisation's own formats), then the built-in ones.
  const patterns: RedactionPattern[] = [
    ...(known === undefined ? [] : [known]),
    ...custom,
    ...STANDARD_PATTERNS,
    ...(profile === "strict" ? STRICT_EXTRA_PATTERNS : []),
  ];

  const redact = (text: string): string => {
    let out = text;
    for (const pattern of patterns) out = applyPattern(out, pattern);
    return out;
  };
  const idPatterns = patterns.filter((p) => !ID_SAFE_PATTERNS.has(p.name));
  const redactId = (text: string): string => {
    if (!IDENTIFIER_VALUE.test(text)) return redact(text);
    let out = text;
    for (const pattern of idPatterns) out = applyPattern(out, pattern);
    return out;
  };

  const redactValue = <T>(value: T): T => walk(value, new WeakSet()) as T;

  function walk(value: unknown, seen: WeakSet<object>): unknown {
    if (typeof value === "string") return redact(value);
    if (typeof value !== "object" || value === null) return value;
    const member = (key: string, v: unknown): unknown => {
      if (v === null || v === undefined) return v;
      if (isSecretFieldName(key)) return REDACTED;
      if (typeof v === "string" && isIdentifierFieldName(key)) return redactId(v);
      return walk(v, seen);
    };
    if (value instanceof Uint8Array || value instanceof Date) return value;
    if (seen.has(value)) return "[Circular]";
    seen.add(value);
    try {
      if (Array.isArray(value)) return value.map((item) => walk(item, seen));
      if (value instanceof Error) {
        const code = (value as { code?: unknown }).code;
        return {
          name: value.name,
          message: redact(value.message),
          ...(typeof code === "string" ? { code } : {}),
        };
      }
      if (value instanceof Map) {
        const out = new Map<unknown, unknown>();
        for (const [k, v] of value) {
          out.set(walk(k, seen), typeof k === "string" ? member(k, v) : walk(v, seen));
        }
        return out;
      }
      const out: Record<string, unknown> = {};
      for (const [key, item] of Object.entries(value)) out[redact(key)] = member(key, item);
      return out;
    } finally {
      seen.delete(value);
    }
  }

  const redactHeaders = (headers: HeadersLike): unknown => {
    const one = (name: string, value: unknown): unknown => {
      if (isSecretHeaderName(name) || isSecretFieldName(name)) return REDACTED;
      if (Array.isArray(value)) return value.map((v) => (typeof v === "string" ? redact(v) : v));
      return typeof value === "string" ? redact(value) : value;
    };
    if (typeof Headers !== "undefined" && headers instanceof Headers) {
      const out: Record<string, string> = {};
      headers.forEach((value, name) => {
        out[name] = one(name, value) as string;
      });
      return out;
    }
    if (Array.isArray(headers)) {
      return (headers as readonly (readonly [string, string])[]).map(([name, value]) => [
        name,
        one(name, value),
      ]);
    }
    const out: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(headers)) out[name] = one(name, value);
    return out;
  };

  return {
    profile,
    redact,
    redactId,
    redactValue,
    redactHeaders: redactHeaders as Redactor["redactHeaders"],
  };
}

let defaultRedactor: Redactor | undefined;

/** Replaces the process-wide redactor (call at start-up after validating configuration). */
export function configureRedaction(options: RedactorOptions = {}): Redactor {
  defaultRedactor = createRedactor(options);
  return defaultRedactor;
}

/** The process-wide redactor, built from the environment on first use. */
export function getRedactor(): Redactor {
  defaultRedactor ??= createRedactor();
  return defaultRedactor;
}

/** Redacts secrets and PII in `text` with the process-wide redactor. */
export function redact(text: string): string {
  return getRedactor().redact(text);
}

/** Deep-redacts any JSON-like value with the process-wide redactor. */
export function redactValue<T>(value: T): T {
  return getRedactor().redactValue(value);
}

/** Redacts headers: `Authorization`, `X-API-Token` and friends always become `<<REDACTED>>`. */
export function redactHeaders<H extends HeadersLike>(
  headers: H,
): H extends Headers ? Record<string, string> : H {
  return getRedactor().redactHeaders(headers);
}

/**
 * A redacted, one-line description of a thrown value for crash paths (`catch` blocks,
 * process handlers): name, code and message with secrets removed, stack frames dropped.
 */
export function redactError(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    const head = typeof code === "string" ? `${error.name} [${code}]` : error.name;
    return redact(`${head}: ${error.message}`);
  }
  return redact(String(error));
}

/** Redacts metric label values (they become time-series keys, so secrets must never reach them). */
export function redactLabels(labels: Record<string, string | number>): Record<string, string | number> {
  const out: Record<string, string | number> = {};
  for (const [key, value] of Object.entries(labels))
    out[key] = typeof value === "string" ? redact(value) : value;
  return out;
}
