import { readFile } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import type { LanguageModelV4 } from "@ai-sdk/provider";
import {
  type Ballast,
  createBallast,
  defineWorkflow,
  fingerprint,
  type JournalStore,
  openJournal,
} from "ballast";
import { type Caption, type CaptionPolicy, captionEvents } from "./captions/captions.ts";
import { resolveCaptionModel } from "./captions/resolve-model.ts";
import type { AuditConfig } from "./config.ts";
import { type Detection, detectEvents } from "./events/detect.ts";
import { extractFeatures, type FeatureResult, type FeatureStats } from "./features/extract.ts";
import { ingestRun, type RunData } from "./ingest/ingest.ts";
import { type AuditMetadata, packageVersions, validateAuditMetadata } from "./lineage/metadata.ts";
import { logToMlflow, type MlflowResult } from "./lineage/mlflow.ts";
import {
  type Dataset,
  fileDataset,
  inputDatasets,
  type LineageEvent,
  stageEvent,
} from "./lineage/openlineage.ts";
import { buildPayloads } from "./report/payload.ts";
import { type WrittenReport, writeReport } from "./report/write-report.ts";
import { writeFileAtomic } from "./util/atomic.ts";

/**
 * The audit as a durable ballast workflow. Ingest validates the whole run first, outside
 * the workflow, so a bad input starts nothing and writes nothing. The stages (features,
 * events, captions, report) are journaled steps, and caption calls go through the model
 * layer inside the run, so they are journaled model calls. Journaled results are JSON (NaN
 * becomes null); the decoded run stays in memory, and is re-read and checked against the
 * dataset hash the run started with if the workflow body runs again (resume).
 */

export interface AuditDeps {
  /** The caption model; default: resolved from the config (Gemini, local, or none). */
  model?: LanguageModelV4;
  journal?: JournalStore;
  onProgress?: (stage: string, done: number, total: number) => void;
  captionPolicy?: Partial<CaptionPolicy>;
  env?: NodeJS.ProcessEnv;
}

export interface AuditResult {
  runId: string;
  report: WrittenReport;
  metadataPath: string;
  lineagePath: string;
  metadata: AuditMetadata;
  lineage: LineageEvent[];
  detection: Detection;
  captions: Caption[];
  features: FeatureStats;
  mlflow: MlflowResult;
}

interface WorkflowInput {
  run_dir: string;
  dataset_hash: string;
  config_fingerprint: string;
}

type JsonNumber = number | null;
const json = (values: readonly number[]): JsonNumber[] => values.map((v) => (Number.isFinite(v) ? v : null));
const unjson = (values: readonly JsonNumber[]): number[] => values.map((v) => (v === null ? Number.NaN : v));

