import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { BallastError, ValidationError } from "../errors.ts";
import type { JournalEvent } from "../journal/types.ts";
import { budgetHistoryOf, budgetOf } from "./budget-view.ts";
import { classify, codeForStatus, envelopeOf, SERVER_CODES, ServerError, statusOf } from "./errors.ts";
import { chunkBody, finishReasonOf, parseChatRequest, toCallOptions, usageOf } from "./proxy/openai-wire.ts";
import { assertSafeBind, isLoopback, parseRateLimit, resolveSettings, settingsFromEnv } from "./settings.ts";
import { generateToken, hashToken, loadTokens, presentedToken, TokenStore } from "./tokens.ts";
import { echoTraceparent, traceIdOf } from "./trace.ts";

function event(seq: number, type: string, data: Record<string, unknown>): JournalEvent {
  return {
    runId: "r",
    seq,
    type,
    at: `2026-01-01T00:00:0${seq}.000Z`,
    data: data as never,
    prev: "",
    hash: "",
  };
}

describe("budget views", () => {
  const events = [
    event(0, "run.started", {
      workflow: "w",
      version: "1",
      seed: "s",
      inputHash: "h",
      budget: { tokens: 100, mode: "enforce" },
    }),
    event(1, "budget.committed", { label: "model", tokens: 60, costUsd: 0.5 }),
    event(2, "budget.warning", { dimension: "costUsd", limit: 0.4, used: 0.5, label: "model" }),
    event(3, "budget.committed", { label: "tool", toolCalls: 1, tokens: 50 }),
    event(4, "budget.exceeded", { dimension: "tokens", limit: 100, used: 110, label: "tool" }),
  ];

  it("sums usage and reports warnings and the dimension that stopped the run", () => {
    expect(budgetOf("r", events)).toEqual({
      runId: "r",
      mode: "enforce",
      limits: { tokens: 100, mode: "enforce" },
      used: { tokens: 110, costUsd: 0.5, toolCalls: 1 },
      warnings: ["costUsd"],
      exceeded: "tokens",
    });
    expect(budgetOf("r", [])).toMatchObject({ mode: "enforce", limits: {}, warnings: [] });
  });

  it("keeps one snapshot per budget event, oldest first, bounded to the last N", () => {
    const all = budgetHistoryOf("r", events, 10);
    expect(all.omitted).toBe(0);
    expect(all.snapshots.map((s) => [s.seq, s.type, s.used.tokens])).toEqual([
      [1, "budget.committed", 60],
      [2, "budget.warning", 60],
      [3, "budget.committed", 110],
      [4, "budget.exceeded", 110],
    ]);
    expect(all.snapshots[1]).toMatchObject({ dimension: "costUsd", limit: 0.4, label: "model" });
    const last = budgetHistoryOf("r", events, 2);
    expect(last.omitted).toBe(2);
    expect(last.snapshots.map((s) => s.seq)).toEqual([3, 4]);
  });
});

describe("error envelope", () => {
  it("maps errors to stable codes and statuses", () => {
    const cases: [unknown, string][] = [
      [new ServerError("rate_limited", "slow down"), "rate_limited"],
      [new BallastError({ code: "run_not_found", message: "m" }), "not_found"],
      [new BallastError({ code: "run_exists", message: "m" }), "conflict"],
      [new BallastError({ code: "run_finished", message: "m" }), "failed_precondition"],
      [new BallastError({ code: "budget_exceeded", message: "m" }), "budget_exceeded"],
      [new BallastError({ code: "deadline_exceeded", message: "m" }), "deadline_exceeded"],
      [new BallastError({ code: "model_call_failed", message: "m" }), "upstream_failed"],
      [new BallastError({ code: "model_call_failed", message: "m", isRetryable: true }), "unavailable"],
      [new ValidationError("anything", "m"), "invalid_argument"],
      [new BallastError({ code: "filters_invalid", message: "m" }), "invalid_argument"],
      [new BallastError({ code: "queue_full", message: "m", isRetryable: true }), "unavailable"],
      [new BallastError({ code: "weird", message: "m" }), "internal"],
      [new Error("boom"), "internal"],
      ["a string", "internal"],
    ];
    for (const [error, code] of cases) expect(classify(error).code).toBe(code);
    expect(classify(new Error("/etc/passwd")).message).not.toContain("passwd");
    expect(statusOf("payload_too_large")).toBe(413);
    expect(codeForStatus(404)).toBe("not_found");
    expect(codeForStatus(418)).toBe("invalid_argument");
    expect(codeForStatus(599)).toBe("internal");
    for (const [code, entry] of Object.entries(SERVER_CODES)) {
      expect(codeForStatus(entry.status)).toSatisfy(
        (c: string) => SERVER_CODES[c as keyof typeof SERVER_CODES].status === entry.status,
      );
      expect(code).toMatch(/^[a-z_]+$/);
    }
    expect(
      envelopeOf(new ServerError("not_found", "key sk-proj-abcdefghijklmnopqrstuvwx01234567"), "t"),
    ).toEqual({
      error: { code: "not_found", message: "key <<REDACTED>>", traceId: "t" },
    });
  });
});

