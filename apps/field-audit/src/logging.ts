import { pino } from "pino";
import { ConfigError } from "./errors.ts";

/**
 * Log levels (WP-7): a named level stays a string; a numeric level (from a flag or
 * `FIELD_AUDIT_LOG_LEVEL=25`) is stored as an integer and used as one: the logger's
 * threshold is that number, through a custom pino level when it is not a standard one.
 * pino's numbers: trace 10, debug 20, info 30, warn 40, error 50, fatal 60.
 */

export const NAMED_LEVELS = ["trace", "debug", "info", "warn", "error", "fatal", "silent"] as const;
export type NamedLevel = (typeof NAMED_LEVELS)[number];
export type LogLevelSetting = NamedLevel | number;

const STANDARD: Record<number, NamedLevel> = {
  10: "trace",
  20: "debug",
  30: "info",
  40: "warn",
  50: "error",
  60: "fatal",
};

export function normalizeLogLevel(
  value: string | number | undefined,
  fallback: LogLevelSetting = "warn",
): LogLevelSetting {
  if (value === undefined || value === "") return fallback;
  if (typeof value === "number" || /^\s*\d+\s*$/.test(value)) {
    const n = typeof value === "number" ? value : Number.parseInt(value, 10);
    if (!Number.isInteger(n) || n < 0 || n > 100) {
      throw new ConfigError(
        `Log level ${value} is out of range: use an integer from 0 to 100 or a name (${NAMED_LEVELS.join(", ")}).`,
      );
    }
    return n;
  }
  const name = value.trim().toLowerCase();
  if ((NAMED_LEVELS as readonly string[]).includes(name)) return name as NamedLevel;
  if (name === "warning") return "warn";
  if (name === "critical") return "fatal";
  throw new ConfigError(`Unknown log level "${value}": use ${NAMED_LEVELS.join(", ")} or an integer.`);
}

export function createAppLogger(
  level: LogLevelSetting,
  destination: pino.DestinationStream = pino.destination({ dest: 2, sync: true }),
): pino.Logger {
  const base = {
    base: null,
    timestamp: () => `,"ts":"${new Date().toISOString()}"`,
    formatters: { level: (label: string) => ({ level: label }) },
  };
  if (typeof level === "string") return pino({ ...base, level }, destination);
  const named = STANDARD[level];
  if (named !== undefined) return pino({ ...base, level: named }, destination);
  const label = `level${level}`;
  return pino(
    { ...base, customLevels: { [label]: level }, level: label },
    destination,
  ) as unknown as pino.Logger;
}
