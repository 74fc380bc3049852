// `npm run bench -- ambitions [--services=N] [--update-baseline]`: end-to-end throughput of
// the service-ambitions pipeline (issue 7) against a fake OpenAI-compatible provider with a
// fixed 200 ms latency and a fixed RPM/TPM limit (it answers 429 past it), compared with a
// naive, unmanaged Promise.all over the same AI SDK calls. Reports services/s, p50/p95 per
// stage, wall time, peak memory and 429s; fails on a >15% regression against the golden
// baseline in bench/baselines/ambitions.json.
import { fork } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { offlineAnswer } from "@ballast/service-ambitions";
import { type FakeRequest, startFakeOpenAI } from "ballast/testing";
import type { ChildArgs, ChildResult } from "./_ambitions-child.ts";

const here = dirname(fileURLToPath(import.meta.url));
const BASELINE = join(here, "..", "baselines", "ambitions.json");
const LATENCY_MS = 200;
/** The provider's limits: RPM 1,800 and TPM 3,600,000, enforced per 1 s window (1/60 scale). */
const WINDOW_MS = 1_000;
const PROVIDER = { requests: 30, tokens: 60_000 };
/**
 * What ballast is configured with: 90% of the provider's limits over a 10% longer window.
 * At this 1/60 time scale the window's own guard (1%, 10 ms) is smaller than the jitter
 * between dispatch and arrival of a burst of new connections on a loaded machine.
 */
const CONFIGURED = { rpm: 30, tpm: 60_000, windowMs: WINDOW_MS * 1.05 };
const REGRESSION = 0.15;

interface Baseline {
  servicesPerSecond: number;
  vsNaive: number;
  services: number;
  recordedAt: string;
  machine: string;
}

/** The provider's side: a sliding window of admitted requests; past it, 429 with retry-after. */
class ProviderLimit {
  readonly #log: { at: number; tokens: number }[] = [];
  rejected = 0;
  admitted = 0;

  /** True when the request must be refused. Tokens: the prompt tokens the fake reports in usage. */
  refuse(request: FakeRequest): boolean {
    const now = performance.now();
    while (this.#log.length > 0 && (this.#log[0]?.at ?? now) <= now - WINDOW_MS) this.#log.shift();
    const tokens = promptTokens(request);
    const used = this.#log.reduce((n, e) => n + e.tokens, 0);
    if (this.#log.length + 1 > PROVIDER.requests || used + tokens > PROVIDER.tokens) {
      this.rejected += 1;
      return true;
    }
    this.#log.push({ at: now, tokens });
    this.admitted += 1;
    return false;
  }

  reset(): void {
    this.#log.length = 0;
    this.rejected = 0;
    this.admitted = 0;
  }
}

/** Prompt tokens as the fake counts them in `usage` (4 characters a token, 4 per message). */
function promptTokens(request: FakeRequest): number {
  const messages = (request.body as { messages?: { role: string; content: unknown }[] })?.messages ?? [];
  const text = messages
    .map((m) =>
      typeof m.content === "string"
        ? m.content
        : Array.isArray(m.content)
          ? m.content.map((part: { text?: string }) => part.text ?? "").join("\n")
          : "",
    )
    .join("\n");
  return Math.ceil(text.length / 4) + 3 + 4 * messages.filter((m) => m.role !== "system").length;
}

function runChild(args: ChildArgs): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const child = fork(join(here, "_ambitions-child.ts"), [JSON.stringify(args)], {
      execArgv: ["--conditions=ballast-source"],
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    let message: { ok: true; result: ChildResult } | { ok: false; error: string } | undefined;
    child.on("message", (m) => {
      message = m as typeof message;
    });
    child.on("exit", (code, signal) => {
      if (message?.ok) resolve(message.result);
      else
        reject(new Error(message?.error ?? `child exited with ${signal ?? `code ${code}`} before reporting`));
    });
  });
}

function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number;
}

