/**
 * The built-in secret and PII patterns. Kept apart from the redactor so the list can be read
 * (and reviewed) on its own. Every pattern is global; a `keep` group is left in place and
 * only the rest of the match becomes the marker, so `Bearer abc` reads `Bearer <<REDACTED>>`.
 *
 * Written here rather than taken from a library: the secret scanners on npm (secretlint and
 * friends) scan files and report findings, they do not rewrite text in a hot logging path,
 * and the redaction rules (markers, profiles, Luhn, hex ids) are part of our contract.
 */

export const REDACTED = "<<REDACTED>>";

export type RedactionProfile = "standard" | "strict";

export interface RedactionPattern {
  /** Low-cardinality name, e.g. `email`, `jwt`. */
  readonly name: string;
  readonly regex: RegExp;
  /**
   * Builds the replacement from the match. Default: the marker. Returning the match
   * unchanged keeps it (used for validation such as the Luhn check).
   */
  readonly replace?: (match: string, ...groups: (string | undefined)[]) => string;
}

// Names of headers and fields whose value is always a credential.
const SECRET_KEY_WORDS =
  "api[_-]?key|apikey|api[_-]?token|x[_-]api[_-]token|x[_-]api[_-]key|access[_-]?key|secret[_-]?key|" +
  "secret|token|password|passwd|pwd|passphrase|private[_-]?key|client[_-]?secret|credentials?|auth|" +
  "authorization|cookie|session[_-]?id|signature";

/** Header names whose values are replaced whole, matched case-insensitively. */
export const SECRET_HEADER_NAMES: ReadonlySet<string> = new Set([
  "authorization",
  "proxy-authorization",
  "x-api-token",
  "x-api-key",
  "api-key",
  "x-goog-api-key",
  "x-auth-token",
  "x-access-token",
  "cookie",
  "set-cookie",
]);

/** Object keys whose values are replaced whole by `redactValue` (normalised: lower case, `-` → `_`). */
export const SECRET_FIELD_PATTERN = new RegExp(
  `^(?:[a-z0-9]+_)*(?:${SECRET_KEY_WORDS.replaceAll("[_-]", "_")}|proxy_authorization|set_cookie|x_goog_api_key|x_auth_token|x_access_token|refresh_token|access_token|id_token|bearer)$`,
);

function luhnValid(digits: string): boolean {
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return sum % 10 === 0;
}

const HEADER_NAMES_ALT = [...SECRET_HEADER_NAMES].map((h) => h.replaceAll("-", "[-_]")).join("|");

