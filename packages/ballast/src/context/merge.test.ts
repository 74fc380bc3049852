import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { mergeText } from "./merge.ts";

const dir = mkdtempSync(join(tmpdir(), "ballast-merge-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function gitMerge(base: string, ours: string, theirs: string): { text: string; clean: boolean } {
  writeFileSync(join(dir, "ours"), ours);
  writeFileSync(join(dir, "base"), base);
  writeFileSync(join(dir, "theirs"), theirs);
  const args = ["merge-file", "-p", "-L", "ours", "-L", "base", "-L", "theirs", "ours", "base", "theirs"];
  try {
    return { text: execFileSync("git", args, { cwd: dir, encoding: "utf8" }), clean: true };
  } catch (error) {
    const e = error as { status: number; stdout: string };
    if (e.status < 1 || e.status > 127) throw error;
    return { text: e.stdout, clean: false };
  }
}

/** Resolves every conflict in `text` to one side. */
function resolve(text: string, side: "ours" | "theirs"): string {
  const out: string[] = [];
  let state: "out" | "ours" | "theirs" = "out";
  for (const line of text.match(/[^\n]*\n|[^\n]+$/g) ?? []) {
    if (line.startsWith("<<<<<<< ")) state = "ours";
    else if (line === "=======\n" && state === "ours") state = "theirs";
    else if (line.startsWith(">>>>>>> ") && state === "theirs") state = "out";
    else if (state === "out" || state === side) out.push(line);
  }
  return out.join("");
}

/** A base of distinct lines (like code) and two independent edits of it. */
const scenario = fc.integer({ min: 0, max: 12 }).chain((n) => {
  const base = Array.from({ length: n }, (_, i) => `line ${i}`);
  const edits = (tag: string) =>
    fc
      .array(
        fc.record({ at: fc.nat(), kind: fc.constantFrom("insert", "delete", "replace"), n: fc.nat(99) }),
        { maxLength: 4 },
      )
      .map((ops) => {
        const lines = [...base];
        for (const op of ops) {
          const at = op.at % (lines.length + 1);
          if (op.kind === "insert") lines.splice(at, 0, `${tag} ${op.n}`);
          else if (lines.length > 0) {
            const i = Math.min(at, lines.length - 1);
            if (op.kind === "delete") lines.splice(i, 1);
            else lines[i] = `${tag} ${op.n}`;
          }
        }
        return lines;
      });
  const text = (lines: string[]) => lines.map((l) => `${l}\n`).join("");
  return fc.tuple(fc.constant(text(base)), edits("ours").map(text), edits("theirs").map(text));
});

describe("mergeText", () => {
  it("merges cleanly and marks conflicts like git", () => {
    const clean = mergeText("a\nb\nc\n", "A\nb\nc\n", "a\nb\nC\n");
    expect(clean).toEqual({
      text: "A\nb\nC\n",
      clean: true,
      summary: { added: 2, removed: 2, conflicts: 0 },
    });
    const conflict = mergeText("a\nb\nc\n", "a\nB1\nc\n", "a\nB2\nc\n", { ours: "mine", theirs: "yours" });
    expect(conflict.text).toBe("a\n<<<<<<< mine\nB1\n=======\nB2\n>>>>>>> yours\nc\n");
    expect(conflict.summary).toEqual({ added: 0, removed: 0, conflicts: 1 });
    expect(conflict.text).toBe(
      gitMerge("a\nb\nc\n", "a\nB1\nc\n", "a\nB2\nc\n")
        .text.replace("<<<<<<< ours", "<<<<<<< mine")
        .replace(">>>>>>> theirs", ">>>>>>> yours"),
    );
    // A missing final newline is kept, and the markers still start on their own line.
    expect(mergeText("x", "x", "y").text).toBe("y");
    expect(mergeText("x", "p", "q").text).toBe("<<<<<<< ours\np\n=======\nq\n>>>>>>> theirs\n");
    expect(mergeText("", "", "")).toEqual({
      text: "",
      clean: true,
      summary: { added: 0, removed: 0, conflicts: 0 },
    });
  });

  it("agrees with git merge-file on clean/conflicted, clean output, and each side of every conflict", () => {
    fc.assert(
      fc.property(scenario, ([base, ours, theirs]) => {
        const mine = mergeText(base, ours, theirs);
        const git = gitMerge(base, ours, theirs);
        expect(mine.clean).toBe(git.clean);
        if (git.clean) expect(mine.text).toBe(git.text);
        else {
          // git fuses nearby conflicts into one region, diff3 keeps them apart; resolving
          // every conflict to one side must give the same file either way.
          expect(resolve(mine.text, "ours")).toBe(resolve(git.text, "ours"));
          expect(resolve(mine.text, "theirs")).toBe(resolve(git.text, "theirs"));
          expect(mine.summary.conflicts).toBeGreaterThan(0);
        }
        // Merging with an unchanged side yields the other side.
        expect(mergeText(base, base, theirs).text).toBe(theirs);
        expect(mergeText(base, ours, base).text).toBe(ours);
      }),
      { numRuns: 150 },
    );
  });
});
