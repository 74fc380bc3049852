import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateText, streamText } from "ai";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type Ballast, createBallast } from "../../flow/engine.ts";
import { createLogger } from "../../flow/observe.ts";
import type { WorkflowContext } from "../../flow/types.ts";
import { defineWorkflow } from "../../flow/workflow.ts";
import { AuditLog } from "../../guard/audit-log.ts";
import { PolicyEngine } from "../../guard/policy-engine.ts";
import { openSqliteJournal, type SqliteJournal } from "../../journal/sqlite-journal.ts";
import { createModelLayer, type ModelLayer } from "../../models/layer.ts";
import { createLocalModel } from "../../testing/local-model.ts";
import { type BallastServer, createServer } from "../server.ts";
import { hashToken } from "../tokens.ts";
import { bucketSize, costReport } from "./costs.ts";
import { SummaryCache, summarizeRun } from "./run-summary.ts";
import { DASHBOARD_CSP } from "./static-assets.ts";
import { buildTimeline, stepName } from "./timeline.ts";

/**
 * The dashboard's API routes in-process (`app.inject()`), over real runs in a real SQLite
 * journal: views, the event detail, actions with their audit records, RBAC per tenant, and
 * the error envelopes. The pages themselves are tested in Chromium (test/dashboard).
 */

let dir: string;
let journal: SqliteJournal;
let audit: AuditLog;
let layer: ModelLayer;
let engine: Ballast;
let server: BallastServer;
let release: () => void;

const TOKENS = {
  ops: "tok-ops-0123456789abcdef",
  other: "tok-other-0123456789abcdef",
  reader: "tok-read-0123456789abcdef",
};
const GRANTS = {
  schemaVersion: 1,
  version: "g-1",
  roles: {
    ops: [{ actions: ["runs.*", "budget.read", "audit.read", "context.search"], resources: ["*"] }],
    reader: [{ actions: ["runs.read", "audit.read"], resources: ["default:*"] }],
  },
  subjects: {},
};

function workflows() {
  const model = layer.wrap(createLocalModel({ seed: 1 }), { stage: "talk" });
  let gate: () => void = () => undefined;
  const gated = new Promise<void>((resolve) => {
    gate = resolve;
  });
  release = () => gate();
  const chat = defineWorkflow({
    name: "chat",
    version: "1",
    run: async (ctx: WorkflowContext, input: { big?: boolean }) => {
      // A model call in the workflow body (no step), and a streamed one inside a step.
      const opening = await generateText({ model, prompt: "Open the chat", maxRetries: 0 });
      const streamed = await ctx.step("stream", async () => {
        const parts: string[] = [];
        for await (const delta of streamText({ model, prompt: "Stream a reply", maxRetries: 0 }).textStream) {
          parts.push(delta);
        }
        return parts.join("");
      });
      const big = await ctx.step("big", () => (input.big ? "x".repeat(20_000) : "small"));
      return { opening: opening.text.length, streamed: streamed.length, big: big.length };
    },
  });
  const wait = defineWorkflow({
    name: "wait",
    version: "1",
    run: async (ctx: WorkflowContext) => {
      await ctx.step("first", () => 1);
      await ctx.step("hold", async () => {
        await gated;
        return 2;
      });
      return "done";
    },
  });
  return { chat, wait };
}

async function start(options: { assetsDir?: string; context?: boolean } = {}): Promise<void> {
  const policy = new PolicyEngine({
    rules: { schemaVersion: 1, version: "r-1", rules: [] },
    grants: GRANTS,
    audit,
  });
  const context = options.context
    ? {
        search: async () => ({ results: [], strategy: "SPARSE" as const, version: 0 }),
      }
    : undefined;
  server = await createServer({
    journal,
    engine,
    audit,
    policy,
    ...(context === undefined ? {} : { context }),
    tokens: [
      { id: "ops", sha256: hashToken(TOKENS.ops), subject: "olga", tenant: "*", roles: ["ops"] },
      { id: "other", sha256: hashToken(TOKENS.other), subject: "otto", tenant: "acme", roles: ["ops"] },
      { id: "reader", sha256: hashToken(TOKENS.reader), subject: "rita", roles: ["reader"] },
    ],
    port: 0,
    rateLimit: false,
    dashboard: { assetsDir: options.assetsDir ?? join(dir, "no-app") },
  });
}

