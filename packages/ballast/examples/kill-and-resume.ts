// The demo (`npm run demo`): a run is killed with SIGKILL part-way, resumed in a new
// process without redoing its journaled steps, then replayed offline and verified.
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { createBallast, openJournal } from "ballast";
import { createProgress } from "../src/util/progress.ts";
import { articles } from "./articles.ts";
import { digest } from "./digest-workflow.ts";

const child = fileURLToPath(new URL("./digest-cli.ts", import.meta.url));
const totalSteps = articles.length * 2 + 1;
const killAfter = 9;

interface ChildRun {
  ran: string[];
  result?: { status: string; output?: { digest: string; items: number } };
  signal: NodeJS.Signals | null;
}

function runChild(
  args: string[],
  onRan: (line: string, ran: string[], kill: () => void) => void,
): Promise<ChildRun> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, ["--conditions=ballast-source", child, ...args], {
      stdio: ["ignore", "pipe", "inherit"],
      env: { ...process.env, DIGEST_REPORT: "1" },
    });
    const outcome: ChildRun = { ran: [], signal: null };
    createInterface({ input: proc.stdout }).on("line", (line) => {
      const message = JSON.parse(line) as { ran?: string; result?: ChildRun["result"] };
      if (message.ran !== undefined) {
        outcome.ran.push(message.ran);
        onRan(message.ran, outcome.ran, () => proc.kill("SIGKILL"));
      }
      if (message.result !== undefined) outcome.result = message.result;
    });
    proc.on("error", reject);
    proc.on("close", (_code, signal) => resolve({ ...outcome, signal }));
  });
}

const runId = `digest-${randomUUID().slice(0, 8)}`;
const progress = createProgress({ total: totalSteps, label: "digest" });
console.log(
  `1. Starting run ${runId} (${totalSteps} steps) in a child process; it will be killed with SIGKILL.`,
);
const first = await runChild(["start", runId], (_line, ran, kill) => {
  progress.tick();
  if (ran.length === killAfter) kill();
});
console.log(`   killed by ${first.signal} after ${first.ran.length} steps had run`);

console.log("2. Resuming it in a new process: journaled steps are served, not run again.");
const second = await runChild(["resume", runId], () => progress.tick());
progress.stop();
const rerun = second.ran.filter((line) => first.ran.includes(line));
console.log(
  `   ${second.ran.length} steps ran after the resume; ${rerun.length} of them had run before the kill` +
    (rerun.length > 0
      ? ` (${rerun.join(", ")}: in flight when killed, their completion never journaled)`
      : ""),
);
console.log(`   status: ${second.result?.status}, ${second.result?.output?.items} articles in the digest:`);
console.log(
  second.result?.output?.digest
    .split("\n")
    .slice(0, 3)
    .map((l) => `     ${l.slice(0, 100)}`)
    .join("\n"),
);
console.log("     ...");

console.log("3. Replaying the finished run offline against its journal, and verifying the hash chain.");
const journal = await openJournal();
const ballast = createBallast({ journal, workflows: [digest] });
const replay = await ballast.replay(runId);
const verify = await journal.verify(runId);
await journal.close();
console.log(
  `   replay: identical output; ${replay.stepsReexecuted} steps re-executed, ${replay.stepsServed} side-effect steps served from the journal`,
);
console.log(
  `   journal: ${verify.ok ? "verified" : "TAMPERED"}, ${verify.eventsChecked} events hash-chained`,
);
console.log(`
Look closer:
  npm run ballast -- runs show ${runId} --events
  npm run ballast -- replay ${runId} --workflows packages/ballast/examples/digest-workflow.ts
  npm run ballast -- journal verify ${runId}`);
if (second.result?.status !== "completed" || !verify.ok) process.exitCode = 1;