describe("trace ids", () => {
  it("are 32 hex digits, deterministic, and independent of key order", () => {
    fc.assert(
      fc.property(fc.string(), fc.jsonValue(), (op, input) => {
        const id = traceIdOf(op, input);
        expect(id).toMatch(/^[0-9a-f]{32}$/);
        expect(traceIdOf(op, input)).toBe(id);
      }),
    );
    expect(traceIdOf("x", { a: 1, b: 2 })).toBe(traceIdOf("x", { b: 2, a: 1 }));
    expect(traceIdOf("x", { n: Number.NaN })).toMatch(/^[0-9a-f]{32}$/);
    expect(traceIdOf("x", undefined)).toBe(traceIdOf("x", null));
  });

  it("echo only well-formed traceparent values", () => {
    const valid = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    expect(echoTraceparent(valid)).toBe(valid);
    expect(echoTraceparent([valid, "x"])).toBe(valid);
    expect(echoTraceparent(` ${valid} `)).toBe(valid);
    expect(echoTraceparent(valid.toUpperCase())).toBeUndefined();
    expect(echoTraceparent(`ff${valid.slice(2)}`)).toBeUndefined();
    expect(echoTraceparent("00-abc")).toBeUndefined();
    expect(echoTraceparent(undefined)).toBeUndefined();
  });
});