async function get(url: string, token = TOKENS.ops) {
  const res = await server.app.inject({ method: "GET", url, headers: { authorization: `Bearer ${token}` } });
  return {
    status: res.statusCode,
    body: res.json() as Record<string, unknown> & { error?: { code: string } },
  };
}

async function post(url: string, payload: unknown, token = TOKENS.ops) {
  const res = await server.app.inject({
    method: "POST",
    url,
    payload: payload as Record<string, unknown>,
    headers: { authorization: `Bearer ${token}` },
  });
  return {
    status: res.statusCode,
    body: res.json() as Record<string, unknown> & { error?: { code: string } },
  };
}

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), "ballast-dashboard-api-"));
  journal = await openSqliteJournal({
    path: join(dir, "b.db"),
    blobDir: join(dir, "blobs"),
    durability: "normal",
  });
  audit = AuditLog.open({ path: join(dir, "audit.db"), env: {} });
  layer = createModelLayer({
    logger: createLogger({ level: "silent" }),
    pricing: { local: { input: 1, output: 2 } },
  });
  engine = createBallast({ journal, logger: createLogger({ level: "silent" }) });
  const { chat, wait } = workflows();
  engine.register(chat as never).register(wait as never);
  await (await engine.start(chat, { big: true }, { runId: "chat-1" })).wait();
  await (await engine.start(chat, {}, { runId: "chat-acme", tenant: "acme" })).wait();
  await engine.start(wait, null, { runId: "wait-1" });
});

