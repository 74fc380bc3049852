import { BallastError, ValidationError } from "ballast";

/**
 * A bad input file: the message names the file and what is wrong with it, and says what to
 * do next. Thrown before anything is written, so a bad run leaves no output behind.
 */
export class InputError extends ValidationError {
  readonly file: string;
  constructor(code: string, file: string, problem: string) {
    super(code, `${file}: ${problem}. Fix or regenerate this file and run the audit again.`, { file });
    this.name = "InputError";
    this.file = file;
  }
}

/** A configuration value that cannot be used (bad flag, bad environment variable). */
export class ConfigError extends ValidationError {
  constructor(message: string, details?: Record<string, unknown>) {
    super("config_invalid", message, details);
    this.name = "ConfigError";
  }
}

/** Turns a low-level image problem (thrown where ballast is not loaded, e.g. in a worker) into an InputError. */
export function asInputError(error: unknown): unknown {
  if (error !== null && typeof error === "object" && (error as { name?: unknown }).name === "ImageProblem") {
    const { code, file, problem } = error as { code: string; file: string; problem: string };
    return new InputError(code, file, problem);
  }
  return error;
}

export { BallastError };
