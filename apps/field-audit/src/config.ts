import { z } from "zod";
import { ConfigError } from "./errors.ts";
import { DEFAULT_EVENT_CONFIG } from "./events/detect.ts";
import { FEATURE_COLUMNS } from "./features/extract.ts";
import { type LogLevelSetting, normalizeLogLevel } from "./logging.ts";

/**
 * The audit's configuration, validated once at start-up. Environment variables are
 * `FIELD_AUDIT_*` (plus the provider's own key variable); flags win over them.
 */

const positiveInt = z.number().int().positive();

export const auditConfigSchema = z.strictObject({
  runDir: z.string().min(1),
  out: z.string().min(1),
  reportMode: z.enum(["single", "split"]),
  downsample: positiveInt,
  featureColumns: z.array(z.enum(FEATURE_COLUMNS)).min(1),
  depthWorkers: positiveInt.max(64),
  cacheDir: z.string().min(1).optional(),
  events: z.strictObject({
    height: z.number().finite(),
    prominence: z.number().min(0),
    width: z.number().min(0),
    distance: z.number().min(1),
    relHeight: z.number().min(0),
    wlen: z.number().gt(1).optional(),
  }),
  captions: z.strictObject({
    provider: z.enum(["gemini", "local", "none"]).optional(),
    modelId: z.string().min(1).optional(),
    baseURL: z.string().url().optional(),
    workers: positiveInt.max(64),
    retries: z.number().int().min(0).max(20),
    baseDelayMs: z.number().min(0),
    maxDelayMs: z.number().min(0),
    attemptTimeoutMs: z.number().positive(),
    callTimeoutMs: z.number().positive(),
    cachePath: z.string().min(1).optional(),
  }),
  logLevel: z.union([z.string(), z.number().int()]),
  journalHome: z.string().min(1).optional(),
});

export type AuditConfig = Omit<z.infer<typeof auditConfigSchema>, "logLevel"> & { logLevel: LogLevelSetting };

export type AuditConfigInput = Partial<Omit<AuditConfig, "events" | "captions" | "logLevel">> & {
  logLevel?: string | number;
  runDir: string;
  out: string;
  events?: Partial<AuditConfig["events"]>;
  captions?: Partial<AuditConfig["captions"]>;
};

export function resolveConfig(input: AuditConfigInput, env: NodeJS.ProcessEnv = process.env): AuditConfig {
  const candidate = {
    runDir: input.runDir,
    out: input.out,
    reportMode: input.reportMode ?? env["FIELD_AUDIT_REPORT_MODE"] ?? "single",
    downsample: input.downsample ?? 1,
    featureColumns: input.featureColumns ?? [...FEATURE_COLUMNS],
    depthWorkers: input.depthWorkers ?? Number(env["FIELD_AUDIT_DEPTH_WORKERS"] ?? 1),
    ...((input.cacheDir ?? env["FIELD_AUDIT_CACHE_DIR"])
      ? { cacheDir: input.cacheDir ?? env["FIELD_AUDIT_CACHE_DIR"] }
      : {}),
    events: { ...DEFAULT_EVENT_CONFIG, ...input.events },
    captions: {
      workers: 4,
      retries: Number(env["FIELD_AUDIT_GEMINI_RETRIES"] ?? 3),
      baseDelayMs: Number(env["FIELD_AUDIT_GEMINI_BACKOFF_MS"] ?? 500),
      maxDelayMs: 20_000,
      attemptTimeoutMs: Number(env["FIELD_AUDIT_GEMINI_TIMEOUT_MS"] ?? 30_000),
      callTimeoutMs: 120_000,
      ...input.captions,
    },
    logLevel: input.logLevel ?? env["FIELD_AUDIT_LOG_LEVEL"] ?? "warn",
    ...(input.journalHome ? { journalHome: input.journalHome } : {}),
  };
  const parsed = auditConfigSchema.safeParse(candidate);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ConfigError(`Invalid configuration: ${issue.path.join(".") || "(root)"} ${issue.message}.`, {
      path: issue.path.join("."),
    });
  }
  return { ...parsed.data, logLevel: normalizeLogLevel(parsed.data.logLevel) };
}
