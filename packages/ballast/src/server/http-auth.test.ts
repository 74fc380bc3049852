import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { BallastServer } from "./server.ts";
import { createServer } from "./server.ts";
import { type Fixture, fixture, serverFor, TOKEN_ENTRIES, TOKENS } from "./test-harness.ts";

let fx: Fixture;
let server: BallastServer;

beforeEach(async () => {
  fx = await fixture();
  server = await serverFor(fx, { auth: true });
});

afterEach(async () => {
  await server.close();
  await fx.close();
});

function get(url: string, headers: Record<string, string> = {}) {
  return server.app.inject({ method: "GET", url, headers });
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe("authentication", () => {
  it("answers 401 without a token, with a bad token, or with two different tokens", async () => {
    const cases: Record<string, string>[] = [
      {},
      bearer("not-a-token"),
      { authorization: "Basic dXNlcjpwYXNz" },
      { "x-api-token": "wrong" },
      { ...bearer(TOKENS.alice), "x-api-token": TOKENS.bob },
    ];
    for (const headers of cases) {
      const res = await get("/v1/health", headers);
      expect(res.statusCode).toBe(401);
      expect(res.json()).toEqual({
        error: { code: "unauthorized", message: expect.any(String), traceId: expect.any(String) },
      });
    }
  });

  it("accepts the token in Authorization or X-API-Token, whatever the header and scheme case", async () => {
    const variants: Record<string, string>[] = [
      { Authorization: `Bearer ${TOKENS.alice}` },
      { AUTHORIZATION: `bearer ${TOKENS.alice}` },
      { authorization: `BEARER   ${TOKENS.alice} ` },
      { "X-API-Token": TOKENS.alice },
      { "x-api-token": TOKENS.alice },
      { "X-Api-Token": TOKENS.alice, authorization: `Bearer ${TOKENS.alice}` },
    ];
    const bodies = new Set<string>();
    for (const headers of variants) {
      const res = await get("/v1/health", headers);
      expect(res.statusCode).toBe(200);
      bodies.add(`${res.body}|${res.headers["x-trace-id"]}`);
    }
    expect(bodies.size).toBe(1);
  });

  it("records every 401 as a security.deny audit event without the token", async () => {
    await get("/v1/runs", { authorization: "Bearer leaked-token-value-123456", "x-tenant": "acme" });
    const [record] = fx.audit.list({ kind: "security.deny" });
    expect(record).toMatchObject({
      kind: "security.deny",
      subject: "anonymous",
      action: "runs.read",
      tenant: "acme",
      reason: "unauthorized",
      traceId: expect.stringMatching(/^[0-9a-f]{32}$/),
      data: { transport: "http", failure: "invalid" },
    });
    expect(JSON.stringify(fx.audit.list())).not.toContain("leaked-token-value");
  });
});

describe("RBAC", () => {
  it("answers 403 when the token has no grant, and audits it", async () => {
    const res = await get("/v1/health", bearer(TOKENS.nobody));
    expect(res.statusCode).toBe(403);
    expect(res.json()).toMatchObject({ error: { code: "forbidden" } });
    const denials = fx.audit.list({ kind: "security.deny" });
    expect(denials).toHaveLength(1);
    expect(denials[0]).toMatchObject({
      subject: "nobody",
      action: "health.read",
      resource: "acme:health",
      tenant: "acme",
      reason: "deny:default",
      data: { transport: "http", decision: "deny" },
    });
  });

  it("scopes runs to the caller's tenant and denies cross-tenant access", async () => {
    const start = await server.app.inject({
      method: "POST",
      url: "/v1/runs",
      headers: bearer(TOKENS.alice),
      payload: { workflow: "greet", input: "acme", wait: true },
    });
    expect(start.statusCode).toBe(200);
    const run = start.json() as { id: string; tenant: string };
    expect(run.tenant).toBe("acme");

    expect((await get(`/v1/runs/${run.id}`, bearer(TOKENS.alice))).statusCode).toBe(200);
    // bob (tenant globex) cannot read acme's run, even naming acme in x-tenant.
    expect((await get(`/v1/runs/${run.id}`, bearer(TOKENS.bob))).statusCode).toBe(403);
    expect((await get(`/v1/runs/${run.id}`, { ...bearer(TOKENS.bob), "x-tenant": "acme" })).statusCode).toBe(
      403,
    );
    const cross = fx.audit.list({ kind: "security.deny" }).at(-1);
    expect(cross).toMatchObject({
      subject: "bob",
      reason: "deny:resource_cross_tenant",
      resource: `acme:runs/${run.id}`,
    });

    // Listing: each tenant sees its own runs; the operator (tenant *) sees all.
    const bobList = (await get("/v1/runs", bearer(TOKENS.bob))).json() as { runs: unknown[] };
    expect(bobList.runs).toEqual([]);
    const aliceList = (await get("/v1/runs", bearer(TOKENS.alice))).json() as { runs: { id: string }[] };
    expect(aliceList.runs.map((r) => r.id)).toEqual([run.id]);
    const rootList = (await get("/v1/runs", bearer(TOKENS.root))).json() as { runs: { id: string }[] };
    expect(rootList.runs.map((r) => r.id)).toContain(run.id);
    expect((await get(`/v1/runs/${run.id}/budget`, bearer(TOKENS.root))).statusCode).toBe(200);
  });

  it("lets a reader read but not write", async () => {
    const res = await server.app.inject({
      method: "POST",
      url: "/v1/runs",
      headers: bearer(TOKENS.bob),
      payload: { workflow: "greet", input: "x" },
    });
    expect(res.statusCode).toBe(403);
    expect(await fx.journal.listRuns()).toEqual([]);
  });

  it("protects the audit log: only a grant on audit.read may read it, redacted", async () => {
    expect((await get("/v1/audit", bearer(TOKENS.alice))).statusCode).toBe(403);
    const res = await get("/v1/audit?kind=security.deny", bearer(TOKENS.root));
    expect(res.statusCode).toBe(200);
    const { records } = res.json() as { records: { subject: string }[] };
    expect(records.map((r) => r.subject)).toEqual(["alice"]);
    // A tenant-scoped reader only sees its tenant's records.
    const scoped = await get("/v1/audit", { ...bearer(TOKENS.root), "x-tenant": "globex" });
    expect((scoped.json() as { records: unknown[] }).records).toEqual([]);
  });

  it("puts metrics behind a grant too, but never rate-limits them", async () => {
    expect((await get("/metrics")).statusCode).toBe(401);
    expect((await get("/metrics", bearer(TOKENS.alice))).statusCode).toBe(200);
  });

  it("serves decisions from the cache until the policy is reloaded", async () => {
    expect((await get("/v1/health", bearer(TOKENS.bob))).statusCode).toBe(200);
    const result = server.reloadPolicy({
      rules: { schemaVersion: 1, version: "rules-2", rules: [] },
      grants: { schemaVersion: 1, version: "grants-2", roles: {}, subjects: {} },
    });
    expect(result.ok).toBe(true);
    expect((await get("/v1/health", bearer(TOKENS.bob))).statusCode).toBe(403);
  });

  it("fails closed when the policy documents are invalid", async () => {
    server.reloadPolicy({ rules: "{not json", grants: undefined });
    const res = await get("/v1/health", bearer(TOKENS.root));
    expect(res.statusCode).toBe(403);
    expect(res.json()).toMatchObject({ error: { message: expect.stringContaining("rules_invalid") } });
  });
});

describe("binding", () => {
  it("refuses a non-loopback host without tokens, and accepts it with tokens", async () => {
    await expect(createServer({ journal: fx.journal, host: "0.0.0.0", port: 0 })).rejects.toMatchObject({
      code: "insecure_bind",
    });
    await expect(createServer({ journal: fx.journal, tokens: TOKEN_ENTRIES, port: 0 })).rejects.toMatchObject(
      {
        code: "server_config_invalid",
      },
    );
    const open = await createServer({
      journal: fx.journal,
      host: "0.0.0.0",
      port: 0,
      tokens: TOKEN_ENTRIES,
      policy: fx.policy,
    });
    await open.close();
  });
});
