import { Counter, Histogram } from "prom-client";
import { metricsRegistry } from "../flow/observe.ts";

/**
 * The server's metrics, in ballast's registry next to the runtime's. Labels stay
 * low-cardinality: `route` is the route pattern (`/v1/runs/:id`), never a URL; `operation`
 * one of the API's fixed operations; `code` an envelope code.
 */
export const serverMetrics = {
  httpRequests: new Counter({
    name: "ballast_http_requests_total",
    help: "HTTP requests answered, by route pattern, method and status.",
    labelNames: ["route", "method", "status"] as const,
    registers: [metricsRegistry],
  }),
  httpDuration: new Histogram({
    name: "ballast_http_request_duration_seconds",
    help: "Time to answer HTTP requests, by route pattern and method.",
    labelNames: ["route", "method"] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
    registers: [metricsRegistry],
  }),
  operations: new Counter({
    name: "ballast_server_operations_total",
    help: "API operations handled on every transport, by operation, transport and result code.",
    labelNames: ["operation", "transport", "code"] as const,
    registers: [metricsRegistry],
  }),
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
