import { Counter, Histogram } from "prom-client";
import { metricsRegistry } from "../flow/observe.ts";

/**
 * The model layer's metrics, in ballast's registry. Labels stay low-cardinality: `model` is
 * `provider:modelId`, `stage` a configured stage name (or "none"); never a prompt, an item
 * or a request id (those go to the journal and failure traces).
 */
export const modelMetrics = {
  callsTotal: new Counter({
    name: "ballast_model_calls_total",
    help: "Model calls by answering model, stage, kind and outcome (answered, cache_hit, failed).",
    labelNames: ["model", "stage", "kind", "outcome"] as const,
    registers: [metricsRegistry],
  }),
  tokensTotal: new Counter({
    name: "ballast_model_tokens_total",
    help: "Provider tokens by model, stage and type (input, output, cache_read, cache_write, reasoning).",
    labelNames: ["model", "stage", "type"] as const,
    registers: [metricsRegistry],
  }),
  costUsdTotal: new Counter({
    name: "ballast_model_cost_usd_total",
    help: "Estimated cost of model calls in USD, from the pricing map.",
    labelNames: ["model", "stage"] as const,
    registers: [metricsRegistry],
  }),
  callDurationSeconds: new Histogram({
    name: "ballast_model_call_duration_seconds",
    help: "Duration of model calls in seconds, retries, waits and fallbacks included.",
    labelNames: ["model", "kind"] as const,
    buckets: [0.001, 0.005, 0.025, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
    registers: [metricsRegistry],
  }),
  retriesTotal: new Counter({
    name: "ballast_model_retries_total",
    help: "Model call attempts retried, by model and failure code.",
    labelNames: ["model", "code"] as const,
    registers: [metricsRegistry],
  }),
  fallbacksTotal: new Counter({
    name: "ballast_model_fallbacks_total",
    help: "Model calls handed to a fallback model.",
    labelNames: ["from", "to"] as const,
    registers: [metricsRegistry],
  }),
};
