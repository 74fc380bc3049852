import { ValidationError } from "../errors.ts";
import { homeBlobDir, homeDatabasePath, resolveHome } from "../home.ts";
import { openSqliteJournal, type SqliteJournal } from "./sqlite-journal.ts";
import type { Durability, JournalStore } from "./types.ts";

export type { BlobRef } from "./blob-store.ts";
export { blobRef, collectBlobRefs, FileBlobStore, isBlobRef } from "./blob-store.ts";
export { ChainChecker, eventHash } from "./chain.ts";
export {
  BlobCorruptError,
  BlobMissingError,
  InvalidEventError,
  JournalBusyError,
  JournalClosedError,
  JournalConflictError,
  JournalWriteError,
  RunBusyError,
  RunExistsError,
  RunNotFoundError,
  SchemaTooNewError,
} from "./errors.ts";
export type { Migration } from "./migrations.ts";
export { ownerAlive } from "./owner.ts";
export type { JournalStats, SqliteJournal, SqliteJournalOptions } from "./sqlite-journal.ts";
export { openSqliteJournal } from "./sqlite-journal.ts";
export * from "./types.ts";

export interface OpenJournalOptions {
  /** The ballast home (default `$BALLAST_HOME`, else `./.ballast`). */
  home?: string;
  durability?: Durability;
}

/**
 * Opens the journal the environment asks for: the SQLite database in the ballast home.
 * (`BALLAST_DATABASE_URL` selects PostgreSQL, which this build does not include yet.)
 */
export async function openJournal(options: OpenJournalOptions = {}): Promise<JournalStore> {
  const url = process.env["BALLAST_DATABASE_URL"];
  if (url !== undefined && url !== "") {
    throw new ValidationError(
      "postgres_unavailable",
      "BALLAST_DATABASE_URL is set, but the PostgreSQL journal backend is not in this build of ballast. Unset BALLAST_DATABASE_URL to use the embedded SQLite journal in BALLAST_HOME.",
    );
  }
  const home = resolveHome(options.home);
  const journal: SqliteJournal = await openSqliteJournal({
    path: homeDatabasePath(home),
    blobDir: homeBlobDir(home),
    durability: options.durability ?? "full",
  });
  return journal;
}
