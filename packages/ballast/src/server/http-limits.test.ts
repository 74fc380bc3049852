import { gunzipSync } from "node:zlib";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { BallastServer, ServerOptions } from "./server.ts";
import { type Fixture, fixture, serverFor, TOKENS } from "./test-harness.ts";

let fx: Fixture;
let server: BallastServer | undefined;

beforeEach(async () => {
  fx = await fixture();
});

afterEach(async () => {
  await server?.close();
  server = undefined;
  await fx.close();
});

async function start(options: Partial<ServerOptions> & { auth?: boolean } = {}): Promise<BallastServer> {
  server = await serverFor(fx, options);
  return server;
}

describe("body limit", () => {
  it("answers 413 payload_too_large and processes nothing", async () => {
    const s = await start({ bodyLimit: 1024 });
    const res = await s.app.inject({
      method: "POST",
      url: "/v1/runs",
      payload: { workflow: "greet", input: "x".repeat(4096), wait: true },
    });
    expect(res.statusCode).toBe(413);
    expect(res.json()).toEqual({
      error: {
        code: "payload_too_large",
        message: expect.stringContaining("1024 bytes"),
        traceId: expect.any(String),
      },
    });
    expect(await fx.journal.listRuns()).toEqual([]);
    const metrics = await s.app.inject({ method: "GET", url: "/metrics" });
    expect(metrics.body).toContain(
      'ballast_http_requests_total{route="/v1/runs",method="POST",status="413"}',
    );
    const small = await s.app.inject({
      method: "POST",
      url: "/v1/runs",
      payload: { workflow: "greet", input: "x" },
    });
    expect(small.statusCode).toBe(200);
  });
});

describe("trace ids", () => {
  it("echoes a valid traceparent and keeps the trace id a function of the request alone", async () => {
    const s = await start();
    const parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    const other = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    const a = await s.app.inject({ method: "GET", url: "/v1/health", headers: { traceparent: parent } });
    const b = await s.app.inject({ method: "GET", url: "/v1/health", headers: { Traceparent: other } });
    const c = await s.app.inject({ method: "GET", url: "/v1/health" });
    expect(a.headers["traceparent"]).toBe(parent);
    expect(b.headers["traceparent"]).toBe(other);
    expect(c.headers["traceparent"]).toBeUndefined();
    expect(a.headers["x-trace-id"]).toBe(b.headers["x-trace-id"]);
    expect(a.headers["x-trace-id"]).toBe(c.headers["x-trace-id"]);
    const invalid = await s.app.inject({
      method: "GET",
      url: "/v1/health",
      headers: { traceparent: "garbage" },
    });
    expect(invalid.headers["traceparent"]).toBeUndefined();

    const one = await s.app.inject({ method: "GET", url: "/v1/runs/r1", headers: { traceparent: parent } });
    const two = await s.app.inject({ method: "GET", url: "/v1/runs/r2" });
    const oneAgain = await s.app.inject({ method: "GET", url: "/v1/runs/r1" });
    const env = (r: typeof one) => (r.json() as { error: { traceId: string } }).error.traceId;
    expect(env(one)).toBe(env(oneAgain));
    expect(env(one)).not.toBe(env(two));
    expect(one.headers["traceparent"]).toBe(parent);
  });
});