/** Patterns of the `standard` profile, applied in this order (most specific first). */
export const STANDARD_PATTERNS: readonly RedactionPattern[] = [
  {
    name: "private_key",
    regex:
      /-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----[\s\S]*?(?:-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----|$)/g,
  },
  // `Authorization: Bearer x`, `x-api-token: y` as header lines in text: the whole value goes.
  {
    name: "secret_header",
    regex: new RegExp(`(?<![A-Za-z0-9-])((?:${HEADER_NAMES_ALT})\\s*:[ \\t]*)[^\\r\\n"']*[^\\s"']`, "gi"),
    replace: (_m, keep) => `${keep}${REDACTED}`,
  },
  {
    name: "jwt",
    regex: /\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*/g,
  },
  {
    name: "bearer",
    regex: /\b((?:Bearer|Basic|Token|Digest)\s+)[A-Za-z0-9._~+/=-]{8,}/gi,
    replace: (_m, keep) => `${keep}${REDACTED}`,
  },
  // Credentials in URLs: scheme://user:password@host
  {
    name: "url_credentials",
    regex: /\b([a-z][a-z0-9+.-]*:\/\/[^\s:/@]*:)[^\s/@]+(?=@)/gi,
    replace: (_m, keep) => `${keep}${REDACTED}`,
  },
  // key=value, key: value, "key": "value" for keys that name a secret.
  {
    name: "secret_assignment",
    regex: new RegExp(
      `((\\\\?["']?)\\b(?:[A-Za-z0-9]+[_-])*(?:${SECRET_KEY_WORDS})\\b\\2\\s*[:=]\\s*)(\\\\?"[^"\\r\\n]*"|\\\\?'[^'\\r\\n]*'|[^\\s"'\\\\,;&}\\])]+)`,
      "gi",
    ),
    replace: (match, keep, _quote, value) => {
      if (value === undefined || keep === undefined) return match;
      if (value.includes(REDACTED)) return match;
      // Keep the value's quoting (plain, or escaped inside a JSON string).
      const quote = /^\\?["']/.exec(value)?.[0] ?? "";
      return `${keep}${quote}${REDACTED}${quote}`;
    },
  },
  { name: "anthropic_key", regex: /\bsk-ant-[A-Za-z0-9]{2,10}-[A-Za-z0-9_-]{20,}/g },
  { name: "openai_key", regex: /\bsk-(?:proj-|svcacct-|admin-|None-)?[A-Za-z0-9_-]{20,}/g },
  { name: "stripe_key", regex: /\b(?:sk|rk|pk|whsec)_(?:live|test)_[A-Za-z0-9]{16,}/g },
  { name: "google_api_key", regex: /\bAIza[0-9A-Za-z_-]{35}/g },
  { name: "google_oauth", regex: /\bya29\.[0-9A-Za-z_-]{20,}/g },
  { name: "github_token", regex: /\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{22,})/g },
  { name: "gitlab_token", regex: /\bgl(?:pat|dt|ptt|rt)-[A-Za-z0-9_-]{20,}/g },
  { name: "slack_token", regex: /\bxox[abposre]-[A-Za-z0-9-]{10,}/g },
  { name: "slack_webhook", regex: /https:\/\/hooks\.slack\.com\/services\/[A-Za-z0-9/_-]+/g },
  { name: "huggingface_token", regex: /\bhf_[A-Za-z0-9]{30,}/g },
  { name: "npm_token", regex: /\bnpm_[A-Za-z0-9]{36}/g },
  { name: "pypi_token", regex: /\bpypi-[A-Za-z0-9_-]{50,}/g },
  { name: "sendgrid_key", regex: /\bSG\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}/g },
  { name: "groq_key", regex: /\bgsk_[A-Za-z0-9]{40,}/g },
  { name: "xai_key", regex: /\bxai-[A-Za-z0-9]{40,}/g },
  { name: "replicate_token", regex: /\br8_[A-Za-z0-9]{30,}/g },
  { name: "perplexity_key", regex: /\bpplx-[A-Za-z0-9]{40,}/g },
  {
    name: "aws_access_key_id",
    regex: /\b(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|APKA)[A-Z0-9]{16}\b/g,
  },
  // AWS secret keys have no prefix; catch them next to the words that name them.
  {
    name: "aws_secret_access_key",
    regex: /((?:aws)?[_-]?secret[_-]?(?:access)?[_-]?key["']?\s*[:=]\s*["']?)[A-Za-z0-9/+=]{40}/gi,
    replace: (_m, keep) => `${keep}${REDACTED}`,
  },
  {
    name: "card_number",
    regex: /(?<![0-9])[0-9](?:[ -]?[0-9]){12,18}(?![0-9])/g,
    replace: (match) => {
      const digits = match.replace(/[ -]/g, "");
      return digits.length >= 13 && digits.length <= 19 && luhnValid(digits) ? REDACTED : match;
    },
  },
  { name: "us_ssn", regex: /(?<![0-9-])[0-9]{3}-[0-9]{2}-[0-9]{4}(?![0-9-])/g },
  { name: "email", regex: /[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}/g },
  // Phone numbers: E.164 (+ and 8-15 digits) or grouped with separators (555-123-4567,
  // (555) 123 4567, +44 20 7946 0958). The lookarounds keep dates, versions and IPs out.
  {
    name: "phone",
    regex:
      /(?<![\w.+-]|[0-9][ .-])(?:\+[1-9][0-9]{7,14}|(?:\+[0-9]{1,3}[ .-]?)?(?:\([0-9]{2,4}\)[ .-]?|[0-9]{2,4}[ .-])[0-9]{3,4}[ .-][0-9]{3,4})(?![\w-]|[ .-][0-9])/g,
  },
  // Hex strings of 16+ characters: keys, digests, session ids.
  { name: "hex", regex: /(?<![0-9A-Za-z])(?:0x)?[0-9a-fA-F]{16,}(?![0-9A-Za-z])/g },
];

/** Extra patterns of the `strict` profile, applied after the standard ones. */
export const STRICT_EXTRA_PATTERNS: readonly RedactionPattern[] = [
  // Any 13-19 digit run, Luhn-valid or not.
  { name: "card_like", regex: /(?<![0-9])[0-9](?:[ -]?[0-9]){12,18}(?![0-9])/g },
  { name: "ipv4", regex: /(?<![0-9.])(?:[0-9]{1,3}\.){3}[0-9]{1,3}(?![0-9.])/g },
  // Full eight-group form, or a compressed form with `::` (times like 12:30:45 stay).
  {
    name: "ipv6",
    regex:
      /(?<![0-9A-Fa-f:])(?:(?:[0-9A-Fa-f]{1,4}:){7}[0-9A-Fa-f]{1,4}|(?:[0-9A-Fa-f]{1,4}:){0,6}(?:[0-9A-Fa-f]{1,4})?::(?:[0-9A-Fa-f]{1,4}:){0,6}[0-9A-Fa-f]{1,4})(?![0-9A-Fa-f:])/g,
  },
  { name: "long_number", regex: /(?<![0-9])[0-9]{9,}(?![0-9])/g },
  // Opaque tokens: 24+ base64url characters mixing letters and digits.
  {
    name: "opaque_token",
    regex: /(?<![A-Za-z0-9_+-])[A-Za-z0-9_+-]{24,}={0,2}(?![A-Za-z0-9_+-])/g,
    replace: (match) => (/[0-9]/.test(match) && /[A-Za-z]/.test(match) ? REDACTED : match),
  },
];
