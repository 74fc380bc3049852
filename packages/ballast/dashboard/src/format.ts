/** How numbers look on every page (the tests read them back the same way). */

const integer = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });

export function formatTokens(value: number): string {
  return integer.format(value);
}

/** `$0.00` for nothing, 3 significant digits under a dollar, cents above. */
export function formatCost(value: number | null | undefined): string {
  if (value === null || value === undefined) return "—";
  if (value === 0) return "$0.00";
  if (Math.abs(value) >= 1) return `$${value.toFixed(2)}`;
  return `$${Number(value.toPrecision(3)).toString()}`;
}

export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return "—";
  if (ms === 0) return "0 ms";
  if (ms < 1) return `${ms.toFixed(2)} ms`;
  if (ms < 10) return `${ms.toFixed(1)} ms`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(2)} s`;
  const minutes = Math.floor(ms / 60_000);
  const seconds = Math.round((ms % 60_000) / 1000);
  if (minutes < 60)
    return seconds === 0 ? `${minutes} min` : `${minutes} min ${String(seconds).padStart(2, "0")} s`;
  if (minutes % 60 === 0) return minutes % 1440 === 0 ? `${minutes / 1440} d` : `${minutes / 60} h`;
  return `${Math.floor(minutes / 60)} h ${String(minutes % 60).padStart(2, "0")} min`;
}

export function formatPercent(ratio: number | null | undefined): string {
  if (ratio === null || ratio === undefined) return "—";
  return `${Math.round(ratio * 100)}%`;
}

// sv-SE writes dates as ISO does (2025-01-31 14:05:09), in the viewer's time zone.
const time = new Intl.DateTimeFormat("sv-SE", {
  year: "numeric",
  month: "2-digit",
  day: "2-digit",
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
  hour12: false,
});

export function formatTime(iso: string | undefined): string {
  if (iso === undefined) return "—";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : time.format(date);
}

/** Budget amounts per dimension: cost in dollars, wall time as a duration, the rest as counts. */
export function formatAmount(dimension: string, value: number): string {
  if (dimension === "costUsd") return formatCost(value);
  if (dimension === "wallMs") return formatDuration(value);
  return formatTokens(value);
}

export const DIMENSION_LABELS: Record<string, string> = {
  tokens: "Tokens",
  costUsd: "Cost",
  toolCalls: "Tool calls",
  steps: "Steps",
  wallMs: "Wall time",
};

export function shortHash(hash: string | undefined, length = 12): string {
  return hash === undefined ? "—" : hash.slice(0, length);
}
