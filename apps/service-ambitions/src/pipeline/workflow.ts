import {
  canonicalJson,
  defineWorkflow,
  type ErrorRecord,
  toErrorRecord,
  type WorkflowContext,
} from "ballast";
import { redact } from "ballast/guard";
import { MappingError, ProcessingError } from "../errors.ts";
import { CATALOGUE_KINDS, type InputSources, type PipelineData } from "../inputs.ts";
import {
  type HeaderRecord,
  type OutputRecord,
  SCHEMA_VERSION,
  type ServiceRecord,
  toJsonl,
} from "../output/records.ts";
import { writeFileAtomic } from "../output/write.ts";
import { type QuarantineRecord, QuarantineStore } from "../quarantine/store.ts";
import { type Settings, STAGES, stageModel } from "../settings.ts";
import { runtimeFor } from "./runtime.ts";
import { processService } from "./service.ts";

/**
 * The service-ambitions workflow: every service through its stages (`serviceConcurrency`
 * at once), failures quarantined (or the run stopped, in strict modes), then the output
 * file written whole by a side-effect step. The run's input holds everything it needs
 * (settings, the validated inputs, where to write), so a resume or a replay in another
 * process needs nothing but the journal.
 */

export const WORKFLOW_NAME = "service-ambitions";
export const WORKFLOW_VERSION = "1";
export const GENERATOR = "service-ambitions 0.1.0";

export interface PipelineInput {
  settings: Settings;
  data: PipelineData;
  /** Services left out because they were in quarantine when the run started. */
  skip: string[];
  /** Services released from quarantine: asked afresh (no response cache), then their release cleared. */
  fresh: string[];
  io: { output: string; quarantineDir: string };
  meta: {
    gitSha: string | null;
    inputHash: string;
    /** SHA-256 of each input file's bytes, by absolute path. */
    files: Record<string, string>;
    sources: InputSources;
  };
}

export interface PipelineSummary {
  services: number;
  completed: number;
  quarantined: string[];
  skipped: string[];
  features: number;
  mappings: number;
  /** Feature × catalogue pairs the model mapped to nothing. */
  unmapped: number;
  output: { path: string; bytes: number; sha256: string };
}

type Outcome = { ok: true; record: ServiceRecord } | { ok: false; serviceId: string; error: ErrorRecord };

export function headerRecord(input: PipelineInput, quarantined: string[]): HeaderRecord {
  const { settings, data } = input;
  const models: Record<string, unknown> = {};
  for (const stage of STAGES) models[stage] = stageModel(settings, stage);
  models["fallbacks"] = settings.fallbacks;
  if (STAGES.some((stage) => stageModel(settings, stage) === "local"))
    models["local_priced_as"] = settings.priceAs;
  const catalogues = {} as HeaderRecord["inputs"]["catalogues"];
  for (const kind of CATALOGUE_KINDS) catalogues[kind] = data.catalogues[kind].length;
  return {
    type: "header",
    schema_version: SCHEMA_VERSION,
    generator: GENERATOR,
    git_sha: input.meta.gitSha,
    seed: settings.seed,
    input_hash: input.meta.inputHash,
    settings,
    models,
    inputs: { services: data.services.length, plateaus: data.plateaus.length, catalogues },
    quarantined,
    skipped: input.skip,
  };
}

async function quarantine(
  ctx: WorkflowContext,
  input: PipelineInput,
  error: ProcessingError | MappingError,
): Promise<void> {
  const details = error.details;
  const at = new Date(ctx.now()).toISOString();
  const record: QuarantineRecord = {
    service_id: error.serviceId,
    stage: error.stage,
    ...(typeof details["plateau"] === "number" ? { plateau: details["plateau"] } : {}),
    error: error.name,
    code: typeof details["causeCode"] === "string" ? details["causeCode"] : error.code,
    // Answers can echo personal data from the inputs: what lands on disk is redacted.
    message: redact(error.message),
    problems: ((details["problems"] as string[] | undefined) ?? []).map((p) => redact(p)),
    request_ids: (details["requestIds"] as string[] | undefined) ?? [],
    ...(typeof details["asks"] === "number" ? { asks: details["asks"] } : {}),
    run_id: ctx.runId,
    quarantined_at: at,
    service: input.data.services.find((s) => s.id === error.serviceId) ?? null,
  };
  await ctx.step("quarantine", () => new QuarantineStore(input.io.quarantineDir).put(record), {
    sideEffect: true,
  });
}

export const serviceAmbitions = defineWorkflow({
  name: WORKFLOW_NAME,
  version: WORKFLOW_VERSION,
  // The model layer retries and falls back; a failed step is an item failure, not retried again.
  retry: { maxAttempts: 1 },
  run: async (ctx: WorkflowContext, given: PipelineInput): Promise<PipelineSummary> => {
    // The journal holds the input as canonical JSON (sorted keys): work from that form live
    // too, so prompts built from it are the same bytes in a resume or a replay.
    const input = JSON.parse(canonicalJson(given)) as PipelineInput;
    const { settings, data } = input;
    const runtime = await runtimeFor(ctx.runId, settings);
    const skip = new Set(input.skip);
    const fresh = new Set(input.fresh);
    const todo = data.services.filter((s) => !skip.has(s.id));
    const outcomes = await ctx.map(
      todo,
      async (service): Promise<Outcome> => {
        let outcome: Outcome;
        try {
          const env = { settings, data, runtime, fresh: fresh.has(service.id) };
          outcome = { ok: true, record: await processService(ctx, env, service) };
        } catch (error) {
          const item = error instanceof ProcessingError || error instanceof MappingError ? error : undefined;
          if (item === undefined) throw error;
          if (settings.strict || (settings.strictMapping && item instanceof MappingError)) throw item;
          await quarantine(ctx, input, item);
          outcome = { ok: false, serviceId: service.id, error: toErrorRecord(item) };
        }
        if (fresh.has(service.id)) {
          await ctx.step(
            "clear-release",
            () => new QuarantineStore(input.io.quarantineDir).clearRelease(service.id),
            { sideEffect: true },
          );
        }
        runtime.hooks.onService?.({
          serviceId: service.id,
          outcome: outcome.ok ? "completed" : "quarantined",
        });
        return outcome;
      },
      { concurrency: settings.serviceConcurrency },
    );
    const records = outcomes.flatMap((o) => (o.ok ? [o.record] : []));
    const quarantined = outcomes.flatMap((o) => (o.ok ? [] : [o.serviceId]));
    const lines: OutputRecord[] = [headerRecord(input, quarantined), ...records];
    const output = await ctx.step("write-output", () => writeFileAtomic(input.io.output, toJsonl(lines)), {
      sideEffect: true,
    });
    let features = 0;
    let mappings = 0;
    let unmapped = 0;
    for (const record of records) {
      for (const plateau of record.plateaus) {
        for (const feature of plateau.features) {
          features += 1;
          for (const kind of CATALOGUE_KINDS) {
            mappings += feature.mappings[kind].length;
            if (feature.mappings[kind].length === 0) unmapped += 1;
          }
        }
      }
    }
    return {
      services: data.services.length,
      completed: records.length,
      quarantined,
      skipped: input.skip,
      features,
      mappings,
      unmapped,
      output,
    };
  },
});
