import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { createOpenAI } from "@ai-sdk/openai";
import { generateText } from "ai";
import { type ContextEngine, openContext } from "../../src/context/engine.ts";
import { RetryableError, ValidationError } from "../../src/errors.ts";
import { type Ballast, createBallast } from "../../src/flow/engine.ts";
import { createLogger } from "../../src/flow/observe.ts";
import type { WorkflowContext } from "../../src/flow/types.ts";
import { defineWorkflow } from "../../src/flow/workflow.ts";
import { AuditLog } from "../../src/guard/audit-log.ts";
import { openSqliteJournal, type SqliteJournal } from "../../src/journal/sqlite-journal.ts";
import { createModelLayer, type ModelLayer } from "../../src/models/layer.ts";
import type { FakeServer } from "../../src/testing/fake-server.ts";
import { createLocalModel } from "../../src/testing/local-model.ts";
import { startFakeOpenAI } from "../../src/testing/openai-fake.ts";

/**
 * Real runs made by the real engine for the dashboard's tests and screenshots: model calls
 * through the model layer (the deterministic local model, a fake OpenAI provider that fails
 * so the layer falls back, a response cache, a concurrency limit that makes calls wait),
 * parallel branches, a retried step, a step timeout, a failed run, a budget-exceeded run and
 * a fork. Everything runs offline in a temp directory.
 */

export interface Seeded {
  dir: string;
  journal: SqliteJournal;
  engine: Ballast;
  layer: ModelLayer;
  context: ContextEngine;
  audit: AuditLog;
  provider: FakeServer;
  runs: {
    completed: string;
    retried: string;
    failed: string;
    budget: string;
    forked: string;
    soft: string;
  };
  /** A workflow that waits until `release()` is called (for live updates and cancel). */
  gated: ReturnType<typeof gatedWorkflow>;
  close(): Promise<void>;
}

const SERVICES = ["billing", "search", "ledger", "identity"];

/** Model text with markup in it: the dashboard must show it as text. */
export const HOSTILE_TEXT = `<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script> & done`;

function summariseWorkflow(layer: ModelLayer, primary: ReturnType<ReturnType<typeof createOpenAI>["chat"]>) {
  const local = createLocalModel({ seed: 3, latencyMs: 12 });
  const describer = layer.wrap(local, { stage: "descriptions" });
  const summariser = layer.wrap(primary, {
    stage: "summary",
    fallbacks: [createLocalModel({ seed: 4, latencyMs: 8 })],
  });
  return defineWorkflow({
    name: "summarise-services",
    version: "1",
    retry: { maxAttempts: 3, baseMs: 5, maxMs: 20 },
    run: async (ctx: WorkflowContext, input: { services: string[]; note?: string }) => {
      const services = await ctx.step("load", () => input.services);
      const descriptions = await ctx.map(
        services,
        (service) =>
          ctx.step("describe", async () => {
            const r = await generateText({
              model: describer,
              prompt: `Describe the ${service} service in one sentence.`,
              maxOutputTokens: 60,
              maxRetries: 0,
              providerOptions: { ballast: { item: service } },
            });
            return r.text;
          }),
        { concurrency: 3 },
      );
      // The same prompt again: answered by the response cache.
      await ctx.step("describe-again", async () => {
        const r = await generateText({
          model: describer,
          prompt: `Describe the ${services[0]} service in one sentence.`,
          maxOutputTokens: 60,
          maxRetries: 0,
          providerOptions: { ballast: { item: services[0] ?? "" } },
        });
        return r.text;
      });
      const summary = await ctx.step("summary", async () => {
        const r = await generateText({
          model: summariser,
          prompt: `Summarise: ${descriptions.join(" ")}`,
          maxOutputTokens: 80,
          maxRetries: 0,
        });
        return { text: r.text, note: input.note ?? HOSTILE_TEXT };
      });
      return { services: services.length, summary: summary.text };
    },
  });
}

