import { metricsRegistry } from "ballast";
import { Counter, Gauge } from "prom-client";

/**
 * Plateaus in flight per service: the measure of the per-service semaphore. The pipeline
 * enters a plateau when its work starts and leaves when its mapping is done; the peak per
 * service is what the bound promises. Also exported as prom-client metrics on ballast's
 * registry (served by `ballast serve` at /metrics).
 */

function metric<T>(name: string, make: () => T): T {
  return (metricsRegistry.getSingleMetric(name) as T | undefined) ?? make();
}

const inflight = metric(
  "sa_engine_plateaus_inflight",
  () =>
    new Gauge({
      name: "sa_engine_plateaus_inflight",
      help: "Plateaus being generated or mapped, over all services",
      registers: [metricsRegistry],
    }),
);
const submitted = metric(
  "sa_engine_plateaus_submitted_total",
  () =>
    new Counter({
      name: "sa_engine_plateaus_submitted_total",
      help: "Plateaus started",
      registers: [metricsRegistry],
    }),
);
const completed = metric(
  "sa_engine_plateaus_completed_total",
  () =>
    new Counter({
      name: "sa_engine_plateaus_completed_total",
      help: "Plateaus finished (mapped), successfully or not",
      registers: [metricsRegistry],
    }),
);

export class PlateauGauge {
  readonly #current = new Map<string, number>();
  readonly #peak = new Map<string, number>();
  submitted = 0;
  completed = 0;

  enter(serviceId: string): number {
    const now = (this.#current.get(serviceId) ?? 0) + 1;
    this.#current.set(serviceId, now);
    this.#peak.set(serviceId, Math.max(now, this.#peak.get(serviceId) ?? 0));
    this.submitted += 1;
    inflight.inc();
    submitted.inc();
    return now;
  }

  exit(serviceId: string): number {
    const now = (this.#current.get(serviceId) ?? 1) - 1;
    this.#current.set(serviceId, now);
    this.completed += 1;
    inflight.dec();
    completed.inc();
    return now;
  }

  /** Highest number of plateaus of `serviceId` in flight at once (0 if none ran). */
  peak(serviceId: string): number {
    return this.#peak.get(serviceId) ?? 0;
  }

  /** The highest peak of any service. */
  maxPeak(): number {
    return Math.max(0, ...this.#peak.values());
  }
}
