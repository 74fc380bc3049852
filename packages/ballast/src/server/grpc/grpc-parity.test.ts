import { type JsonValue, toJson } from "@bufbuild/protobuf";
import { type Client, Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import {
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
} from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ContextEngine, openContext } from "../../context/engine.ts";
import type { BallastServer } from "../server.ts";
import { type Fixture, fixture, serverFor, TOKENS } from "../test-harness.ts";
import {
  BallastService,
  ErrorInfoSchema,
  ListRunsResponseSchema,
  RunEventSchema,
  RunSchema,
} from "./ballast_pb.ts";

/**
 * Parity of the HTTP API and the gRPC service over real sockets on 127.0.0.1: the same
 * results, error envelopes, auth decisions and traceparent echo, on gRPC (HTTP/2, h2c),
 * Connect and gRPC-Web (HTTP/1.1).
 */

let fx: Fixture;
let context: ContextEngine;
let server: BallastServer;
let url: string;
let clients: Record<"grpc" | "connect" | "grpc-web", Client<typeof BallastService>>;
let runId: string;

const PARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const auth = (token: string) => ({ authorization: `Bearer ${token}` });

beforeAll(async () => {
  fx = await fixture();
  context = await openContext({ path: `${fx.home}/context.db` });
  await context.upsert([
    { id: "a", text: "journaled runs resume after a crash" },
    { id: "b", text: "budgets stop runaway agents" },
  ]);
  server = await serverFor(fx, {
    auth: true,
    grpcPort: 0,
    context,
    grpcMaxMessageBytes: 2048,
    rateLimit: false,
  });
  const urls = await server.listen();
  url = urls.url;
  const transports: Record<keyof typeof clients, Transport> = {
    grpc: createGrpcTransport({ baseUrl: urls.grpcUrl! }),
    connect: createConnectTransport({ baseUrl: url, httpVersion: "1.1" }),
    "grpc-web": createGrpcWebTransport({ baseUrl: url, httpVersion: "1.1" }),
  };
  clients = {
    grpc: createClient(BallastService, transports.grpc),
    connect: createClient(BallastService, transports.connect),
    "grpc-web": createClient(BallastService, transports["grpc-web"]),
  };
  const res = await fetch(`${url}/v1/runs`, {
    method: "POST",
    headers: { ...auth(TOKENS.alice), "content-type": "application/json" },
    body: JSON.stringify({ workflow: "greet", input: "parity", wait: true }),
  });
  runId = ((await res.json()) as { id: string }).id;
});

afterAll(async () => {
  for (const run of await fx.journal.listRuns({ status: "running" })) {
    await server.dispatcher.deps.engine.cancel(run.id);
  }
  await server.close();
  await context.close();
  await fx.close();
});