describe("CORS", () => {
  it("sends no CORS headers by default", async () => {
    const s = await start();
    const res = await s.app.inject({
      method: "GET",
      url: "/v1/health",
      headers: { origin: "https://app.example.com" },
    });
    expect(res.headers["access-control-allow-origin"]).toBeUndefined();
    const preflight = await s.app.inject({
      method: "OPTIONS",
      url: "/v1/health",
      headers: { origin: "https://app.example.com", "access-control-request-method": "GET" },
    });
    expect(preflight.headers["access-control-allow-origin"]).toBeUndefined();
  });

  it("allows exactly the configured origins", async () => {
    const s = await start({ cors: ["https://app.example.com"] });
    const ok = await s.app.inject({
      method: "GET",
      url: "/v1/health",
      headers: { origin: "https://app.example.com" },
    });
    expect(ok.headers["access-control-allow-origin"]).toBe("https://app.example.com");
    expect(ok.headers["vary"]).toContain("Origin");
    expect(ok.headers["access-control-expose-headers"]).toContain("traceparent");
    const other = await s.app.inject({
      method: "GET",
      url: "/v1/health",
      headers: { origin: "https://evil.example" },
    });
    expect(other.headers["access-control-allow-origin"]).toBeUndefined();
    const preflight = await s.app.inject({
      method: "OPTIONS",
      url: "/v1/runs",
      headers: {
        origin: "https://app.example.com",
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization, content-type",
      },
    });
    expect(preflight.statusCode).toBe(204);
    expect(preflight.headers["access-control-allow-origin"]).toBe("https://app.example.com");
    expect(preflight.headers["access-control-allow-methods"]).toBe("GET, HEAD, POST, OPTIONS");
    expect(preflight.headers["access-control-allow-headers"]).toContain("authorization");
    const plainOptions = await s.app.inject({ method: "OPTIONS", url: "/v1/health" });
    expect(plainOptions.headers["allow"]).toBe("GET, HEAD, OPTIONS");
  });
});

describe("gzip", () => {
  it("is off by default and compresses when enabled", async () => {
    const s = await start();
    for (let i = 0; i < 5; i++) {
      await s.app.inject({
        method: "POST",
        url: "/v1/runs",
        payload: { workflow: "greet", input: "y".repeat(200), wait: true },
      });
    }
    const plain = await s.app.inject({
      method: "GET",
      url: "/v1/runs",
      headers: { "accept-encoding": "gzip" },
    });
    expect(plain.headers["content-encoding"]).toBeUndefined();
    await s.close();

    const z = await start({ gzip: { threshold: 256 } });
    const zipped = await z.app.inject({
      method: "GET",
      url: "/v1/runs",
      headers: { "accept-encoding": "gzip" },
    });
    expect(zipped.headers["content-encoding"]).toBe("gzip");
    expect(zipped.headers["vary"]).toMatch(/accept-encoding/i);
    const body = JSON.parse(gunzipSync(zipped.rawPayload).toString("utf8")) as { runs: unknown[] };
    expect(body.runs).toHaveLength(5);
  });
});

describe("rate limits", () => {
  it("limits each token on its own, answers 429 rate_limited, and exempts health and metrics", async () => {
    const s = await start({ auth: true, rateLimit: { max: 3, windowMs: 60_000 } });
    const as = (token: string) => ({ authorization: `Bearer ${token}` });
    const codes: number[] = [];
    for (let i = 0; i < 4; i++) {
      codes.push(
        (await s.app.inject({ method: "GET", url: "/v1/runs", headers: as(TOKENS.alice) })).statusCode,
      );
    }
    expect(codes).toEqual([200, 200, 200, 429]);
    const limited = await s.app.inject({ method: "GET", url: "/v1/runs", headers: as(TOKENS.alice) });
    expect(limited.json()).toEqual({
      error: { code: "rate_limited", message: expect.stringContaining("retry"), traceId: expect.any(String) },
    });
    expect(Number(limited.headers["retry-after"])).toBeGreaterThan(0);
    // Another token has its own budget.
    expect(
      (await s.app.inject({ method: "GET", url: "/v1/runs", headers: as(TOKENS.root) })).statusCode,
    ).toBe(200);
    // Health and metrics are never limited.
    for (let i = 0; i < 5; i++) {
      expect(
        (await s.app.inject({ method: "GET", url: "/v1/health", headers: as(TOKENS.alice) })).statusCode,
      ).toBe(200);
      expect(
        (await s.app.inject({ method: "GET", url: "/metrics?x=1", headers: as(TOKENS.alice) })).statusCode,
      ).toBe(200);
    }
  });

  it("can be turned off", async () => {
    const s = await start({ rateLimit: false });
    for (let i = 0; i < 5; i++)
      expect((await s.app.inject({ method: "GET", url: "/v1/runs" })).statusCode).toBe(200);
  });
});
