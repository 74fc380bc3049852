// `npm run bench -- sandbox [--runs=N]`: what the guard rails cost.
// - sandbox: `exec("true")` (bubblewrap PID namespace, allowlisted env, temp dir, output
//   capture) and with every limit on, against a bare `child_process.execFile("true")`;
// - policy: Cedar-backed decisions per second;
// - redaction: standard and strict profiles over log-like text, MB/s.
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { createRedactor, PolicyEngine } from "ballast/guard";
import { exec } from "ballast/sandbox";

const execFileAsync = promisify(execFile);

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

async function time(runs: number, fn: () => Promise<unknown>): Promise<number> {
  await fn();
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    await fn();
    samples.push(performance.now() - start);
  }
  return median(samples);
}

export async function run(args: string[]): Promise<void> {
  const runs = Number(args.find((a) => a.startsWith("--runs="))?.slice(7) ?? 40);

  const bare = await time(runs, () => execFileAsync("true"));
  const sandboxed = await time(runs, () => exec("true"));
  const limited = await time(runs, () =>
    exec("true", [], { network: "deny", memBytes: 2 ** 30, cpuSeconds: 10, maxOutputBytes: 65_536 }),
  );
  console.log(`spawn "true", median of ${runs}:`);
  console.log(`  execFile (baseline)            ${bare.toFixed(2)} ms`);
  console.log(
    `  exec, default                  ${sandboxed.toFixed(2)} ms  (${(sandboxed / bare).toFixed(2)}x)`,
  );
  console.log(`  exec, net deny + rlimits       ${limited.toFixed(2)} ms  (${(limited / bare).toFixed(2)}x)`);

  const engine = new PolicyEngine({
    rules: {
      schemaVersion: 1,
      version: "bench",
      rules: [{ id: "health", effect: "allow", actions: ["http.get"], resources: ["*:health"] }],
      forbiddenPatterns: [{ id: "rm", match: { command: "*rm -rf*" } }],
    },
    grants: {
      schemaVersion: 1,
      version: "g",
      roles: { op: [{ actions: ["runs.*"], resources: ["acme:runs/*"] }] },
    },
  });
  const request = {
    subject: { id: "u", tenant: "acme", roles: ["op"] },
    action: "runs.read",
    resource: "acme:runs/42",
  };
  const decisions = 5_000;
  let start = performance.now();
  for (let i = 0; i < decisions; i++) engine.evaluate(request);
  const perDecisionUs = ((performance.now() - start) * 1000) / decisions;
  console.log(
    `policy: ${perDecisionUs.toFixed(1)} µs per decision (${Math.round(1e6 / perDecisionUs)} decisions/s)`,
  );

  const line =
    '{"level":"info","ts":"2025-10-29T10:00:00Z","msg":"model call done","runId":"run_42","tokens":512,"latency_ms":840,"note":"retry after 429 from provider"}\n';
  const text = line.repeat(2_000);
  const mb = Buffer.byteLength(text) / 1e6;
  const rates: string[] = [];
  for (const profile of ["standard", "strict"] as const) {
    const redactor = createRedactor({ profile, env: {} });
    redactor.redact(text);
    start = performance.now();
    for (let i = 0; i < 5; i++) redactor.redact(text);
    const rate = (mb * 5) / ((performance.now() - start) / 1000);
    rates.push(`${profile} ${rate.toFixed(1)} MB/s`);
  }
  console.log(`redaction: ${rates.join(", ")}`);
  console.log(
    `summary: sandbox exec ${(sandboxed / bare).toFixed(2)}x bare spawn (${(limited / bare).toFixed(2)}x with all limits); policy ${perDecisionUs.toFixed(0)} µs/decision; redaction ${rates.join(", ")}`,
  );
}