afterEach(async () => {
  release();
  await server?.close();
  await new Promise((resolve) => setTimeout(resolve, 20));
  layer.close();
  await journal.close();
  audit.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("views", () => {
  it("lists run summaries per tenant, with a search and a cursor", async () => {
    await start();
    const all = await get("/v1/views/runs?limit=2");
    expect(all.status).toBe(200);
    const runs = all.body["runs"] as {
      id: string;
      calls: number;
      tokens: number;
      cacheHitRate: number | null;
    }[];
    expect(runs.map((r) => r.id)).toEqual(["wait-1", "chat-acme"]);
    const next = await get(`/v1/views/runs?limit=2&cursor=${String(all.body["nextCursor"])}`);
    expect((next.body["runs"] as { id: string }[]).map((r) => r.id)).toEqual(["chat-1"]);
    expect(next.body["nextCursor"]).toBeUndefined();
    const chat = (next.body["runs"] as { calls: number; tokens: number; cacheHitRate: number }[])[0]!;
    expect(chat.calls).toBe(2);
    expect(chat.cacheHitRate).toBe(0);
    // The same page again comes from the summary cache (a finished run does not change).
    expect((await get(`/v1/views/runs?limit=2&cursor=${String(all.body["nextCursor"])}`)).body).toEqual(
      next.body,
    );

    const acme = await get("/v1/views/runs", TOKENS.other);
    expect((acme.body["runs"] as { id: string }[]).map((r) => r.id)).toEqual(["chat-acme"]);
    const reader = await get("/v1/views/runs?q=WAIT", TOKENS.reader);
    expect((reader.body["runs"] as { id: string }[]).map((r) => r.id)).toEqual(["wait-1"]);
    expect((await get("/v1/views/runs?status=running")).body["runs"]).toHaveLength(1);
    expect((await get("/v1/views/runs?cursor=nope")).body.error?.code).toBe("invalid_argument");
    expect((await get("/v1/views/runs?limit=0")).status).toBe(400);
    const anonymous = await server.app.inject({ method: "GET", url: "/v1/views/runs" });
    expect(anonymous.statusCode).toBe(401);
  });

  it("folds a run into a timeline: calls outside steps, streams, running and stopped steps", async () => {
    await start();
    const chat = await get("/v1/runs/chat-1/timeline");
    expect(chat.status).toBe(200);
    const timeline = chat.body["timeline"] as {
      spans: { kind: string; stepId?: string; depth: number; status: string }[];
    };
    const calls = timeline.spans.filter((s) => s.kind === "model");
    expect(calls).toHaveLength(2);
    expect(calls[0]).toMatchObject({ depth: 0 });
    expect(calls[0]?.stepId).toBeUndefined();
    expect(calls[1]).toMatchObject({ stepId: "stream#0", depth: 1 });
    expect((chat.body["budget"] as { steps: number }).steps).toBe(2);

    const waiting = await get("/v1/runs/wait-1/timeline");
    const spans = (
      waiting.body["timeline"] as { spans: { stepId: string; status: string; endMs?: number }[] }
    ).spans;
    expect(spans.find((s) => s.stepId === "hold#0")).toMatchObject({ status: "running" });
    expect(spans.find((s) => s.stepId === "hold#0")?.endMs).toBeUndefined();

    await post("/v1/runs/wait-1/cancel", { reason: "enough" });
    const stopped = await get("/v1/runs/wait-1/timeline");
    const after = stopped.body["timeline"] as {
      spans: { stepId: string; status: string }[];
      errors: { code: string }[];
    };
    expect(after.spans.find((s) => s.stepId === "hold#0")?.status).toBe("stopped");
    expect(after.errors.map((e) => e.code)).toContain("run_cancelled");
    expect((await get("/v1/runs/nope/timeline")).status).toBe(404);
  });

  it("shows one event: a step's large result from the blob store, a streamed call, a plain event", async () => {
    await start();
    const events = await journal.readEvents("chat-1");
    const big = events.find(
      (e) => e.type === "step.completed" && (e.data as { stepId: string }).stepId === "big#0",
    )!;
    expect((big.data as { resultRef?: unknown }).resultRef).toBeDefined();
    const step = await get(`/v1/runs/chat-1/events/${big.seq}`);
    expect(step.body).toMatchObject({
      kind: "step",
      stepId: "big#0",
      name: "big",
      output: "x".repeat(20_000),
    });
    expect(step.body["startedAt"]).toEqual(expect.any(String));

    const streamed = events.filter((e) => e.type === "model.called")[1]!;
    const call = await get(`/v1/runs/chat-1/events/${streamed.seq}`);
    const detail = call.body["call"] as {
      outputText: string;
      input: string | null;
      answered: string;
      fallback: boolean;
    };
    expect(call.body).toMatchObject({ kind: "model", stepId: "stream#0" });
    expect(detail.outputText.length).toBeGreaterThan(0);
    expect(detail.input).toBeNull();
    expect(detail).toMatchObject({ answered: "ballast:local", fallback: false });

    const started = await get("/v1/runs/chat-1/events/0");
    expect(started.body).toMatchObject({ kind: "event", type: "run.started" });
    expect((await get("/v1/runs/chat-1/events/9999")).status).toBe(404);
    expect((await get("/v1/runs/chat-1/events/abc")).status).toBe(400);
  });

  it("reports spend over time, leaving out what a fork copied", async () => {
    await start();
    const report = await get("/v1/views/costs?target=10");
    const totals = report.body["totals"] as { calls: number; runs: number; costUsd: number };
    expect(totals).toMatchObject({ calls: 4, runs: 2 });
    expect(totals.costUsd).toBeGreaterThan(0);
    const forked = await post("/v1/runs/chat-1/fork", { atSeq: 3 });
    expect(forked.status).toBe(200);
    await engine.journal.getRun(String(forked.body["id"]));
    const again = await get("/v1/views/costs");
    expect((again.body["totals"] as { runs: number }).runs).toBeGreaterThanOrEqual(2);
    const future = await get(`/v1/views/costs?since=${new Date(Date.now() + 60_000).toISOString()}`);
    expect((future.body["totals"] as { calls: number }).calls).toBe(0);
    expect((await get("/v1/views/costs?since=yesterday")).status).toBe(400);
  });

  it("verifies the audit chain, and says when a server has no context engine or audit log", async () => {
    await start();
    expect((await get("/v1/audit/verify")).body).toMatchObject({ ok: true });
    expect((await post("/v1/select", { query: "q", budgetTokens: 10 })).body.error?.code).toBe("unavailable");
    await server.close();
    await start({ context: true });
    expect((await post("/v1/select", { query: "q", budgetTokens: 10 })).body.error?.code).toBe("unavailable");
  });
});

describe("actions", () => {
  it("replays, forks and resumes through RBAC, and audits each outcome", async () => {
    await start();
    const replay = await post("/v1/runs/chat-1/replay", {});
    expect(replay.status).toBe(200);
    expect(replay.body["eventsMatched"]).toBeGreaterThan(0);
    const refused = await post("/v1/runs/chat-1/replay", {}, TOKENS.reader);
    expect(refused.status).toBe(403);
    const notYours = await post("/v1/runs/chat-1/fork", { atSeq: 1 }, TOKENS.other);
    expect(notYours.status).toBe(403);
    const badFork = await post("/v1/runs/chat-1/fork", { atSeq: 9999 });
    expect(badFork.body.error?.code).toBe("invalid_argument");
    const finished = await post("/v1/runs/chat-1/resume", {});
    expect(finished.body.error?.code).toBe("failed_precondition");
    expect((await post("/v1/runs/nope/resume", {})).status).toBe(404);

    await journal.createRun({
      id: "queued-1",
      workflow: "wait",
      workflowVersion: "1",
      input: null,
      status: "queued",
    });
    const resumed = await post("/v1/runs/queued-1/resume", {});
    expect(resumed.status).toBe(200);
    expect(["queued", "running"]).toContain(resumed.body["status"]);
    expect((await journal.readEvents("queued-1")).map((e) => e.type)).toContain("run.started");

    const records = audit.list({ kind: "run.action" });
    expect(records.map((r) => [r.action, r.subject, r.data?.["outcome"]])).toEqual([
      ["runs.replay", "olga", "ok"],
      ["runs.fork", "olga", "error"],
      ["runs.resume", "olga", "error"],
      ["runs.resume", "olga", "ok"],
    ]);
    expect(records[1]?.data?.["code"]).toBe("invalid_argument");
    expect(audit.list({ kind: "security.deny" }).length).toBeGreaterThanOrEqual(2);
  });
});

describe("the app's files", () => {
  it("says how to build the app when it is not built, under the same CSP", async () => {
    await start();
    const res = await server.app.inject({ method: "GET", url: "/" });
    expect(res.statusCode).toBe(503);
    expect(res.body).toContain("npm run build:dashboard");
    expect(res.headers["content-security-policy"]).toBe(DASHBOARD_CSP);
  });

  it("serves a built app with the CSP, revalidating the page and caching hashed assets", async () => {
    const app = join(dir, "app");
    mkdirSync(join(app, "assets"), { recursive: true });
    writeFileSync(
      join(app, "index.html"),
      '<!doctype html><script type="module" src="/assets/a-1.js"></script>',
    );
    writeFileSync(join(app, "assets", "a-1.js"), "export {};");
    await start({ assetsDir: app });
    const page = await server.app.inject({ method: "GET", url: "/" });
    expect(page.statusCode).toBe(200);
    expect(page.headers["cache-control"]).toBe("no-cache");
    expect(page.headers["content-security-policy"]).toBe(DASHBOARD_CSP);
    expect(page.headers["x-content-type-options"]).toBe("nosniff");
    const asset = await server.app.inject({ method: "GET", url: "/assets/a-1.js" });
    expect(asset.headers["cache-control"]).toContain("immutable");
    expect((await server.app.inject({ method: "GET", url: "/assets/missing.js" })).statusCode).toBe(404);
  });
});

describe("pure parts", () => {
  it("names steps, picks bucket sizes and reports an empty range", () => {
    expect(stepName("map#0[3]/fetch#2")).toBe("fetch");
    expect(stepName("plain")).toBe("plain");
    expect(bucketSize(30 * 60_000, 48)).toBe(60_000);
    expect(bucketSize(365 * 86_400_000, 48)).toBe(30 * 86_400_000);
    const empty = costReport([], { until: 1_000_000 });
    expect(empty.totals).toEqual({ costUsd: 0, tokens: 0, calls: 0, cacheHits: 0, runs: 0 });
    expect(empty.buckets).toHaveLength(1);
  });

  it("keeps finished summaries, forgets the oldest, and never keeps a running one", async () => {
    const run = (await journal.getRun("chat-1"))!;
    const events = await journal.readEvents("chat-1");
    const cache = new SummaryCache(1);
    const summary = summarizeRun(run, events);
    cache.set(run, summary);
    expect(cache.get(run)).toBe(summary);
    expect(cache.get({ ...run, eventCount: run.eventCount + 1 })).toBeUndefined();
    const other = (await journal.getRun("chat-acme"))!;
    cache.set(other, summarizeRun(other, await journal.readEvents("chat-acme")));
    expect(cache.get(run)).toBeUndefined();
    const running = (await journal.getRun("wait-1"))!;
    cache.set(running, summarizeRun(running, await journal.readEvents("wait-1")));
    expect(cache.get(running)).toBeUndefined();
    // A timeline of an empty journal still has a start.
    expect(buildTimeline(running, []).spans).toEqual([]);
  });
});
