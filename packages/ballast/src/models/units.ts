import { ValidationError } from "../errors.ts";

/**
 * Durations (`90s`, `15m`, `12h`, `7d`, or milliseconds) and sizes (`512KB`, `1.5GiB`, or
 * bytes) as users write them in options and CLI flags. A dozen lines each, hence no library.
 */

const DURATION = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$/i;
const DURATION_MS: Record<string, number> = { ms: 1, s: 1e3, m: 60e3, h: 3600e3, d: 86400e3, w: 604800e3 };

export function parseDuration(value: string | number, what = "duration"): number {
  if (typeof value === "number") {
    if (Number.isFinite(value) && value >= 0) return value;
  } else {
    const match = DURATION.exec(value);
    if (match) return Math.round(Number(match[1]) * (DURATION_MS[(match[2] ?? "ms").toLowerCase()] ?? 1));
  }
  throw new ValidationError(
    "invalid_duration",
    `${what} "${value}" is not a duration. Use milliseconds or a number with a unit: 500ms, 30s, 15m, 12h, 7d, 2w.`,
  );
}

const SIZE = /^\s*(\d+(?:\.\d+)?)\s*(b|kb|mb|gb|tb|kib|mib|gib|tib)?\s*$/i;
const SIZE_BYTES: Record<string, number> = {
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
  tib: 1024 ** 4,
};

export function parseBytes(value: string | number, what = "size"): number {
  if (typeof value === "number") {
    if (Number.isFinite(value) && value >= 0) return Math.floor(value);
  } else {
    const match = SIZE.exec(value);
    if (match) return Math.floor(Number(match[1]) * (SIZE_BYTES[(match[2] ?? "b").toLowerCase()] ?? 1));
  }
  throw new ValidationError(
    "invalid_size",
    `${what} "${value}" is not a size. Use bytes or a number with a unit: 500KB, 200MB, 1GiB.`,
  );
}