function retryWorkflow() {
  let flaky = 0;
  return defineWorkflow({
    name: "nightly-index",
    version: "2",
    retry: { maxAttempts: 3, baseMs: 10, maxMs: 30 },
    run: async (ctx: WorkflowContext) => {
      const page = await ctx.step(
        "fetch-index",
        async (step) => {
          // The first attempt hangs past the step timeout; the second answers at once.
          if (step.attempt === 1) await sleep(200, undefined, { signal: step.signal }).catch(() => undefined);
          return { pages: 12 };
        },
        { timeoutMs: 25 },
      );
      await ctx.step("publish", () => {
        flaky += 1;
        if (flaky === 1) {
          throw new RetryableError({
            code: "upstream_busy",
            message: "The index host answered 503; retrying.",
          });
        }
        return { published: page.pages };
      });
      return { ok: true };
    },
  });
}

function failingWorkflow() {
  return defineWorkflow({
    name: "ingest-csv",
    version: "1",
    run: async (ctx: WorkflowContext, input: { file: string }) => {
      await ctx.step("read", () => ({ rows: 40, file: input.file }));
      await ctx.step("parse", () => {
        throw new ValidationError(
          "csv_invalid",
          `Row 17 of ${input.file} has no "id" column; fix the file and start a new run.`,
        );
      });
      return null;
    },
  });
}

export function gatedWorkflow() {
  let open: (() => void) | undefined;
  let gate = new Promise<void>((resolve) => {
    open = resolve;
  });
  const workflow = defineWorkflow({
    name: "long-job",
    version: "1",
    run: async (ctx: WorkflowContext) => {
      await ctx.step("prepare", () => ({ ready: true }));
      await ctx.step("wait-for-gate", async (step) => {
        await Promise.race([gate, new Promise((_, reject) => step.signal.addEventListener("abort", reject))]);
        return "released";
      });
      await ctx.step("finish", () => "done");
      return "ok";
    },
  });
  return {
    workflow,
    release() {
      open?.();
      gate = new Promise<void>((resolve) => {
        open = resolve;
      });
    },
  };
}

function triageWorkflow(layer: ModelLayer) {
  const small = layer.wrap(createLocalModel({ seed: 7, modelId: "local-small", latencyMs: 4 }), {
    stage: "triage",
  });
  return defineWorkflow({
    name: "triage-tickets",
    version: "3",
    run: async (ctx: WorkflowContext, input: { tickets: string[] }) =>
      ctx.map(input.tickets, (ticket) =>
        ctx.step("classify", async () => {
          const r = await generateText({
            model: small,
            prompt: `Classify ticket: ${ticket}`,
            maxOutputTokens: 40,
            maxRetries: 0,
          });
          return r.text.slice(0, 40);
        }),
      ),
  });
}

/**
 * Runs made over the past days, for the costs charts: the clock is set back (`setClock`
 * fakes Date only, and lets it run), the engine runs them for real, and the clock returns.
 */
export async function seedHistory(
  seeded: Seeded,
  setClock: (epochMs: number | undefined) => void,
): Promise<string[]> {
  const now = Date.now();
  const ids: string[] = [];
  const triage = triageWorkflow(seeded.layer);
  seeded.engine.register(triage as never);
  const summarise = seeded.engine.workflows.get("summarise-services", "1")!;
  try {
    for (let day = 6; day >= 1; day--) {
      for (let k = 0; k < 2; k++) {
        setClock(now - day * 86_400_000 + k * 5 * 3_600_000);
        const id = `history-${day}-${k}`;
        seeded.provider.script([{ status: 503, times: 2 }]);
        const handle =
          k === 0
            ? await seeded.engine.start(
                summarise as never,
                { services: [`svc-${day}a`, `svc-${day}b`, `svc-${day}c`].slice(0, 1 + (day % 3)) },
                { runId: id },
              )
            : await seeded.engine.start(
                triage,
                { tickets: Array.from({ length: 2 + day }, (_, i) => `ticket ${day}-${i}`) },
                { runId: id },
              );
        await handle.wait();
        ids.push(id);
      }
    }
  } finally {
    setClock(undefined);
  }
  return ids;
}

