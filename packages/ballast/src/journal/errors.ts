import { BallastError } from "../errors.ts";

/**
 * Journal errors. Each has a stable `code`; messages name the run, event or blob involved
 * and say what to do next.
 */

export class RunNotFoundError extends BallastError {
  constructor(runId: string) {
    super({
      code: "run_not_found",
      message: `Run "${runId}" does not exist in this journal. Check the run id (\`ballast runs ls\` lists runs) and the BALLAST_HOME you are pointing at.`,
      details: { runId },
    });
    this.name = "RunNotFoundError";
  }
}

export class RunExistsError extends BallastError {
  constructor(runId: string) {
    super({
      code: "run_exists",
      message: `Run "${runId}" already exists. Pick a new run id, or resume the existing run with \`ballast runs resume ${runId}\`.`,
      details: { runId },
    });
    this.name = "RunExistsError";
  }
}

export class SchemaTooNewError extends BallastError {
  constructor(path: string, found: number, known: number) {
    super({
      code: "schema_too_new",
      message: `The journal database ${path} has schema version ${found}, but this version of ballast only knows versions up to ${known}. It was written by a newer ballast: upgrade ballast (npm install ballast@latest) to open it. Nothing was changed.`,
      details: { path, found, known },
    });
    this.name = "SchemaTooNewError";
  }
}

export class BlobCorruptError extends BallastError {
  constructor(sha256: string, path: string, actual: string) {
    super({
      code: "blob_corrupt",
      message: `Blob ${sha256} at ${path} is corrupt: its content hashes to ${actual}. Restore the file from a backup, or re-run the step that produced it; run \`ballast journal verify\` to find every affected run.`,
      details: { sha256, path, actual },
    });
    this.name = "BlobCorruptError";
  }
}

export class BlobMissingError extends BallastError {
  constructor(sha256: string, path: string) {
    super({
      code: "blob_missing",
      message: `Blob ${sha256} is missing (expected at ${path}). Check that BALLAST_HOME points at the right directory and that its blobs/ folder was copied with the database; run \`ballast journal verify\` to find every affected run.`,
      details: { sha256, path },
    });
    this.name = "BlobMissingError";
  }
}

export class JournalClosedError extends BallastError {
  constructor(operation: string) {
    super({
      code: "journal_closed",
      message: `Cannot ${operation}: the journal has been closed. Open it again (openJournal) before using it.`,
      details: { operation },
    });
    this.name = "JournalClosedError";
  }
}

/** Another writer appended to the run since this process last read its head. */
export class JournalConflictError extends BallastError {
  constructor(runId: string, seq: number) {
    super({
      code: "journal_conflict",
      message: `Run "${runId}" was appended to by another process while this one was writing event ${seq}; the event was not journaled. Only one process should drive a run at a time: stop the other worker, then resume the run.`,
      details: { runId, seq },
    });
    this.name = "JournalConflictError";
  }
}

/** The database stayed locked by another process for longer than the busy timeout. */
export class JournalBusyError extends BallastError {
  constructor(path: string, cause: unknown) {
    super({
      code: "journal_busy",
      message: `The journal database ${path} stayed locked by another process past the busy timeout; nothing from this commit was journaled. Retry, or find the process holding a long write transaction.`,
      details: { path },
      cause,
      isRetryable: true,
    });
    this.name = "JournalBusyError";
  }
}

export class JournalWriteError extends BallastError {
  constructor(path: string, cause: unknown) {
    super({
      code: "journal_write_failed",
      message: `Writing to the journal database ${path} failed (${cause instanceof Error ? cause.message : String(cause)}); nothing from this commit was journaled. Check disk space and permissions, then resume the run.`,
      details: { path },
      cause,
    });
    this.name = "JournalWriteError";
  }
}

export class InvalidEventError extends BallastError {
  constructor(runId: string, type: string, reason: string) {
    super({
      code: "invalid_event",
      message: `Cannot journal event "${type}" for run "${runId}": ${reason}. Event data must be plain JSON (finite numbers, strings, booleans, null, arrays, objects).`,
      details: { runId, type },
    });
    this.name = "InvalidEventError";
  }
}

/** Another live process is executing the run. */
export class RunBusyError extends BallastError {
  constructor(runId: string, owner: { pid: number; host: string }, seenMsAgo: number) {
    super({
      code: "run_busy",
      message: `Run "${runId}" is being executed by process ${owner.pid} on ${owner.host} (seen ${Math.round(seenMsAgo)} ms ago). Wait for it to end, or stop that process, then resume the run.`,
      details: { runId, pid: owner.pid, host: owner.host },
    });
    this.name = "RunBusyError";
  }
}