describe("tokens", () => {
  it("hash, generate, and look up tokens", () => {
    const token = generateToken();
    expect(token).toMatch(/^blst_/);
    expect(hashToken(token)).toMatch(/^[0-9a-f]{64}$/);
    const store = new TokenStore([{ id: "ci", sha256: hashToken(token) }]);
    expect(store.lookup(token)).toMatchObject({ id: "ci", tenant: "default", roles: [], tokenId: "ci" });
    expect(store.lookup("")).toBeUndefined();
    expect(store.lookup("x".repeat(5000))).toBeUndefined();
    expect(
      () =>
        new TokenStore([
          { id: "a", sha256: hashToken("t") },
          { id: "b", sha256: hashToken("t") },
        ]),
    ).toThrow(/same hash/);
    expect(() => new TokenStore([{ id: "a", sha256: "plain-token" }])).toThrow();
  });

  it("read the presented token from either header", () => {
    const headers = (h: Record<string, string>) => (name: string) => h[name];
    expect(presentedToken(headers({ authorization: "Bearer abc" }))).toBe("abc");
    expect(presentedToken(headers({ authorization: "bearer abc", "x-api-token": "abc" }))).toBe("abc");
    expect(presentedToken(headers({ "x-api-token": " abc " }))).toBe("abc");
    expect(presentedToken(headers({ authorization: "Token abc" }))).toBe("");
    expect(presentedToken(headers({ authorization: "Bearer a", "x-api-token": "b" }))).toBeNull();
    expect(presentedToken(headers({}))).toBeUndefined();
  });

  it("load from the environment, a named file, or the home", () => {
    const home = mkdtempSync(join(tmpdir(), "ballast-tokens-"));
    try {
      const doc = JSON.stringify({ tokens: [{ id: "ci", sha256: hashToken("t") }] });
      expect(loadTokens({ home, env: {} })).toEqual([]);
      expect(loadTokens({ env: { BALLAST_SERVER_TOKENS: doc } })).toHaveLength(1);
      writeFileSync(join(home, "tokens.json"), doc);
      expect(loadTokens({ home, env: {} })).toHaveLength(1);
      const named = join(home, "other.json");
      writeFileSync(named, JSON.stringify({ tokens: [] }));
      expect(loadTokens({ home, env: { BALLAST_SERVER_TOKENS_FILE: named } })).toEqual([]);
      expect(() => loadTokens({ env: { BALLAST_SERVER_TOKENS_FILE: join(home, "missing.json") } })).toThrow(
        /does not exist/,
      );
      expect(() => loadTokens({ env: { BALLAST_SERVER_TOKENS: "{nope" } })).toThrow(/not valid JSON/);
      expect(() => loadTokens({ env: { BALLAST_SERVER_TOKENS: '{"tokens":[{"id":"x"}]}' } })).toThrow(
        /tokens\.0\.sha256/,
      );
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });
});

describe("settings", () => {
  it("fill defaults and read the environment", () => {
    const defaults = resolveSettings();
    expect(defaults).toMatchObject({
      host: "127.0.0.1",
      port: 7341,
      bodyLimit: 1_048_576,
      grpcMaxMessageBytes: 1_048_576,
      deadlineMs: 30_000,
      cors: false,
      gzip: false,
      rateLimit: { max: 600, windowMs: 60_000 },
    });
    const env = settingsFromEnv({
      BALLAST_SERVER_PORT: "8080",
      BALLAST_SERVER_GRPC_PORT: "8081",
      BALLAST_SERVER_BODY_LIMIT: "2048",
      BALLAST_GRPC_MAX_MSG_BYTES: "4096",
      BALLAST_SERVER_DEADLINE_MS: "1000",
      BALLAST_SERVER_IDLE_TIMEOUT_MS: "5000",
      BALLAST_SERVER_CORS_ORIGINS: "https://a.example, https://b.example:8443",
      BALLAST_SERVER_GZIP: "1",
      BALLAST_SERVER_RATE_LIMIT: "off",
    });
    expect(resolveSettings(env)).toMatchObject({
      port: 8080,
      grpcPort: 8081,
      bodyLimit: 2048,
      grpcMaxMessageBytes: 4096,
      deadlineMs: 1000,
      idleTimeoutMs: 5000,
      cors: { origins: ["https://a.example", "https://b.example:8443"] },
      gzip: { threshold: 1024 },
      rateLimit: false,
    });
    expect(settingsFromEnv({ BALLAST_SERVER_GZIP: "0" }).gzip).toBe(false);
    expect(() => settingsFromEnv({ BALLAST_SERVER_PORT: "eighty" })).toThrow(/whole number/);
    expect(() => resolveSettings({ port: 70_000 })).toThrow(/port/);
    expect(() => resolveSettings({ cors: ["https://a.example/path"] })).toThrow(/CORS origin/);
    expect(parseRateLimit(" 10 / 1000 ")).toEqual({ max: 10, windowMs: 1000 });
    expect(() => parseRateLimit("10 per second")).toThrow(/max/);
  });

  it("know loopback addresses and refuse others without authentication", () => {
    for (const host of ["127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost", "0:0:0:0:0:0:0:1"]) {
      expect(isLoopback(host)).toBe(true);
    }
    for (const host of ["0.0.0.0", "10.0.0.1", "::", "example.com", "192.168.1.1"]) {
      expect(isLoopback(host)).toBe(false);
    }
    expect(() => assertSafeBind("0.0.0.0", false)).toThrow(/Refusing to listen on 0.0.0.0/);
    expect(() => assertSafeBind("0.0.0.0", true)).not.toThrow();
    expect(() => assertSafeBind("127.0.0.1", false)).not.toThrow();
  });
});

describe("OpenAI wire format", () => {
  it("turns requests into call options", () => {
    const request = parseChatRequest({
      model: "m",
      messages: [
        {
          role: "developer",
          content: [
            { type: "text", text: "be " },
            { type: "text", text: "brief" },
          ],
        },
        { role: "user", content: "hi" },
        { role: "assistant", content: null },
      ],
      max_completion_tokens: 9,
      temperature: 0.5,
      top_p: 0.9,
      stop: "END",
      seed: 3,
      presence_penalty: 0.1,
      frequency_penalty: 0.2,
      response_format: { type: "json_schema", json_schema: { name: "x", schema: { type: "object" } } },
    });
    const options = toCallOptions(request, new AbortController().signal);
    expect(options.prompt).toEqual([
      { role: "system", content: "be brief" },
      { role: "user", content: [{ type: "text", text: "hi" }] },
      { role: "assistant", content: [{ type: "text", text: "" }] },
    ]);
    expect(options).toMatchObject({
      maxOutputTokens: 9,
      temperature: 0.5,
      topP: 0.9,
      stopSequences: ["END"],
      seed: 3,
      presencePenalty: 0.1,
      frequencyPenalty: 0.2,
      responseFormat: { type: "json", name: "x", schema: { type: "object" } },
    });
    const json = toCallOptions(
      parseChatRequest({
        model: "m",
        messages: [{ role: "user", content: "x" }],
        response_format: { type: "json_object" },
        stop: ["a"],
      }),
      new AbortController().signal,
    );
    expect(json.responseFormat).toEqual({ type: "json" });
    expect(json.stopSequences).toEqual(["a"]);
    expect(() => parseChatRequest({ model: "m", messages: [{ role: "user", content: "x" }], n: 2 })).toThrow(
      /one choice/,
    );
    expect(() =>
      toCallOptions(
        parseChatRequest({ model: "m", messages: [{ role: "tool", content: "x" }] }),
        new AbortController().signal,
      ),
    ).toThrow(/tool messages/);
  });

  it("maps results back", () => {
    expect(finishReasonOf({ unified: "length", raw: undefined })).toBe("length");
    expect(finishReasonOf({ unified: "content-filter", raw: undefined })).toBe("content_filter");
    expect(finishReasonOf({ unified: "tool-calls", raw: undefined })).toBe("tool_calls");
    expect(finishReasonOf(undefined)).toBe("stop");
    expect(usageOf(undefined)).toEqual({ prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 });
    const ids = { id: "c", created: 1, model: "m" };
    expect(chunkBody(ids, null, null, usageOf(undefined))).toMatchObject({
      choices: [],
      usage: { total_tokens: 0 },
    });
  });
});
