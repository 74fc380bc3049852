import { Counter } from "prom-client";
import { metricsRegistry } from "../flow/observe.ts";

/**
 * The server's metrics, in ballast's registry next to the runtime's. Labels stay
 * low-cardinality: `route` is the route pattern (`/v1/runs/:id`), never a URL; `operation`
 * one of the API's fixed operations; `code` an envelope code.
 *
 * The per-request counters are plain numbers in a map, copied into prom-client when the
 * registry is scraped: prom-client hashes a label object on every `inc`, which on a hot path
 * like health checks costs more than the request's own work.
 */

interface Tally {
  labels: Record<string, string>;
  value: number;
}

function tallied<L extends string>(name: string, help: string, labelNames: readonly L[]) {
  const tallies = new Map<string, Tally>();
  const counter = new Counter({
    name,
    help,
    labelNames,
    registers: [metricsRegistry],
    collect() {
      this.reset();
      for (const { labels, value } of tallies.values()) this.inc(labels as Partial<Record<L, string>>, value);
    },
  });
  return {
    counter,
    add(key: string, labels: () => Record<L, string>): void {
      const tally = tallies.get(key);
      if (tally === undefined) tallies.set(key, { labels: labels(), value: 1 });
      else tally.value += 1;
    },
  };
}

const httpRequests = tallied(
  "ballast_http_requests_total",
  "HTTP requests answered, by route pattern, method and status.",
  ["route", "method", "status"] as const,
);

const operations = tallied(
  "ballast_server_operations_total",
  "API operations handled on every transport, by operation, transport and result code.",
  ["operation", "transport", "code"] as const,
);

const DURATION_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10];

interface DurationSeries {
  route: string;
  method: string;
  /** Non-cumulative counts per bucket; the last slot is +Inf. */
  counts: Float64Array;
  sum: number;
  count: number;
}

/**
 * `ballast_http_request_duration_seconds`, aggregated in plain arrays and handed to
 * prom-client's registry as a collector: prom-client's own Histogram hashes its label
 * object on every observation.
 */
class DurationHistogram {
  readonly name = "ballast_http_request_duration_seconds";
  readonly help = "Time to answer HTTP requests, by route pattern and method.";
  readonly type = "histogram";
  readonly aggregator = "sum";
  readonly #series = new Map<string, DurationSeries>();

  observe(key: string, route: string, method: string, seconds: number): void {
    let series = this.#series.get(key);
    if (series === undefined) {
      series = { route, method, counts: new Float64Array(DURATION_BUCKETS.length + 1), sum: 0, count: 0 };
      this.#series.set(key, series);
    }
    let i = 0;
    while (i < DURATION_BUCKETS.length && seconds > DURATION_BUCKETS[i]!) i++;
    series.counts[i]! += 1;
    series.sum += seconds;
    series.count += 1;
  }

  /** For `metricsRegistry.resetMetrics()`. */
  reset(): void {
    this.#series.clear();
  }

  get() {
    const values: { value: number; labels: Record<string, string | number>; metricName: string }[] = [];
    for (const { route, method, counts, sum, count } of this.#series.values()) {
      let cumulative = 0;
      for (const [i, le] of [...DURATION_BUCKETS, "+Inf"].entries()) {
        cumulative += counts[i]!;
        values.push({ value: cumulative, labels: { le, route, method }, metricName: `${this.name}_bucket` });
      }
      values.push({ value: sum, labels: { route, method }, metricName: `${this.name}_sum` });
      values.push({ value: count, labels: { route, method }, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }
}

const httpDuration = new DurationHistogram();
metricsRegistry.registerMetric(
  httpDuration as unknown as Parameters<typeof metricsRegistry.registerMetric>[0],
);

export const serverMetrics = {
  httpRequests: httpRequests.counter,
  httpDuration,
  operations: operations.counter,
  denials: new Counter({
    name: "ballast_security_denials_total",
    help: "Requests refused by authentication (unauthorized) or RBAC (forbidden), by transport.",
    labelNames: ["transport", "reason"] as const,
    registers: [metricsRegistry],
  }),
  streamEvents: new Counter({
    name: "ballast_server_stream_events_total",
    help: "Journal events sent on live run streams (SSE and gRPC), by transport.",
    labelNames: ["transport"] as const,
    registers: [metricsRegistry],
  }),
};

/** Counts one HTTP response and its duration. */
export function recordHttp(route: string, method: string, status: number, seconds: number): void {
  httpRequests.add(`${route} ${method} ${status}`, () => ({ route, method, status: String(status) }));
  httpDuration.observe(`${route} ${method}`, route, method, seconds);
}

/** Counts one operation outcome. */
export function recordOperation(operation: string, transport: string, code: string): void {
  operations.add(`${operation} ${transport} ${code}`, () => ({ operation, transport, code }));
}
