import { BallastError, type ErrorRecord, toErrorRecord, type WorkflowContext } from "ballast";
import { MAPPING_PROBLEM_CODES, MappingError, ProcessingError } from "../errors.ts";
import {
  CATALOGUE_KINDS,
  type CatalogueKind,
  type PipelineData,
  type Plateau,
  type Service,
} from "../inputs.ts";
import type { FeatureRecord, PlateauRecord, ServiceRecord } from "../output/records.ts";
import { SCHEMA_VERSION } from "../output/records.ts";
import type { Settings } from "../settings.ts";
import type { FeatureRef } from "./prompts.ts";
import type { PipelineRuntime } from "./runtime.ts";
import {
  describeStep,
  type FeaturesResult,
  featuresStep,
  type MappingResult,
  mappingStep,
} from "./stages.ts";

/**
 * One service through the three stages, plateau by plateau. Plateaus run as branches of a
 * `ctx.map` whose concurrency is the per-service semaphore: plateau N+1's description and
 * features are generated while plateau N is being mapped, and no more than
 * `plateauConcurrency` plateaus are in flight. Features build on the earlier plateaus'
 * features, so feature generation is a chain; mapping overlaps with it.
 *
 * A failure becomes a ProcessingError or MappingError naming the service and stage. The
 * caller quarantines it, or stops the run in strict modes. Run-level stops (budget,
 * cancellation, divergence) pass through untouched.
 */

export interface ServiceEnv {
  settings: Settings;
  data: PipelineData;
  runtime: PipelineRuntime;
  /** Ask the models afresh, bypassing the response cache (a released quarantine record). */
  fresh: boolean;
}

interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(error: unknown): void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // A later plateau may never await it (it failed first, or there is none).
  promise.catch(() => {});
  return { promise, resolve, reject };
}

/** Errors of a failed item, as opposed to errors that must stop the run. */
const ITEM_CODES = new Set([
  "answer_invalid",
  "mapping_unknown_ids",
  "mapping_missing",
  "model_call_failed",
  "circuit_open",
  "model_timeout",
  "injected_failure",
  "stream_interrupted",
  "step_timeout",
  "invalid_prompt",
  "error",
]);

function toItemError(
  ctx: WorkflowContext,
  error: unknown,
  serviceId: string,
  stage: string,
  plateau: number,
): unknown {
  if (error instanceof ProcessingError || error instanceof MappingError) return error;
  if (ctx.signal.aborted || !BallastError.hasCode(error, "step_failed")) return error;
  const cause = (error.details["cause"] ?? toErrorRecord(error)) as ErrorRecord;
  if (!ITEM_CODES.has(cause.code)) return error;
  const details = cause.details ?? {};
  const options = {
    serviceId,
    stage,
    plateau,
    message: cause.message,
    cause,
    causeCode: cause.code,
    problems: Array.isArray(details["problems"]) ? (details["problems"] as string[]) : [],
    requestIds: Array.isArray(details["requestIds"]) ? (details["requestIds"] as string[]) : [],
    ...(typeof details["asks"] === "number" ? { asks: details["asks"] } : {}),
  };
  return MAPPING_PROBLEM_CODES.has(cause.code) ? new MappingError(options) : new ProcessingError(options);
}

function slug(text: string): string {
  return (
    text
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, "-")
      .replace(/^-|-$/g, "") || "x"
  );
}

export function featureId(serviceId: string, level: number, customerType: string, index: number): string {
  return `${serviceId}.L${level}.${slug(customerType)}.${String(index + 1).padStart(2, "0")}`;
}

export async function processService(
  ctx: WorkflowContext,
  env: ServiceEnv,
  service: Service,
): Promise<ServiceRecord> {
  const { settings, data, runtime } = env;
  const stepEnv = { runtime, settings, fresh: env.fresh };
  const { gauge, hooks } = runtime;
  const chain = data.plateaus.map(() => deferred<string[]>());
  const models = new Set<string>();

  const guard = async <T>(stage: string, plateau: Plateau, fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (error) {
      throw toItemError(ctx, error, service.id, stage, plateau.level);
    }
  };

  const plateaus = await ctx.map(
    data.plateaus,
    async (plateau, i): Promise<PlateauRecord> => {
      const entered = gauge.enter(service.id);
      hooks.onPlateau?.({ serviceId: service.id, plateau: plateau.level, phase: "enter", inFlight: entered });
      try {
        const description = await guard("descriptions", plateau, () =>
          ctx.step("describe", (step) => describeStep(stepEnv, service, plateau, step), {
            timeoutMs: settings.stageTimeoutSeconds.descriptions * 1000,
          }),
        );
        hooks.onStep?.({ serviceId: service.id, stage: "descriptions", plateau: plateau.level });
        models.add(description.model);

        const earlier = i === 0 ? [] : await (chain[i - 1] as Deferred<string[]>).promise;
        const sets: FeaturesResult[] = await guard("features", plateau, () =>
          ctx.all(
            service.customer_types.map((customerType) => async () => {
              const result = await ctx.step(
                "features",
                (step) => featuresStep(stepEnv, service, plateau, customerType, earlier, step),
                { timeoutMs: settings.stageTimeoutSeconds.features * 1000 },
              );
              hooks.onStep?.({ serviceId: service.id, stage: "features", plateau: plateau.level });
              return result;
            }),
          ),
        );
        (chain[i] as Deferred<string[]>).resolve([
          ...earlier,
          ...sets.flatMap((set) => set.features.map((f) => f.name)),
        ]);

        const features: FeatureRecord[] = [];
        sets.forEach((set, c) => {
          models.add(set.model);
          const customerType = service.customer_types[c] as string;
          set.features.forEach((f, n) => {
            features.push({
              feature_id: featureId(service.id, plateau.level, customerType, n),
              customer_type: customerType,
              name: f.name,
              description: f.description,
              score: f.score,
              mappings: { applications: [], technologies: [], information: [] },
            });
          });
        });
        const refs: FeatureRef[] = features.map((f) => ({
          feature_id: f.feature_id,
          name: f.name,
          description: f.description,
        }));

        const maps: MappingResult[] = await ctx.all(
          CATALOGUE_KINDS.map(
            (kind: CatalogueKind) => () =>
              guard(`mapping:${kind}`, plateau, async () => {
                const result = await ctx.step(
                  "map",
                  (step) => mappingStep(stepEnv, service, plateau, kind, refs, data.catalogues[kind], step),
                  { timeoutMs: settings.stageTimeoutSeconds.mapping * 1000 },
                );
                hooks.onStep?.({ serviceId: service.id, stage: "mapping", plateau: plateau.level });
                return result;
              }),
          ),
        );
        CATALOGUE_KINDS.forEach((kind, k) => {
          const result = maps[k] as MappingResult;
          models.add(result.model);
          const byId = new Map(data.catalogues[kind].map((item) => [item.id, item]));
          for (const feature of features) {
            feature.mappings[kind] = (result.mappings[feature.feature_id] ?? []).map((id) => ({
              id,
              name: byId.get(id)?.name ?? id,
            }));
          }
        });
        return { level: plateau.level, name: plateau.name, description: description.text, features };
      } catch (error) {
        (chain[i] as Deferred<string[]>).reject(error);
        throw error;
      } finally {
        const left = gauge.exit(service.id);
        hooks.onPlateau?.({ serviceId: service.id, plateau: plateau.level, phase: "exit", inFlight: left });
      }
    },
    { concurrency: settings.plateauConcurrency },
  );
  return {
    type: "service",
    schema_version: SCHEMA_VERSION,
    service,
    plateaus,
    models: [...models].sort(),
  };
}
