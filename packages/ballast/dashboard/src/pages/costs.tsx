import { useEffect, useMemo, useState } from "preact/hooks";
import { api, query } from "../api.ts";
import { CostChart, colourOf } from "../components/chart.tsx";
import { ErrorNote, Loading, Num } from "../components/common.tsx";
import { formatCost, formatDuration, formatTime, formatTokens } from "../format.ts";
import { href, type Route } from "../router.ts";
import type { CostReport, CostSeries } from "../types.ts";

const RANGES: Record<string, number | undefined> = {
  "1h": 3_600_000,
  "24h": 86_400_000,
  "7d": 7 * 86_400_000,
  "30d": 30 * 86_400_000,
  all: undefined,
};

const RANGE_LABELS: Record<string, string> = {
  "1h": "Last hour",
  "24h": "Last 24 hours",
  "7d": "Last 7 days",
  "30d": "Last 30 days",
  all: "All time",
};

function Breakdown({
  title,
  by,
  series,
  buckets,
}: {
  title: string;
  by: string;
  series: CostSeries[];
  buckets: string[];
}) {
  const chartSeries = useMemo(
    () => series.slice(0, 8).map((s) => ({ key: s.key, values: s.costUsd })),
    [series],
  );
  const id = `costs-${by}`;
  return (
    <section class="panel" aria-labelledby={id} data-breakdown={by}>
      <h2 id={id}>{title}</h2>
      {series.length === 0 ? (
        <p class="muted">No model calls in this range.</p>
      ) : (
        <>
          <CostChart buckets={buckets} series={chartSeries} />
          <table class="compact">
            <caption class="sr-only">{title}: totals</caption>
            <thead>
              <tr>
                <th scope="col">{by[0]?.toUpperCase() + by.slice(1)}</th>
                <th scope="col" class="num">
                  Cost
                </th>
                <th scope="col" class="num">
                  Tokens
                </th>
                <th scope="col" class="num">
                  Calls
                </th>
              </tr>
            </thead>
            <tbody>
              {series.map((s, i) => (
                <tr key={s.key} data-key={s.key}>
                  <th scope="row">
                    {i < 8 ? (
                      <span class="swatch" style={{ background: colourOf(i) }} aria-hidden="true" />
                    ) : null}
                    {s.key}
                  </th>
                  <td class="num">
                    <Num field="cost" value={s.totalCostUsd} text={formatCost(s.totalCostUsd)} />
                  </td>
                  <td class="num">
                    <Num field="tokens" value={s.totalTokens} text={formatTokens(s.totalTokens)} />
                  </td>
                  <td class="num">
                    <Num field="calls" value={s.totalCalls} text={String(s.totalCalls)} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </section>
  );
}

export function CostsPage({ route }: { route: Route }) {
  const range = route.query.get("range") ?? "7d";
  const [report, setReport] = useState<CostReport | undefined>();
  const [error, setError] = useState<unknown>();
  useEffect(() => {
    const controller = new AbortController();
    const span = RANGES[range];
    const since = span === undefined ? undefined : new Date(Date.now() - span).toISOString();
    api<CostReport>(`/v1/views/costs${query({ since, target: 48 })}`, { signal: controller.signal }).then(
      (value) => {
        setReport(value);
        setError(undefined);
      },
      (e: unknown) => {
        if (!controller.signal.aborted) setError(e);
      },
    );
    return () => controller.abort();
  }, [range]);

  return (
    <section aria-labelledby="costs-title">
      <div class="page-head">
        <h1 id="costs-title">Costs</h1>
        <nav class="segmented" aria-label="Time range">
          {Object.keys(RANGES).map((key) => (
            <a
              key={key}
              href={href(["costs"], { range: key })}
              aria-current={key === range ? "page" : undefined}
            >
              {RANGE_LABELS[key]}
            </a>
          ))}
        </nav>
      </div>
      <ErrorNote error={error} />
      {report === undefined ? (
        error === undefined ? (
          <Loading what="costs" />
        ) : null
      ) : (
        <>
          <dl class="cards" aria-label="Totals for the range">
            <div class="card">
              <dt>Spend</dt>
              <dd>
                <Num
                  field="total-cost"
                  value={report.totals.costUsd}
                  text={formatCost(report.totals.costUsd)}
                />
              </dd>
            </div>
            <div class="card">
              <dt>Tokens</dt>
              <dd>
                <Num
                  field="total-tokens"
                  value={report.totals.tokens}
                  text={formatTokens(report.totals.tokens)}
                />
              </dd>
            </div>
            <div class="card">
              <dt>Model calls</dt>
              <dd>
                <Num field="total-calls" value={report.totals.calls} text={String(report.totals.calls)} />
                <span class="muted"> · {report.totals.cacheHits} from cache</span>
              </dd>
            </div>
            <div class="card">
              <dt>Runs</dt>
              <dd>
                <Num field="total-runs" value={report.totals.runs} text={String(report.totals.runs)} />
              </dd>
            </div>
          </dl>
          <p class="muted">
            {formatTime(report.since)} to {formatTime(report.until)}, in buckets of{" "}
            {formatDuration(report.bucketMs)}. A cache hit costs nothing; a fork counts only what it called
            after the fork.
          </p>
          <div class="breakdowns">
            <Breakdown
              title="By workflow"
              by="workflow"
              series={report.byWorkflow}
              buckets={report.buckets}
            />
            <Breakdown title="By stage" by="stage" series={report.byStage} buckets={report.buckets} />
            <Breakdown title="By model" by="model" series={report.byModel} buckets={report.buckets} />
          </div>
        </>
      )}
    </section>
  );
}
