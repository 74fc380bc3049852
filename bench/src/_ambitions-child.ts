// One contender of the ambitions bench, in its own process (forked by ambitions.ts) so that
// peak memory is the contender's own: "ballast" runs the service-ambitions workflow (journal,
// model layer with RPM/TPM limits, per-service plateau bound); "naive" makes the same AI SDK
// calls with the same prompts through an unmanaged Promise.all (the SDK's own retries only).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createOpenAI } from "@ai-sdk/openai";
import {
  CATALOGUE_KINDS,
  createRuntime,
  descriptionPrompt,
  featureId,
  featuresAnswerSchema,
  featuresPrompt,
  installRuntime,
  loadInputs,
  mappingAnswerSchema,
  mappingPrompt,
  type PipelineData,
  type PipelineInput,
  type PipelineSummary,
  parseSettings,
  sampleSources,
  serviceAmbitions,
} from "@ballast/service-ambitions";
import { generateText, Output } from "ai";
import { createBallast, createLogger, openSqliteJournal } from "ballast";

export interface ChildResult {
  contender: string;
  wallMs: number;
  services: number;
  completed: number;
  failedServices: number;
  calls: number;
  /** Per-call latency (ms) by stage: end to end, queueing and retries included. */
  latencies: Record<string, number[]>;
  peakRssBytes: number;
  peakHeapBytes: number;
  clientRetries: number;
}

export interface ChildArgs {
  contender: "ballast" | "naive";
  baseURL: string;
  services: number;
  /** Limits the ballast model layer is configured with, per window. */
  limits: { rpm: number; tpm: number; windowMs: number };
}

function sampleData(services: number): PipelineData {
  const loaded = loadInputs(sampleSources());
  return { ...loaded.data, services: loaded.data.services.slice(0, services) };
}

function record(latencies: Record<string, number[]>, stage: string, ms: number): void {
  const list = latencies[stage] ?? [];
  list.push(ms);
  latencies[stage] = list;
}

function memorySampler() {
  let rss = 0;
  let heap = 0;
  const sample = () => {
    const m = process.memoryUsage();
    rss = Math.max(rss, m.rss);
    heap = Math.max(heap, m.heapUsed);
  };
  sample();
  const timer = setInterval(sample, 20);
  return {
    stop() {
      clearInterval(timer);
      sample();
      return { rss, heap };
    },
  };
}

async function runBallast(args: ChildArgs): Promise<ChildResult> {
  const dir = mkdtempSync(join(tmpdir(), "ambitions-bench-"));
  const journal = await openSqliteJournal({ path: join(dir, "ballast.db"), blobDir: join(dir, "blobs") });
  const loaded = loadInputs(sampleSources());
  const data = { ...loaded.data, services: loaded.data.services.slice(0, args.services) };
  const settings = parseSettings({
    model: "openai-compatible:gpt-4o-mini",
    baseUrl: args.baseURL,
    cache: "off",
    serviceConcurrency: args.services,
    rateLimits: { "*": args.limits },
  });
  const runtime = await createRuntime(settings);
  const runId = "bench";
  installRuntime(runId, runtime);
  const input: PipelineInput = {
    settings,
    data,
    skip: [],
    fresh: [],
    io: { output: join(dir, "evolutions.jsonl"), quarantineDir: join(dir, "quarantine") },
    meta: { gitSha: null, inputHash: loaded.inputHash, files: {}, sources: loaded.sources },
  };
  const ballast = createBallast({ journal, logger: createLogger({ level: "silent" }) });
  const memory = memorySampler();
  const t0 = performance.now();
  const result = await (await ballast.start(serviceAmbitions, input, { runId })).wait();
  const wallMs = performance.now() - t0;
  const peak = memory.stop();
  const latencies: Record<string, number[]> = {};
  let calls = 0;
  for (const event of await journal.readEvents(runId)) {
    if (event.type !== "model.called") continue;
    const d = event.data as { stage: string; latencyMs: number };
    calls += 1;
    record(latencies, d.stage, d.latencyMs);
  }
  await journal.close();
  runtime.layer.close();
  if (result.status !== "completed")
    console.error(`ballast run ${result.status}: ${result.error?.message ?? ""}`);
  const summary = result.output as PipelineSummary | undefined;
  rmSync(dir, { recursive: true, force: true });
  return {
    contender: "ballast",
    wallMs,
    services: args.services,
    completed: summary?.completed ?? 0,
    failedServices: args.services - (summary?.completed ?? 0),
    calls,
    latencies,
    peakRssBytes: peak.rss,
    peakHeapBytes: peak.heap,
    clientRetries: runtime.stats.retries,
  };
}

