import { join } from "node:path";
import { createBallast, createLogger, openSqliteJournal, type SqliteJournal } from "ballast";
import { afterEach, describe, expect, it } from "vitest";
import { loadInputs } from "../src/inputs.ts";
import { contextOf } from "../src/offline/responder.ts";
import { createRuntime, installRuntime } from "../src/pipeline/runtime.ts";
import { type PipelineInput, serviceAmbitions } from "../src/pipeline/workflow.ts";
import { parseSettings } from "../src/settings.ts";
import { scriptedFactory, type Workspace, workspace } from "./helpers.ts";

let ws: Workspace;
let journal: SqliteJournal;
afterEach(async () => {
  await journal?.close();
  ws?.remove();
});

interface Span {
  service: string;
  task: string;
  level: number;
  start: number;
  end: number;
}

/** Runs 2 services x 4 plateaus with a slow model; returns the gauge peaks and call spans. */
async function runWithBound(bound: number) {
  ws = workspace({ services: 2, plateaus: 4 });
  journal = await openSqliteJournal({
    path: join(ws.dir, "j.db"),
    blobDir: join(ws.dir, "blobs"),
    durability: "normal",
  });
  const spans: Span[] = [];
  const { factory } = scriptedFactory(
    (intent, task) => {
      const ctx = contextOf(intent.promptText);
      const level =
        ctx?.plateau?.level ?? Number(/\.L(\d+)\./.exec(ctx?.features?.[0]?.feature_id ?? "")?.[1]);
      const service = ctx?.service?.id ?? (ctx?.features?.[0]?.feature_id.split(".L")[0] as string);
      const span = { service, task: task ?? "?", level, start: performance.now(), end: Number.NaN };
      spans.push(span);
      // The local model waits its latency before answering: the span ends about then.
      setTimeout(() => {
        span.end = performance.now();
      }, 15);
      return undefined;
    },
    { latencyMs: 15 },
  );
  const settings = parseSettings({ plateauConcurrency: bound, serviceConcurrency: 2, seed: 3 });
  const loaded = loadInputs({ services: ws.services, plateaus: ws.plateaus, catalogues: ws.catalogues });
  const runtime = await createRuntime(settings, { factory });
  const inFlight: number[] = [];
  runtime.hooks.onPlateau = (e) => {
    if (e.phase === "enter") inFlight.push(e.inFlight);
  };
  const runId = `bound-${bound}`;
  const uninstall = installRuntime(runId, runtime);
  const input: PipelineInput = {
    settings,
    data: loaded.data,
    skip: [],
    fresh: [],
    io: { output: join(ws.dir, "out.jsonl"), quarantineDir: join(ws.dir, "q") },
    meta: { gitSha: null, inputHash: loaded.inputHash, files: loaded.files, sources: loaded.sources },
  };
  const ballast = createBallast({ journal, logger: createLogger({ level: "silent" }) });
  const result = await (await ballast.start(serviceAmbitions, input, { runId })).wait();
  uninstall();
  runtime.layer.close();
  expect(result.status).toBe("completed");
  const ids = loaded.data.services.map((s) => s.id);
  return { peaks: ids.map((id) => runtime.gauge.peak(id)), inFlight, spans, gauge: runtime.gauge };
}

describe("the per-service plateau semaphore", () => {
  it("never lets more than the bound of a service's plateaus be in flight, and reaches it", async () => {
    const { peaks, inFlight, gauge } = await runWithBound(2);
    expect(peaks).toEqual([2, 2]);
    expect(Math.max(...inFlight)).toBe(2);
    expect(gauge.submitted).toBe(8);
    expect(gauge.completed).toBe(8);
  });

  it("overlaps mapping of one plateau with feature generation of the next", async () => {
    const { spans } = await runWithBound(2);
    const mappingL1 = spans.filter((s) => s.task === "map" && s.level === 1);
    const featuresL2 = spans.filter((s) => s.task === "features" && s.level === 2);
    expect(mappingL1.length).toBeGreaterThan(0);
    // Some plateau-2 features were being generated while plateau 1 was still being mapped.
    const overlapping = featuresL2.filter((f) =>
      mappingL1.some((m) => f.start < m.end && m.start < f.end + 1),
    );
    expect(overlapping.length).toBeGreaterThan(0);
  });

  it("runs plateaus one at a time with a bound of 1", async () => {
    const { peaks, spans } = await runWithBound(1);
    expect(peaks).toEqual([1, 1]);
    for (const service of new Set(spans.map((s) => s.service))) {
      const mine = spans.filter((s) => s.service === service);
      for (let level = 1; level < 4; level++) {
        const lastStart = Math.max(...mine.filter((s) => s.level === level).map((s) => s.start));
        const nextFirst = Math.min(...mine.filter((s) => s.level === level + 1).map((s) => s.start));
        // The next plateau starts only after this one's last call (15 ms) has answered.
        expect(nextFirst - lastStart).toBeGreaterThanOrEqual(10);
      }
    }
  });
});
