import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { openSqliteJournal } from "./sqlite-journal.ts";

/**
 * kill -9 durability: a child process appends events (sequential and concurrent groups),
 * printing each acknowledged seq, and is SIGKILLed mid-stream. Every acknowledged event must
 * be found after reopening, and the chain must verify.
 */

const CHILD = `
import { openSqliteJournal } from ${JSON.stringify(pathToFileURL(join(import.meta.dirname, "sqlite-journal.ts")).href)};
const [path, blobDir, durability] = process.argv.slice(2);
const journal = await openSqliteJournal({ path, blobDir, durability });
if ((await journal.getRun("run")) === undefined) {
  await journal.createRun({ id: "run", workflow: "w", workflowVersion: "1", input: null });
}
for (let i = 0; ; i++) {
  if (i % 2 === 0) {
    const e = await journal.append("run", { type: "step.completed", data: { i } });
    process.stdout.write(e.seq + "\\n");
  } else {
    const group = await Promise.all(
      Array.from({ length: 8 }, (_, k) => journal.append("run", { type: "step.completed", data: { i, k } })),
    );
    process.stdout.write(group.map((e) => e.seq).join("\\n") + "\\n");
  }
}
`;

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "ballast-durability-"));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Starts the child, waits until it has acknowledged `atLeast` events, kills it, returns the acks. */
function appendUntilKilled(durability: string, atLeast: number): Promise<number[]> {
  const script = join(dir, "child.mjs");
  writeFileSync(script, CHILD);
  const child = spawn(
    process.execPath,
    ["--conditions=ballast-source", script, join(dir, "ballast.db"), join(dir, "blobs"), durability],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  const acked: number[] = [];
  let buffered = "";
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  return new Promise((resolve, reject) => {
    child.stdout.on("data", (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split("\n");
      buffered = lines.pop() ?? "";
      for (const line of lines) acked.push(Number(line));
      if (acked.length >= atLeast && child.exitCode === null && !child.killed) child.kill("SIGKILL");
    });
    child.on("exit", (_code, signal) => {
      if (signal === "SIGKILL") resolve(acked);
      else reject(new Error(`child exited unexpectedly (${signal ?? _code}): ${stderr}`));
    });
  });
}

describe("durability", () => {
  for (const durability of ["full", "normal"] as const) {
    it(`keeps every acknowledged event after kill -9 at random points (${durability})`, async () => {
      const acked: number[] = [];
      for (let round = 0; round < 4; round++) {
        acked.push(...(await appendUntilKilled(durability, 20 + Math.floor(Math.random() * 200))));
        const journal = await openSqliteJournal({
          path: join(dir, "ballast.db"),
          blobDir: join(dir, "blobs"),
        });
        try {
          const events = await journal.readEvents("run");
          const stored = new Set(events.map((e) => e.seq));
          expect(acked.filter((seq) => !stored.has(seq))).toEqual([]);
          expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i));
          const report = await journal.verify();
          expect(report.problems).toEqual([]);
          expect(report.eventsChecked).toBe(events.length);
          expect((await journal.getRun("run"))?.eventCount).toBe(events.length);
        } finally {
          await journal.close();
        }
      }
      expect(new Set(acked).size).toBe(acked.length);
    });
  }
});
