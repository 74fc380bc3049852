import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";

/**
 * The ballast home: `explicit`, else `$BALLAST_HOME`, else `./.ballast`, as an absolute
 * path. Created (with its `blobs/` folder) if missing.
 */
export function resolveHome(explicit?: string): string {
  const fromEnv = process.env["BALLAST_HOME"];
  const chosen = explicit ?? (fromEnv !== undefined && fromEnv !== "" ? fromEnv : ".ballast");
  const home = resolve(chosen);
  mkdirSync(join(home, "blobs"), { recursive: true });
  return home;
}

/** The SQLite database inside a home. */
export function homeDatabasePath(home: string): string {
  return join(home, "ballast.db");
}

/** The content-addressed blob folder inside a home. */
export function homeBlobDir(home: string): string {
  return join(home, "blobs");
}
