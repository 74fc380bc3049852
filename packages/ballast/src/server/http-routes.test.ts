import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { openContext } from "../context/engine.ts";
import type { BallastServer } from "./server.ts";
import { type Fixture, fixture, serverFor } from "./test-harness.ts";

let fx: Fixture;
let server: BallastServer;

beforeEach(async () => {
  fx = await fixture();
  server = await serverFor(fx);
});

afterEach(async () => {
  await server.close();
  await fx.close();
});

async function startRun(body: Record<string, unknown>) {
  const res = await server.app.inject({ method: "POST", url: "/v1/runs", payload: body });
  return { status: res.statusCode, body: res.json() as Record<string, unknown> };
}

describe("health", () => {
  it("answers GET with status and version, HEAD without a body, OPTIONS with Allow", async () => {
    const get = await server.app.inject({ method: "GET", url: "/v1/health" });
    expect(get.statusCode).toBe(200);
    expect(get.json()).toEqual({ status: "ok", version: expect.any(String) });
    expect(get.headers["x-trace-id"]).toMatch(/^[0-9a-f]{32}$/);

    const head = await server.app.inject({ method: "HEAD", url: "/v1/health" });
    expect(head.statusCode).toBe(200);
    expect(head.body).toBe("");
    expect(head.headers["content-type"]).toMatch(/application\/json/);

    const options = await server.app.inject({ method: "OPTIONS", url: "/v1/health" });
    expect(options.statusCode).toBe(204);
    expect(options.headers["allow"]).toBe("GET, HEAD, OPTIONS");
  });

  it("answers other methods with 405, Allow and the error envelope", async () => {
    for (const method of ["POST", "PUT", "DELETE", "PATCH"] as const) {
      const res = await server.app.inject({ method, url: "/v1/health" });
      expect(res.statusCode).toBe(405);
      expect(res.headers["allow"]).toBe("GET, HEAD, OPTIONS");
      expect(res.json()).toEqual({
        error: {
          code: "method_not_allowed",
          message: expect.stringContaining(method),
          traceId: expect.any(String),
        },
      });
    }
  });
});

