import { BallastError, type ErrorRecord } from "ballast";

/**
 * The pipeline's domain errors. Both carry the service id and the stage, so a strict run's
 * one-line error, a quarantine record and a log line all say which record failed where.
 * Stages are `descriptions`, `features` and `mapping:<catalogue>`.
 */

export interface ItemErrorOptions {
  serviceId: string;
  stage: string;
  /** Plateau level the failure happened at, when there is one. */
  plateau?: number;
  message: string;
  /** The error that caused it (its record when it crossed a journaled step). */
  cause?: unknown;
  /** Validation problems of the last answer(s), newest last. */
  problems?: string[];
  /** Provider request ids involved, for `--trace-ids` and the quarantine record. */
  requestIds?: string[];
  /** Answers asked for, re-asks included. */
  asks?: number;
  /** The code of the underlying failure (`mapping_unknown_ids`, `model_call_failed`, ...). */
  causeCode?: string;
}

function detailsOf(options: ItemErrorOptions): Record<string, unknown> {
  return {
    serviceId: options.serviceId,
    stage: options.stage,
    ...(options.plateau === undefined ? {} : { plateau: options.plateau }),
    ...(options.problems === undefined ? {} : { problems: options.problems }),
    ...(options.requestIds === undefined ? {} : { requestIds: options.requestIds }),
    ...(options.asks === undefined ? {} : { asks: options.asks }),
    ...(options.causeCode === undefined ? {} : { causeCode: options.causeCode }),
  };
}

/** A service could not be processed at a stage (model failures, answers that never validated). */
export class ProcessingError extends BallastError {
  readonly serviceId: string;
  readonly stage: string;

  constructor(options: ItemErrorOptions) {
    super({
      code: "processing_failed",
      message: `Service ${options.serviceId} failed at stage ${options.stage}${options.plateau === undefined ? "" : ` (plateau ${options.plateau})`}: ${options.message}`,
      cause: options.cause,
      details: detailsOf(options),
    });
    this.name = "ProcessingError";
    this.serviceId = options.serviceId;
    this.stage = options.stage;
  }
}

/** A mapping named catalogue ids that do not exist, or (strict mapping) left features unmapped. */
export class MappingError extends BallastError {
  readonly serviceId: string;
  readonly stage: string;

  constructor(options: ItemErrorOptions) {
    super({
      code: "mapping_failed",
      message: `Service ${options.serviceId} failed at stage ${options.stage}${options.plateau === undefined ? "" : ` (plateau ${options.plateau})`}: ${options.message}`,
      cause: options.cause,
      details: detailsOf(options),
    });
    this.name = "MappingError";
    this.serviceId = options.serviceId;
    this.stage = options.stage;
  }
}

/** Answers that still failed validation after every re-ask (raised inside a step). */
export class AnswerRejectedError extends BallastError {
  constructor(options: {
    stage: string;
    problems: string[];
    asks: number;
    requestIds: string[];
    kind: string;
  }) {
    super({
      code: options.kind,
      message: `the model's answer was rejected ${options.asks} time${options.asks === 1 ? "" : "s"} (${options.asks - 1} re-ask${options.asks === 2 ? "" : "s"}); last problem: ${options.problems.at(-1) ?? "unknown"}`,
      details: {
        stage: options.stage,
        problems: options.problems,
        asks: options.asks,
        requestIds: options.requestIds,
      },
    });
    this.name = "AnswerRejectedError";
  }
}

/** Codes of AnswerRejectedError that are mapping problems (they become MappingError). */
export const MAPPING_PROBLEM_CODES: ReadonlySet<string> = new Set(["mapping_unknown_ids", "mapping_missing"]);

/** The item error as it travels through the journal: service id and stage read back. */
export function itemErrorFields(record: ErrorRecord): { serviceId?: string; stage?: string } {
  const details = record.details ?? {};
  return {
    ...(typeof details["serviceId"] === "string" ? { serviceId: details["serviceId"] } : {}),
    ...(typeof details["stage"] === "string" ? { stage: details["stage"] } : {}),
  };
}
