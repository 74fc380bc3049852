// `npm run bench -- server [--duration=4] [--rounds=3] [--connections=100]`: HTTP throughput
// and tail latency of `ballast serve` against a bare Fastify hello-world, with autocannon,
// all on 127.0.0.1. Issue 5, "Benchmark". The servers run in a child process so autocannon
// and the server under test do not share one event loop; every load is bounded by
// --duration. The machine is shared, so bare and health alternate for --rounds rounds and
// each reports its best round (its capacity); health's p99 is the median of its rounds.
//
// Loads, one after the other:
//   bare      GET /hello on a bare Fastify app (the baseline)
//   health    GET /v1/health with a bearer token, RBAC (guard policy engine) and metrics on
//   search    POST /v1/search, same auth, over a 500-document context index
//   proxy     POST /v1/chat/completions answered from the model layer's cache (journaled runs)
import { fork } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import autocannon from "autocannon";

const TOKEN = "bench-token-0123456789abcdefghijklmnop";

interface Urls {
  bare: string;
  ballast: string;
}

interface LoadResult {
  name: string;
  rps: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
}

// ------------------------------------------------------------------ child: the servers

async function child(home: string): Promise<void> {
  const { default: Fastify } = await import("fastify");
  const { openContext } = await import("ballast/context");
  const { AuditLog, PolicyEngine } = await import("ballast/guard");
  const { createLogger, openJournal } = await import("ballast");
  const { createLocalModel } = await import("ballast/testing");
  const { createServer, hashToken } = await import("ballast/server");

  const bare = Fastify({ logger: false });
  bare.get("/hello", async () => ({ hello: "world" }));
  await bare.listen({ host: "127.0.0.1", port: 0 });

  const journal = await openJournal({ home, durability: "normal" });
  const audit = AuditLog.open({ home, env: {} });
  const context = await openContext({ home });
  const topics = [
    "journal",
    "budget",
    "replay",
    "search",
    "policy",
    "sandbox",
    "proxy",
    "metrics",
    "tenant",
    "grpc",
  ];
  await context.upsert(
    Array.from({ length: 500 }, (_, i) => ({
      id: `doc-${i}`,
      text: `Document ${i} about ${topics[i % topics.length]} and ${topics[(i * 7) % topics.length]}: durable runs, resilient calls, ${"context ".repeat(i % 5)}`,
      metadata: { n: i },
    })),
  );
  const policy = new PolicyEngine({
    rules: { schemaVersion: 1, version: "bench", rules: [] },
    grants: {
      schemaVersion: 1,
      version: "bench",
      roles: { user: [{ actions: ["health.read", "context.search", "models.call"], resources: ["acme:*"] }] },
      subjects: {},
    },
    audit,
    auditAllowSamplePct: 0,
  });
  const server = await createServer({
    journal,
    audit,
    context,
    policy,
    tokens: [{ id: "bench", sha256: hashToken(TOKEN), tenant: "acme", roles: ["user"] }],
    port: 0,
    // Limits stay on (keyed per token) but high enough not to refuse the load.
    rateLimit: { max: 100_000_000, windowMs: 60_000 },
    logger: createLogger({ level: "silent" }),
    proxy: {
      models: { local: createLocalModel({ modelId: "local" }) },
      layer: {
        cache: { path: join(home, "proxy-cache-{key}.db") },
        logger: createLogger({ level: "silent" }),
      },
    },
  });
  const { url } = await server.listen();
  process.send?.({
    bare: `http://127.0.0.1:${(bare.server.address() as { port: number }).port}`,
    ballast: url,
  });
  process.on("message", async () => {
    await Promise.all([bare.close(), server.close()]);
    await context.close();
    audit.close();
    await journal.close();
    process.exit(0);
  });
}

// ------------------------------------------------------------------ parent: the loads

function option(args: string[], name: string, fallback: number): number {
  const raw = args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  const value = raw === undefined ? fallback : Number(raw);
  if (!(Number.isFinite(value) && value > 0)) throw new Error(`--${name} takes a positive number`);
  return value;
}