async function http(method: string, path: string, headers: Record<string, string>, body?: unknown) {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: { ...headers, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
}

function envelopeOf(error: unknown) {
  expect(error).toBeInstanceOf(ConnectError);
  const details = (error as ConnectError).findDetails(ErrorInfoSchema);
  expect(details).toHaveLength(1);
  const { code, message, traceId } = details[0]!;
  return { error: { code, message, traceId } };
}

async function failure(call: () => Promise<unknown>): Promise<ConnectError> {
  try {
    await call();
  } catch (error) {
    return error as ConnectError;
  }
  throw new Error("expected the call to fail");
}

const kinds = ["grpc", "connect", "grpc-web"] as const;

describe.each(kinds)("%s", (kind) => {
  it("returns the same results as the HTTP API", async () => {
    const client = clients[kind];
    const headers = auth(TOKENS.alice);

    const health = await client.health({}, { headers });
    expect({ status: health.status, version: health.version }).toEqual(
      (await http("GET", "/v1/health", headers)).body,
    );

    const run = await client.getRun({ runId }, { headers });
    expect(toJson(RunSchema, run, { alwaysEmitImplicit: true })).toEqual(
      (await http("GET", `/v1/runs/${runId}`, headers)).body,
    );

    const list = await client.listRuns({ limit: 10 }, { headers });
    expect(toJson(ListRunsResponseSchema, list, { alwaysEmitImplicit: true })).toEqual(
      (await http("GET", "/v1/runs?limit=10", headers)).body,
    );

    const budget = await client.getBudget({ runId }, { headers });
    expect(toJson(BallastService.method.getBudget.output, budget, { alwaysEmitImplicit: true })).toEqual(
      (await http("GET", `/v1/runs/${runId}/budget`, headers)).body,
    );
    const history = await client.getBudgetHistory({ runId, limit: 3 }, { headers });
    expect(
      toJson(BallastService.method.getBudgetHistory.output, history, { alwaysEmitImplicit: true }),
    ).toEqual((await http("GET", `/v1/runs/${runId}/budget/history?limit=3`, headers)).body);

    const search = await client.search({ query: "crash resume", k: 1 }, { headers });
    expect(toJson(BallastService.method.search.output, search, { alwaysEmitImplicit: true })).toEqual(
      (await http("POST", "/v1/search", headers, { query: "crash resume", k: 1 })).body,
    );

    const rootHeaders = auth(TOKENS.root);
    const audit = await client.listAudit({ kind: "policy.loaded" }, { headers: rootHeaders });
    expect(toJson(BallastService.method.listAudit.output, audit, { alwaysEmitImplicit: true })).toEqual(
      (await http("GET", "/v1/audit?kind=policy.loaded", rootHeaders)).body,
    );
  });

  it("starts and cancels runs", async () => {
    const headers = { Authorization: `Bearer ${TOKENS.alice}` };
    const started = await clients[kind].startRun(
      { workflow: "greet", input: { kind: { case: "stringValue", value: kind } }, wait: true },
      { headers },
    );
    expect(started.status).toBe("completed");
    expect(toJson(RunSchema, started)).toMatchObject({ output: `hello ${kind}`, tenant: "acme" });
    const slow = await clients[kind].startRun(
      { workflow: "slow", input: { kind: { case: "numberValue", value: 60_000 } } },
      { headers },
    );
    const cancelled = await clients[kind].cancelRun({ runId: slow.id, reason: "parity" }, { headers });
    expect(cancelled.status).toBe("cancelled");
  });

  it("gives the same error envelopes and codes", async () => {
    const headers = auth(TOKENS.alice);
    const cases: [() => Promise<unknown>, () => ReturnType<typeof http>, Code][] = [
      [
        () => clients[kind].getRun({ runId: "nope" }, { headers }),
        () => http("GET", "/v1/runs/nope", headers),
        Code.NotFound,
      ],
      [
        () => clients[kind].listRuns({ limit: 0 }, { headers }),
        () => http("GET", "/v1/runs?limit=0", headers),
        Code.InvalidArgument,
      ],
      [
        () => clients[kind].cancelRun({ runId }, { headers }),
        () => http("POST", `/v1/runs/${runId}/cancel`, headers, {}),
        Code.FailedPrecondition,
      ],
    ];
    for (const [grpcCall, httpCall, code] of cases) {
      const error = await failure(grpcCall);
      expect(error.code).toBe(code);
      const expected = await httpCall();
      expect(envelopeOf(error)).toEqual(expected.body);
      expect(error.rawMessage).toBe((expected.body["error"] as { message: string }).message);
    }
  });

  it("makes the same auth decisions", async () => {
    const missing = await failure(() => clients[kind].getRun({ runId }));
    expect(missing.code).toBe(Code.Unauthenticated);
    expect(envelopeOf(missing)).toEqual((await http("GET", `/v1/runs/${runId}`, {})).body);

    const upper = await clients[kind].health({}, { headers: { "X-API-Token": TOKENS.alice } });
    expect(upper.status).toBe("ok");

    const forbidden = await failure(() => clients[kind].getRun({ runId }, { headers: auth(TOKENS.bob) }));
    expect(forbidden.code).toBe(Code.PermissionDenied);
    expect(envelopeOf(forbidden)).toEqual((await http("GET", `/v1/runs/${runId}`, auth(TOKENS.bob))).body);

    const nobody = await failure(() => clients[kind].health({}, { headers: auth(TOKENS.nobody) }));
    expect(nobody.code).toBe(Code.PermissionDenied);

    const denials = fx.audit.list({ kind: "security.deny" }).filter((r) => r.data?.["transport"] === kind);
    expect(denials.map((r) => r.reason)).toEqual(
      expect.arrayContaining(["unauthorized", "deny:resource_cross_tenant", "deny:default"]),
    );
  });

  it("echoes traceparent and reports the same trace id as HTTP", async () => {
    const headers = { ...auth(TOKENS.alice), traceparent: PARENT };
    let header: Headers | undefined;
    await clients[kind].getRun({ runId }, { headers, onHeader: (h) => (header = h) });
    const viaHttp = await http("GET", `/v1/runs/${runId}`, headers);
    expect(header?.get("traceparent")).toBe(PARENT);
    expect(header?.get("x-trace-id")).toBe(viaHttp.headers.get("x-trace-id"));
    expect(viaHttp.headers.get("traceparent")).toBe(PARENT);
  });

  it("refuses oversized messages with resource_exhausted", async () => {
    const big = await failure(() =>
      clients[kind].startRun(
        { workflow: "greet", input: { kind: { case: "stringValue", value: "x".repeat(8192) } } },
        { headers: auth(TOKENS.alice) },
      ),
    );
    expect(big.code).toBe(Code.ResourceExhausted);
  });

  it("streams a run's events like the SSE stream", async () => {
    const events = [];
    for await (const event of clients[kind].watchRun({ runId }, { headers: auth(TOKENS.alice) })) {
      events.push(toJson(RunEventSchema, event, { alwaysEmitImplicit: true }) as JsonValue);
    }
    const journal = await fx.journal.readEvents(runId);
    expect(events).toEqual(
      journal.map((e) => ({
        runId: e.runId,
        seq: e.seq,
        type: e.type,
        at: e.at,
        data: e.data,
        prev: e.prev,
        hash: e.hash,
      })),
    );
    const missing = await failure(async () => {
      for await (const _ of clients[kind].watchRun({ runId: "nope" }, { headers: auth(TOKENS.alice) })) {
        // drained
      }
    });
    expect(missing.code).toBe(Code.NotFound);
  });
});

describe("deadlines", () => {
  it("answers DEADLINE_EXCEEDED to a client deadline", async () => {
    const error = await failure(() =>
      clients.grpc.startRun(
        { workflow: "slow", input: { kind: { case: "numberValue", value: 5000 } }, wait: true },
        { headers: auth(TOKENS.alice), timeoutMs: 200 },
      ),
    );
    expect(error.code).toBe(Code.DeadlineExceeded);
  });
});

describe("server-side deadline and internal failures", () => {
  it("maps them to the same envelopes as HTTP 504 and 500", async () => {
    const failing = await serverFor(fx, {
      deadlineMs: 150,
      rateLimit: false,
      context: {
        search: async () => {
          throw new Error("boom at /secret/place");
        },
      },
    });
    try {
      const { url: base } = await failing.listen();
      const client = createClient(
        BallastService,
        createConnectTransport({ baseUrl: base, httpVersion: "1.1" }),
      );
      const slowInput = { workflow: "slow", input: 5000, wait: true };
      const late = await failure(() =>
        client.startRun({
          workflow: "slow",
          input: { kind: { case: "numberValue", value: 5000 } },
          wait: true,
        }),
      );
      expect(late.code).toBe(Code.DeadlineExceeded);
      const lateHttp = await fetch(`${base}/v1/runs`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(slowInput),
      });
      expect(lateHttp.status).toBe(504);
      expect(envelopeOf(late)).toEqual(await lateHttp.json());

      const broken = await failure(() => client.search({ query: "x" }));
      expect(broken.code).toBe(Code.Internal);
      const brokenHttp = await fetch(`${base}/v1/search`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ query: "x" }),
      });
      expect(brokenHttp.status).toBe(500);
      expect(envelopeOf(broken)).toEqual(await brokenHttp.json());
      expect(broken.rawMessage).not.toContain("secret");
      for (const run of await fx.journal.listRuns({ workflow: "slow", status: "running" })) {
        await failing.dispatcher.deps.engine.cancel(run.id);
      }
    } finally {
      await failing.close();
    }
  });
});
