import type { CostLine } from "ballast/models";
import type { CostReport, ServiceCost } from "../cost-report.ts";
import type { PipelineSummary } from "../pipeline/workflow.ts";
import { type Settings, STAGES, stageModel } from "../settings.ts";

/** The human summary printed at the end of a run, and its cost tables. */

/** Text columns (the first `left`) left-aligned, numbers right-aligned. */
export function table(headers: string[], rows: string[][], left = 1): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i < left ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0)))
      .join("  ")
      .trimEnd();
  return [line(headers), ...rows.map(line)].join("\n");
}

const usd = (value: number) => `$${value.toFixed(6)}`;
const int = (value: number) => value.toLocaleString("en-US");

export function stageTable(lines: readonly CostLine[]): string {
  return table(
    ["stage", "model", "calls", "cache hits", "tokens in", "tokens out", "cost"],
    lines.map((l) => [
      l.stage,
      l.model,
      int(l.calls),
      int(l.cacheHits),
      int(l.inputTokens),
      int(l.outputTokens),
      `${usd(l.costUsd)}${l.unpriced > 0 ? ` (+${l.unpriced} unpriced)` : ""}`,
    ]),
    2,
  );
}

export function serviceTable(services: readonly ServiceCost[]): string {
  return table(
    ["service", "calls", "cache hits", "tokens in", "tokens out", "cost"],
    services.map((s) => [
      s.serviceId,
      int(s.calls),
      int(s.cacheHits),
      int(s.inputTokens),
      int(s.outputTokens),
      usd(s.costUsd),
    ]),
  );
}

export function modelLabel(settings: Settings): string {
  const specs = [...new Set(STAGES.map((stage) => stageModel(settings, stage)))];
  const named = specs.map((spec) =>
    spec === "local" ? `local (offline, priced as ${settings.priceAs})` : spec,
  );
  return (
    named.join(", ") + (settings.fallbacks.length > 0 ? `; fallbacks ${settings.fallbacks.join(", ")}` : "")
  );
}

export interface SummaryFacts {
  runId: string;
  status: string;
  seconds: number;
  settings: Settings;
  result: PipelineSummary | undefined;
  cost: CostReport;
  journalPath: string;
  dashboardPort: string;
  /** `--home <dir>` when the home is not the one `ballast serve` finds by itself. */
  homeFlag: string;
  /** Show only the most expensive services (the demo's short summary). */
  topServices?: number;
}

export function formatSummary(facts: SummaryFacts): string {
  const { result, cost, settings } = facts;
  const s = cost.summary;
  const lines: string[] = [];
  lines.push(`service-ambitions: run ${facts.runId} ${facts.status} in ${facts.seconds.toFixed(1)} s`);
  if (result) {
    lines.push(
      `  services   ${result.services} (${result.completed} completed, ${result.quarantined.length} quarantined, ${result.skipped.length} skipped as quarantined)`,
      `  features   ${int(result.features)}`,
      `  mappings   ${int(result.mappings)} (${result.unmapped} feature/catalogue pairs with no item)`,
    );
  }
  lines.push(
    `  model      ${modelLabel(settings)}`,
    `  tokens     ${int(s.tokens.inputTokens)} in, ${int(s.tokens.outputTokens)} out`,
    `  cost       ${usd(s.costUsd)}${s.byStage.length > 0 ? ` (${s.byStage.map((l) => `${l.stage} ${usd(l.costUsd)}`).join(", ")})` : ""}`,
    `  cache      ${int(s.cacheHits)} hits of ${int(s.calls)} model calls (hits cost nothing)`,
  );
  if (result) lines.push(`  output     ${result.output.path}`);
  if (result && result.quarantined.length > 0) lines.push(`  quarantine ${result.quarantined.join(", ")}`);
  lines.push(
    `  journal    ${facts.journalPath} (run ${facts.runId})`,
    `  dashboard  npm run ballast -- serve${facts.homeFlag}, then open http://127.0.0.1:${facts.dashboardPort}/`,
  );
  if (s.lines.length > 0) {
    lines.push("", "Cost per stage:", indent(stageTable(s.lines)));
    const services = [...cost.byService].sort(
      (a, b) => b.costUsd - a.costUsd || a.serviceId.localeCompare(b.serviceId),
    );
    const shown = facts.topServices === undefined ? cost.byService : services.slice(0, facts.topServices);
    lines.push(
      "",
      facts.topServices === undefined
        ? "Cost per service:"
        : `Cost per service (top ${shown.length} of ${services.length}):`,
      indent(serviceTable(shown)),
    );
  }
  return lines.join("\n");
}

function indent(text: string): string {
  return text
    .split("\n")
    .map((l) => `  ${l}`)
    .join("\n");
}