export async function runAudit(config: AuditConfig, deps: AuditDeps = {}): Promise<AuditResult> {
  const timings: Record<string, { ms: number }> = {};
  const lineage: LineageEvent[] = [];
  const started = performance.now();
  const clock = () => performance.now();

  const t = clock();
  const run = await ingestRun(config.runDir);
  timings["ingest"] = { ms: clock() - t };
  const configFingerprint = fingerprint(configForFingerprint(config));
  const input: WorkflowInput = {
    run_dir: run.dir,
    dataset_hash: run.datasetHash,
    config_fingerprint: configFingerprint,
  };

  const resolved = deps.model
    ? { provider: "custom", model: deps.model, modelId: deps.model.modelId }
    : await resolveCaptionModel(config.captions, deps.env);
  const modelName = resolved.model ? `${resolved.model.provider}:${resolved.model.modelId}` : "none";

  let runData: RunData | undefined = run;
  const loadRun = async (expected: string) => {
    runData ??= await ingestRun(config.runDir);
    if (runData.datasetHash !== expected) {
      throw new Error(
        `The run's inputs changed since the audit started (dataset hash ${runData.datasetHash} != ${expected}); start a new audit.`,
      );
    }
    return runData;
  };
  const htmlPath = resolve(config.out);

  const workflow = defineWorkflow({
    name: "field-audit",
    version: "1",
    retry: { maxAttempts: 1 },
    run: async (ctx, wf: WorkflowInput) => {
      const data = await loadRun(wf.dataset_hash);
      const featureStep = await ctx.step("features", async () => {
        const t0 = clock();
        const features: FeatureResult = await extractFeatures(data, {
          depthWorkers: config.depthWorkers,
          ...(config.cacheDir ? { cacheDir: config.cacheDir } : {}),
          onProgress: (done, total) => deps.onProgress?.("features", done, total),
        });
        timings["features"] = { ms: clock() - t0 };
        const table = features.table;
        return {
          table: {
            frame_idx: table.frame_idx,
            t: table.t,
            min_clearance_m: json(table.min_clearance_m),
            canopy_density_proxy: json(table.canopy_density_proxy),
            valid_depth_ratio: json(table.valid_depth_ratio),
            imu_roughness: json(table.imu_roughness),
            gyro_rms: json(table.gyro_rms),
          },
          telemetry: features.telemetry,
          stats: features.stats,
        };
      });
      const table = {
        frame_idx: featureStep.table.frame_idx,
        t: featureStep.table.t,
        min_clearance_m: unjson(featureStep.table.min_clearance_m),
        canopy_density_proxy: unjson(featureStep.table.canopy_density_proxy),
        valid_depth_ratio: unjson(featureStep.table.valid_depth_ratio),
        imu_roughness: unjson(featureStep.table.imu_roughness),
        gyro_rms: unjson(featureStep.table.gyro_rms),
      };
      const detection = await ctx.step("events", () => {
        const t0 = clock();
        const d = detectEvents(table, featureStep.telemetry, config.events);
        timings["events"] = { ms: clock() - t0 };
        return { ...d, score: json(d.score) } as unknown as Detection;
      });
      detection.score = unjson(detection.score as unknown as JsonNumber[]);

      const captions = await ctx.step("captions", async () => {
        const t0 = clock();
        if (!resolved.model || detection.events.length === 0) {
          timings["captions"] = { ms: clock() - t0 };
          return detection.events.map((e) => ({
            eventId: e.id,
            text: "",
            ok: false,
            error: "captions_disabled",
          }));
        }
        const inputs = await Promise.all(
          detection.events.map(async (event) => {
            const frame = data.manifest.frames[event.row]!;
            const bytes = await readFile(join(data.dir, frame.rgb));
            return { event, image: { bytes, mediaType: bytes[0] === 0x89 ? "image/png" : "image/jpeg" } };
          }),
        );
        const out = await captionEvents(inputs, resolved.model, {
          workers: config.captions.workers,
          retries: config.captions.retries,
          baseDelayMs: config.captions.baseDelayMs,
          maxDelayMs: config.captions.maxDelayMs,
          attemptTimeoutMs: config.captions.attemptTimeoutMs,
          callTimeoutMs: config.captions.callTimeoutMs,
          ...(config.captions.cachePath ? { cachePath: config.captions.cachePath } : {}),
          ...deps.captionPolicy,
        });
        timings["captions"] = { ms: clock() - t0 };
        return out;
      });

      const report = await ctx.step(
        "report",
        async () => {
          const t0 = clock();
          const payloads = await buildPayloads(
            {
              manifest: data.manifest,
              datasetHash: data.datasetHash,
              table,
              telemetry: featureStep.telemetry,
              detection,
              captions,
              eventConfig: { ...config.events },
              model: modelName,
              image: async (row) =>
                new Uint8Array(await readFile(join(data.dir, data.manifest.frames[row]!.rgb))),
              generatedAt: new Date(ctx.now()).toISOString(),
            },
            { downsample: config.downsample, columns: config.featureColumns },
          );
          const written = await writeReport(htmlPath, config.reportMode, payloads);
          timings["report"] = { ms: clock() - t0 };
          return written;
        },
        { sideEffect: true },
      );
      return { detection, captions, report, featureStats: featureStep.stats };
    },
  });

  const journal = deps.journal ?? (await openJournal(config.journalHome ? { home: config.journalHome } : {}));
  const ballast: Ballast = createBallast({ journal });
  try {
    const handle = await ballast.start(workflow, input);
    const output = await handle.result();
    const record = await ballast.getRun(handle.runId);
    const totalMs = clock() - started;

    const stageTimes = (name: string) => timings[name]?.ms ?? 0;
    const now = new Date();
    const runDatasets = inputDatasets(run.dir, run.files);
    const featureOut: Dataset = fileDataset(`${htmlPath}#features`, {
      fieldAudit_rows: { frames: run.manifest.frames.length },
      ...(output.featureStats.cacheFile ? { fieldAudit_cache: { path: output.featureStats.cacheFile } } : {}),
    });
    const eventsOut: Dataset = fileDataset(`${htmlPath}#events`, {
      fieldAudit_rows: { events: output.detection.events.length },
    });
    const captionsOut: Dataset = fileDataset(`${htmlPath}#captions`, {
      fieldAudit_model: { name: modelName },
    });
    const reportOut: Dataset[] = [
      fileDataset(output.report.html, { fieldAudit_size: { bytes: output.report.htmlBytes } }),
      ...(output.report.assetsDir
        ? [fileDataset(output.report.assetsDir, { fieldAudit_size: { bytes: output.report.assetBytes } })]
        : []),
    ];
    lineage.push(
      stageEvent(
        handle.runId,
        "ingest",
        runDatasets,
        [fileDataset(`${run.dir}#dataset`, { fieldAudit_hash: { sha256: run.datasetHash } })],
        stageTimes("ingest"),
        now,
      ),
      stageEvent(
        handle.runId,
        "features",
        runDatasets.filter((d) => d.name.endsWith(".png") || d.name.endsWith(".csv")),
        [featureOut],
        stageTimes("features"),
        now,
      ),
      stageEvent(handle.runId, "events", [featureOut], [eventsOut], stageTimes("events"), now),
      stageEvent(handle.runId, "captions", [eventsOut], [captionsOut], stageTimes("captions"), now),
      stageEvent(
        handle.runId,
        "report",
        [featureOut, eventsOut, captionsOut],
        reportOut,
        stageTimes("report"),
        now,
      ),
    );

    const ballastRun = (record.metadata ?? null) as Record<string, unknown> | null;
    const codeVersion = (ballastRun?.["codeVersion"] ?? {}) as { gitSha?: string | null };
    const captionsOk = output.captions.filter((c) => c.ok).length;
    const metadata: AuditMetadata = {
      schema_version: 1,
      tool: "field-audit",
      run_id: handle.runId,
      dataset_hash: run.datasetHash,
      code_version: { git_sha: codeVersion.gitSha ?? null, ...packageVersions() },
      config_fingerprint: configFingerprint,
      latency_summary: { stages: timings, total_ms: totalMs },
      counts: {
        frames: run.manifest.frames.length,
        events: output.detection.events.length,
        captions_ok: captionsOk,
        captions_failed: output.captions.length - captionsOk,
        depth_decoded: output.featureStats.decoded,
        depth_cache_hits: output.featureStats.diskHits + output.featureStats.hotHits,
      },
      outputs: [
        { path: output.report.html, bytes: output.report.htmlBytes },
        ...(output.report.assetsDir
          ? [{ path: output.report.assetsDir, bytes: output.report.assetBytes }]
          : []),
      ],
      ballast_run: ballastRun,
      created_at: now.toISOString(),
    };
    validateAuditMetadata(metadata);
    const stem = join(dirname(htmlPath), basename(htmlPath).replace(/\.html?$/i, ""));
    const metadataPath = `${stem}.metadata.json`;
    const lineagePath = `${stem}.lineage.jsonl`;
    await writeFileAtomic(metadataPath, `${JSON.stringify(metadata, null, 2)}\n`);
    await writeFileAtomic(lineagePath, `${lineage.map((e) => JSON.stringify(e)).join("\n")}\n`);
    const mlflow = await logToMlflow(
      {
        experiment: "field-audit",
        runName: `${run.manifest.run_id}-${handle.runId.slice(0, 8)}`,
        params: {
          dataset_hash: run.datasetHash,
          config_fingerprint: configFingerprint,
          report_mode: config.reportMode,
        },
        metrics: {
          events: metadata.counts["events"]!,
          total_ms: totalMs,
          ...Object.fromEntries(Object.entries(timings).map(([k, v]) => [`${k}_ms`, v.ms])),
        },
      },
      deps.env ?? process.env,
    );
    return {
      runId: handle.runId,
      report: output.report,
      metadataPath,
      lineagePath,
      metadata,
      lineage,
      detection: output.detection,
      captions: output.captions,
      features: output.featureStats,
      mlflow,
    };
  } finally {
    if (deps.journal === undefined) await journal.close();
  }
}

/** The parts of the config that change results (paths and log level do not). */
function configForFingerprint(config: AuditConfig) {
  return {
    reportMode: config.reportMode,
    downsample: config.downsample,
    featureColumns: config.featureColumns,
    events: config.events,
    captions: {
      provider: config.captions.provider ?? "default",
      modelId: config.captions.modelId ?? "default",
    },
  };
}
