// `npm run bench -- steps [--quick] [--only=a,b]`: per-step overhead of durable workflows,
// ballast (full and normal durability) against LangGraph.js + SqliteSaver and Mastra +
// LibSQL, plus fsynced steps/s with group commit. Issue 2, "Benchmark".
import { fork } from "node:child_process";
import { statfsSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { PLANS } from "./_steps-child.ts";
import type { ContenderResult, SizeResult } from "./_steps-contender.ts";
import { ms, table, thousands } from "./_steps-stats.ts";

const CONTENDERS = ["ballast-full", "ballast-normal", "langgraph", "mastra", "mastra-chain"] as const;
const PEERS = new Set(["langgraph", "mastra", "mastra-chain"]);
const here = dirname(fileURLToPath(import.meta.url));

type ChildMessage = { ok: true; result: ContenderResult } | { ok: false; error: string };

function measureInChild(name: string, plan: string): Promise<ChildMessage> {
  return new Promise((resolve) => {
    const child = fork(join(here, "_steps-child.ts"), [name, plan], {
      execArgv: ["--conditions=ballast-source"],
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    let message: ChildMessage | undefined;
    child.on("message", (m) => {
      message = m as ChildMessage;
    });
    child.on("exit", (code, signal) => {
      resolve(
        message ?? { ok: false, error: `child exited with ${signal ?? `code ${code}`} before reporting` },
      );
    });
  });
}

function fsName(path: string): string {
  // statfs magic numbers (linux/magic.h), so a reader knows whether fsync reached a disk.
  const types: Record<number, string> = {
    61267: "ext4",
    16914836: "tmpfs",
    2035054128: "overlayfs",
    1481003842: "xfs",
    2435016766: "btrfs",
  };
  const type = statfsSync(path).type;
  return types[type] ?? `fs 0x${type.toString(16)}`;
}

function at(result: ContenderResult | undefined, steps: number): SizeResult | undefined {
  return result?.sizes.find((s) => s.steps === steps);
}

function load(): string {
  return loadavg()
    .map((x) => x.toFixed(2))
    .join(" ");
}

/** p99 at step 10,000 ÷ p99 at step 10. */
function flatness(r: ContenderResult): number {
  return (at(r, 10_000)?.p99Tail ?? Number.NaN) / (at(r, 10)?.p99 ?? Number.NaN);
}

function times(x: number): string {
  return Number.isNaN(x) ? "—" : `${x.toFixed(2)}×`;
}

function verdict(ok: boolean): string {
  return ok ? "met" : "MISSED";
}

export async function run(args: string[]): Promise<void> {
  const quick = args.includes("--quick");
  const only = args
    .find((a) => a.startsWith("--only="))
    ?.slice("--only=".length)
    .split(",");
  const names = CONTENDERS.filter((n) => only === undefined || only.includes(n));
  const started = performance.now();
  console.log(
    `steps bench: node ${process.version}, ${cpus().length} cores (load ${load()}), temp dirs in ${tmpdir()} (${fsName(tmpdir())})${quick ? ", QUICK plan" : ""}`,
  );

  const results = new Map<string, ContenderResult>();
  for (const name of names) {
    const message = await measureInChild(name, quick ? "quick" : "full");
    if (message.ok) {
      results.set(name, message.result);
      console.log(`  ${name}: measured in ${message.result.seconds.toFixed(1)} s`);
    } else {
      console.log(`  ${name}: FAILED\n${message.error.replace(/^/gm, "    ")}`);
    }
  }

  const rows: string[][] = [
    ["contender", "storage", "10 steps", "1,000 steps", "10,000 steps", "wall/step @1k", "flat ①", "flat ②"],
  ];
  const skipped: string[] = [];
  for (const name of names) {
    const r = results.get(name);
    if (r === undefined) {
      rows.push([name, "failed", "—", "—", "—", "—", "—", "—"]);
      continue;
    }
    if (r.skipped !== undefined) skipped.push(`${name}: ${r.skipped}.`);
    const cell = (s: SizeResult | undefined) => (s === undefined ? "—" : `${ms(s.p50)} / ${ms(s.p99)}`);
    const s10k = at(r, 10_000);
    rows.push([
      name,
      r.storage,
      cell(at(r, 10)),
      cell(at(r, 1_000)),
      cell(s10k),
      ms(at(r, 1_000)?.wallPerStep),
      times(flatness(r)),
      times((s10k?.p99Tail ?? Number.NaN) / (s10k?.p99Head ?? Number.NaN)),
    ]);
  }
  console.log(
    "\nPer-step overhead in ms, p50 / p99: time from one trivial step body (returns i + 1) to the next.",
  );
  console.log(table(rows));
  const plan = quick ? "quick" : "full";
  const counts = (quick ? PLANS.quick : PLANS.full).sizes
    .map((s) => `${s.runs} run${s.runs === 1 ? "" : "s"} of ${thousands(s.steps)}`)
    .join(", ");
  for (const line of [
    `Each contender in its own process, after warm-up runs; ${plan} plan: ${counts} steps. Every 10,000-step run is complete (no windowing).`,
    ...skipped,
    "wall/step: whole 1,000-step runs (start and finish included) ÷ steps.",
    "flat ①: p99 at step 10,000 (last 1,000 steps of the 10,000-step runs) ÷ p99 at step 10 (the 10-step runs). Target <= 1.2.",
    "flat ②: the same last 1,000 steps ÷ the first 1,000 steps of the same 10,000-step runs.",
    'Peers in their cheapest shape for long runs, one step looping over constant-size state: LangGraph a node with a conditional edge back to itself, durability "sync"; Mastra dountil. mastra-chain is the .then() chain short workflows are written as.',
  ]) {
    console.log(line);
  }

  const full = results.get("ballast-full");
  const normal = results.get("ballast-normal");
  const gc = full?.groupCommit;
  const seqPerSecond =
    at(full, 1_000) === undefined ? Number.NaN : 1_000 / (at(full, 1_000)?.wallPerStep ?? Number.NaN);
  if (full !== undefined) {
    console.log("\nFsynced steps per second, ballast full mode (every step acknowledged only once fsynced):");
    console.log(`  sequential (1,000-step runs):                      ${thousands(seqPerSecond)} steps/s`);
    if (gc !== undefined) {
      const shared =
        gc.eventsPerCommit === undefined ? "" : `, ${gc.eventsPerCommit.toFixed(1)} events per fsync`;
      console.log(
        `  group commit (ctx.map ${thousands(gc.items)} items, concurrency ${gc.concurrency}): ${thousands(gc.stepsPerSecond)} steps/s (median of ${gc.runs} runs${shared})`,
      );
    }
  }

  // Best peer and ratio at 1,000 steps (p50).
  let bestPeer: ContenderResult | undefined;
  for (const name of names) {
    const r = results.get(name);
    if (r === undefined || !PEERS.has(name)) continue;
    if (bestPeer === undefined || (at(r, 1_000)?.p50 ?? Infinity) < (at(bestPeer, 1_000)?.p50 ?? Infinity))
      bestPeer = r;
  }
  const fullAt1k = at(full, 1_000);
  const ratio = (at(bestPeer, 1_000)?.p50 ?? Number.NaN) / (at(normal, 1_000)?.p50 ?? Number.NaN);

  if (full !== undefined) {
    const flat = flatness(full);
    console.log("\nTargets (issue 2):");
    console.log(
      `  full mode p50 <= 0.25 ms @1,000:          ${ms(fullAt1k?.p50)} ms  ${verdict((fullAt1k?.p50 ?? Infinity) <= 0.25)}`,
    );
    console.log(
      `  full mode p99 <= 1 ms @1,000:             ${ms(fullAt1k?.p99)} ms  ${verdict((fullAt1k?.p99 ?? Infinity) <= 1)}`,
    );
    console.log(`  flat: p99 @10k <= 1.2 × p99 @10:          ${times(flat)}  ${verdict(flat <= 1.2)}`);
    if (normal !== undefined && bestPeer !== undefined) {
      console.log(
        `  normal mode >= 10× less than best peer:   ${ratio.toFixed(1)}×  ${verdict(ratio >= 10)}`,
      );
    }
    if (gc !== undefined) {
      console.log(
        `  >= 20,000 fsynced steps/s, group commit:  ${thousands(gc.stepsPerSecond)}  ${verdict(gc.stepsPerSecond >= 20_000)}`,
      );
    }
  }
  // p99s move with what else the machine runs; the load average lets a reader judge.
  console.log(
    `\nTotal ${((performance.now() - started) / 1000).toFixed(1)} s; load average at the end ${load()}.`,
  );
  console.log(
    `steps: p50=${ms(fullAt1k?.p50)} p99=${ms(fullAt1k?.p99)} best-peer=${bestPeer?.name ?? "none"} ratio=${Number.isNaN(ratio) ? "—" : ratio.toFixed(1)}`,
  );
}