function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padStart(widths[i] ?? 0)).join("  ");
  return [line(headers), ...rows.map(line)].join("\n");
}

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MB`;

export async function run(argv: string[]): Promise<void> {
  const services = Number(argv.find((a) => a.startsWith("--services="))?.split("=")[1] ?? 20);
  const update = argv.includes("--update-baseline");
  const limit = new ProviderLimit();
  const server = await startFakeOpenAI({
    latencyMs: LATENCY_MS,
    respond: (_request, intent) => offlineAnswer(intent, 7),
  });
  console.log(
    `ambitions bench: ${services} services x 4 plateaus from the sample; fake OpenAI-compatible provider, ${LATENCY_MS} ms latency, ` +
      `limit ${PROVIDER.requests} requests and ${PROVIDER.tokens.toLocaleString("en-US")} tokens per ${WINDOW_MS} ms window ` +
      `(RPM ${PROVIDER.requests * 60}, TPM ${(PROVIDER.tokens * 60).toLocaleString("en-US")} at 1/60 scale), 429 + retry-after past it.`,
  );
  console.log(
    `machine: ${cpus().length} cpus, load ${loadavg()
      .map((x) => x.toFixed(2))
      .join(" ")}\n`,
  );
  const results: { result: ChildResult; requests: number; rejected: number }[] = [];
  try {
    for (const contender of ["ballast", "naive"] as const) {
      limit.reset();
      server.reset();
      server.script({
        match: (request) => limit.refuse(request),
        status: 429,
        retryAfterMs: WINDOW_MS,
        times: Number.POSITIVE_INFINITY,
      });
      const result = await runChild({ contender, baseURL: server.baseURL, services, limits: CONFIGURED });
      results.push({ result, requests: server.requests.length, rejected: limit.rejected });
    }
  } finally {
    await server.close();
  }

  const rate = (r: ChildResult) => r.completed / (r.wallMs / 1000);
  console.log(
    table(
      ["contender", "wall", "services/s", "done", "failed", "requests", "429s", "peak RSS", "peak heap"],
      results.map(({ result: r, requests, rejected }) => [
        r.contender,
        `${(r.wallMs / 1000).toFixed(2)} s`,
        rate(r).toFixed(3),
        String(r.completed),
        String(r.failedServices),
        String(requests),
        String(rejected),
        mb(r.peakRssBytes),
        mb(r.peakHeapBytes),
      ]),
    ),
  );
  console.log("\nper-call latency by stage (end to end: queueing and retries included), ms:");
  const stages = ["descriptions", "features", "mapping"];
  console.log(
    table(
      ["contender", ...stages.flatMap((s) => [`${s} p50`, `${s} p95`])],
      results.map(({ result: r }) => [
        r.contender,
        ...stages.flatMap((s) => [
          percentile(r.latencies[s] ?? [], 50).toFixed(0),
          percentile(r.latencies[s] ?? [], 95).toFixed(0),
        ]),
      ]),
    ),
  );

  const ballast = results[0] as (typeof results)[number];
  const naive = results[1] as (typeof results)[number];
  const servicesPerSecond = rate(ballast.result);
  const naiveRate = rate(naive.result);
  const vsNaive = naiveRate > 0 ? servicesPerSecond / naiveRate : Number.POSITIVE_INFINITY;
  const vsNaiveText = Number.isFinite(vsNaive) ? vsNaive.toFixed(2) : "inf";

  let failed = false;
  if (ballast.result.completed !== services) {
    console.log(`\nFAIL: ballast completed ${ballast.result.completed} of ${services} services.`);
    failed = true;
  }
  if (update || !existsSync(BASELINE)) {
    const baseline: Baseline = {
      servicesPerSecond: Number(servicesPerSecond.toFixed(4)),
      vsNaive: Number.isFinite(vsNaive) ? Number(vsNaive.toFixed(3)) : -1,
      services,
      recordedAt: new Date().toISOString().slice(0, 10),
      machine: `${cpus().length} cpus`,
    };
    mkdirSync(dirname(BASELINE), { recursive: true });
    writeFileSync(BASELINE, `${JSON.stringify(baseline, null, 2)}\n`);
    console.log(`\nbaseline written: ${BASELINE}`);
  } else {
    const baseline = JSON.parse(readFileSync(BASELINE, "utf8")) as Baseline;
    if (baseline.services !== services) {
      console.log(
        `\nbaseline is for ${baseline.services} services; not compared (run with --services=${baseline.services}).`,
      );
    } else {
      const floor = baseline.servicesPerSecond * (1 - REGRESSION);
      const change = (servicesPerSecond / baseline.servicesPerSecond - 1) * 100;
      console.log(
        `\nbaseline ${baseline.servicesPerSecond} services/s (${baseline.recordedAt}): ${change >= 0 ? "+" : ""}${change.toFixed(1)}%` +
          (servicesPerSecond < floor ? ` — REGRESSION beyond ${REGRESSION * 100}%` : " (within 15%)"),
      );
      if (servicesPerSecond < floor) failed = true;
    }
  }
  if (failed) process.exitCode = 1;
  console.log(
    `ambitions: services/s=${servicesPerSecond.toFixed(3)} vs-naive=${vsNaiveText} 429s=${ballast.rejected}`,
  );
}
