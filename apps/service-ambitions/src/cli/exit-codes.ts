import { BallastError, type ErrorRecord } from "ballast";
import { redact } from "ballast/guard";
import { itemErrorFields } from "../errors.ts";

/**
 * Exit codes, stable and documented (README.md of this app). The same failure always gives
 * the same code, so CI can branch on them.
 */
export const EXIT = {
  /** Finished; quarantined records (if any) are listed in the summary. */
  ok: 0,
  /** An unexpected error (a bug, or the journal failed). */
  internal: 1,
  /** Bad usage, input or settings: nothing ran. */
  usage: 2,
  /** --strict: a service failed (ProcessingError). */
  processing: 3,
  /** --strict or --strict-mapping: a mapping failed (MappingError). */
  mapping: 4,
  /** --budget-mode enforce: the budget was reached and the run stopped. */
  budget: 5,
  /** Resume refused: the input or settings changed, or the run cannot be resumed. */
  resumeRefused: 6,
  /** Interrupted (Ctrl-C); the run can be resumed. */
  interrupted: 130,
} as const;

const USAGE_CODES = new Set([
  "invalid_input",
  "input_unreadable",
  "invalid_settings",
  "missing_api_key",
  "invalid_inject_failures",
  "invalid_model_options",
  "not_quarantined",
  "invalid_service_id",
  "migration_unsupported",
  "invalid_record",
  "run_not_found",
]);

export function exitCodeOf(code: string): number {
  if (code === "processing_failed") return EXIT.processing;
  if (code === "mapping_failed") return EXIT.mapping;
  if (code === "budget_exceeded") return EXIT.budget;
  if (code === "resume_refused" || code === "run_not_resumable") return EXIT.resumeRefused;
  if (USAGE_CODES.has(code)) return EXIT.usage;
  return EXIT.internal;
}

/** One line of JSON on stderr: the error's kind, code, service and stage, and the exit code. */
export function errorLine(record: ErrorRecord, extra: Record<string, unknown> = {}): string {
  const { serviceId, stage } = itemErrorFields(record);
  const plateau = record.details?.["plateau"];
  return JSON.stringify({
    error: record.name,
    code: record.code,
    ...(serviceId === undefined ? {} : { service_id: serviceId }),
    ...(stage === undefined ? {} : { stage }),
    ...(typeof plateau === "number" ? { plateau } : {}),
    message: redact(record.message),
    exit_code: exitCodeOf(record.code),
    ...extra,
  });
}

export function recordOf(error: unknown): ErrorRecord {
  if (BallastError.isInstance(error)) {
    return {
      name: error.name,
      code: error.code,
      message: error.message,
      isRetryable: error.isRetryable,
      details: error.details,
    };
  }
  return {
    name: error instanceof Error ? error.name : "Error",
    code: "internal",
    message: error instanceof Error ? error.message : String(error),
    isRetryable: false,
  };
}