async function load(
  name: string,
  options: { url: string; method?: "GET" | "POST"; body?: string; duration: number; connections: number },
): Promise<LoadResult> {
  const headers: Record<string, string> = { authorization: `Bearer ${TOKEN}` };
  if (options.body !== undefined) headers["content-type"] = "application/json";
  // A short warm-up (JIT, caches, connection set-up) that is not measured.
  await autocannon({ ...options, headers, duration: 1 });
  const result = await autocannon({
    url: options.url,
    method: options.method ?? "GET",
    headers,
    ...(options.body === undefined ? {} : { body: options.body }),
    connections: options.connections,
    duration: options.duration,
  });
  return {
    name,
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
  };
}

export async function run(args: string[]): Promise<void> {
  if (args[0] === "--child") return child(args[1]!);
  const duration = option(args, "duration", 4);
  const rounds = option(args, "rounds", 3);
  const connections = option(args, "connections", 100);
  const home = mkdtempSync(join(tmpdir(), "ballast-bench-server-"));
  const server = fork(fileURLToPath(import.meta.url), ["--child", home], {
    execArgv: ["--conditions=ballast-source", "--no-warnings"],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  try {
    const urls = await new Promise<Urls>((resolve, reject) => {
      server.once("message", (m) => resolve(m as Urls));
      server.once("exit", (code) => reject(new Error(`server child exited (${code}) before listening`)));
    });
    const chat = JSON.stringify({
      model: "local",
      messages: [{ role: "user", content: "What does the journal guarantee?" }],
    });
    // Fill the proxy cache once: every measured request is a cache hit.
    const warm = await fetch(`${urls.ballast}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      body: chat,
    });
    if (warm.status !== 200) throw new Error(`proxy warm-up answered ${warm.status}: ${await warm.text()}`);
    const common = { duration, connections };
    const bareRounds: LoadResult[] = [];
    const healthRounds: LoadResult[] = [];
    for (let round = 0; round < rounds; round++) {
      bareRounds.push(await load("bare fastify GET /hello", { ...common, url: `${urls.bare}/hello` }));
      healthRounds.push(
        await load("ballast GET /v1/health", { ...common, url: `${urls.ballast}/v1/health` }),
      );
    }
    const best = (list: LoadResult[]) => list.reduce((a, b) => (b.rps > a.rps ? b : a));
    const p99s = healthRounds.map((r) => r.p99).sort((a, b) => a - b);
    const health = { ...best(healthRounds), p99: p99s[Math.floor(p99s.length / 2)]! };
    const results = [
      best(bareRounds),
      health,
      await load("ballast POST /v1/search", {
        ...common,
        url: `${urls.ballast}/v1/search`,
        method: "POST",
        body: JSON.stringify({ query: "budget replay", k: 5 }),
      }),
      await load("ballast proxy cache hit", {
        ...common,
        url: `${urls.ballast}/v1/chat/completions`,
        method: "POST",
        body: chat,
      }),
    ];
    console.log(
      `server bench: ${connections} connections, ${duration} s per load, best of ${rounds} alternating rounds for bare/health, ${cpus().length} cores, 127.0.0.1`,
    );
    console.log(
      `rounds req/s: bare ${bareRounds.map((r) => r.rps.toFixed(0)).join(" ")}; health ${healthRounds.map((r) => r.rps.toFixed(0)).join(" ")}`,
    );
    console.log("load                          req/s     p50 ms   p99 ms   non-2xx  errors");
    for (const r of results) {
      console.log(
        `${r.name.padEnd(28)} ${r.rps.toFixed(0).padStart(7)} ${r.p50.toFixed(1).padStart(9)} ${r.p99.toFixed(1).padStart(8)} ${String(r.non2xx).padStart(9)} ${String(r.errors).padStart(7)}`,
      );
    }
    const bare = results[0]!;
    const ratio = health.rps / bare.rps;
    console.log(
      `targets: health >= 70% of bare (${(ratio * 100).toFixed(0)}%: ${ratio >= 0.7 ? "met" : "missed"}), health p99 < 10 ms (${health.p99.toFixed(1)} ms: ${health.p99 < 10 ? "met" : "missed"})`,
    );
    console.log(
      `server: health-rps=${health.rps.toFixed(0)} ratio-to-bare=${ratio.toFixed(2)} p99=${health.p99.toFixed(1)}`,
    );
  } finally {
    server.send("stop");
    await new Promise((resolve) => server.once("exit", resolve));
    rmSync(home, { recursive: true, force: true });
  }
}

if (process.argv[2] === "--child") await run(process.argv.slice(2));
