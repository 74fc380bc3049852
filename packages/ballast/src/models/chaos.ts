import { ValidationError } from "../errors.ts";
import { seededRandom } from "../flow/seeded-random.ts";

/**
 * Failure injection for chaos tests (`--inject-failures p=0.05`): before a provider attempt,
 * with probability `p`, a retryable `InjectedFailureError` is raised instead, exercising
 * retries, the breaker and fallbacks. Draws come from a seeded generator, so a given seed
 * and call order give the same failures every time.
 */

export interface ChaosConfig {
  /** Probability of a failure per attempt, in [0, 1]. */
  p: number;
  seed?: string | number;
}

export class Chaos {
  readonly p: number;
  readonly #seed: string;
  #draws = 0;
  injected = 0;

  constructor(config: ChaosConfig) {
    this.p = config.p;
    this.#seed = String(config.seed ?? "ballast-chaos");
  }

  /** Whether this attempt fails. */
  strike(): boolean {
    if (this.p <= 0) return false;
    const hit = seededRandom(this.#seed, String(this.#draws++)) < this.p;
    if (hit) this.injected += 1;
    return hit;
  }
}

/** Parses the CLI form `p=0.05` or `p=0.05,seed=7` (or a bare `0.05`). */
export function parseInjectFailures(value: string): ChaosConfig {
  const config: { p?: number; seed?: string } = {};
  for (const item of value.split(",")) {
    const [rawKey, rawValue] = item.includes("=") ? item.split("=", 2) : ["p", item];
    const key = (rawKey ?? "").trim();
    const text = (rawValue ?? "").trim();
    if (key === "p") config.p = Number(text);
    else if (key === "seed") config.seed = text;
    else throw invalid(value);
  }
  if (config.p === undefined || !(config.p >= 0 && config.p <= 1)) throw invalid(value);
  return config.seed === undefined ? { p: config.p } : { p: config.p, seed: config.seed };
}

function invalid(value: string): ValidationError {
  return new ValidationError(
    "invalid_inject_failures",
    `--inject-failures "${value}" is invalid. Use p=<probability between 0 and 1>, optionally with seed=<seed>, e.g. p=0.05,seed=7.`,
  );
}