describe("runs", () => {
  it("starts a registered workflow, waits for it, and reads it back", async () => {
    const started = await startRun({ workflow: "greet", input: "ada", wait: true });
    expect(started.status).toBe(200);
    expect(started.body).toMatchObject({
      workflow: "greet",
      workflowVersion: "1",
      status: "completed",
      output: "hello ada",
    });
    expect(started.body["tenant"]).toBe("default");
    const id = started.body["id"] as string;
    const got = await server.app.inject({ method: "GET", url: `/v1/runs/${id}` });
    expect(got.statusCode).toBe(200);
    expect(got.json()).toEqual(started.body);
  });

  it("starts without waiting and takes a caller's run id once", async () => {
    const first = await startRun({ workflow: "greet", version: "1", input: "x", runId: "fixed-1" });
    expect(first.status).toBe(200);
    expect(first.body["id"]).toBe("fixed-1");
    const again = await startRun({ workflow: "greet", input: "x", runId: "fixed-1" });
    expect(again.status).toBe(409);
    expect(again.body).toMatchObject({ error: { code: "conflict" } });
  });

  it("refuses unknown and internal workflows and bad input", async () => {
    expect((await startRun({ workflow: "nope" })).body).toMatchObject({ error: { code: "not_found" } });
    expect((await startRun({ workflow: "greet", version: "9" })).status).toBe(404);
    expect((await startRun({ workflow: "ballast.proxy.chat" })).status).toBe(404);
    const bad = await startRun({ workflow: "greet", extra: 1 });
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({
      error: { code: "invalid_argument", message: expect.stringContaining("extra") },
    });
    const badBudget = await startRun({ workflow: "greet", budget: { tokens: -1 } });
    expect(badBudget.status).toBe(400);
  });

  it("lists runs with filters and cursor pages", async () => {
    for (const who of ["a", "b", "c"]) await startRun({ workflow: "greet", input: who, wait: true });
    const page1 = await server.app.inject({ method: "GET", url: "/v1/runs?limit=2&workflow=greet" });
    expect(page1.statusCode).toBe(200);
    const body1 = page1.json() as { runs: { id: string }[]; nextCursor?: string };
    expect(body1.runs).toHaveLength(2);
    expect(body1.nextCursor).toEqual(expect.any(String));
    const page2 = await server.app.inject({
      method: "GET",
      url: `/v1/runs?limit=2&cursor=${body1.nextCursor}`,
    });
    const body2 = page2.json() as { runs: { id: string }[]; nextCursor?: string };
    expect(body2.runs).toHaveLength(1);
    expect(body2.nextCursor).toBeUndefined();
    const ids = new Set([...body1.runs, ...body2.runs].map((r) => r.id));
    expect(ids.size).toBe(3);

    const none = await server.app.inject({ method: "GET", url: "/v1/runs?status=failed" });
    expect(none.json()).toEqual({ runs: [] });
    const badCursor = await server.app.inject({ method: "GET", url: "/v1/runs?cursor=zzz" });
    expect(badCursor.statusCode).toBe(400);
    const badLimit = await server.app.inject({ method: "GET", url: "/v1/runs?limit=ten" });
    expect(badLimit.statusCode).toBe(400);
  });

  it("answers 404 with the envelope for a run that does not exist", async () => {
    for (const url of ["/v1/runs/missing", "/v1/runs/missing/budget", "/v1/runs/missing/budget/history"]) {
      const res = await server.app.inject({ method: "GET", url });
      expect(res.statusCode).toBe(404);
      expect(res.json()).toEqual({
        error: {
          code: "not_found",
          message: expect.stringContaining("missing"),
          traceId: expect.any(String),
        },
      });
    }
    const cancel = await server.app.inject({ method: "POST", url: "/v1/runs/missing/cancel" });
    expect(cancel.statusCode).toBe(404);
  });

  it("cancels a running run, and refuses to cancel a finished one", async () => {
    const started = await startRun({ workflow: "slow", input: 10_000 });
    const id = started.body["id"] as string;
    const cancelled = await server.app.inject({
      method: "POST",
      url: `/v1/runs/${id}/cancel`,
      payload: { reason: "operator" },
    });
    expect(cancelled.statusCode).toBe(200);
    expect(cancelled.json()).toMatchObject({ id, status: "cancelled" });
    const again = await server.app.inject({ method: "POST", url: `/v1/runs/${id}/cancel` });
    expect(again.statusCode).toBe(409);
    // Both attempts are in the audit log as run actions, like resume, replay and fork.
    const actions = fx.audit.list({ kind: "run.action" }).map((r) => [r.action, r.data?.["outcome"]]);
    expect(actions).toEqual([
      ["runs.cancel", "ok"],
      ["runs.cancel", "error"],
    ]);
    expect(again.json()).toMatchObject({ error: { code: "failed_precondition" } });
  });

  it("has no endpoint that deletes anything", async () => {
    const { body } = await startRun({ workflow: "greet", input: "z", wait: true });
    for (const url of ["/v1/runs", `/v1/runs/${body["id"]}`, "/v1/audit", `/v1/runs/${body["id"]}/events`]) {
      const res = await server.app.inject({ method: "DELETE", url });
      expect(res.statusCode).toBe(405);
      expect(res.headers["allow"]).not.toContain("DELETE");
    }
    expect((await server.app.inject({ method: "GET", url: `/v1/runs/${body["id"]}` })).statusCode).toBe(200);
  });

  it("reports a run's budget and its history from the journal", async () => {
    const { body } = await startRun({ workflow: "greet", input: "b", wait: true });
    const budget = await server.app.inject({ method: "GET", url: `/v1/runs/${body["id"]}/budget` });
    expect(budget.statusCode).toBe(200);
    expect(budget.json()).toEqual({
      runId: body["id"],
      mode: "soft",
      limits: { tokens: 1000, mode: "soft" },
      used: { tokens: 0, costUsd: 0, toolCalls: 0 },
      warnings: [],
    });
    const history = await server.app.inject({
      method: "GET",
      url: `/v1/runs/${body["id"]}/budget/history?limit=5`,
    });
    expect(history.statusCode).toBe(200);
    expect(history.json()).toEqual({ runId: body["id"], snapshots: [], omitted: 0 });
  });
});

