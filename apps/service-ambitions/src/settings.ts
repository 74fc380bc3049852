import { readFileSync } from "node:fs";
import { canonicalJson, ValidationError } from "ballast";
import { z } from "zod";

/**
 * Settings of a run, validated once at start-up. Everything here can change what the run
 * generates or how it behaves, so the whole object is the run's settings snapshot: it goes
 * into the output header, and a resume refuses to continue when it differs. Paths and
 * display options (progress, log format) are not settings.
 */

export const STAGES = ["descriptions", "features", "mapping"] as const;
export type Stage = (typeof STAGES)[number];

const modelSpec = z
  .string()
  .regex(
    /^(local|(openai|anthropic|google|openai-compatible):[A-Za-z0-9._:/-]+)$/,
    "a model is `local`, or `<provider>:<model>` with provider openai, anthropic, google or openai-compatible",
  );

const limit = z.strictObject({
  rpm: z.number().int().positive().optional(),
  tpm: z.number().int().positive().optional(),
  concurrency: z.number().int().positive().optional(),
  windowMs: z.number().int().positive().optional(),
});

export const settingsSchema = z.strictObject({
  /** Seeds the local model, the provider `seed` parameter where supported, and the run. */
  seed: z.number().int().min(0).max(2_147_483_647).default(7),
  /** Model of every stage unless `stageModels` names another. */
  model: modelSpec.default("local"),
  stageModels: z.partialRecord(z.enum(STAGES), modelSpec).default({}),
  /** Models tried in order when a stage's model fails for good. */
  fallbacks: z.array(modelSpec).default([]),
  /** RPM/TPM/concurrency by `provider:model` (as the model layer keys them) or `*`. */
  rateLimits: z.record(z.string(), limit).default({}),
  /** Base URL of an OpenAI-compatible server (for `openai-compatible:<model>`, or to point `openai:` elsewhere). */
  baseUrl: z.url().optional(),
  /** Prices the local model as this model (USD per million tokens from the pricing map). */
  priceAs: z.string().min(1).default("gpt-4o-mini"),
  /** Features asked for per plateau and customer type. */
  featuresPerRole: z.number().int().min(1).max(10).default(3),
  /** Re-asks after an answer fails validation (0 = none). */
  maxReasks: z.number().int().min(0).max(5).default(2),
  /** Plateaus of one service in flight at once (the per-service semaphore). */
  plateauConcurrency: z.number().int().min(1).max(16).default(2),
  /** Services processed at once. */
  serviceConcurrency: z.number().int().min(1).max(256).default(4),
  /** Any failed service stops the run (exit 3, or 4 for mapping). */
  strict: z.boolean().default(false),
  /** Mapping problems stop the run (exit 4), and a feature left unmapped is one. */
  strictMapping: z.boolean().default(false),
  budgetUsd: z.number().positive().optional(),
  budgetMode: z.enum(["soft", "enforce"]).default("enforce"),
  /** Chaos: `p=0.05[,seed=7]`, retryable failures injected before provider calls. */
  injectFailures: z.string().optional(),
  /** Simulated latency of the local model, per call (ms). */
  localLatencyMs: z.number().int().min(0).max(60_000).default(0),
  /** Response cache use. */
  cache: z.enum(["read-write", "read-only", "off"]).default("read-write"),
  /** Hard timeout of one stage step, in seconds (a hung call is aborted and the service quarantined). */
  stageTimeoutSeconds: z
    .strictObject({
      descriptions: z.number().positive().default(300),
      features: z.number().positive().default(600),
      mapping: z.number().positive().default(600),
    })
    .default({ descriptions: 300, features: 600, mapping: 600 }),
  /** Output token caps per stage. */
  maxOutputTokens: z
    .strictObject({
      descriptions: z.number().int().positive().default(400),
      features: z.number().int().positive().default(1200),
      mapping: z.number().int().positive().default(1500),
    })
    .default({ descriptions: 400, features: 1200, mapping: 1500 }),
});

export type Settings = z.infer<typeof settingsSchema>;
export type SettingsInput = z.input<typeof settingsSchema>;

export function parseSettings(value: unknown, where = "settings"): Settings {
  const parsed = settingsSchema.safeParse(value ?? {});
  if (parsed.success) return parsed.data;
  const list = parsed.error.issues
    .map((i) => `${i.path.length > 0 ? i.path.join(".") : "(root)"}: ${i.message}`)
    .join("; ");
  throw new ValidationError("invalid_settings", `Invalid ${where}: ${list}.`);
}

/** Reads a JSON settings file (the same keys as the schema). */
export function readSettingsFile(path: string): SettingsInput {
  let raw: string;
  try {
    raw = readFileSync(path, "utf8");
  } catch (error) {
    throw new ValidationError(
      "invalid_settings",
      `Cannot read settings file ${path} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}).`,
    );
  }
  try {
    return JSON.parse(raw) as SettingsInput;
  } catch (error) {
    throw new ValidationError("invalid_settings", `${path} is not valid JSON (${(error as Error).message}).`);
  }
}

/** The model spec of a stage. */
export function stageModel(settings: Settings, stage: Stage): string {
  return settings.stageModels[stage] ?? settings.model;
}

/** Keys whose values differ between two snapshots, with both values, for a refusal message. */
export function settingsDiff(recorded: Settings, current: Settings): string[] {
  const a = recorded as unknown as Record<string, unknown>;
  const b = current as unknown as Record<string, unknown>;
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
  const out: string[] = [];
  for (const key of keys) {
    const before = a[key] === undefined ? "unset" : canonicalJson(a[key]);
    const after = b[key] === undefined ? "unset" : canonicalJson(b[key]);
    if (before !== after) out.push(`${key} (${before} → ${after})`);
  }
  return out;
}
