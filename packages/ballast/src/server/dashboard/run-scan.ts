import type { JournalStore, ListRunsQuery, RunRecord } from "../../journal/types.ts";
import { ServerError } from "../errors.ts";
import { DEFAULT_TENANT } from "../tokens.ts";

/**
 * Pages of runs a tenant may see, newest first, optionally narrowed by a predicate (the
 * dashboard's free-text search). The journal filters by tenant itself, except for the default
 * tenant, which also owns runs recorded without one; those are filtered here, as the API's
 * `GET /v1/runs` does. The cursor is the offset of the next journal row to look at.
 */

const SCAN_PAGE = 200;

export interface RunPage {
  runs: RunRecord[];
  nextCursor?: string;
}

export function encodeOffset(offset: number): string {
  return Buffer.from(JSON.stringify({ o: offset })).toString("base64url");
}

export function decodeOffset(cursor: string | undefined): number {
  if (cursor === undefined) return 0;
  try {
    const value = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")) as { o?: unknown };
    if (Number.isInteger(value.o) && (value.o as number) >= 0) return value.o as number;
  } catch {
    // fall through to the error below
  }
  throw new ServerError(
    "invalid_argument",
    "cursor is not one this server returned; start again without it.",
  );
}

export function visibleTo(run: RunRecord, tenant: string | undefined): boolean {
  return tenant === undefined || (run.tenant ?? DEFAULT_TENANT) === tenant;
}

export async function scanRuns(
  journal: JournalStore,
  options: {
    filter: Omit<ListRunsQuery, "limit" | "offset" | "tenant">;
    tenant: string | undefined;
    limit: number;
    cursor?: string | undefined;
    match?: (run: RunRecord) => boolean;
  },
): Promise<RunPage> {
  const { filter, tenant, limit, match } = options;
  // A named tenant other than the default is filtered by the journal.
  const byJournal = tenant !== undefined && tenant !== DEFAULT_TENANT;
  const runs: RunRecord[] = [];
  let offset = decodeOffset(options.cursor);
  for (;;) {
    const rows = await journal.listRuns({
      ...filter,
      ...(byJournal ? { tenant } : {}),
      limit: SCAN_PAGE,
      offset,
    });
    for (const [i, row] of rows.entries()) {
      if (!visibleTo(row, tenant) || (match !== undefined && !match(row))) continue;
      if (runs.length === limit) return { runs, nextCursor: encodeOffset(offset + i) };
      runs.push(row);
    }
    if (rows.length < SCAN_PAGE) return { runs };
    offset += rows.length;
  }
}