async function runNaive(args: ChildArgs): Promise<ChildResult> {
  const data = sampleData(args.services);
  const model = createOpenAI({ baseURL: args.baseURL, apiKey: "sk-bench-not-real" }).chat("gpt-4o-mini");
  const latencies: Record<string, number[]> = {};
  let calls = 0;
  const timed = async <T>(stage: string, fn: () => Promise<T>): Promise<T> => {
    const t = performance.now();
    calls += 1;
    const value = await fn();
    record(latencies, stage, performance.now() - t);
    return value;
  };
  const memory = memorySampler();
  const t0 = performance.now();
  const outcomes = await Promise.allSettled(
    data.services.map(async (service) => {
      let previous: Promise<string[]> = Promise.resolve([]);
      await Promise.all(
        data.plateaus.map((plateau) => {
          const earlierDone = previous;
          let release!: (names: string[]) => void;
          let fail!: (error: unknown) => void;
          previous = new Promise<string[]>((resolve, reject) => {
            release = resolve;
            fail = reject;
          });
          previous.catch(() => {});
          return (async () => {
            try {
              const d = descriptionPrompt(service, plateau);
              await timed("descriptions", () =>
                generateText({ model, system: d.system, prompt: d.prompt, maxOutputTokens: 400, seed: 7 }),
              );
              const earlier = await earlierDone;
              const sets = await Promise.all(
                service.customer_types.map((customerType) => {
                  const f = featuresPrompt(service, plateau, customerType, 3, earlier);
                  return timed("features", () =>
                    generateText({
                      model,
                      system: f.system,
                      prompt: f.prompt,
                      output: Output.object({ schema: featuresAnswerSchema }),
                      maxOutputTokens: 1200,
                      seed: 7,
                    }),
                  );
                }),
              );
              const names = sets.flatMap((s) => s.output.features.map((f) => f.name));
              release([...earlier, ...names]);
              const refs = sets.flatMap((s, c) =>
                s.output.features.map((f, n) => ({
                  feature_id: featureId(service.id, plateau.level, service.customer_types[c] as string, n),
                  name: f.name,
                  description: f.description,
                })),
              );
              await Promise.all(
                CATALOGUE_KINDS.map((kind) => {
                  const m = mappingPrompt(service, plateau, kind, refs, data.catalogues[kind]);
                  return timed("mapping", () =>
                    generateText({
                      model,
                      system: m.system,
                      prompt: m.prompt,
                      output: Output.object({ schema: mappingAnswerSchema }),
                      maxOutputTokens: 1500,
                      seed: 7,
                    }),
                  );
                }),
              );
            } catch (error) {
              fail(error);
              throw error;
            }
          })();
        }),
      );
    }),
  );
  const wallMs = performance.now() - t0;
  const peak = memory.stop();
  const completed = outcomes.filter((o) => o.status === "fulfilled").length;
  return {
    contender: "naive",
    wallMs,
    services: args.services,
    completed,
    failedServices: args.services - completed,
    calls,
    latencies,
    peakRssBytes: peak.rss,
    peakHeapBytes: peak.heap,
    clientRetries: -1,
  };
}

const args = JSON.parse(process.argv[2] ?? "{}") as ChildArgs;
process.env["OPENAI_COMPATIBLE_API_KEY"] ??= "sk-bench-not-real";
try {
  const result = args.contender === "ballast" ? await runBallast(args) : await runNaive(args);
  process.send?.({ ok: true, result });
} catch (error) {
  process.send?.({
    ok: false,
    error: error instanceof Error ? (error.stack ?? error.message) : String(error),
  });
}
