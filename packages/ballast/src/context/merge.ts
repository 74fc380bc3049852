import { diff3Merge, diffComm } from "node-diff3";

/**
 * Deterministic three-way merge of text (seed 002 CE-2, CE-11), line by line, with
 * node-diff3 (Khanna, Kunal & Pierce's diff3). Conflicts are written with git's markers
 * (`git merge-file -L <ours> -L <base> -L <theirs>` style), so tools that understand git
 * conflicts understand ours; the property tests check the output against git's.
 */
export interface MergeLabels {
  ours?: string;
  theirs?: string;
}

export interface MergeSummary {
  /** Lines in the merged text that are not in the base, outside conflicts. */
  added: number;
  /** Base lines missing from the merged text, outside conflicts. */
  removed: number;
  /** Conflict regions, each delimited by markers in `text`. */
  conflicts: number;
}

export interface MergeResult {
  text: string;
  clean: boolean;
  summary: MergeSummary;
}

export const CONFLICT_MARKERS = { start: "<<<<<<<", separator: "=======", end: ">>>>>>>" } as const;

/** Lines with their terminators, so the merge keeps a missing final newline as it was. */
function lines(text: string): string[] {
  return text.match(/[^\n]*\n|[^\n]+$/g) ?? [];
}

function terminated(chunk: string[]): string {
  const text = chunk.join("");
  return text === "" || text.endsWith("\n") ? text : `${text}\n`;
}

export function mergeText(base: string, ours: string, theirs: string, labels: MergeLabels = {}): MergeResult {
  const o = lines(base);
  const regions = diff3Merge(lines(ours), o, lines(theirs), { excludeFalseConflicts: true });
  const out: string[] = [];
  const cleanLines: string[] = [];
  let conflicts = 0;
  for (const region of regions) {
    if (region.ok !== undefined) {
      out.push(...region.ok);
      cleanLines.push(...region.ok);
      continue;
    }
    const conflict = region.conflict!;
    conflicts++;
    out.push(`${CONFLICT_MARKERS.start} ${labels.ours ?? "ours"}\n`);
    out.push(terminated(conflict.a));
    out.push(`${CONFLICT_MARKERS.separator}\n`);
    out.push(terminated(conflict.b));
    out.push(`${CONFLICT_MARKERS.end} ${labels.theirs ?? "theirs"}\n`);
    // For the counts a conflict leaves the base as it was.
    cleanLines.push(...conflict.o);
  }
  let added = 0;
  let removed = 0;
  for (const part of diffComm(o, cleanLines)) {
    if (part.common === undefined) {
      removed += part.buffer1.length;
      added += part.buffer2.length;
    }
  }
  return { text: out.join(""), clean: conflicts === 0, summary: { added, removed, conflicts } };
}
