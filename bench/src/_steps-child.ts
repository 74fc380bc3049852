// One contender of the steps bench, in its own process (forked by steps.ts) so that no
// engine's heap, JIT state or open databases disturb another's numbers.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Contender, ContenderResult, GroupCommitResult, SizeResult } from "./_steps-contender.ts";
import { percentile, TickRecorder } from "./_steps-stats.ts";

export interface Plan {
  /** Workflow sizes and how many runs of each are measured. */
  sizes: { steps: number; runs: number }[];
  warmup: { steps: number; runs: number }[];
  groupCommit: { items: number; concurrency: number; runs: number };
}

export const PLANS: Record<"full" | "quick", Plan> = {
  full: {
    sizes: [
      { steps: 10, runs: 300 },
      { steps: 1_000, runs: 6 },
      { steps: 10_000, runs: 2 },
    ],
    warmup: [
      { steps: 10, runs: 50 },
      { steps: 1_000, runs: 2 },
    ],
    groupCommit: { items: 1_000, concurrency: 64, runs: 9 },
  },
  quick: {
    sizes: [
      { steps: 10, runs: 20 },
      { steps: 1_000, runs: 1 },
      { steps: 10_000, runs: 1 },
    ],
    warmup: [{ steps: 10, runs: 5 }],
    groupCommit: { items: 1_000, concurrency: 64, runs: 1 },
  },
};

/** Extra measurement a contender may offer (ballast full mode: group commit). */
export interface WithGroupCommit {
  groupCommit(items: number, concurrency: number, runs: number): Promise<GroupCommitResult>;
}

async function open(name: string, dir: string): Promise<Contender & Partial<WithGroupCommit>> {
  switch (name) {
    case "ballast-full":
    case "ballast-normal": {
      const { openBallast } = await import("./_steps-ballast.ts");
      return openBallast(dir, name === "ballast-full" ? "full" : "normal");
    }
    case "langgraph": {
      const { openLangGraph } = await import("./_steps-peers.ts");
      return openLangGraph(dir);
    }
    case "mastra": {
      const { openMastra } = await import("./_steps-peers.ts");
      return openMastra(dir);
    }
    case "mastra-chain": {
      const { openMastraChain } = await import("./_steps-peers.ts");
      return openMastraChain(dir);
    }
    default:
      throw new Error(`unknown contender ${name}`);
  }
}

async function runOnce(contender: Contender, recorder: TickRecorder, steps: number): Promise<number> {
  recorder.reset();
  const started = performance.now();
  const out = await contender.runWorkflow(steps, recorder.tick);
  const wall = performance.now() - started;
  if (out !== steps || recorder.count !== steps) {
    throw new Error(
      `${contender.name}: a ${steps}-step run returned ${out} after ${recorder.count} step bodies; the bench counts one body per step`,
    );
  }
  return wall;
}

export async function measure(name: string, plan: Plan): Promise<ContenderResult> {
  const started = performance.now();
  const dir = mkdtempSync(join(tmpdir(), `ballast-bench-steps-${name}-`));
  try {
    const contender = await open(name, dir);
    try {
      const recorder = new TickRecorder();
      const runsOf = (steps: number, planned: number, phase: "warmup" | "measure") =>
        contender.runsFor?.(steps, planned, phase) ?? planned;
      for (const { steps, runs } of plan.warmup) {
        for (let r = 0; r < runsOf(steps, runs, "warmup"); r++) await runOnce(contender, recorder, steps);
      }
      const sizes: SizeResult[] = [];
      for (const { steps, runs: planned } of plan.sizes) {
        const runs = runsOf(steps, planned, "measure");
        if (runs === 0) continue;
        const samples: number[] = [];
        const head: number[] = [];
        const tail: number[] = [];
        let wall = 0;
        for (let r = 0; r < runs; r++) {
          wall += await runOnce(contender, recorder, steps);
          const deltas = recorder.deltas();
          for (const d of deltas) samples.push(d);
          if (steps >= 10_000) {
            head.push(...deltas.slice(0, 1_000));
            tail.push(...deltas.slice(-1_000));
          }
        }
        const size: SizeResult = {
          steps,
          runs,
          samples: samples.length,
          p50: percentile(samples, 0.5),
          p99: percentile(samples, 0.99),
          wallPerStep: wall / (steps * runs),
        };
        if (head.length > 0) {
          size.p99Head = percentile(head, 0.99);
          size.p99Tail = percentile(tail, 0.99);
        }
        sizes.push(size);
      }
      const result: ContenderResult = {
        name,
        storage: await contender.storage(),
        sizes,
        seconds: 0,
      };
      if (contender.skipped !== undefined) result.skipped = contender.skipped;
      if (contender.groupCommit !== undefined) {
        const { items, concurrency, runs } = plan.groupCommit;
        result.groupCommit = await contender.groupCommit(items, concurrency, runs);
      }
      result.seconds = (performance.now() - started) / 1000;
      return result;
    } finally {
      await contender.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// Forked by steps.ts: argv = [contender, plan]; the result goes back over IPC.
if (process.send !== undefined && process.argv[2] !== undefined) {
  const name = process.argv[2];
  const plan = PLANS[process.argv[3] === "quick" ? "quick" : "full"];
  try {
    const result = await measure(name, plan);
    process.send({ ok: true, result }, () => process.disconnect());
  } catch (error) {
    const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
    process.send({ ok: false, error: message }, () => process.disconnect());
  }
}