export async function seedRuns(dir: string): Promise<Seeded> {
  const journal = await openSqliteJournal({
    path: join(dir, "ballast.db"),
    blobDir: join(dir, "blobs"),
    durability: "normal",
  });
  const provider = await startFakeOpenAI({ seed: 9 });
  const openai = createOpenAI({ baseURL: provider.baseURL, apiKey: "sk-test-not-real" });
  const layer = createModelLayer({
    cache: { path: join(dir, "model-cache.db") },
    limits: { "ballast:local": { concurrency: 1 } },
    retry: { maxRetries: 1, baseDelayMs: 1 },
    pricing: {
      local: { input: 0.5, output: 1.5 },
      "local-small": { input: 0.1, output: 0.3 },
      "gpt-4o-mini": { input: 0.15, output: 0.6 },
    },
    logPrompts: true,
    logger: createLogger({ level: "silent" }),
  });
  const engine = createBallast({ journal, logger: createLogger({ level: "silent" }) });
  const summarise = summariseWorkflow(layer, openai.chat("gpt-4o-mini"));
  const retrying = retryWorkflow();
  const failing = failingWorkflow();
  const gated = gatedWorkflow();
  for (const w of [summarise, retrying, failing, gated.workflow]) engine.register(w as never);

  // The primary summariser fails (503, retried once), so the layer falls back to the local model.
  provider.script([{ status: 503, times: 2 }]);
  const completed = await engine.start(summarise, { services: SERVICES }, { runId: "run-completed" });
  await completed.wait();
  const retried = await engine.start(retrying, {}, { runId: "run-retried" });
  await retried.wait();
  const failed = await engine.start(failing, { file: "customers.csv" }, { runId: "run-failed" });
  await failed.wait();
  provider.script([{ status: 503, times: 2 }]);
  const budget = await engine.start(
    summarise,
    { services: ["billing", "search", "payments", "audit"] },
    { runId: "run-budget", budget: { tokens: 300, mode: "enforce" } },
  );
  await budget.wait();
  provider.script([{ status: 503, times: 2 }]);
  const soft = await engine.start(
    summarise,
    { services: ["mail", "calendar"], note: "soft budget" },
    { runId: "run-soft", budget: { costUsd: 0.00001, tokens: 5000, mode: "soft" } },
  );
  await soft.wait();
  // Fork the completed run after its parallel descriptions, before the summary.
  const events = await journal.readEvents("run-completed");
  const again = events.find(
    (e) => e.type === "step.completed" && (e.data as { stepId: string }).stepId.startsWith("describe-again"),
  );
  provider.script([{ status: 503, times: 2 }]);
  const forked = await engine.fork("run-completed", { atSeq: (again?.seq ?? 5) - 1, runId: "run-forked" });
  await forked.wait();

  const context = await openContext({ path: join(dir, "context.db") });
  await context.upsert([
    {
      id: "docs/journal.md",
      text: "The journal is an append-only, hash-chained log of run events.",
      metadata: { lang: "en", kind: "doc" },
    },
    {
      id: "docs/budgets.md",
      text: "Budgets limit tokens, cost, wall time and steps; enforce mode stops the run.",
      metadata: { lang: "en", kind: "doc" },
    },
    {
      id: "docs/replay.md",
      text: "Replay re-executes a finished run against its journal with no network.",
      metadata: { lang: "en", kind: "doc" },
    },
    {
      id: "src/flow/engine.ts",
      text: "export class Ballast { start() resume() cancel() replay() fork() } journal events budget",
      metadata: { lang: "ts", kind: "code" },
    },
    {
      id: "docs/cache.md",
      text: "The response cache answers repeated model calls; a cache hit costs nothing.",
      metadata: { lang: "en", kind: "doc" },
    },
  ]);
  const audit = AuditLog.open({ path: join(dir, "audit.db") });

  return {
    dir,
    journal,
    engine,
    layer,
    context,
    audit,
    provider,
    gated,
    runs: {
      completed: "run-completed",
      retried: "run-retried",
      failed: "run-failed",
      budget: "run-budget",
      forked: "run-forked",
      soft: "run-soft",
    },
    async close() {
      layer.close();
      await context.close();
      audit.close();
      await provider.close();
      await journal.close();
    },
  };
}
