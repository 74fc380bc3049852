import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openSqliteJournal, type SqliteJournal } from "../src/journal/sqlite-journal.ts";

export interface TempJournal {
  dir: string;
  journal: SqliteJournal;
  /** Closes the journal and removes its folder. */
  close(): Promise<void>;
}

/** A real SQLite journal (normal durability) in a fresh temp folder, for one test. */
export async function openTempJournal(name: string): Promise<TempJournal> {
  const dir = mkdtempSync(join(tmpdir(), `ballast-${name}-`));
  const journal = await openSqliteJournal({
    path: join(dir, "b.db"),
    blobDir: join(dir, "blobs"),
    durability: "normal",
  });
  return {
    dir,
    journal,
    async close() {
      await journal.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
