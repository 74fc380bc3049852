import { ValidationError } from "../errors.ts";

export interface SanitizeOptions {
  /** Maximum length in Unicode code points, ellipsis included. Default 10 000. */
  maxLength?: number;
  /** Appended when the text is cut. Default `…`. */
  ellipsis?: string;
}

// Terminal escape sequences (CSI `ESC [ ... final`, OSC `ESC ] ... BEL|ESC \`, and two-byte
// ESC sequences): removed whole, so no `[31m` debris is left behind once ESC is gone.
const ANSI_SEQUENCE =
  /\u001b\[[0-?]*[ -/]*[@-~]|\u001b\][^\u0007\u001b]*(?:\u0007|\u001b\\)?|\u001b[@-Z\\-_]|\u009b[0-?]*[ -/]*[@-~]/g;
// C0 and C1 controls except tab and newline, DEL, and the bidirectional overrides that can
// make text display differently from what it says ("Trojan Source").
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069\ufeff]/g;
// Unicode spaces that are not the ASCII space (no-break, en/em, ideographic, ...).
const EXOTIC_SPACE = /[\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]/g;
const LINE_SEPARATOR = /\r\n?|[\u0085\u2028\u2029]/g;

const segmenter = new Intl.Segmenter(undefined, { granularity: "grapheme" });

/**
 * Makes model output safe to put into HTML text or print on a terminal:
 * - normalises to NFC, turns every line-break form into `\n` and exotic spaces into ` `;
 * - strips terminal escape sequences and control characters other than `\n` and `\t`;
 * - collapses runs of spaces, drops trailing spaces on each line, allows at most one blank
 *   line in a row, and trims the whole;
 * - cuts at `maxLength` code points on a grapheme boundary (never inside an emoji or a
 *   combining sequence), ending with `…`.
 *
 * HTML escaping is still the template's job; this removes what escaping cannot.
 *
 * @example
 * sanitizeModelText("Wheat\u001b[31m rust\r\n\r\n\r\n  seen\u0007", { maxLength: 80 }) // "Wheat rust\n\nseen"
 */
export function sanitizeModelText(value: unknown, options: SanitizeOptions = {}): string {
  const maxLength = options.maxLength ?? 10_000;
  const ellipsis = options.ellipsis ?? "…";
  if (!Number.isInteger(maxLength) || maxLength < 1) {
    throw new ValidationError(
      "sanitize_max_length_invalid",
      `sanitizeModelText: maxLength must be a positive integer, got ${String(maxLength)}.`,
    );
  }
  const text = typeof value === "string" ? value : value === null || value === undefined ? "" : String(value);
  const cleaned = text
    .normalize("NFC")
    .replace(LINE_SEPARATOR, "\n")
    .replace(ANSI_SEQUENCE, "")
    .replace(CONTROL, "")
    .replace(EXOTIC_SPACE, " ")
    .replace(/ {2,}/g, " ")
    .replace(/[ \t]+\n/g, "\n")
    .replace(/\n{3,}/g, "\n\n")
    .trim();
  return truncateCodePoints(cleaned, maxLength, ellipsis);
}

function truncateCodePoints(text: string, maxLength: number, ellipsis: string): string {
  // Fast path: UTF-16 length bounds the code-point count from above.
  if (text.length <= maxLength) return text;
  const codePoints = (s: string) => {
    let n = 0;
    for (const _ of s) n++;
    return n;
  };
  if (codePoints(text) <= maxLength) return text;
  const tail = codePoints(ellipsis) < maxLength ? ellipsis : "";
  const budget = maxLength - codePoints(tail);
  let used = 0;
  let out = "";
  for (const { segment } of segmenter.segment(text)) {
    const size = codePoints(segment);
    if (used + size > budget) break;
    out += segment;
    used += size;
  }
  return out.trimEnd() + tail;
}
