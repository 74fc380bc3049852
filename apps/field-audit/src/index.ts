/** `@ballast/field-audit`: the agricultural robot run auditor (seed 000) on ballast. */
export { type Caption, type CaptionPolicy, captionEvents, captionModel } from "./captions/captions.ts";
export { resolveCaptionModel } from "./captions/resolve-model.ts";
export { type AuditConfig, resolveConfig } from "./config.ts";
export {
  DEFAULT_EVENT_CONFIG,
  type DetectedEvent,
  detectEvents,
  type EventConfig,
  scoreDetections,
} from "./events/detect.ts";
export { type FindPeaksOptions, findPeaks, peakProminences, peakWidths } from "./events/find-peaks.ts";
export { MAD_NORMAL_SCALE, robustScale } from "./events/robust-scale.ts";
export { extractFeatures, FEATURE_COLUMNS } from "./features/extract.ts";
export { type GroundTruth, generateRun } from "./generator/generate-run.ts";
export { ingestRun, type RunData } from "./ingest/ingest.ts";
export { createAppLogger, normalizeLogLevel } from "./logging.ts";
export { type AuditResult, runAudit } from "./pipeline.ts";
export { type ReportMode, writeReport } from "./report/write-report.ts";
