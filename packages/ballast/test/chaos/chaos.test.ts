import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createBallast, createLogger, type JournalEvent, openSqliteJournal } from "ballast";
import { afterAll, describe, expect, it } from "vitest";
import { seededRandom } from "../../src/flow/seeded-random.ts";
import {
  CHAOS_CHARGES,
  CHAOS_RUN_ID,
  CHAOS_STEPS,
  chaosWorkflow,
  readPairs,
  receipt,
} from "./chaos-workflow.ts";

/**
 * Chaos: a child process runs the 200-step chaos workflow and is SIGKILLed at seeded random
 * moments, then resumed by a new process, again and again until the run ends. Set
 * BALLAST_CHAOS_SEED to reproduce a failure (the seed is in the test name).
 */

const SEED = process.env["BALLAST_CHAOS_SEED"] ?? "ballast-chaos-1";
const MAX_KILLS = 20;
const WORKER = fileURLToPath(new URL("./chaos-worker.ts", import.meta.url));
const root = mkdtempSync(join(tmpdir(), "ballast-chaos-"));

afterAll(() => rmSync(root, { recursive: true, force: true }));

interface WorkerEnd {
  killed: boolean;
  end?: { status: string; output?: unknown; ms: number };
  stderr: string;
}

/** Runs one worker; SIGKILLs it `killAfterMs` after it reports `ready` (never, if undefined). */
function runWorker(dir: string, index: number, killAfterMs: number | undefined): Promise<WorkerEnd> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        "--conditions=ballast-source",
        "--disable-warning=ExperimentalWarning",
        WORKER,
        join(dir, "journal"),
        join(dir, "data"),
        String(index),
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let stdout = "";
    let stderr = "";
    let timer: NodeJS.Timeout | undefined;
    child.stdout.on("data", (chunk: Buffer) => {
      const before = stdout;
      stdout += chunk.toString();
      if (!before.includes("ready\n") && stdout.includes("ready\n") && killAfterMs !== undefined) {
        timer = setTimeout(() => child.kill("SIGKILL"), killAfterMs);
      }
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on("error", reject);
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      const last = stdout.split("\n").filter((line) => line.startsWith("{"))[0];
      // Killed, possibly after the run ended: the next worker finds it finished.
      if (signal === "SIGKILL") resolve({ killed: true, stderr });
      else if (code === 0 && last !== undefined) resolve({ killed: false, end: JSON.parse(last), stderr });
      else reject(new Error(`worker ${index} exited with ${code ?? signal}:\n${stderr}`));
    });
  });
}

async function readJournal(dir: string): Promise<{ events: JournalEvent[]; verified: boolean }> {
  const journal = await openSqliteJournal({
    path: join(dir, "journal", "ballast.db"),
    blobDir: join(dir, "journal", "blobs"),
  });
  try {
    const run = await journal.getRun(CHAOS_RUN_ID);
    const events = run === undefined ? [] : await journal.readEvents(CHAOS_RUN_ID);
    return { events, verified: (await journal.verify()).ok };
  } finally {
    await journal.close();
  }
}

function completedSteps(events: readonly JournalEvent[]): Set<string> {
  return new Set(
    events.filter((e) => e.type === "step.completed").map((e) => (e.data as { stepId: string }).stepId),
  );
}

function workspace(name: string): string {
  const dir = join(root, name);
  mkdirSync(join(dir, "data"), { recursive: true });
  return dir;
}

describe("chaos: SIGKILL at random points, resume each time", () => {
  it(`ends with the uninterrupted output, no step run twice after completing, no effect applied twice (seed ${SEED})`, async () => {
    const calm = workspace("calm");
    const baseline = await runWorker(calm, 0, undefined);
    expect(baseline.end?.status).toBe("completed");
    const runMs = baseline.end?.ms ?? 500;

    const dir = workspace("chaos");
    const completedBefore: Set<string>[] = [];
    let kills = 0;
    let final: WorkerEnd | undefined;
    for (let index = 0; final === undefined; index++) {
      completedBefore.push(completedSteps((await readJournal(dir)).events));
      // Short delays: each worker gets a slice of the run, so kills land all along it.
      const killAfter =
        kills < MAX_KILLS ? Math.floor(seededRandom(SEED, `kill#${index}`) * (runMs / 12)) : undefined;
      const outcome = await runWorker(dir, index, killAfter);
      if (outcome.killed) kills++;
      else final = outcome;
    }

    expect(kills).toBeGreaterThanOrEqual(8);
    expect(final.end?.status).toBe("completed");
    expect(final.end?.output).toEqual(baseline.end?.output);

    const { events, verified } = await readJournal(dir);
    expect(verified).toBe(true);
    expect(events.filter((e) => e.type === "step.completed")).toHaveLength(CHAOS_STEPS);

    // No step whose completion was journaled ran again in a later process.
    for (const [worker, stepId] of readPairs(join(dir, "data", "executions.log"))) {
      expect(completedBefore[Number(worker)]?.has(stepId), `${stepId} ran again in worker ${worker}`).toBe(
        false,
      );
    }

    // Every charge took effect exactly once, and its journaled result is the target's answer.
    const effects = readPairs(join(dir, "data", "effects.log"));
    expect(effects).toHaveLength(CHAOS_CHARGES);
    expect(new Set(effects.map(([key]) => key)).size).toBe(CHAOS_CHARGES);
    const applied = new Map(effects);
    const charges = events.filter(
      (e) => e.type === "step.completed" && (e.data as { stepId: string }).stepId.endsWith("/charge#0"),
    );
    expect(charges).toHaveLength(CHAOS_CHARGES);
    const keyOf = new Map(
      events
        .filter((e) => e.type === "step.reexecuted")
        .map((e) => [
          (e.data as { stepId: string }).stepId,
          (e.data as { idempotencyKey: string }).idempotencyKey,
        ]),
    );
    for (const charge of charges) {
      const { stepId, result } = charge.data as { stepId: string; result: string };
      const key = [...applied.keys()].find((k) => receipt(applied.get(k) as string) === result);
      expect(key, `no effect for ${stepId}`).toBeDefined();
      if (keyOf.has(stepId)) expect(keyOf.get(stepId)).toBe(key);
    }

    // A charge retried after a kill was re-executed under its key, and the journal says so.
    const attempts = readPairs(join(dir, "data", "attempts.log"));
    const perKey = new Map<string, number>();
    for (const [key] of attempts) perKey.set(key, (perKey.get(key) ?? 0) + 1);
    const reexecutedKeys = events
      .filter((e) => e.type === "step.reexecuted")
      .map((e) => (e.data as { idempotencyKey: string }).idempotencyKey);
    for (const [key, count] of perKey) {
      expect(reexecutedKeys.filter((k) => k === key).length).toBeGreaterThanOrEqual(count - 1);
    }

    // And the run replays offline to the same output, charges served from the journal.
    const journal = await openSqliteJournal({
      path: join(dir, "journal", "ballast.db"),
      blobDir: join(dir, "journal", "blobs"),
    });
    try {
      const replayer = createBallast({
        journal,
        workflows: [chaosWorkflow({ target: undefined, onExecute: () => {} })],
        logger: createLogger({ level: "silent" }),
      });
      const report = await replayer.replay(CHAOS_RUN_ID);
      expect(report.output).toEqual(baseline.end?.output);
      expect(report.stepsServed).toBe(CHAOS_CHARGES);
    } finally {
      await journal.close();
    }
  }, 120_000);
});