describe("errors", () => {
  it("answers unknown routes with a 404 envelope", async () => {
    const res = await server.app.inject({ method: "GET", url: "/v2/nothing?x=1" });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toEqual({
      error: {
        code: "not_found",
        message: "No route GET /v2/nothing; the API is under /v1.",
        traceId: expect.any(String),
      },
    });
  });

  it("answers bad JSON and wrong content types with 4xx envelopes", async () => {
    const badJson = await server.app.inject({
      method: "POST",
      url: "/v1/runs",
      headers: { "content-type": "application/json" },
      payload: "{not json",
    });
    expect(badJson.statusCode).toBe(400);
    expect(badJson.json()).toMatchObject({ error: { code: "invalid_argument" } });
    const xml = await server.app.inject({
      method: "POST",
      url: "/v1/runs",
      headers: { "content-type": "application/xml" },
      payload: "<run/>",
    });
    expect(xml.statusCode).toBe(415);
    expect(xml.json()).toMatchObject({ error: { code: "unsupported_media_type" } });
  });

  it("maps a failure inside a handler to 500 internal, without stack or message", async () => {
    await server.close();
    server = await serverFor(fx, {
      context: {
        search: async () => {
          throw new TypeError("cannot read /srv/secret/path at Object.<anonymous> (engine.ts:12)");
        },
      },
    });
    const res = await server.app.inject({ method: "POST", url: "/v1/search", payload: { query: "x" } });
    expect(res.statusCode).toBe(500);
    const body = res.json() as { error: { code: string; message: string; traceId: string } };
    expect(body.error.code).toBe("internal");
    expect(res.body).not.toContain("secret");
    expect(res.body).not.toContain("engine.ts");
    expect(Object.keys(body.error).sort()).toEqual(["code", "message", "traceId"]);
  });

  it("gives 504 deadline_exceeded when an operation outlives its deadline", async () => {
    await server.close();
    server = await serverFor(fx, { deadlineMs: 150 });
    const res = await server.app.inject({
      method: "POST",
      url: "/v1/runs",
      payload: { workflow: "slow", input: 5000, wait: true },
    });
    expect(res.statusCode).toBe(504);
    expect(res.json()).toMatchObject({ error: { code: "deadline_exceeded" } });
    const runs = (await fx.journal.listRuns({ workflow: "slow" }))[0]!;
    await server.dispatcher.deps.engine.cancel(runs.id);
  });

  it("answers 503 unavailable when no context engine or audit log is configured", async () => {
    await server.close();
    server = await serverFor(fx, { audit: undefined });
    expect(
      (await server.app.inject({ method: "POST", url: "/v1/search", payload: { query: "x" } })).statusCode,
    ).toBe(503);
    expect((await server.app.inject({ method: "GET", url: "/v1/audit" })).statusCode).toBe(503);
  });
});

describe("search", () => {
  it("searches the context engine and validates the request", async () => {
    const context = await openContext({ path: `${fx.home}/context.db` });
    try {
      await context.upsert([
        { id: "a", text: "durable journaled runs survive a crash", metadata: { lang: "en" } },
        { id: "b", text: "gradient boosted trees", metadata: { lang: "en" } },
      ]);
      await server.close();
      server = await serverFor(fx, { context });
      const res = await server.app.inject({
        method: "POST",
        url: "/v1/search",
        payload: {
          query: "journaled crash",
          k: 1,
          strategy: "SPARSE",
          filters: { field: "lang", op: "eq", value: "en" },
        },
      });
      expect(res.statusCode).toBe(200);
      const body = res.json() as { results: { id: string }[]; strategy: string };
      expect(body.results.map((r) => r.id)).toEqual(["a"]);
      expect(body.strategy).toBe("SPARSE");
      const bad = await server.app.inject({
        method: "POST",
        url: "/v1/search",
        payload: { query: "x", k: 0 },
      });
      expect(bad.statusCode).toBe(400);
      expect(bad.json()).toMatchObject({
        error: { code: "invalid_argument", message: expect.stringContaining("k") },
      });
      const both = await server.app.inject({
        method: "POST",
        url: "/v1/search",
        payload: { query: "x", atVersion: 1, atTime: "2020-01-01T00:00:00Z" },
      });
      expect(both.statusCode).toBe(400);
      const atVersion = await server.app.inject({
        method: "POST",
        url: "/v1/search",
        payload: { query: "trees", atVersion: 1 },
      });
      expect(atVersion.statusCode).toBe(200);
    } finally {
      await context.close();
    }
  });
});

describe("audit", () => {
  it("returns redacted records, filtered", async () => {
    fx.audit.append({
      kind: "test.note",
      reason: "r",
      data: { runId: "run-9", note: "key sk-proj-abcdefghijklmnopqrstuvwxyz0123456789" },
    });
    fx.audit.append({ kind: "test.note", reason: "r", data: { runId: "run-8" } });
    const res = await server.app.inject({ method: "GET", url: "/v1/audit?kind=test.note&run_id=run-9" });
    expect(res.statusCode).toBe(200);
    const { records } = res.json() as { records: { data: { note: string } }[] };
    expect(records).toHaveLength(1);
    expect(records[0]!.data.note).toContain("<<REDACTED>>");
    expect(res.body).not.toContain("sk-proj-abcdefghijklmnop");
  });
});

describe("metrics", () => {
  it("exposes ballast_* metrics in Prometheus text", async () => {
    await server.app.inject({ method: "GET", url: "/v1/health" });
    const res = await server.app.inject({ method: "GET", url: "/metrics" });
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-type"]).toMatch(/^text\/plain/);
    expect(res.body).toContain('ballast_http_requests_total{route="/v1/health",method="GET",status="200"}');
    expect(res.body).toContain("ballast_server_operations_total");
    expect(res.body).toContain("# TYPE ballast_http_request_duration_seconds histogram");
    expect(res.body).toMatch(
      /ballast_http_request_duration_seconds_bucket\{le="\+Inf",route="\/v1\/health",method="GET"\} [1-9]/,
    );
    expect(res.body).toMatch(
      /ballast_http_request_duration_seconds_count\{route="\/v1\/health",method="GET"\} [1-9]/,
    );
    expect(res.body).toContain("ballast_steps_total");
  });
});
