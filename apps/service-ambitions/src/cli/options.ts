import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { type Command, InvalidArgumentError, Option } from "commander";
import type { InputSources } from "../inputs.ts";
import { resolveAutoModel } from "../models.ts";
import { readSettingsFile, type SettingsInput, STAGES, type Stage } from "../settings.ts";

/**
 * The options `run`, `resume` and `demo` share, and their translation into settings.
 * Only options given on the command line (or in --config) become settings, so `resume`
 * can tell what the user asked to change.
 */

export const SAMPLE_DIR = fileURLToPath(new URL("../../sample/", import.meta.url));

export function sampleSources(): InputSources {
  return {
    services: join(SAMPLE_DIR, "services.jsonl"),
    plateaus: join(SAMPLE_DIR, "plateaus.json"),
    catalogues: join(SAMPLE_DIR, "catalogues"),
  };
}

function integer(min: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`expected a whole number >= ${min}.`);
    return n;
  };
}

function positive(value: string): number {
  const n = Number(value);
  if (!(Number.isFinite(n) && n > 0)) throw new InvalidArgumentError("expected a positive number.");
  return n;
}

function stageModelPair(value: string, previous: Record<string, string> = {}): Record<string, string> {
  const [stage, spec] = value.split("=", 2);
  if (!STAGES.includes(stage as Stage) || !spec) {
    throw new InvalidArgumentError(`expected <stage>=<model> with stage ${STAGES.join(", ")}.`);
  }
  return { ...previous, [stage as string]: spec };
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** Options that become settings. */
export function addSettingsOptions(cmd: Command): Command {
  return cmd
    .option("--config <file>", "settings file (JSON, the keys of the settings schema)")
    .option("--seed <n>", "seed of the run, the local model and provider sampling", integer(0))
    .option(
      "--model <spec>",
      "local | openai:<id> | anthropic:<id> | google:<id> | openai-compatible:<id> (default: a provider whose key is set, else local)",
    )
    .option("--stage-model <stage=spec>", "model of one stage (repeatable)", stageModelPair)
    .option("--fallback <spec>", "fallback model, tried in order (repeatable)", collect)
    .option("--base-url <url>", "base URL of an OpenAI-compatible server")
    .option("--price-as <model>", "price the local model as this model (default gpt-4o-mini)")
    .option("--rpm <n>", "requests per minute, per model", integer(1))
    .option("--tpm <n>", "tokens per minute, per model", integer(1))
    .option("--model-concurrency <n>", "calls in flight per model", integer(1))
    .option("--features-per-role <n>", "features per plateau and customer type (default 3)", integer(1))
    .option("--max-reasks <n>", "re-asks after an invalid answer (default 2)", integer(0))
    .option("--plateau-concurrency <n>", "plateaus of one service in flight at once (default 2)", integer(1))
    .option("--service-concurrency <n>", "services processed at once (default 4)", integer(1))
    .option("--strict", "stop at the first failed service (exit 3, or 4 for a mapping)")
    .option("--strict-mapping", "stop at the first mapping problem (exit 4); unmapped features count")
    .option("--budget-usd <usd>", "cost budget of the run", positive)
    .addOption(
      new Option("--budget-mode <mode>", "soft warns, enforce stops the run (exit 5)").choices([
        "soft",
        "enforce",
      ]),
    )
    .option("--inject-failures <spec>", "chaos: p=0.05[,seed=7] retryable failures before provider calls")
    .option("--simulate-latency <ms>", "latency of the local model per call", integer(0))
    .addOption(new Option("--cache <mode>", "response cache").choices(["read-write", "read-only", "off"]));
}

/** Options about where things are and how the run is shown (not settings). */
export function addIoOptions(cmd: Command): Command {
  return cmd
    .option("--sample", "use the sample inputs shipped with the app")
    .option("--services <file>", "services.jsonl")
    .option("--plateaus <file>", "plateau ladder (JSON)")
    .option("--catalogues <dir>", "folder with applications.json, technologies.json, information.json")
    .option("--output <file>", "evolutions.jsonl to write (default ./evolutions.jsonl)")
    .option("--quarantine-dir <dir>", "quarantine folder (default: quarantine/ next to the output)")
    .option("--home <dir>", "ballast home: journal and response cache (default $BALLAST_HOME or ./.ballast)")
    .option("--trace-ids", "print provider request ids of failed items")
    .option(
      "--log-prompts",
      "journal a redacted transcript of each prompt with its model call (off by default)",
    )
    .option("--json-logs", "JSON logs on stderr, a JSON summary on stdout, no progress bar");
}

export interface CliOptions {
  config?: string;
  seed?: number;
  model?: string;
  stageModel?: Record<string, string>;
  fallback?: string[];
  baseUrl?: string;
  priceAs?: string;
  rpm?: number;
  tpm?: number;
  modelConcurrency?: number;
  featuresPerRole?: number;
  maxReasks?: number;
  plateauConcurrency?: number;
  serviceConcurrency?: number;
  strict?: boolean;
  strictMapping?: boolean;
  budgetUsd?: number;
  budgetMode?: "soft" | "enforce";
  injectFailures?: string;
  simulateLatency?: number;
  cache?: "read-write" | "read-only" | "off";
  sample?: boolean;
  services?: string;
  plateaus?: string;
  catalogues?: string;
  output?: string;
  quarantineDir?: string;
  home?: string;
  traceIds?: boolean;
  logPrompts?: boolean;
  jsonLogs?: boolean;
}

/** Settings the command line (and --config) asked for; unset keys are left to defaults. */
export function settingsFromOptions(options: CliOptions): SettingsInput {
  const base: SettingsInput = options.config === undefined ? {} : readSettingsFile(options.config);
  const out: Record<string, unknown> = { ...base };
  const set = (key: string, value: unknown) => {
    if (value !== undefined) out[key] = value;
  };
  set("seed", options.seed);
  set("model", options.model);
  if (options.stageModel) out["stageModels"] = { ...(base.stageModels ?? {}), ...options.stageModel };
  set("fallbacks", options.fallback);
  set("baseUrl", options.baseUrl);
  set("priceAs", options.priceAs);
  if (options.rpm !== undefined || options.tpm !== undefined || options.modelConcurrency !== undefined) {
    const limits = { ...(base.rateLimits ?? {}) };
    limits["*"] = {
      ...(limits["*"] ?? {}),
      ...(options.rpm === undefined ? {} : { rpm: options.rpm }),
      ...(options.tpm === undefined ? {} : { tpm: options.tpm }),
      ...(options.modelConcurrency === undefined ? {} : { concurrency: options.modelConcurrency }),
    };
    out["rateLimits"] = limits;
  }
  set("featuresPerRole", options.featuresPerRole);
  set("maxReasks", options.maxReasks);
  set("plateauConcurrency", options.plateauConcurrency);
  set("serviceConcurrency", options.serviceConcurrency);
  set("strict", options.strict);
  set("strictMapping", options.strictMapping);
  set("budgetUsd", options.budgetUsd);
  set("budgetMode", options.budgetMode);
  set("injectFailures", options.injectFailures);
  set("localLatencyMs", options.simulateLatency);
  set("cache", options.cache);
  return out as SettingsInput;
}

/** A new run's settings input: `auto` (or nothing) picks the model from the keys that are set. */
export function newRunSettings(options: CliOptions, env: NodeJS.ProcessEnv): SettingsInput {
  const input = settingsFromOptions(options);
  if (input.model === undefined || (input.model as string) === "auto") input.model = resolveAutoModel(env);
  return input;
}

export function sourcesFromOptions(options: CliOptions): InputSources | undefined {
  if (options.sample) return sampleSources();
  if (options.services === undefined && options.plateaus === undefined && options.catalogues === undefined) {
    return undefined;
  }
  return {
    services: options.services ?? "services.jsonl",
    plateaus: options.plateaus ?? "plateaus.json",
    catalogues: options.catalogues ?? "catalogues",
  };
}

export function homeOf(options: { home?: string }, env: NodeJS.ProcessEnv): string {
  const fromEnv = env["BALLAST_HOME"];
  return resolve(options.home ?? (fromEnv !== undefined && fromEnv !== "" ? fromEnv : ".ballast"));
}

export function ioFromOptions(options: CliOptions): { output: string; quarantineDir: string } {
  const output = resolve(options.output ?? "evolutions.jsonl");
  return { output, quarantineDir: resolve(options.quarantineDir ?? join(dirname(output), "quarantine")) };
}
