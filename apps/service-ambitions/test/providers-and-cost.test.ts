import { readFileSync } from "node:fs";
import { join } from "node:path";
import { openJournal } from "ballast";
import { type FakeServer, startFakeOpenAI } from "ballast/testing";
import { afterEach, describe, expect, it } from "vitest";
import { EXIT } from "../src/cli/exit-codes.ts";
import { costReport } from "../src/cost-report.ts";
import { offlineAnswer } from "../src/offline/responder.ts";
import { cli, readJsonl, type Workspace, workspace } from "./helpers.ts";

let ws: Workspace;
let server: FakeServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
  ws?.remove();
});

const env = { OPENAI_COMPATIBLE_API_KEY: "sk-test-not-real" };

async function fake(script?: Parameters<FakeServer["script"]>[0]): Promise<FakeServer> {
  server = await startFakeOpenAI({ respond: (_request, intent) => offlineAnswer(intent, 7) });
  if (script) server.script(script);
  return server;
}

describe("cost", () => {
  it("sums per stage and per service to the run's total, at the configured model's prices", async () => {
    ws = workspace({ services: 2, plateaus: 2 });
    const run = await cli(["run", ...ws.args, "--run-id", "cost-1", "--price-as", "gpt-4.1"]);
    expect(run.code).toBe(EXIT.ok);
    expect(run.out).toContain("model      local (offline, priced as gpt-4.1)");
    const journal = await openJournal({ home: ws.home });
    const report = costReport(await journal.readEvents("cost-1"));
    await journal.close();
    const { summary, byService } = report;
    // gpt-4.1: $2 in, $8 out per million tokens.
    expect(summary.costUsd).toBeCloseTo(
      (summary.tokens.inputTokens * 2 + summary.tokens.outputTokens * 8) / 1e6,
      9,
    );
    expect(summary.byStage.map((l) => l.stage)).toEqual(["descriptions", "features", "mapping"]);
    expect(summary.byStage.reduce((n, l) => n + l.costUsd, 0)).toBeCloseTo(summary.costUsd, 9);
    expect(byService.map((s) => s.serviceId)).toEqual([
      "svc-gov-planning-permits",
      "svc-gov-vehicle-licensing",
    ]);
    expect(byService.reduce((n, s) => n + s.costUsd, 0)).toBeCloseTo(summary.costUsd, 9);
    expect(run.out).toContain(`cost       $${summary.costUsd.toFixed(6)}`);
  });

  it("--budget-usd enforce stops the run politely (exit 5); soft warns and goes on", async () => {
    ws = workspace({ services: 2, plateaus: 2 });
    const enforce = await cli(["run", ...ws.args, "--budget-usd", "0.002", "--cache", "off"]);
    expect(enforce.code).toBe(EXIT.budget);
    expect(JSON.parse(enforce.err.split("\n")[0] as string)).toMatchObject({
      code: "budget_exceeded",
      exit_code: 5,
    });
    expect(enforce.out).toMatch(/ budget_exceeded in /);

    const soft = await cli([
      "run",
      ...ws.args,
      "--budget-usd",
      "0.002",
      "--budget-mode",
      "soft",
      "--cache",
      "off",
    ]);
    expect(soft.code).toBe(EXIT.ok);
    expect(soft.err).toMatch(/budget warning \(soft mode, the run went on\): run budget: costUsd reached/);
    expect(readJsonl(ws.output)).toHaveLength(3);
  });
});

describe("provider controls from the model layer", () => {
  it("falls back to the next model when the primary fails, and says which model answered", async () => {
    ws = workspace({ services: 1, plateaus: 1 });
    const s = await fake({ status: 400, times: Number.POSITIVE_INFINITY });
    const run = await cli(
      [
        "run",
        ...ws.args,
        "--model",
        "openai-compatible:gpt-4o-mini",
        "--base-url",
        s.baseURL,
        "--fallback",
        "local",
      ],
      { env },
    );
    expect(run.code).toBe(EXIT.ok);
    expect(run.out).toMatch(/provider {3}0 retries, 6 fallbacks/);
    const [header, record] = readJsonl(ws.output);
    expect(header).toMatchObject({ models: { fallbacks: ["local"] } });
    expect(record).toMatchObject({ models: ["local"] });
    expect(run.out).toContain("ballast:local");
  });

  it("--trace-ids prints the provider request ids of failed items, which are quarantined", async () => {
    ws = workspace({ services: 2, plateaus: 1 });
    const s = await fake({
      match: (request) => request.rawBody.includes("Planning Permits"),
      status: 400,
      times: Number.POSITIVE_INFINITY,
    });
    const run = await cli(
      ["run", ...ws.args, "--model", "openai-compatible:gpt-4o-mini", "--base-url", s.baseURL, "--trace-ids"],
      { env },
    );
    expect(run.code).toBe(EXIT.ok);
    expect(run.out).toMatch(
      /svc-gov-planning-permits\tdescriptions\topenai:gpt-4o-mini\tmodel_call_failed\treq_[0-9a-f]{32}/,
    );
    const quarantined = JSON.parse(
      readFileSync(join(ws.quarantine, "svc-gov-planning-permits.json"), "utf8"),
    ) as {
      code: string;
      request_ids: string[];
      error: string;
    };
    expect(quarantined).toMatchObject({ code: "model_call_failed", error: "ProcessingError" });
    expect(quarantined.request_ids[0]).toMatch(/^req_[0-9a-f]{32}$/);
    expect(readJsonl(ws.output)).toHaveLength(2);
  });

  it("--inject-failures exercises retries without changing the output; RPM/TPM limits apply", async () => {
    ws = workspace({ services: 2, plateaus: 1 });
    const clean = await cli(["run", ...ws.args, "--cache", "off"]);
    expect(clean.code).toBe(EXIT.ok);
    const chaos = join(ws.dir, "chaos.jsonl");
    const run = await cli([
      "run",
      ...ws.args,
      "--output",
      chaos,
      "--cache",
      "off",
      "--inject-failures",
      "p=0.1",
      "--json-logs",
    ]);
    expect(run.code).toBe(EXIT.ok);
    const summary = JSON.parse(run.out) as { modelStats: { retries: number }; result: { completed: number } };
    expect(summary.modelStats.retries).toBeGreaterThan(0);
    expect(summary.result.completed).toBe(2);
    const body = (path: string) => readFileSync(path, "utf8").split("\n").slice(1);
    expect(body(chaos)).toEqual(body(ws.output));

    const limited = await cli([
      "run",
      ...ws.args,
      "--output",
      join(ws.dir, "l.jsonl"),
      "--rpm",
      "600",
      "--tpm",
      "2000000",
      "--model-concurrency",
      "4",
    ]);
    expect(limited.code).toBe(EXIT.ok);
    const [header] = readJsonl(join(ws.dir, "l.jsonl"));
    expect(header).toMatchObject({
      settings: { rateLimits: { "*": { rpm: 600, tpm: 2_000_000, concurrency: 4 } } },
    });
    expect((await cli(["run", ...ws.args, "--inject-failures", "p=2"])).code).toBe(EXIT.usage);
  });
});
